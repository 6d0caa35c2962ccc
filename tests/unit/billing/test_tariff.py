"""Rating arithmetic: increments, allowances, half-up rounding once, prepaid durations."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yuntong.billing.catalog.tariff import Rate, affordable_seconds, billed_seconds, rate_usage
from yuntong.core.money import round_fen


def rate(per_minute: str, increment: str, connect: int = 0) -> Rate:
    return Rate.parse(
        {"per_minute_fen": per_minute, "increment": increment, "connect_fee_fen": connect}
    )


def test_six_seconds_at_fifteen_fen_a_minute_is_one_and_a_half_fen_rounded_up_to_two() -> None:
    assert rate_usage(6, rate("15", "6/6"), 0).amount_fen == 2


def test_connect_fee_is_charged_only_when_part_of_the_call_is_charged() -> None:
    r = rate("10", "60/60", connect=5)
    assert rate_usage(30, r, 600).amount_fen == 0
    assert rate_usage(90, r, 60).amount_fen == 5 + 10


@pytest.mark.parametrize(
    "spec",
    [
        {"per_minute_fen": "-1", "increment": "60/60"},
        {"per_minute_fen": "abc", "increment": "60/60"},
        {"per_minute_fen": "1", "increment": "0/60"},
        {"per_minute_fen": "1", "increment": "sixty"},
        {"per_minute_fen": "1.00001", "increment": "6/6"},
        {"per_minute_fen": "1", "increment": "6/6", "connect_fee_fen": -3},
    ],
)
def test_malformed_rates_are_refused(spec: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Rate.parse(spec)


def test_absurd_durations_are_refused() -> None:
    with pytest.raises(ValueError):
        rate_usage(-1, rate("10", "60/60"), 0)
    with pytest.raises(ValueError):
        rate_usage(40 * 24 * 3600, rate("10", "60/60"), 0)


increments = st.sampled_from(["60/60", "6/6", "1/1", "30/6", "60/1"])
prices = st.decimals(min_value=0, max_value=1000, places=2)


@given(st.integers(0, 100_000), increments, prices, st.integers(0, 20_000))
def test_a_charge_is_the_charged_seconds_at_the_rate_rounded_once(
    duration: int, increment: str, price: Decimal, allowance: int
) -> None:
    r = rate(str(price), increment)
    rated = rate_usage(duration, r, allowance)
    assert rated.billed_s >= duration
    assert rated.billed_s - duration < max(r.first_s, r.next_s)
    assert 0 <= rated.allowance_s <= min(rated.billed_s, allowance)
    charged = rated.billed_s - rated.allowance_s
    assert rated.amount_fen == round_fen(price * charged / 60)


@given(st.integers(1, 100_000), increments, st.decimals(min_value=1, max_value=500, places=2))
def test_a_prepaid_call_never_costs_more_than_the_balance(
    balance: int, increment: str, price: Decimal
) -> None:
    r = rate(str(price), increment)
    seconds = affordable_seconds(balance, r, 0)
    assert seconds is not None
    if seconds:
        assert billed_seconds(seconds, r) == seconds  # ends on an increment boundary
        assert rate_usage(seconds, r, 0).amount_fen <= balance
