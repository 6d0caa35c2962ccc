"""The payment application order and the late-fee base, replayed by hand (no database).

Order (docs/billing.md, "Late fees and payment application order"): what is paid settles the
debt that fell due first — a statement's charges on its due date, a late fee on its day —
and a credit note first reduces the charges it corrects. Late fees accrue on undisputed
overdue charges only, never on late fees.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from yuntong.billing.collections.dunning import Book, _Credit
from yuntong.billing.disputes.disputes import DisputedAmount
from yuntong.billing.models import Statement

BEIJING = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=BEIJING).astimezone(UTC)


def statement(sid: int, issued: datetime, due: date) -> Statement:
    return Statement(id=sid, number=f"S{sid}", issued_at=issued, due_on=due)


def fees(book: Book, month: int, first: int, last: int, fen: int, billed_on: int | None) -> None:
    for day in range(first, last + 1):
        book.add_fee(date(2026, month, day), fen, 1000 + month * 100 + day, billed_on)


def two_thousand_overdue() -> Book:
    """S1: 2,000.00 issued 1 Nov, due 10 Nov; 6.00 of late fees on 11 … 13 Nov, billed on S2
    (issued 1 Dec, due 15 Dec, no charges of its own)."""
    book = Book(BEIJING)
    book.add_statement(statement(1, at(11, 1), date(2026, 11, 10)), 200_000)
    book.add_statement(statement(2, at(12, 1, 2), date(2026, 12, 15)), 0)
    fees(book, 11, 11, 13, 600, billed_on=2)
    return book


def test_late_fees_on_a_statement_are_no_base_for_more_late_fees() -> None:
    """16 Dec: both statements overdue. Base 2,000.00 (6.00), not 2,018.00 (6.05); but what
    is overdue for reminders and suspension is everything they ask: 2,018.00."""
    book = two_thousand_overdue()
    start = datetime(2026, 12, 16, tzinfo=BEIJING)
    book.advance(start)
    pos = book.position([], start)
    assert pos.late_fee_base(date(2026, 12, 16)) == 200_000
    assert pos.overdue_fen(date(2026, 12, 16)) == 201_800


def test_a_payment_settles_the_charges_before_the_late_fees_they_caused() -> None:
    """2,010.00 paid on 20 Nov: the 2,000.00 due 10 Nov first, then 10.00 of the 18.00 of
    late fees, oldest first: 11 Nov's 6.00, 4.00 of 12 Nov's. Base 0; 8.00 of fees open, on S2."""
    book = two_thousand_overdue()
    book.add_credit(_Credit(1, at(11, 20), 201_000))
    book.advance(None)
    pos = book.position([], None)
    assert pos.late_fee_base(date(2026, 12, 16)) == 0
    assert [(a.charges_fen, a.fees_fen) for a in pos.amounts] == [(0, 0), (0, 800)]
    assert [book.fees[date(2026, 11, d)].left_fen for d in (11, 12, 13)] == [0, 200, 600]


def test_late_fees_fall_due_before_a_later_statements_charges() -> None:
    """S1 1,000.00 due 10 Nov; late fees 3.00 on 11 … 30 Nov (billed on S2) and 1 … 11 Dec
    (unbilled); S2 asks 1,000.00 of rent, due 15 Dec. 1,093.00 paid on 11 Dec settles S1 and
    the 93.00 of fees (all fell due before 15 Dec); S2's 1,000.00 is the base from 16 Dec."""
    book = Book(BEIJING)
    book.add_statement(statement(1, at(11, 1), date(2026, 11, 10)), 100_000)
    book.add_statement(statement(2, at(12, 1, 2), date(2026, 12, 15)), 100_000)
    fees(book, 11, 11, 30, 300, billed_on=2)
    fees(book, 12, 1, 11, 300, billed_on=None)
    book.add_credit(_Credit(1, at(12, 11), 109_300))
    book.advance(datetime(2026, 12, 16, tzinfo=BEIJING))
    assert book.position([], None).late_fee_base(date(2026, 12, 16)) == 100_000
    assert all(fee.left_fen == 0 for fee in book.fees.values())


def test_a_credit_note_reduces_the_statement_it_corrects() -> None:
    """S1 500.00 overdue; a dispute of S2 (not due) credited 100.00: S2 drops to 400.00, the
    base stays 500.00. A payment of 100.00 would have gone to S1."""
    book = Book(BEIJING)
    book.add_statement(statement(1, at(11, 1), date(2026, 11, 10)), 50_000)
    book.add_statement(statement(2, at(12, 1, 2), date(2026, 12, 15)), 50_000)
    book.add_credit(_Credit(1, at(12, 3), 10_000, statement_id=2))
    book.advance(None)
    pos = book.position([], None)
    assert [a.charges_fen for a in pos.amounts] == [50_000, 40_000]
    assert pos.late_fee_base(date(2026, 12, 4)) == 50_000


def test_money_in_hand_settles_a_statement_when_it_is_issued() -> None:
    book = Book(BEIJING)
    book.add_credit(_Credit(1, at(10, 20), 30_000))
    book.add_statement(statement(1, at(11, 1), date(2026, 11, 10)), 50_000)
    book.advance(at(11, 2))
    assert [a.charges_fen for a in book.position([], None).amounts] == [20_000]
    assert book.in_hand_fen == 0


def test_a_dispute_counts_only_while_it_was_open() -> None:
    """230.00 due 10 Nov; 30.00 disputed from 5 Nov until resolved on 14 Nov at 09:00 (by
    explanation: no credit). Base 200.00 at the start of 11 … 14 Nov, 230.00 from 15 Nov."""
    book = Book(BEIJING)
    book.add_statement(statement(1, at(11, 1), date(2026, 11, 10)), 23_000)
    dispute = DisputedAmount(1, 7, 3_000, at(11, 5), at(11, 14, 9), still_open=False)
    for day, base in [(11, 20_000), (14, 20_000), (15, 23_000)]:
        start = datetime(2026, 11, day, tzinfo=BEIJING)
        book.advance(start)
        assert book.position([dispute], start).late_fee_base(date(2026, 11, day)) == base
    assert book.position([dispute], None).late_fee_base(date(2026, 11, 16)) == 23_000


@given(
    charges=st.lists(st.integers(0, 10**6), min_size=1, max_size=4),
    fee_fen=st.lists(st.integers(0, 10**4), max_size=20),
    paid=st.lists(st.tuples(st.integers(1, 28), st.integers(1, 10**6)), max_size=5),
)
def test_what_is_left_is_what_was_owed_minus_what_was_paid(
    charges: list[int], fee_fen: list[int], paid: list[tuple[int, int]]
) -> None:
    """Whatever the amounts and moments, nothing is paid twice or lost."""
    book = Book(BEIJING)
    start = datetime(2026, 11, 1, tzinfo=BEIJING)
    for n, fen in enumerate(charges):
        issued = datetime(2026, 11, 1 + 7 * n, tzinfo=BEIJING)
        book.add_statement(statement(n + 1, issued, date(2026, 11, 5 + 7 * n)), fen)
    for n, fen in enumerate(fee_fen):
        book.add_fee(date(2026, 11, 6 + n), fen, n + 1, None)
    for n, (day, fen) in enumerate(paid):
        book.add_credit(_Credit(100 + n, start.replace(day=day), fen))
    book.advance(None)
    owed = sum(charges) + sum(fee_fen)
    left = sum(c.left_fen for c in book.charges) + sum(f.left_fen for f in book.fees.values())
    assert left == max(0, owed - sum(fen for _d, fen in paid))
    assert book.in_hand_fen == max(0, sum(fen for _d, fen in paid) - owed)
