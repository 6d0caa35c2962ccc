"""Statements carrying late fees open everywhere and are e-mailed (a real SMTP server); one
statement that cannot be e-mailed never stops the others and is retried on the next run; a
daily run that missed the close day still closes every ended cycle, exactly once.

Close day 1 (calendar months), Beijing time. Figures are worked out by hand in each test.
"""

from __future__ import annotations

import csv
import io
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from tests.integration.accounts.conftest import PASSWORD, active_user
from tests.integration.billing.conftest import account_of, beijing, move_to, product
from tests.support import smtp
from tests.support.smtp import SmtpSink
from yuntong.accounts.auth import Principal, principal_for
from yuntong.accounts.models import User
from yuntong.billing.collections import dunning
from yuntong.billing.models import EntryKind, LedgerEntry, Statement, StatementKind
from yuntong.billing.orders import orders
from yuntong.billing.payments import payments
from yuntong.billing.statements import view as views
from yuntong.core.context import Context
from yuntong.notifications import notices
from yuntong.notifications.models import Notice

smtp_sink = smtp.smtp_sink  # the fixture, under its own name

FEE = 100_000  # 1,000.00 a month


@pytest.fixture
def settings_overrides(smtp_sink: SmtpSink) -> dict[str, Any]:
    return {
        "billing_close_day": 1,
        "billing_rating_interval_s": 0,  # no background worker: the test runs the jobs
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_sink.port,
    }


async def subscriber(ctx: Context, staff: Principal, n: int) -> tuple[User, Principal]:
    user = await active_user(ctx, staff, n)
    return user, principal_for(user, "", "cli")


async def bearer(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD, "kind": "api"}
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}", "Accept-Language": "en"}


def mailed_statements(sink: SmtpSink, number: str) -> list[EmailMessage]:
    return [m for m in sink.messages if number in str(m["Subject"])]


def attachment(message: EmailMessage, suffix: str) -> bytes:
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        if (part.get_filename() or "").endswith(suffix):
            raw = part.get_payload(decode=True)  # the bytes sent, whatever the charset
            assert isinstance(raw, bytes)
            return raw
    raise AssertionError(f"no {suffix} attached")


async def cycle_statement(ctx: Context, account_id: int, cycle: str) -> Statement:
    async with ctx.db.session() as s:
        query = select(Statement).where(
            Statement.account_id == account_id,
            Statement.kind == StatementKind.CYCLE,
            Statement.cycle == cycle,
        )
        return (await s.execute(query)).scalar_one()


async def late_fee_case(ctx: Context, staff: Principal) -> tuple[User, int, int]:
    """Two customers order a 1,000.00 package on Sunday 1 Nov 2026; their first statements are
    due 7 working days later, on Tuesday 10 Nov. B pays on 5 Nov, A does not: the daily run of
    15 Nov charges A 0.3 % of 1,000.00 = 3.00 for each of 11 … 15 Nov. The close of cycle
    2026-11 (run on 1 Dec) bills A: previous 1,000.00 + late fees 15.00 + December's rent
    1,000.00 = 2,015.00; B: previous 1,000.00 − payment 1,000.00 + December's rent = 1,000.00.
    """
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=FEE)
    a_user, a = await subscriber(ctx, staff, 901)
    _b_user, b = await subscriber(ctx, staff, 902)  # person902@example.com
    await orders.do_place_order(ctx, a, None, [package.code])
    await orders.do_place_order(ctx, b, None, [package.code])
    a_id, b_id = (await account_of(ctx, a)).id, (await account_of(ctx, b)).id
    assert a_id < b_id  # A's statement comes first in every run
    first_a = (await views.list_statements(ctx, a, None))[0]
    assert (first_a.total_due_fen, first_a.due_on.isoformat()) == (FEE, "2026-11-10")
    move_to(ctx, beijing(2026, 11, 5, 9))
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(b_id, FEE, "bank_transfer", key="b-pays-first")
    )
    move_to(ctx, beijing(2026, 11, 15, 2))
    await dunning.do_daily_run(ctx)
    async with ctx.db.session() as s:
        query = select(LedgerEntry.amount_fen).where(
            LedgerEntry.account_id == a_id, LedgerEntry.kind == EntryKind.LATE_FEE
        )
        assert list((await s.execute(query)).scalars()) == [300] * 5
    return a_user, a_id, b_id


async def test_a_statement_with_late_fees_opens_on_every_view(
    ctx: Context, staff: Principal, app_client: httpx.AsyncClient
) -> None:
    a_user, a_id, _b_id = await late_fee_case(ctx, staff)
    customer = await bearer(app_client, a_user.username)
    # bill to date: the five late fees are not billed yet
    bill = await app_client.get("/api/v1/billing/bill-to-date", headers=customer)
    assert bill.status_code == 200, bill.text
    fees = [line for line in bill.json()["lines"] if line["kind"] == "late_fee"]
    assert [(f["amount_fen"], f["rate"]) for f in fees] == [(300, "0.3%/day")] * 5
    assert fees[0]["description"] == "Late fee 2026-11-11 (1,000.00 yuan × 0.3%)"

    move_to(ctx, beijing(2026, 12, 1, 2))
    await dunning.do_daily_run(ctx)
    st = await cycle_statement(ctx, a_id, "2026-11")
    assert st.total_due_fen == 201_500
    customer = await bearer(app_client, a_user.username)  # the first session has expired
    staff_headers = await bearer(app_client, staff.username)
    base = f"/api/v1/billing/statements/{st.id}"
    for headers in (customer, staff_headers):
        page = await app_client.get(base, headers=headers)
        assert page.status_code == 200, page.text
        lines = page.json()["lines"]
        assert [line["amount_fen"] for line in lines if line["kind"] == "late_fee"] == [300] * 5
        assert page.json()["total_due_fen"] == 201_500
        pdf = await app_client.get(f"{base}/pdf", headers=headers)
        assert pdf.status_code == 200, pdf.text
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "Late fee 2026-11-15 (1,000.00 yuan × 0.3%)" in text
        assert "2,015.00" in text
        table = await app_client.get(f"{base}/csv", headers=headers)
        assert table.status_code == 200, table.text
        rows = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
        assert [r[-1] for r in rows if r[1] == "Late fee"] == ["3.00"] * 5
        assert rows[-1][-1] == "2015.00"
    web = await app_client.get(f"/billing/statements/{st.id}", headers=customer)
    assert web.status_code == 200


async def test_every_statement_is_mailed_and_a_refused_one_is_retried_next_run(
    ctx: Context, staff: Principal, smtp_sink: SmtpSink
) -> None:
    _a_user, a_id, b_id = await late_fee_case(ctx, staff)
    smtp_sink.refused.add("person902@example.com")  # B's mailbox refuses mail on 1 Dec

    move_to(ctx, beijing(2026, 12, 1, 2))
    result = await dunning.do_daily_run(ctx)
    st_a = await cycle_statement(ctx, a_id, "2026-11")
    st_b = await cycle_statement(ctx, b_id, "2026-11")
    assert (st_a.total_due_fen, st_b.total_due_fen) == (201_500, 100_000)
    [to_a] = mailed_statements(smtp_sink, st_a.number)
    assert "2,015.00" in str(to_a["Subject"])
    assert attachment(to_a, ".pdf").startswith(b"%PDF")
    rows = list(csv.reader(io.StringIO(attachment(to_a, ".csv").decode("utf-8-sig"))))
    assert [r[-1] for r in rows if r[1] == "滞纳金"] == ["3.00"] * 5
    assert rows[-1][-1] == "2015.00"
    assert mailed_statements(smtp_sink, st_b.number) == []
    assert result.mail_failed == 1  # reported to whoever ran it
    async with ctx.db.session() as s:
        query = select(Notice).where(Notice.idempotency_key == f"statement_issued:{st_b.id}")
        notice = (await s.execute(query)).scalar_one()
    assert (notice.emailed_at, notice.email_attempts) == (None, 1)
    assert notice.email_error == "smtp_550"

    smtp_sink.refused.clear()
    move_to(ctx, beijing(2026, 12, 2, 2))
    result = await dunning.do_daily_run(ctx)
    [to_b] = mailed_statements(smtp_sink, st_b.number)
    assert "1,000.00" in str(to_b["Subject"])
    assert len(mailed_statements(smtp_sink, st_a.number)) == 1  # never twice
    assert result.mail_failed == 0
    async with ctx.db.session() as s:
        delivered = await s.get(Statement, st_b.id)
        assert delivered is not None and delivered.delivered_at is not None


async def cycle_statements(ctx: Context, account_id: int) -> list[tuple[str, int]]:
    async with ctx.db.session() as s:
        query = (
            select(Statement.cycle, Statement.total_due_fen)
            .where(Statement.account_id == account_id, Statement.kind == StatementKind.CYCLE)
            .order_by(Statement.id)
        )
        return [(c, t) for c, t in (await s.execute(query)).all()]


async def rent_charges(ctx: Context, account_id: int) -> int:
    """Rent charged (a suspension may credit some back: not counted)."""
    async with ctx.db.session() as s:
        query = select(func.count()).where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.kind == EntryKind.RENT,
            LedgerEntry.amount_fen > 0,
        )
        return int((await s.execute(query)).scalar_one())


async def test_a_daily_run_days_after_the_close_day_closes_the_cycle_once(
    ctx: Context, staff: Principal
) -> None:
    """Ordered on 1 Nov; no daily run on 1 or 2 Dec. The run of 3 Dec closes 2026-11: previous
    1,000.00 + December's rent 1,000.00 = 2,000.00; running again, that day or the next, closes
    nothing more."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=FEE)
    _user, who = await subscriber(ctx, staff, 903)
    await orders.do_place_order(ctx, who, None, [package.code])
    account_id = (await account_of(ctx, who)).id

    move_to(ctx, beijing(2026, 12, 3, 2))
    assert (await dunning.do_daily_run(ctx)).closed == 1
    assert await cycle_statements(ctx, account_id) == [("2026-11", 200_000)]
    assert (await dunning.do_daily_run(ctx)).closed == 0
    move_to(ctx, beijing(2026, 12, 4, 2))
    assert (await dunning.do_daily_run(ctx)).closed == 0
    assert await cycle_statements(ctx, account_id) == [("2026-11", 200_000)]
    assert await rent_charges(ctx, account_id) == 2  # November's and December's, once each


async def test_a_daily_run_after_months_down_closes_every_ended_cycle_in_order(
    ctx: Context, staff: Principal
) -> None:
    """Ordered on 1 Nov; nothing runs until 2 Feb 2027. Cycles 2026-11, 2026-12 and 2027-01
    close in order, each charging the next month's full rent (1,000.00): 2,000.00, 3,000.00,
    4,000.00 (late fees of those months are charged after the closes, for the next one)."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=FEE)
    _user, who = await subscriber(ctx, staff, 904)
    await orders.do_place_order(ctx, who, None, [package.code])
    account_id = (await account_of(ctx, who)).id

    move_to(ctx, beijing(2027, 2, 2, 2))
    assert (await dunning.do_daily_run(ctx)).closed == 3
    assert await cycle_statements(ctx, account_id) == [
        ("2026-11", 200_000),
        ("2026-12", 300_000),
        ("2027-01", 400_000),
    ]
    assert (await dunning.do_daily_run(ctx)).closed == 0
    assert await rent_charges(ctx, account_id) == 4


async def test_a_notice_that_cannot_be_made_is_recorded_retried_later_and_stops_nothing(
    ctx: Context, staff: Principal, smtp_sink: SmtpSink
) -> None:
    """A statement notice pointing at a statement id that is not a number cannot be rendered:
    it is recorded (render_failed), the notice after it is still e-mailed, and it is tried
    again 5 minutes later, then 10 minutes after that."""
    move_to(ctx, beijing(2026, 11, 2, 9))
    _user, who = await subscriber(ctx, staff, 905)
    account_id = (await account_of(ctx, who)).id
    async with ctx.db.session() as s:
        s.add(
            Notice(
                account_id=account_id,
                kind="statement_issued",
                params={"statement_id": "lost", "number": "ST-X", "total": "1.00", "due_on": "-"},
                created_at=ctx.clock.now(),
                idempotency_key="statement_issued:lost",
            )
        )
    await notices.do_notify(
        ctx, account_id, "payment_received", "p1", amount="10.00", receipt="RC-1"
    )

    async def attempts() -> tuple[int, str | None]:
        async with ctx.db.session() as s:
            query = select(Notice).where(Notice.idempotency_key == "statement_issued:lost")
            notice = (await s.execute(query)).scalar_one()
            return notice.email_attempts, notice.email_error

    first = await notices.deliver_pending(ctx)
    assert (first.sent, first.failed, first.failing) == (1, 1, 1)
    [message] = await smtp_sink.wait_for(1)
    assert "10.00" in str(message["Subject"])
    assert await attempts() == (1, "render_failed")
    assert (await notices.deliver_pending(ctx)).failed == 0  # not before 5 minutes
    move_to(ctx, beijing(2026, 11, 2, 9, 5))
    assert (await notices.deliver_pending(ctx)).failed == 1
    assert await attempts() == (2, "render_failed")
    move_to(ctx, beijing(2026, 11, 2, 9, 14))
    assert (await notices.deliver_pending(ctx)).failed == 0  # the delay doubled
    move_to(ctx, beijing(2026, 11, 2, 9, 15))
    assert (await notices.deliver_pending(ctx)).failing == 1
    assert await attempts() == (3, "render_failed")
    assert len(smtp_sink.messages) == 1
