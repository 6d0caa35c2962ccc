"""Port-out (携号转网 out of Yuntong): the holder of an assigned number asks for an
authorisation code (授权码) and gives it to the gaining carrier, which presents it to Yuntong
(CP 1.1).

A code is eight random digits, shown once, kept only as a keyed hash (HMAC-SHA256 under the
carriers' secret, with the number), valid ``numbers_port_out_code_hours``; asking again
replaces the earlier code. At most ``CODES_PER_DAY`` codes a number a day are given out, and
``PRESENT_MAX_FAILURES`` wrong presentations lock the number's codes for ``PRESENT_LOCKOUT_S``
(even the right one is then refused). A valid code moves the number to ``ported_out`` (final)
through the number state machine, ends its rent as a release does, and publishes
``numbers.changed``: the number rings nobody from then on. The gaining carrier's presentation
is signed as every carrier call; presented again with the same id, it is answered the same.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select, update

from yuntong.accounts.roles import Actor
from yuntong.billing.ledger import accounts as billing_accounts
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.throttle import Limit, Throttle, throttle
from yuntong.numbers.assignment import check_holder, end_rent_txn
from yuntong.numbers.carrier import carrier_secret, check_signed, signed
from yuntong.numbers.directory import publish_changed
from yuntong.numbers.machine import NumberAction, move_txn
from yuntong.numbers.models import NumberState, PhoneNumber, PortOutCode
from yuntong.numbers.selection import number_row

CODE_DIGITS: Final = 8
CODES_PER_DAY: Final = 3
PRESENT_MAX_FAILURES: Final = 5
PRESENT_LOCKOUT_S: Final = 60 * 60


@dataclass(frozen=True)
class IssuedCode:
    number: str
    code: str  # shown this once; only its hash is kept
    expires_at: datetime


@dataclass(frozen=True)
class PortOutResult:
    number: str
    state: str
    gaining_carrier: str


def code_hash(secret: str, e164: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{e164}|{code}".encode(), hashlib.sha256).hexdigest()


def _issue_throttle(ctx: Context) -> Throttle:
    return throttle(ctx, "numbers.port_out_issue", Limit(CODES_PER_DAY, 24 * 3600))


def _present_throttle(ctx: Context) -> Throttle:
    limit = Limit.locking(PRESENT_MAX_FAILURES, PRESENT_LOCKOUT_S)
    return throttle(ctx, "numbers.port_out_present", limit)


async def do_issue_code(ctx: Context, actor: Actor, number: str) -> IssuedCode:
    """A new authorisation code for the holder's assigned number (earlier ones stop working)."""
    row = await number_row(ctx, number)
    check_holder(actor, row)
    if row.state != NumberState.ASSIGNED:
        raise YuntongError("number_transition_refused", state=row.state, action="port_out")
    await _issue_throttle(ctx).take(row.e164, "port_out_code_throttled")
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    now = ctx.clock.now()
    expires = now + timedelta(hours=ctx.settings.numbers_port_out_code_hours)
    async with ctx.db.session() as s:
        await s.execute(
            update(PortOutCode)
            .where(
                PortOutCode.number_id == row.id,
                PortOutCode.used_at.is_(None),
                PortOutCode.expires_at > now,
            )
            .values(expires_at=now)
        )
        s.add(
            PortOutCode(
                number_id=row.id,
                code_hash=code_hash(carrier_secret(ctx.settings), row.e164, code),
                created_by=actor.user_id,
                created_at=now,
                expires_at=expires,
            )
        )
    return IssuedCode(row.e164, code, expires)


async def do_code_presented(ctx: Context, signature: str | None, raw: bytes) -> PortOutResult:
    """The gaining carrier presents a code (signed ``{"presentation_id", "number", "code",
    "gaining_carrier"}``): a valid one ports the number out."""
    now = ctx.clock.now()
    body = check_signed(ctx.settings, signature, raw, now)
    try:
        presentation = str(body["presentation_id"])[:64]
        number, code = str(body["number"]), str(body["code"])
        gaining = str(body["gaining_carrier"]).strip()[:60]
    except KeyError as exc:
        raise YuntongError("malformed_message") from exc
    row = await number_row(ctx, number)
    async with ctx.db.session() as s:
        query = select(PortOutCode).where(
            PortOutCode.number_id == row.id, PortOutCode.used_ref == presentation
        )
        if (await s.execute(query)).scalar_one_or_none() is not None:  # presented again
            return PortOutResult(row.e164, row.state, row.current_carrier)
    limit = _present_throttle(ctx)
    await limit.check(row.e164, "port_out_code_locked")
    found = await _live_code(ctx, row, code, now)
    if found is None:
        await limit.hit(row.e164)
        raise YuntongError("port_out_code_invalid")
    await limit.clear(row.e164)
    await _port_out(ctx, row, found, presentation, gaining or "?", now)
    return PortOutResult(row.e164, NumberState.PORTED_OUT.value, gaining)


async def _live_code(
    ctx: Context, row: PhoneNumber, code: str, now: datetime
) -> PortOutCode | None:
    """The number's unused, unexpired code ``code`` is; None for a wrong or expired one."""
    wanted = code_hash(carrier_secret(ctx.settings), row.e164, code.strip())
    async with ctx.db.session() as s:
        query = select(PortOutCode).where(
            PortOutCode.number_id == row.id,
            PortOutCode.used_at.is_(None),
            PortOutCode.expires_at > now,
        )
        for candidate in (await s.execute(query)).scalars():
            if hmac.compare_digest(candidate.code_hash, wanted):
                return candidate
    return None


async def _port_out(
    ctx: Context,
    row: PhoneNumber,
    code: PortOutCode,
    presentation: str,
    gaining: str,
    now: datetime,
) -> None:
    async with ctx.db.session() as s:
        used = await s.execute(
            update(PortOutCode)
            .where(PortOutCode.id == code.id, PortOutCode.used_at.is_(None))
            .values(used_at=now, used_ref=presentation, gaining_carrier=gaining)
            .execution_options(synchronize_session=False)
        )
        if getattr(used, "rowcount", 0) != 1:
            raise YuntongError("port_out_code_invalid")
        won = await move_txn(
            s,
            row,
            NumberAction.PORT_OUT,
            None,
            now,
            values={
                "holder_user_id": None,
                "holder_organisation_id": None,
                "user_id": None,
                "account_id": None,
                "subscription_id": None,
                "current_carrier": gaining,
                "ported": True,
            },
            detail={
                "holder_user_id": row.holder_user_id,
                "holder_organisation_id": row.holder_organisation_id,
                "subscription_id": row.subscription_id,
                "gaining_carrier": gaining,
                "presentation_id": presentation,
            },
            also=PhoneNumber.subscription_id == row.subscription_id,
        )
        if not won:
            raise YuntongError("number_transition_refused", state=row.state, action="port_out")
        await end_rent_txn(ctx, s, row, code.created_by, "number_port_out")
    if row.account_id is not None:
        await billing_accounts.publish_changed(ctx, row.account_id)
    await publish_changed(ctx)


async def sandbox_present(
    ctx: Context, number: str, code: str, gaining_carrier: str = "sandbox", presentation: str = ""
) -> PortOutResult:
    """The sandbox gaining carrier presents ``code``: signed, through the same handler as a
    real carrier's call (development, tests and ``yuntong numbers port-out-present``)."""
    body = {
        "presentation_id": presentation or secrets.token_hex(8),
        "number": number,
        "code": code,
        "gaining_carrier": gaining_carrier,
    }
    raw, signature = signed(ctx.settings, body, ctx.clock.now())
    return await do_code_presented(ctx, signature, raw)
