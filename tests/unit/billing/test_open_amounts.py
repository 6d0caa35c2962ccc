"""Payments and credits go to the oldest statement first; cycles and proration by day."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from yuntong.billing.catalog.cycles import cycle_named, cycle_of, prorate
from yuntong.billing.collections.dunning import apply_credits, late_fee

BEIJING = ZoneInfo("Asia/Shanghai")


def test_a_payment_clears_the_oldest_statement_first() -> None:
    debits: list[tuple[Any, int]] = [("oct", 10_000), ("nov", 5_000)]
    assert apply_credits(debits, 12_000) == [0, 3_000]


@given(st.lists(st.integers(0, 10**7), max_size=12), st.integers(0, 10**8))
def test_what_is_left_is_what_was_asked_minus_what_was_paid(amounts: list[int], paid: int) -> None:
    debits: list[tuple[Any, int]] = [(i, a) for i, a in enumerate(amounts)]
    left = apply_credits(debits, paid)
    assert sum(left) == max(0, sum(amounts) - paid)
    # an older statement is never open while a newer one has been paid off
    first_open = next((i for i, x in enumerate(left) if x), len(left))
    later = zip(left[first_open + 1 :], amounts[first_open + 1 :], strict=True)
    assert all(x == a for x, a in later)


def test_late_fee_is_point_three_percent_rounded_half_up() -> None:
    from decimal import Decimal

    assert late_fee(100_000, Decimal("0.003")) == 300
    assert late_fee(50, Decimal("0.003")) == 0  # 0.15 fen
    assert late_fee(500, Decimal("0.003")) == 2  # 1.5 fen


def test_the_default_cycle_closes_on_the_25th_in_beijing() -> None:
    cycle = cycle_named("2026-11", 25, BEIJING)
    assert (cycle.first_day, cycle.last_day) == (date(2026, 10, 25), date(2026, 11, 24))
    assert cycle.end.isoformat() == "2026-11-24T16:00:00+00:00"
    assert cycle_of(cycle.end, 25, BEIJING).label == "2026-12"


def test_proration_counts_whole_days_left_in_the_cycle() -> None:
    november = cycle_named("2026-11", 1, BEIJING)
    assert prorate(5800, november, date(2026, 11, 10), date(2026, 12, 1)) == 4060
    assert prorate(5800, november, date(2026, 11, 1), date(2026, 12, 1)) == 5800
