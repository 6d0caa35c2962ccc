"""What a statement says, as the customer reads it on the page (the JSON it is drawn from), in
the CSV and in the PDF: credits name their incident or dispute, periods end on their last day,
rent says which days it covers; a package without a fee issues no 0.00 first statement.

Close day 1 (calendar months), Beijing time; figures worked out by hand.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.integration.billing.conftest import PASSWORD, account_of, beijing, move_to, product
from yuntong.accounts.auth import Principal
from yuntong.billing import store
from yuntong.billing.disputes import disputes
from yuntong.billing.models import EntryKind, Statement
from yuntong.billing.orders import orders
from yuntong.billing.statements import statements
from yuntong.billing.statements import view as views
from yuntong.core.context import Context
from yuntong.notifications.models import Notice
from yuntong.sla import incidents

TITLE = "Power cut in the Beijing data centre"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"billing_close_day": 1, "billing_rating_interval_s": 0}


async def bearer(client: httpx.AsyncClient, who: Principal, locale: str) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/login",
        json={"username": who.username, "password": PASSWORD, "kind": "api"},
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}", "Accept-Language": locale}


def flat(text: str) -> str:
    """Text without white space: a PDF table cell wraps long descriptions."""
    return "".join(text.split())


async def documents(
    client: httpx.AsyncClient, headers: dict[str, str], statement_id: int
) -> tuple[dict[str, Any], list[list[str]], str]:
    base = f"/api/v1/billing/statements/{statement_id}"
    page = await client.get(base, headers=headers)
    table = await client.get(f"{base}/csv", headers=headers)
    pdf = await client.get(f"{base}/pdf", headers=headers)
    for resp in (page, table, pdf):
        assert resp.status_code == 200, resp.text
    rows = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    return page.json(), rows, text


async def test_a_cycle_statement_names_its_credits_periods_and_rent(
    ctx: Context, staff: Principal, customer: Principal, app_client: httpx.AsyncClient
) -> None:
    """58.00 a month from 1 Nov. Power is cut on 10 Nov 08:00–14:00: 6 h of November's 720 h,
    a credit of 58.00 × 6 / 720 = 0.4833 → 0.48. A dispute of November's rent is settled with
    a 5.00 credit. The statement of cycle 2026-11 (1–30 Nov): previous 58.00 − 0.48 − 5.00
    + December's rent 58.00 = 110.52."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=5800)
    await orders.do_place_order(ctx, customer, None, [package.code])
    [first] = await views.list_statements(ctx, customer, None)
    async with ctx.db.session() as s:
        [rent] = await store.statement_entries(s, first.id)
    move_to(ctx, beijing(2026, 11, 3, 9))
    dispute = (await disputes.do_open_dispute(ctx, customer, rent.id, "Not used", 500)).dispute
    await disputes.do_resolve_by_credit(ctx, staff, dispute.id, 500, "Goodwill credit")
    move_to(ctx, beijing(2026, 11, 11, 9))
    incident = await incidents.do_record_incident(
        ctx, staff, TITLE, beijing(2026, 11, 10, 8), beijing(2026, 11, 10, 14), [package.code]
    )
    assert await incidents.do_apply_incident_credits(ctx, staff, incident.id) == 1
    move_to(ctx, beijing(2026, 12, 1, 2))
    await statements.do_close_cycle(ctx, "2026-11")
    account = await account_of(ctx, customer)
    async with ctx.db.session() as s:
        query = select(Statement).where(
            Statement.account_id == account.id, Statement.cycle == "2026-11"
        )
        st = (await s.execute(query)).scalar_one()
    assert st.total_due_fen == 11_052

    credit_incident = (
        f"Service interruption credit: {TITLE} (2026-11-10 08:00 – 2026-11-10 14:00, 6.00 h, "
        "Test package)"
    )
    credit_dispute = f"Credit for billing dispute #{dispute.id} (statement {first.number})"
    december = "Test package monthly fee 2026-12-01 – 2026-12-31 (31/31 days)"
    page, rows, text = await documents(app_client, await bearer(app_client, customer, "en"), st.id)
    assert (page["period_first_day"], page["period_last_day"]) == ("2026-11-01", "2026-11-30")
    described = {(line["kind"], line["description"], line["amount_fen"]) for line in page["lines"]}
    assert described >= {
        ("credit", credit_incident, -48),
        ("credit", credit_dispute, -500),
        ("rent", december, 5800),
    }
    assert all("incident:" not in line["description"] for line in page["lines"])
    assert {(r[2], r[-1]) for r in rows} >= {
        (credit_incident, "-0.48"),
        (credit_dispute, "-5.00"),
        (december, "58.00"),
    }
    assert rows[-1][-1] == "110.52"
    assert "2026-11-01 – 2026-11-30" in text
    assert "2026-11-01 – 2026-12-01" not in text  # the period does not reach into December
    for described_line in (credit_incident, credit_dispute, december):
        assert flat(described_line) in flat(text)

    _page, zh_rows, zh_text = await documents(
        app_client, await bearer(app_client, customer, "zh-CN"), st.id
    )
    assert "测试套餐 月租 2026-12-01 至 2026-12-31（31/31 天）" in [r[2] for r in zh_rows]
    assert flat(f"服务中断减免：{TITLE}（2026-11-10 08:00 至 2026-11-10 14:00") in flat(zh_text)
    assert "2026-11-01 – 2026-11-30" in zh_text

    # the first statement, issued on the order's day, covers that day; its rent says November
    first_page, first_rows, _ = await documents(
        app_client, await bearer(app_client, customer, "en"), first.id
    )
    assert first_page["period_last_day"] == "2026-11-01"
    assert "Test package monthly fee 2026-11-01 – 2026-11-30 (30/30 days)" in [
        r[2] for r in first_rows
    ]


async def test_a_package_without_a_fee_issues_no_first_statement(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    move_to(ctx, beijing(2026, 11, 1, 9))
    free = await product(ctx, staff, fee_fen=0)
    await orders.do_place_order(ctx, customer, None, [free.code])
    assert await views.list_statements(ctx, customer, None) == []
    account = await account_of(ctx, customer)
    async with ctx.db.session() as s:
        query = select(Notice.kind).where(Notice.account_id == account.id)
        assert "statement_issued" not in list((await s.execute(query)).scalars())
        assert await store.unbilled_entries(s, account.id) == []
    # a paid package ordered later is billed on the cycle's statement (58.00 × 20/30 = 38.67)
    move_to(ctx, beijing(2026, 11, 11, 9))
    paid = await product(ctx, staff, fee_fen=5800)
    await orders.do_place_order(ctx, customer, None, [paid.code])
    assert await views.list_statements(ctx, customer, None) == []
    move_to(ctx, beijing(2026, 12, 1, 2))
    await statements.do_close_cycle(ctx, "2026-11")
    [st] = await views.list_statements(ctx, customer, None)
    assert st.total_due_fen == 3867 + 5800  # the rest of November, then December
    async with ctx.db.session() as s:
        kinds = [e.kind for e in await store.statement_entries(s, st.id)]
    assert kinds == [EntryKind.RENT, EntryKind.RENT]
