"""The E-model estimate, checked against values worked out by hand."""

from __future__ import annotations

import pytest

from yuntong.calls.quality import estimate_mos, mos_from_r, r_factor


def test_perfect_loopback_call_scores_near_the_top() -> None:
    # latency 0/2 + 0 + 10 = 10 ms → R = 93.2 − 0.25 = 92.95 → MOS ≈ 4.41
    assert r_factor(0, 0, 0) == pytest.approx(92.95)
    assert estimate_mos(0, 0, 0) == pytest.approx(4.41, abs=0.01)


def test_long_delay_uses_the_steeper_branch() -> None:
    # RTT 400 ms, jitter 20 ms → 200 + 40 + 10 = 250 ms → R = 93.2 − 13 = 80.2
    assert r_factor(400, 20, 0) == pytest.approx(80.2)


def test_each_percent_of_loss_costs_two_and_a_half_points() -> None:
    assert r_factor(100, 10, 4) == pytest.approx(r_factor(100, 10, 0) - 10)


def test_mos_is_bounded() -> None:
    assert mos_from_r(-5) == 1.0
    assert mos_from_r(120) == 4.5
    assert estimate_mos(5000, 1000, 60) == 1.0


def test_mos_falls_as_conditions_worsen() -> None:
    scores = [
        estimate_mos(rtt, rtt / 10, loss) for rtt, loss in [(20, 0), (150, 1), (300, 3), (600, 8)]
    ]
    assert scores == sorted(scores, reverse=True)
