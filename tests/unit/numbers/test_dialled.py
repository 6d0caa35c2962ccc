"""What a dialled number is (numbers.directory.parse_dialled) and the Q.850 cause of each way a
call ends (calls.causes)."""

from __future__ import annotations

import pytest

from yuntong.calls.causes import CAUSES, cause_for
from yuntong.calls.models import CallOutcome
from yuntong.numbers.directory import parse_dialled


@pytest.mark.parametrize(
    ("dialled", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("010 6552 9988", "+861065529988"),  # a Beijing fixed line with its area code
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_dialled_forms_become_e164(dialled: str, e164: str) -> None:
    assert parse_dialled(dialled) == e164


@pytest.mark.parametrize("text", ["zhang.san", "a@b.cn", "12345", "1380013800", "", "+86 abc"])
def test_what_is_no_valid_number_gives_none(text: str) -> None:
    assert parse_dialled(text) is None


@pytest.mark.parametrize(
    ("outcome", "reason", "cause"),
    [
        ("answered", "hangup", 16),
        ("answered", "credit_exhausted", 16),
        ("answered", "connection_lost", 31),
        ("rejected", "rejected", 21),
        ("busy", "in_call", 17),
        ("busy", "dnd", 17),
        ("no_answer", "ring_timeout", 19),
        ("canceled", "canceled", 16),
        ("unreachable", "offline", 20),
        ("unreachable", "blocked", 20),  # exactly what an offline callee gives
        ("unreachable", "unavailable", 20),
        ("failed", "media_timeout", 41),
        ("interrupted", "server_restart", 41),
        ("no_such_outcome", None, 31),
    ],
)
def test_every_ending_has_its_q850_cause(outcome: str, reason: str | None, cause: int) -> None:
    assert cause_for(outcome, reason) == cause


def test_every_outcome_has_a_cause_of_its_own() -> None:
    assert {o for o, _ in CAUSES} == set(CallOutcome)
