"""The conversation state machine's table, and whom automatic assignment chooses: only agents
online with free capacity — never offline, away or busy ones — round robin (assigned longest
ago first) or least busy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from yuntong.core.errors import YuntongError
from yuntong.support.assignment import Candidate, choose
from yuntong.support.machine import Action, allowed_actions, check_transition
from yuntong.support.views import expected_wait_s

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "action", "target"),
    [
        ("open", Action.ASSIGN, "assigned"),
        ("assigned", Action.TRANSFER, "assigned"),
        ("assigned", Action.REQUEUE, "open"),
        ("open", Action.RESOLVE, "resolved"),
        ("assigned", Action.RESOLVE, "resolved"),
        ("resolved", Action.REOPEN, "open"),
    ],
)
def test_legal_moves(state: str, action: Action, target: str) -> None:
    assert check_transition(state, action) == target


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("resolved", Action.ASSIGN),
        ("resolved", Action.TRANSFER),
        ("open", Action.TRANSFER),
        ("open", Action.REOPEN),
        ("assigned", Action.ASSIGN),
        ("assigned", Action.REOPEN),
        ("resolved", Action.RESOLVE),
        ("open", Action.REQUEUE),
    ],
)
def test_illegal_moves_are_refused(state: str, action: Action) -> None:
    with pytest.raises(YuntongError) as err:
        check_transition(state, action)
    assert err.value.code == "invalid_transition"


def test_what_each_state_allows() -> None:
    assert sorted(allowed_actions("resolved")) == ["reopen"]
    assert sorted(allowed_actions("open")) == ["assign", "resolve"]


def agent(
    user_id: int, status: str = "online", load: int = 0, capacity: int = 2, ago: int | None = None
) -> Candidate:
    last = None if ago is None else T0 - timedelta(minutes=ago)
    return Candidate(user_id, status, load, capacity, last)


def test_nobody_offline_away_or_busy_is_chosen() -> None:
    pool = [agent(1, "offline"), agent(2, "away"), agent(3, "busy")]
    assert choose(pool, "round_robin") is None
    assert choose(pool, "least_busy") is None


def test_an_agent_at_capacity_is_not_chosen() -> None:
    pool = [agent(1, load=2, capacity=2, ago=60), agent(2, load=0, capacity=1, ago=1)]
    assert choose(pool, "round_robin") == pool[1]
    assert choose([agent(1, load=3, capacity=3)], "least_busy") is None


def test_round_robin_takes_the_agent_assigned_longest_ago_never_assigned_first() -> None:
    pool = [agent(1, ago=5), agent(2, ago=30), agent(3, load=1, ago=None)]
    assert choose(pool, "round_robin") == pool[2]
    assert choose(pool[:2], "round_robin") == pool[1]


def test_least_busy_takes_the_fewest_conversations_then_longest_ago() -> None:
    pool = [agent(1, load=1, ago=60), agent(2, load=0, ago=1), agent(3, load=0, ago=10)]
    assert choose(pool, "least_busy") == pool[2]


def test_expected_wait_is_the_place_times_the_average_wait() -> None:
    recent = [(T0, T0 + timedelta(seconds=60)), (T0, T0 + timedelta(seconds=120))]
    assert expected_wait_s(recent, 1, 300) == 90
    assert expected_wait_s(recent, 3, 300) == 270
    assert expected_wait_s([], 2, 300) == 600
