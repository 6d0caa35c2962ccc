"""Payments over REST: staff records, the provider's signed webhook, and bad input that must
leave the ledger untouched."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.integration.billing.conftest import (
    PASSWORD,
    account_of,
    beijing,
    move_to,
    person,
    product,
)
from yuntong.accounts.auth import Principal
from yuntong.billing.models import LedgerEntry, Payment
from yuntong.billing.orders import orders
from yuntong.billing.payments import payments
from yuntong.billing.statements import view as views
from yuntong.core.context import Context

SECRET = "test-webhook-secret-0123456789"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"billing_close_day": 1, "payment_webhook_secret": SECRET}


async def bearer(client: httpx.AsyncClient, who: Principal) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/login",
        json={"username": who.username, "password": PASSWORD, "kind": "api"},
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def ledger_rows(ctx: Context) -> int:
    async with ctx.db.session() as s:
        return (await s.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()


async def ordered_account(ctx: Context, staff: Principal, customer: Principal) -> int:
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=5800)
    await orders.do_place_order(ctx, customer, None, [package.code])
    return (await account_of(ctx, customer)).id


def webhook_body(account_id: int, payment_id: str, amount: str = "58.00", **extra: Any) -> bytes:
    body = {"payment_id": payment_id, "account_id": account_id, "amount": amount}
    body.setdefault("currency", "CNY")
    body.update(extra)
    return json.dumps(body).encode()


def signed(ctx: Context, raw: bytes, secret: str = SECRET) -> dict[str, str]:
    stamp = int(ctx.clock.now().timestamp())
    return {
        "X-Yuntong-Signature": payments.sign(secret, stamp, raw),
        "Content-Type": "application/json",
    }


async def test_a_replayed_webhook_pays_once(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal, customer: Principal
) -> None:
    account_id = await ordered_account(ctx, staff, customer)
    raw = webhook_body(account_id, "pay-1")
    url = "/api/v1/billing/webhooks/payments/alipay"
    first = await app_client.post(url, content=raw, headers=signed(ctx, raw))
    again = await app_client.post(url, content=raw, headers=signed(ctx, raw))
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["receipt_number"] == again.json()["receipt_number"]
    async with ctx.db.session() as s:
        count = await s.execute(select(func.count()).select_from(Payment))
        assert count.scalar_one() == 1
    headers = await bearer(app_client, customer)
    account = (await app_client.get("/api/v1/billing/account", headers=headers)).json()
    assert account["balance_fen"] == 0


@pytest.mark.parametrize(
    ("how", "code"),
    [
        ("forged", "bad_signature"),
        ("missing", "bad_signature"),
        ("stale", "bad_signature"),
        ("tampered", "bad_signature"),
    ],
)
async def test_webhooks_without_a_valid_signature_change_nothing(
    ctx: Context,
    app_client: httpx.AsyncClient,
    staff: Principal,
    customer: Principal,
    how: str,
    code: str,
) -> None:
    account_id = await ordered_account(ctx, staff, customer)
    raw = webhook_body(account_id, "pay-2")
    headers = signed(ctx, raw)
    if how == "forged":
        headers = signed(ctx, raw, secret="not-the-secret")
    elif how == "missing":
        del headers["X-Yuntong-Signature"]
    elif how == "stale":
        stamp = int(ctx.clock.now().timestamp()) - 3600
        headers["X-Yuntong-Signature"] = payments.sign(SECRET, stamp, raw)
    elif how == "tampered":
        raw = webhook_body(account_id, "pay-2", amount="5800.00")
    before = await ledger_rows(ctx)
    resp = await app_client.post(
        "/api/v1/billing/webhooks/payments/alipay", content=raw, headers=headers
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == code
    assert await ledger_rows(ctx) == before


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("-10.00", "CNY", "invalid_amount"),
        ("0", "CNY", "invalid_amount"),
        ("99999999999.00", "CNY", "invalid_amount"),
        ("1.234", "CNY", "invalid_amount"),
        ("abc", "CNY", "invalid_amount"),
        ("10.00", "USD", "unsupported_currency"),
    ],
)
async def test_bad_amounts_and_currencies_are_refused_with_the_ledger_untouched(
    ctx: Context,
    app_client: httpx.AsyncClient,
    staff: Principal,
    customer: Principal,
    amount: str,
    currency: str,
    code: str,
) -> None:
    account_id = await ordered_account(ctx, staff, customer)
    headers = await bearer(app_client, staff)
    before = await ledger_rows(ctx)
    resp = await app_client.post(
        "/api/v1/billing/payments",
        headers={**headers, "Accept-Language": "zh-CN"},
        json={
            "account_id": account_id,
            "amount": amount,
            "currency": currency,
            "method": "bank_transfer",
            "idempotency_key": "k1",
        },
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == code
    assert resp.json()["error"]["message"]  # in Chinese, for the clerk
    assert await ledger_rows(ctx) == before


async def test_paying_another_customers_statement_is_refused(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal, customer: Principal
) -> None:
    mine = await ordered_account(ctx, staff, customer)
    other = await person(ctx)
    package = await product(ctx, staff, fee_fen=1000)
    await orders.do_place_order(ctx, other, None, [package.code])
    other_statement = (await payments_statements(ctx, other))[0]
    headers = await bearer(app_client, staff)
    before = await ledger_rows(ctx)
    resp = await app_client.post(
        "/api/v1/billing/payments",
        headers=headers,
        json={
            "account_id": mine,
            "amount": "10.00",
            "method": "cash",
            "statement_id": other_statement,
            "idempotency_key": "cross",
        },
    )
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "statement_not_found"
    assert await ledger_rows(ctx) == before


async def payments_statements(ctx: Context, who: Principal) -> list[int]:

    return [st.id for st in await views.list_statements(ctx, who, None)]


async def test_a_customer_cannot_record_payments_or_read_another_account(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal, customer: Principal
) -> None:
    mine = await ordered_account(ctx, staff, customer)
    other = await person(ctx)
    theirs = (await account_of(ctx, other)).id
    headers = await bearer(app_client, customer)
    resp = await app_client.post(
        "/api/v1/billing/payments",
        headers=headers,
        json={"account_id": mine, "amount": "1.00", "method": "cash", "idempotency_key": "x"},
    )
    assert resp.json()["error"]["code"] == "forbidden"
    resp = await app_client.get(f"/api/v1/billing/account?account_id={theirs}", headers=headers)
    assert resp.status_code == 404
    statement = (await payments_statements(ctx, customer))[0]
    other_headers = await bearer(app_client, other)
    resp = await app_client.get(f"/api/v1/billing/statements/{statement}", headers=other_headers)
    assert resp.status_code == 404


async def test_staff_payment_is_idempotent_and_issues_a_receipt(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal, customer: Principal
) -> None:
    account_id = await ordered_account(ctx, staff, customer)
    headers = await bearer(app_client, staff)
    body = {
        "account_id": account_id,
        "amount": "58.00",
        "method": "bank_transfer",
        "idempotency_key": "bank-ref-77",
    }
    first = await app_client.post("/api/v1/billing/payments", headers=headers, json=body)
    again = await app_client.post("/api/v1/billing/payments", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    changed = await app_client.post(
        "/api/v1/billing/payments", headers=headers, json={**body, "amount": "60.00"}
    )
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_conflict"
    receipt = await app_client.get(
        f"/api/v1/billing/payments/{first.json()['id']}/receipt",
        headers=await bearer(app_client, customer),
    )
    assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")
