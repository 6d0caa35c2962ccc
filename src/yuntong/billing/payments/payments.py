"""Payments: recorded by operator staff or received from a payment provider's signed webhook.

A payment is a negative ledger entry and a receipt; it is applied to the oldest open amounts
first (see :mod:`yuntong.billing.collections.dunning`). Each payment carries a key (the provider's
reference, or the caller's idempotency key): delivering it again changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from yuntong.accounts import roles
from yuntong.accounts.roles import Actor
from yuntong.billing import store
from yuntong.billing.catalog.catalog import local_day
from yuntong.billing.collections.dunning import do_review_account
from yuntong.billing.collections.lifecycle import do_complete_termination_if_paid
from yuntong.billing.ledger.accounts import get_account, publish_changed
from yuntong.billing.ledger.credit import do_credit_alerts
from yuntong.billing.models import EntryKind, Payment, Statement
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.money import CURRENCY, check_amount, format_yuan, parse_yuan
from yuntong.notifications.notices import do_notify

METHODS = frozenset({"bank_transfer", "cash", "card", "provider"})
SIGNATURE_HEADER = "X-Yuntong-Signature"
SIGNATURE_TOLERANCE_S = 300


@dataclass(frozen=True)
class PaymentIn:
    account_id: int
    amount_fen: int
    method: str
    key: str  # idempotency: the same key never pays twice
    currency: str = CURRENCY
    statement_id: int | None = None
    provider: str | None = None
    provider_ref: str | None = None
    received_at: datetime | None = None


def check_payment(payment: PaymentIn, now: datetime) -> None:
    if payment.currency != CURRENCY:
        raise YuntongError("unsupported_currency", currency=payment.currency[:8])
    try:
        check_amount(payment.amount_fen)
    except ValueError as exc:
        raise YuntongError("invalid_amount", reason=str(exc)) from exc
    if payment.method not in METHODS:
        raise YuntongError("validation_failed", fields={"method": "invalid"})
    if payment.received_at is not None and payment.received_at > now:
        raise YuntongError("validation_failed", fields={"received_at": "invalid"})
    if not payment.key or len(payment.key) > 100:
        raise YuntongError("validation_failed", fields={"idempotency_key": "invalid"})


async def do_record_payment(ctx: Context, actor: Actor | None, payment: PaymentIn) -> Payment:
    """Record a payment once. ``actor`` is the staff member; None for the provider webhook."""
    if actor is not None:
        roles.check_staff(actor)
    now = ctx.clock.now()
    check_payment(payment, now)
    account = await get_account(ctx, payment.account_id)
    key = f"payment:{payment.key}"
    async with ctx.db.session() as s:
        if payment.statement_id is not None:
            st = await s.get(Statement, payment.statement_id)
            if st is None or st.account_id != account.id:
                raise YuntongError("statement_not_found")
        earlier = await store.entry_by_key(s, key)
        if earlier is not None:
            if earlier.account_id != account.id or earlier.amount_fen != -payment.amount_fen:
                raise YuntongError("idempotency_conflict")
            found = await s.execute(select(Payment).where(Payment.entry_id == earlier.id))
            return found.scalar_one()
        received = payment.received_at or now
        entry = await store.add_entry(
            s,
            account_id=account.id,
            kind=EntryKind.PAYMENT.value,
            amount_fen=-payment.amount_fen,
            occurred_at=received,
            posted_at=now,
            reference=payment.key[:64],
            detail={"method": payment.method},
            created_by=actor.user_id if actor else None,
            idempotency_key=key,
        )
        receipt = f"RC-{local_day(ctx, received):%Y%m%d}-{entry.id:08d}"
        entry.detail = {"method": payment.method, "receipt": receipt}
        row = Payment(
            receipt_number=receipt,
            account_id=account.id,
            amount_fen=payment.amount_fen,
            method=payment.method,
            provider=payment.provider,
            provider_ref=payment.provider_ref,
            statement_id=payment.statement_id,
            received_at=received,
            recorded_by=actor.user_id if actor else None,
            entry_id=entry.id,
        )
        s.add(row)
    await publish_changed(ctx, account.id)
    await do_notify(
        ctx,
        account.id,
        "payment_received",
        str(row.id),
        amount=format_yuan(payment.amount_fen),
        receipt=receipt,
    )
    await do_review_account(ctx, account.id)
    await do_credit_alerts(ctx, {account.id})
    await do_complete_termination_if_paid(ctx, account.id)
    return row


# -- the provider's webhook ------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256 of "<t>." + body>`` (the provider signs the same way)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def check_signature(secret: str, header: str | None, body: bytes, now: datetime) -> None:
    if not header:
        raise YuntongError("bad_signature")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError as exc:
        raise YuntongError("bad_signature") from exc
    if abs(now.timestamp() - timestamp) > SIGNATURE_TOLERANCE_S:
        raise YuntongError("bad_signature")
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise YuntongError("bad_signature")


def _webhook_payment(body: dict[str, Any], provider: str) -> PaymentIn:
    try:
        paid_at = body.get("paid_at")
        received = datetime.fromisoformat(paid_at) if paid_at else None
        if received is not None and received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        return PaymentIn(
            account_id=int(body["account_id"]),
            amount_fen=parse_yuan(str(body["amount"])),
            method="provider",
            key=f"{provider}:{body['payment_id']}",
            currency=str(body.get("currency", "")),
            statement_id=int(body["statement_id"]) if body.get("statement_id") else None,
            provider=provider,
            provider_ref=str(body["payment_id"])[:80],
            received_at=received,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise YuntongError("bad_request") from exc


async def do_receive_webhook(
    ctx: Context, provider: str, signature: str | None, raw: bytes
) -> Payment:
    """Verify the provider's signature, then record the payment it reports (once)."""
    secret = ctx.settings.payment_webhook_secret.get_secret_value()
    if not secret:
        raise YuntongError("webhook_disabled")
    check_signature(secret, signature, raw, ctx.clock.now())
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise YuntongError("malformed_message") from exc
    if not isinstance(body, dict):
        raise YuntongError("malformed_message")
    return await do_record_payment(ctx, None, _webhook_payment(body, provider))


async def list_payments(ctx: Context, account_id: int) -> list[Payment]:
    async with ctx.db.session() as s:
        query = select(Payment).where(Payment.account_id == account_id)
        return list((await s.execute(query.order_by(Payment.id.desc()))).scalars())


async def get_payment(ctx: Context, payment_id: int) -> Payment:
    async with ctx.db.session() as s:
        row = await s.get(Payment, payment_id)
    if row is None:
        raise YuntongError("not_found")
    return row
