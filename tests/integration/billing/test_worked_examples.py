"""Worked examples a reader can check by hand (calendar-month cycles, Beijing time).

Each test states its arithmetic in its docstring; both databases run every example.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tests.integration.billing.conftest import (
    account_of,
    beijing,
    move_to,
    product,
    rate,
    use,
)
from yuntong.accounts.auth import Principal
from yuntong.billing import store
from yuntong.billing.collections import dunning
from yuntong.billing.ledger import credit, rating
from yuntong.billing.models import EntryKind, LedgerEntry, Statement, StatementKind
from yuntong.billing.orders import orders
from yuntong.billing.payments import payments
from yuntong.billing.statements import statements
from yuntong.billing.statements import view as views
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError


async def entries(ctx: Context, account_id: int, kind: str) -> list[LedgerEntry]:
    async with ctx.db.session() as s:
        query = select(LedgerEntry).where(
            LedgerEntry.account_id == account_id, LedgerEntry.kind == kind
        )
        return list((await s.execute(query.order_by(LedgerEntry.id))).scalars())


async def statement_lines_total(ctx: Context, st: Statement) -> int:
    async with ctx.db.session() as s:
        return sum(e.amount_fen for e in await store.statement_entries(s, st.id))


async def test_month_with_rent_allowance_and_overage_at_6_6_and_60_60(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Package: 58.00/month, 10 free video minutes; video 0.15/min at 6/6, audio 0.10/min at
    60/60. Ordered 1 Nov: first statement 58.00 (30 of 30 days).

    Video 400 s → 402 s billed, all from the allowance (198 s left). Video 423 s → 426 s
    billed; 198 s free, 228 s × 15/60 = 57 fen. Audio 61 s → 120 s → 20 fen; audio 59 s →
    60 s → 10 fen.
    Closing November on 1 Dec: 58.00 brought forward + 0.87 usage + 58.00 December rent
    (charged in advance) = 116.87."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(
        ctx,
        staff,
        fee_fen=5800,
        allowances={"call.video": 600},
        rates={"call.video": rate("15", "6/6"), "call.audio": rate("10", "60/60")},
    )
    await orders.do_place_order(ctx, customer, None, [package.code])
    account = await account_of(ctx, customer)
    first = await views.list_statements(ctx, customer, None)
    assert [(st.kind, st.total_due_fen) for st in first] == [(StatementKind.FIRST, 5800)]
    assert first[0].due_on.isoformat() == "2026-11-10"  # 7 working days after Sunday 1 Nov

    move_to(ctx, beijing(2026, 11, 12))
    await use(ctx, customer, "call.video", 400)
    await use(ctx, customer, "call.video", 423)
    await use(ctx, customer, "call.audio", 61)
    await use(ctx, customer, "call.audio", 59)
    assert await rating.do_rate_pending(ctx) == 4
    usage = await entries(ctx, account.id, EntryKind.USAGE)
    assert [(e.billed_s, e.allowance_s, e.amount_fen) for e in usage] == [
        (402, 402, 0),  # the allowance is used in billed seconds
        (426, 198, 57),
        (120, 0, 20),
        (60, 0, 10),
    ]

    move_to(ctx, beijing(2026, 12, 1, 2))
    result = await statements.do_close_cycle(ctx, "2026-11")
    assert result.issued == 1
    november = (await views.list_statements(ctx, customer, None))[0]
    assert november.previous_balance_fen == 5800
    assert november.total_due_fen == 5800 + 87 + 5800
    assert november.total_due_fen == november.previous_balance_fen + await statement_lines_total(
        ctx, november
    )
    assert (await statements.do_close_cycle(ctx, "2026-11")).already == 1
    async with ctx.db.session() as s:
        count = await s.execute(select(func.count()).select_from(Statement))
        assert count.scalar_one() == 2


async def test_400_seconds_at_6_6_is_402_seconds() -> None:
    """The increment arithmetic behind the example above, stated alone."""
    from yuntong.billing.catalog.tariff import Rate, billed_seconds

    assert billed_seconds(400, Rate.parse(rate("15", "6/6"))) == 402
    assert billed_seconds(61, Rate.parse(rate("10", "60/60"))) == 120


async def test_upgrade_on_the_10th_is_prorated_by_day(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """58.00 package from 1 Nov, 88.00 package from 10 Nov: 21 of November's 30 days are left.
    Credit 5800 × 21/30 = 4060; charge 8800 × 21/30 = 6160; net +21.00."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    basic = await product(ctx, staff, fee_fen=5800)
    plus = await product(ctx, staff, fee_fen=8800)
    await orders.do_place_order(ctx, customer, None, [basic.code])
    move_to(ctx, beijing(2026, 11, 10, 15))
    order = await orders.do_place_order(ctx, customer, None, [plus.code])
    assert order.kind == "change"
    account = await account_of(ctx, customer)
    rents = [e.amount_fen for e in await entries(ctx, account.id, EntryKind.RENT)]
    assert rents == [5800, -4060, 6160]
    assert order.document["ending"] == [basic.code]
    assert order.document["terms"]["late_fee_per_day"] == "0.003"


async def test_late_fee_after_12_days_at_point_3_percent_a_day(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """1,000.00 due on 10 Nov, paid on 22 Nov: overdue on the 11th … 22nd, 12 days.
    0.3 % × 1,000.00 = 3.00 a day; 12 × 3.00 = 36.00, shown on November's statement."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    business = await product(ctx, staff, fee_fen=100_000)
    await orders.do_place_order(ctx, customer, None, [business.code])
    account = await account_of(ctx, customer)
    move_to(ctx, beijing(2026, 11, 22, 10))
    await payments.do_record_payment(
        ctx,
        staff,
        payments.PaymentIn(account.id, 100_000, "bank_transfer", key="late-example"),
    )
    fees = await entries(ctx, account.id, EntryKind.LATE_FEE)
    assert [e.amount_fen for e in fees] == [300] * 12
    assert fees[0].detail["day"] == "2026-11-11" and fees[-1].detail["day"] == "2026-11-22"
    await dunning.do_review_account(ctx, account.id)  # a second review charges nothing more
    assert len(await entries(ctx, account.id, EntryKind.LATE_FEE)) == 12
    move_to(ctx, beijing(2026, 12, 1, 2))
    await statements.do_close_cycle(ctx, "2026-11")
    november = (await views.list_statements(ctx, customer, None))[0]
    async with ctx.db.session() as s:
        kinds = [e.kind for e in await store.statement_entries(s, november.id)]
    assert kinds.count(EntryKind.LATE_FEE) == 12


async def test_suspended_after_a_month_overdue_and_terminated_after_three(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Due 10 Nov and never paid: still active on 10 Dec, suspended on 11 Dec (more than a
    month overdue), chargeable calls refused with the amount to pay; terminated and marked
    for collection on 11 Feb (more than three months)."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    business = await product(
        ctx, staff, fee_fen=100_000, rates={"call.video": rate("100", "60/60")}
    )
    await orders.do_place_order(ctx, customer, None, [business.code])
    account = await account_of(ctx, customer)
    move_to(ctx, beijing(2026, 12, 10, 12))
    assert (await dunning.do_review_account(ctx, account.id)).state == "active"
    move_to(ctx, beijing(2026, 12, 11, 2))
    review = await dunning.do_review_account(ctx, account.id)
    assert review.changed_to == "suspended"
    try:
        await credit.check_may_start(ctx, customer.user_id, "call.video")
        raise AssertionError("a suspended account started a chargeable call")
    except YuntongError as exc:
        assert exc.code == "billing_suspended"
        assert "yuan" in exc.message("en")
    move_to(ctx, beijing(2027, 2, 10, 12))
    assert (await dunning.do_review_account(ctx, account.id)).state == "suspended"
    move_to(ctx, beijing(2027, 2, 11, 2))
    review = await dunning.do_review_account(ctx, account.id)
    assert review.changed_to == "terminated"
    refreshed = await account_of(ctx, customer)
    assert refreshed.in_collections


async def test_payment_in_full_lifts_a_suspension(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    move_to(ctx, beijing(2026, 11, 1, 9))
    business = await product(
        ctx, staff, fee_fen=100_000, rates={"call.video": rate("100", "60/60")}
    )
    await orders.do_place_order(ctx, customer, None, [business.code])
    account = await account_of(ctx, customer)
    move_to(ctx, beijing(2026, 12, 11, 2))
    assert (await dunning.do_review_account(ctx, account.id)).changed_to == "suspended"
    async with ctx.db.session() as s:
        owed = await store.balance(s, account.id)
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account.id, owed, "cash", key="lift")
    )
    assert (await account_of(ctx, customer)).state == "active"
    assert await credit.check_may_start(ctx, customer.user_id, "call.video") is None


async def test_credit_limit_reached_stops_the_next_chargeable_call(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Limit 100.00, video 1.00/min at 60/60: a 100-minute call (started while under the
    limit, so it ran to its end) brings what is owed to 100.00 — the limit, not more (VP 9
    suspends when the charges exceed it): the next call is allowed. A 1-minute call more
    owes 101.00 > 100.00: the next call is refused; a call the tariff does not charge for
    is still allowed."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=0, rates={"call.video": rate("100", "60/60")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    from yuntong.billing.ledger.accounts import do_set_credit_limit

    await do_set_credit_limit(ctx, customer, None, 10_000)
    assert await credit.check_may_start(ctx, customer.user_id, "call.video") is None
    await use(ctx, customer, "call.video", 100 * 60)
    await rating.do_rate_pending(ctx)
    assert await credit.check_may_start(ctx, customer.user_id, "call.video") is None
    await use(ctx, customer, "call.video", 60)
    await rating.do_rate_pending(ctx)
    try:
        await credit.check_may_start(ctx, customer.user_id, "call.video")
        raise AssertionError("over the limit, yet allowed")
    except YuntongError as exc:
        assert exc.code == "credit_exhausted"
    assert await credit.check_may_start(ctx, customer.user_id, "call.audio") is None


async def test_prepaid_call_gets_the_duration_its_balance_pays_for(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Prepaid, 2.50 in hand, video 1.00/min at 60/60 plus 2 free minutes: 2 free + 2 paid
    whole minutes = 240 s (the third paid minute would cost more than is left)."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(
        ctx,
        staff,
        fee_fen=0,
        allowances={"call.video": 120},
        rates={"call.video": rate("100", "60/60")},
    )
    await orders.do_place_order(ctx, customer, None, [package.code])
    account = await account_of(ctx, customer)
    from yuntong.billing.ledger.accounts import do_set_kind

    await do_set_kind(ctx, staff, account.id, "prepaid")
    try:
        await credit.check_may_start(ctx, customer.user_id, "call.video")
        raise AssertionError("a prepaid account with nothing in hand was allowed")
    except YuntongError as exc:
        assert exc.code == "balance_exhausted"
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account.id, 250, "cash", key="top-up")
    )
    assert await credit.check_may_start(ctx, customer.user_id, "call.video") == 240


async def test_a_prepaid_balance_below_one_increment_starts_no_call(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """0.50 in hand, 1.00/min at 60/60: the first increment (1.00) is not paid for."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=0, rates={"call.video": rate("100", "60/60")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    account = await account_of(ctx, customer)
    from yuntong.billing.ledger.accounts import do_set_kind

    await do_set_kind(ctx, staff, account.id, "prepaid")
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account.id, 50, "cash", key="half")
    )
    try:
        await credit.check_may_start(ctx, customer.user_id, "call.video")
        raise AssertionError("a call was allowed that the balance cannot pay for")
    except YuntongError as exc:
        assert exc.code == "balance_exhausted"
