"""The customer's billing account in the API says what the customer may do with it now
(``can_terminate``, ``can_change_credit_limit``) and what needs its attention
(``attention``): what a flag offers the route accepts, what it withholds the route refuses.
A termination asked for again changes nothing and answers with the same final statement."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.billing.conftest import beijing, move_to, person, product
from tests.integration.billing.test_disputes import customer, login
from yuntong.core.context import Context

FLAGS = ("can_terminate", "can_change_credit_limit")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # an order whose rent is over the credit limit is taken as it is: the credit is used up
    return {"billing_close_day": 1, "billing_rent_over_credit_limit": "allow"}


async def account(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    resp = await client.get("/api/v1/billing/account", headers=headers)
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()
    return found


async def check_flags_agree(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """The account as seen, its withheld actions refused and its offered credit-limit change
    accepted (the same limit again; terminating is tried by the test itself)."""
    seen = await account(client, headers)
    limit = await client.put(
        "/api/v1/billing/account/credit-limit",
        json={"credit_limit_fen": seen["credit_limit_fen"]},
        headers=headers,
    )
    assert limit.is_success is seen["can_change_credit_limit"], limit.text
    if not seen["can_terminate"]:
        asked = await client.post("/api/v1/billing/terminate", headers=headers)
        again = seen["state"] in ("terminating", "terminated")  # the same answer again
        assert asked.is_success is again, asked.text
    return seen


async def test_account_flags_say_what_the_routes_accept(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    api = app_client
    me, mine_account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    mine, op = await login(api, me), await login(api, staff)
    desk = f"/api/v1/billing/accounts/{mine_account.id}"

    seen = await check_flags_agree(api, mine)
    assert {f: seen[f] for f in (*FLAGS, "attention")} == {
        "can_terminate": True,
        "can_change_credit_limit": True,
        "attention": None,
    }
    schema = (await api.get("/openapi.json")).json()["components"]["schemas"]
    assert set(FLAGS) | {"actions", "credit_exhausted", "attention"} <= set(
        schema["BillingAccountOut"]["properties"]
    )

    # prepaid: no credit limit to change
    assert (await api.post(f"{desk}/kind", json={"kind": "prepaid"}, headers=op)).is_success
    seen = await check_flags_agree(api, mine)
    assert seen["can_change_credit_limit"] is False
    refused = await api.put(
        "/api/v1/billing/account/credit-limit", json={"credit_limit_fen": 20_000}, headers=mine
    )
    assert refused.json()["error"]["code"] == "credit_limit_prepaid"
    assert (await api.post(f"{desk}/kind", json={"kind": "postpaid"}, headers=op)).is_success

    # held: the customer is told why, and may not terminate until it is released
    held = await api.post(f"{desk}/hold", json={"reason": "court order"}, headers=op)
    assert held.is_success, held.text
    seen = await check_flags_agree(api, mine)
    assert (seen["can_terminate"], seen["attention"]) == (False, "held")
    asked = await api.post("/api/v1/billing/terminate", headers=mine)
    assert asked.json()["error"]["code"] == "invalid_transition"
    await api.post(f"{desk}/release", json={"reason": "lifted"}, headers=op)
    seen = await check_flags_agree(api, mine)
    assert (seen["can_terminate"], seen["attention"]) == (True, None)

    # asked once (nothing is owed: terminated at once); asking again answers with the same
    # final statement
    first = await api.post("/api/v1/billing/terminate", headers=mine)
    assert first.status_code == 200, first.text
    assert first.json()["account"]["can_terminate"] is False
    assert first.json()["account"]["attention"] == "terminated"
    seen = await check_flags_agree(api, mine)
    again = await api.post("/api/v1/billing/terminate", headers=mine)
    assert again.json()["final_statement"]["id"] == first.json()["final_statement"]["id"]


async def test_used_up_credit_needs_attention(ctx: Context, app_client: httpx.AsyncClient) -> None:
    api = app_client
    move_to(ctx, beijing(2026, 11, 2, 9))
    staff = await person(ctx, "operator_admin")
    me, _ = await customer(ctx)
    package = await product(ctx, staff, fee_fen=60_000)  # over the 500.00 default limit
    mine = await login(api, me)
    ordered = await api.post(
        "/api/v1/billing/orders", json={"product_codes": [package.code]}, headers=mine
    )
    assert ordered.status_code == 201, ordered.text
    seen = await check_flags_agree(api, mine)
    assert (seen["state"], seen["credit_exhausted"], seen["attention"]) == (
        "active",
        True,
        "credit_exhausted",
    )
    assert seen["can_terminate"] and seen["can_change_credit_limit"]

    # owing (the rent of the days used), the termination waits for the payment: asking again
    # is the same request
    move_to(ctx, beijing(2026, 11, 25, 9))
    mine = await login(api, me)  # (the first session has expired)
    asked = await api.post("/api/v1/billing/terminate", headers=mine)
    assert asked.status_code == 200, asked.text
    seen = await check_flags_agree(api, mine)
    assert (seen["state"], seen["attention"], seen["can_terminate"]) == (
        "terminating",
        "terminating",
        False,
    )
