"""/api/v1/tariffs: staff import and read margins; customers read the price list and ask
what a call costs; bad input is refused with its code, never a 500."""

from __future__ import annotations

import httpx

from tests.integration.accounts.conftest import bearer, error_code, web_login
from tests.integration.tariffs.conftest import COSTS, PRICES, charge
from yuntong.accounts.auth import Principal
from yuntong.core.context import Context


async def test_staff_import_and_customers_read_prices_and_quotes(
    app_client: httpx.AsyncClient, ctx: Context, staff: Principal, customer: Principal
) -> None:
    as_staff = await bearer(app_client, staff.username)
    as_customer = await bearer(app_client, customer.username)
    refused = await app_client.post(
        "/api/v1/tariffs/prices", json={"csv": PRICES}, headers=as_customer
    )
    assert refused.status_code == 403
    done = await app_client.post("/api/v1/tariffs/prices", json={"csv": PRICES}, headers=as_staff)
    assert done.status_code == 201, done.text
    assert done.json()["rows"] == 6 and done.json()["kind"] == "prices"
    costs = await app_client.post(
        "/api/v1/tariffs/costs/ct-bj", json={"csv": COSTS, "note": "合同 7"}, headers=as_staff
    )
    assert costs.status_code == 201, costs.text

    listed = await app_client.get(
        "/api/v1/tariffs/prices", headers={**as_customer, "Accept-Language": "en"}
    )
    rows = listed.json()["rows"]
    assert [r["category"] for r in rows][:2] == ["local", "domestic"]
    assert rows[0]["name"] == "Local fixed lines"
    quote = await app_client.get(
        "/api/v1/tariffs/quote", params={"to": "139 1234 5678"}, headers=as_customer
    )
    assert quote.status_code == 200, quote.text
    assert quote.json() == {
        "destination": "+8613912345678",
        "category": "mobile",
        "prefix": "861",
        "name": "国内手机",
        "price_per_minute_fen": 12,
        "increment_s": 60,
    }
    assert "cost" not in str(quote.json())  # customers never see the trunks' cost
    tables = await app_client.get("/api/v1/tariffs/tables", headers=as_staff)
    assert [(t["kind"], t["in_force"]) for t in tables.json()] == [
        ("costs", True),
        ("prices", True),
    ]
    trunk = await app_client.get("/api/v1/tariffs/costs/ct-bj", headers=as_staff)
    assert {"prefix": "1", "cost_per_minute_fen": 40} in trunk.json()


async def test_bad_input_gets_its_code(
    app_client: httpx.AsyncClient, staff: Principal, customer: Principal
) -> None:
    as_staff = await bearer(app_client, staff.username)
    as_customer = await bearer(app_client, customer.username)
    bad = await app_client.post(
        "/api/v1/tariffs/prices",
        json={"csv": PRICES + "86x,mobile,手机,M,12,60\n"},
        headers={**as_staff, "Accept-Language": "en"},
    )
    assert bad.status_code == 422 and error_code(bad) == "tariff_table_invalid"
    assert bad.json()["error"]["rows"] == [
        {
            "line": 8,
            "code": "prefix",
            "column": "prefix",
            "message": "The prefix must be 1 to 16 digits (E.164 without '+', not starting with 0)",
        }
    ]
    trunk = await app_client.post(
        "/api/v1/tariffs/costs/bad trunk!", json={"csv": COSTS}, headers=as_staff
    )
    assert error_code(trunk) == "tariff_trunk_invalid"
    past = await app_client.post(
        "/api/v1/tariffs/prices",
        json={"csv": PRICES, "effective_from": "2020-01-01T00:00:00+08:00"},
        headers=as_staff,
    )
    assert error_code(past) == "tariff_effective_invalid"
    nothing = await app_client.get(
        "/api/v1/tariffs/quote", params={"to": "139 1234 5678"}, headers=as_customer
    )
    assert nothing.status_code == 404 and error_code(nothing) == "tariff_no_rate"
    garbage = await app_client.get(
        "/api/v1/tariffs/quote", params={"to": "not a number"}, headers=as_customer
    )
    assert error_code(garbage) == "tariff_destination_invalid"
    period = await app_client.get(
        "/api/v1/tariffs/margins",
        params={"from": "2026-02-01", "to": "2026-01-01"},
        headers=as_staff,
    )
    assert error_code(period) == "tariff_period_invalid"
    assert (await app_client.get("/api/v1/tariffs/margins", headers=as_customer)).status_code == 403
    assert (await app_client.get("/api/v1/tariffs/prices")).status_code == 401


async def test_margins_as_json_and_csv(
    app_client: httpx.AsyncClient, ctx: Context, staff: Principal, customer: Principal
) -> None:
    as_staff = await bearer(app_client, staff.username)
    await app_client.post("/api/v1/tariffs/prices", json={"csv": PRICES}, headers=as_staff)
    await app_client.post("/api/v1/tariffs/costs/ct-bj", json={"csv": COSTS}, headers=as_staff)
    answered = ctx.clock.now()
    await charge(ctx, customer, "api-1", "+14155550100", 125, answered=answered)
    query = {"from": "2026-01-05", "to": "2026-01-05"}
    report = await app_client.get("/api/v1/tariffs/margins", params=query, headers=as_staff)
    # 125 s by 6 s → 126 s: 80 × 126 / 60 = 168 fen; cost 40 × 126 / 60 = 84
    assert report.json()["total"] == {
        "trunk": "",
        "category": "",
        "calls": 1,
        "seconds": 125,
        "billed_s": 126,
        "revenue_fen": 168,
        "cost_fen": 84,
        "margin_fen": 84,
        "calls_without_cost": 0,
    }
    await web_login(app_client, staff.username)
    csv = await app_client.get("/api/v1/tariffs/margins.csv", params=query)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1] == "ct-bj,international,1,125,2.10,168,84,84,0"


async def test_the_pages_are_served_to_whom_they_are_for(
    app_client: httpx.AsyncClient, staff: Principal, customer: Principal
) -> None:
    await web_login(app_client, customer.username)
    page = await app_client.get("/tariffs")
    assert page.status_code == 200 and 'id="quote-form"' in page.text
    assert "外线通话资费" in page.text and 'href="/tariffs"' in page.text
    english = await app_client.get("/tariffs", headers={"Accept-Language": "en"})
    assert "Prices of outside calls" in english.text
    refused = await app_client.get("/operator/tariffs", follow_redirects=False)
    assert refused.status_code in (303, 403)
    await web_login(app_client, staff.username)
    desk = await app_client.get("/operator/tariffs")
    assert desk.status_code == 200 and 'id="import-prices"' in desk.text
    assert 'href="/operator/tariffs"' in desk.text


async def test_the_customer_sees_the_outside_call_on_the_bill_to_date(
    app_client: httpx.AsyncClient, ctx: Context, staff: Principal, customer: Principal
) -> None:
    as_staff = await bearer(app_client, staff.username)
    await app_client.post("/api/v1/tariffs/prices", json={"csv": PRICES}, headers=as_staff)
    answered = ctx.clock.now()
    await charge(ctx, customer, "bill-1", "+14155550100", 61, answered=answered)
    as_customer = await bearer(app_client, customer.username)
    bill = await app_client.get(
        "/api/v1/billing/bill-to-date", headers={**as_customer, "Accept-Language": "en"}
    )
    assert bill.status_code == 200, bill.text
    text = str(bill.json())
    assert "Outside call (public network)" in text and "+1415***0100" in text
    assert "'amount_fen': 88" in text  # 66 s at 0.80 a minute
