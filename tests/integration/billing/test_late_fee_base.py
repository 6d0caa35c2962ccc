"""What late fees are charged on (VP 5, issue 14 items 12 and 13), worked by hand.

Calendar-month cycles (close day 1), Beijing time, the clock moved by hand; both databases
run every case. A package ordered on 1 November issues a first statement due on 10 November
(7 working days); the November cycle closes on 1 December with December's rent, due 10
working days later (15 December). The late fee of a day is 0.3 % of the charges overdue at
the start of that day, rounded half-up to the fen: 1,000.00 costs 3.00 a day, 2,000.00 costs
6.00.

The payment application order (docs/billing.md, "Late fees and payment application order"):
everything paid settles the debt that fell due first; a statement's charges fall due on its
due date, a late fee on its day; so a statement's charges come before the late fees they
cause, and those late fees before the charges of a later statement.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.billing.conftest import account_of, beijing, move_to, product
from yuntong.accounts.auth import Principal
from yuntong.billing import store
from yuntong.billing.collections import dunning
from yuntong.billing.disputes import disputes
from yuntong.billing.models import EntryKind, LedgerEntry, Statement
from yuntong.billing.orders import orders
from yuntong.billing.payments import payments
from yuntong.billing.statements import statements
from yuntong.billing.statements import view as views
from yuntong.core.context import Context


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Rent runs on while an account is suspended for arrears, so that the worked figures are
    about late fees alone (the default pauses it: test_suspension_rent)."""
    return {"billing_close_day": 1, "billing_rent_during_arrears_suspension": True}


async def fees_by_day(ctx: Context, account_id: int) -> dict[date, int]:
    """Each day's late fee, net of corrections."""
    async with ctx.db.session() as s:
        query = select(LedgerEntry).where(
            LedgerEntry.account_id == account_id, LedgerEntry.kind == EntryKind.LATE_FEE
        )
        found: dict[date, int] = {}
        for entry in (await s.execute(query.order_by(LedgerEntry.id))).scalars():
            day = date.fromisoformat(entry.detail["day"])
            found[day] = found.get(day, 0) + entry.amount_fen
        return found


async def bases_by_day(ctx: Context, account_id: int) -> dict[date, int]:
    async with ctx.db.session() as s:
        query = select(LedgerEntry).where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.kind == EntryKind.LATE_FEE,
            LedgerEntry.amount_fen > 0,
        )
        rows = (await s.execute(query)).scalars()
        return {date.fromisoformat(e.detail["day"]): int(e.detail["base_fen"]) for e in rows}


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def pay(
    ctx: Context, staff: Principal, account_id: int, fen: int, key: str, **kw: datetime
) -> None:
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account_id, fen, "bank_transfer", key=key, **kw)
    )


async def ordered(ctx: Context, staff: Principal, customer: Principal, fee_fen: int) -> int:
    """A package of ``fee_fen`` a month ordered on 1 November: first statement due 10 Nov."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=fee_fen)
    await orders.do_place_order(ctx, customer, None, [package.code])
    account = await account_of(ctx, customer)
    [first] = await views.list_statements(ctx, customer, None)
    assert (first.total_due_fen, first.due_on) == (fee_fen, date(2026, 11, 10))
    return account.id


async def close_november(ctx: Context, customer: Principal) -> Statement:
    move_to(ctx, beijing(2026, 12, 1, 2))
    await statements.do_close_cycle(ctx, "2026-11")
    listed = await views.list_statements(ctx, customer, None)
    november = next(st for st in listed if st.cycle == "2026-11")
    assert november.due_on == date(2026, 12, 15)
    return november


async def test_a_late_fee_billed_on_a_statement_never_earns_late_fees(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """The issue's case, 6.00 and not 6.01 on 2,000.00 of charges.

    1,000.00 due 10 Nov, unpaid. The daily run of 11 Nov charges 3.00 (0.3 % × 1,000.00), then
    misses every day up to the close. November's statement (1 Dec) asks December's rent
    1,000.00 plus that 3.00 late fee, due 15 Dec. The run of 17 Dec catches up:
    - 12 Nov … 15 Dec (34 days): only the first statement is overdue, 3.00 a day;
    - 16 and 17 Dec: both statements are overdue, charges 1,000.00 + 1,000.00 = 2,000.00 →
      6.00 a day. The 3.00 late fee on November's statement is not a charge: counting it gave
      2,003.00 × 0.3 % = 6.009 → 6.01 before the fix.
    """
    account_id = await ordered(ctx, staff, customer, 100_000)
    move_to(ctx, beijing(2026, 11, 11, 2))
    assert (await dunning.do_review_account(ctx, account_id)).late_fees_fen == 300
    november = await close_november(ctx, customer)
    assert november.total_due_fen == 100_000 + 100_000 + 300  # previous balance, rent, fee
    move_to(ctx, beijing(2026, 12, 17, 2))
    review = await dunning.do_review_account(ctx, account_id)
    fees = await fees_by_day(ctx, account_id)
    assert fees == {
        **{d: 300 for d in days(date(2026, 11, 11), date(2026, 12, 15))},
        date(2026, 12, 16): 600,
        date(2026, 12, 17): 600,
    }
    assert review.late_fees_fen == 34 * 300 + 2 * 600
    assert (await bases_by_day(ctx, account_id))[date(2026, 12, 17)] == 200_000
    # overdue (reminders, suspension) is all both statements ask: charges and the billed fee
    assert review.overdue_fen == 200_000 + 300


async def test_eighteen_yuan_of_late_fees_billed_leave_the_base_at_two_thousand(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """2,000.00 due 10 Nov, the package cancelled (no December rent). Runs on 11, 12, 13 Nov:
    6.00 a day, 18.00. November's statement asks only those 18.00, due 15 Dec. Run of 17 Dec:
    14 Nov … 17 Dec, 34 more days at 6.00 — 2,000.00 × 0.3 %, not 2,018.00 × 0.3 % = 6.05 on
    16 and 17 Dec, when the statement with the 18.00 is overdue too. Total 37 × 6.00 = 222.00."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=200_000)
    await orders.do_place_order(ctx, customer, None, [package.code])
    account_id = (await account_of(ctx, customer)).id
    await orders.do_cancel_product(ctx, customer, None, package.code)
    for day in (11, 12, 13):
        move_to(ctx, beijing(2026, 11, day, 2))
        await dunning.do_review_account(ctx, account_id)
    november = await close_november(ctx, customer)
    async with ctx.db.session() as s:
        billed = [e.amount_fen for e in await store.statement_entries(s, november.id)]
    assert billed == [600, 600, 600]
    move_to(ctx, beijing(2026, 12, 17, 2))
    await dunning.do_review_account(ctx, account_id)
    fees = await fees_by_day(ctx, account_id)
    assert set(fees.values()) == {600}
    assert sum(fees.values()) == 37 * 600


async def test_paying_arrears_and_late_fees_leaves_the_next_statement_whole(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """The issue's case, a base of 1,000.00 and not 967.00.

    1,000.00 due 10 Nov, unpaid. The run of 30 Nov charges 11 … 30 Nov: 20 × 3.00 = 60.00,
    billed on November's statement with December's rent 1,000.00 (due 15 Dec). On 11 Dec the
    customer pays the arrears and every late fee so far: 1,000.00 + 60.00 + 1 … 11 Dec
    (11 × 3.00 = 33.00) = 1,093.00. In the order the debts fell due — the first statement's
    1,000.00 (10 Nov), the late fees (11 Nov … 11 Dec), December's rent (15 Dec) — the
    payment settles exactly the first two; December's 1,000.00 is untouched. From 16 Dec it is
    overdue: 3.00 a day. Before the fix the 33.00 of unbilled late fees went to November's
    statement and the base was 1,060.00 - 93.00 = 967.00 (2.90 a day).
    """
    account_id = await ordered(ctx, staff, customer, 100_000)
    move_to(ctx, beijing(2026, 11, 30, 2))
    assert (await dunning.do_review_account(ctx, account_id)).late_fees_fen == 20 * 300
    await close_november(ctx, customer)
    move_to(ctx, beijing(2026, 12, 11, 10))
    await dunning.do_review_account(ctx, account_id)
    async with ctx.db.session() as s:
        assert await store.balance(s, account_id) == 100_000 + 100_000 + 31 * 300
    await pay(ctx, staff, account_id, 109_300, "arrears-and-fees")
    move_to(ctx, beijing(2026, 12, 18, 2))
    review = await dunning.do_review_account(ctx, account_id)
    fees = await fees_by_day(ctx, account_id)
    assert [fees.get(d, 0) for d in days(date(2026, 12, 12), date(2026, 12, 18))] == [
        *[0] * 4,  # 12 … 15 Dec: nothing overdue
        300,
        300,
        300,
    ]
    assert (await bases_by_day(ctx, account_id))[date(2026, 12, 16)] == 100_000
    assert review.overdue_fen == 100_000


@pytest.mark.parametrize(
    ("paid_fen", "base_after"),
    [
        (50_000, 50_000),  # half the charges: 500.00 still overdue, 1.50 a day
        (100_000, 0),  # the statement's charges: nothing overdue, the 30.00 of fees still owed
        (103_000, 0),  # charges and late fees
    ],
)
async def test_a_payment_settles_the_statements_charges_before_their_late_fees(
    ctx: Context, staff: Principal, customer: Principal, paid_fen: int, base_after: int
) -> None:
    """1,000.00 due 10 Nov; on 20 Nov at 10:00 (late fees of 11 … 20 Nov: 30.00) the customer
    pays X. The statement's charges fell due before their late fees, so X goes to them first:
    from 21 Nov the base is 1,000.00 - X (never below 0), whatever is left of X pays the late
    fees. Run of 25 Nov: 21 … 25 Nov cost 0.3 % of the base."""
    account_id = await ordered(ctx, staff, customer, 100_000)
    move_to(ctx, beijing(2026, 11, 20, 10))
    await pay(ctx, staff, account_id, paid_fen, f"partial-{paid_fen}")
    move_to(ctx, beijing(2026, 11, 25, 2))
    await dunning.do_review_account(ctx, account_id)
    fees = await fees_by_day(ctx, account_id)
    assert [fees[d] for d in days(date(2026, 11, 11), date(2026, 11, 20))] == [300] * 10
    after = [fees.get(d, 0) for d in days(date(2026, 11, 21), date(2026, 11, 25))]
    assert after == [dunning.late_fee(base_after, ctx.settings.billing_late_fee_per_day)] * 5
    owed = 100_000 + 10 * 300 + sum(after) - paid_fen
    async with ctx.db.session() as s:
        assert await store.balance(s, account_id) == owed


@pytest.mark.parametrize(
    ("resolution", "credit_fen", "expected"),
    [
        ("credit", 3_000, [60, 60, 60, 60, 60]),
        ("credit", 1_000, [60, 60, 60, 60, 66]),
        ("explain", 0, [60, 60, 60, 60, 69]),
    ],
)
async def test_a_past_days_late_fee_sees_the_disputes_open_that_day(
    ctx: Context,
    staff: Principal,
    customer: Principal,
    resolution: str,
    credit_fen: int,
    expected: list[int],
) -> None:
    """The issue's case, 0.60 and not 0.69.

    230.00 due 10 Nov; on 5 Nov the customer disputes 30.00 of it. The daily runs of 11 … 15
    Nov are missed. On 14 Nov at 09:00 staff resolve the dispute; the run of 15 Nov catches up
    11 … 15 Nov, each day as it stood at its start:
    - 11 … 14 Nov: the dispute was open, base 230.00 - 30.00 = 200.00 → 0.60 a day;
    - 15 Nov: resolved. Credited 30.00: base 200.00 → 0.60; credited 10.00: 220.00 → 0.66;
      explained (no money back): 230.00 → 0.69.
    Before the fix every day used the dispute's state on 15 Nov: 0.69 on 11 … 14 Nov.
    """
    account_id = await ordered(ctx, staff, customer, 23_000)
    [first] = await views.list_statements(ctx, customer, None)
    async with ctx.db.session() as s:
        [rent] = await store.statement_entries(s, first.id)
    move_to(ctx, beijing(2026, 11, 5, 9))
    opened = await disputes.do_open_dispute(ctx, customer, rent.id, "只用了部分服务", 3_000)
    move_to(ctx, beijing(2026, 11, 14, 9))
    dispute_id = opened.dispute.id
    if resolution == "credit":
        await disputes.do_resolve_by_credit(ctx, staff, dispute_id, credit_fen, "核实后部分退还")
    else:
        await disputes.do_resolve_by_explanation(ctx, staff, dispute_id, "费用无误")
    move_to(ctx, beijing(2026, 11, 15, 2))
    await dunning.do_review_account(ctx, account_id)
    fees = await fees_by_day(ctx, account_id)
    assert [fees[d] for d in days(date(2026, 11, 11), date(2026, 11, 15))] == expected


async def test_a_payment_recorded_late_gives_back_the_late_fees_it_would_have_saved(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """1,000.00 due 10 Nov; the daily run charges 3.00 on each of 11 … 20 Nov. On 20 Nov staff
    record a bank transfer of 1,000.00 received on 15 Nov at 10:00: as of that moment it paid
    the charges, so 16 … 20 Nov owed no late fee. Each of those five days gets a correction of
    -3.00 (the ledger is append-only); 11 … 15 Nov keep theirs (15.00 still owed). Reviewing
    again changes nothing."""
    account_id = await ordered(ctx, staff, customer, 100_000)
    for day in range(11, 21):
        move_to(ctx, beijing(2026, 11, day, 2))
        await dunning.do_review_account(ctx, account_id)
    move_to(ctx, beijing(2026, 11, 20, 15))
    await pay(ctx, staff, account_id, 100_000, "late-recorded", received_at=beijing(2026, 11, 15))
    fees = await fees_by_day(ctx, account_id)
    assert [fees[d] for d in days(date(2026, 11, 11), date(2026, 11, 20))] == [300] * 5 + [0] * 5
    async with ctx.db.session() as s:
        assert await store.balance(s, account_id) == 5 * 300
    move_to(ctx, beijing(2026, 11, 21, 2))
    assert (await dunning.do_review_account(ctx, account_id)).late_fees_fen == 0
    async with ctx.db.session() as s:
        count = select(LedgerEntry.id).where(
            LedgerEntry.account_id == account_id, LedgerEntry.kind == EntryKind.LATE_FEE
        )
        assert len((await s.execute(count)).all()) == 15
