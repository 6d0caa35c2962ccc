"""The meeting's and the meeting participant's state machines reject illegal moves."""

from __future__ import annotations

import pytest

from yuntong.core.errors import YuntongError
from yuntong.meetings import service
from yuntong.meetings.live.participant import TRANSITIONS, Participant, ParticipantState
from yuntong.meetings.models import Meeting, MeetingStatus, Role

W, A, J, L = (
    ParticipantState.WAITING,
    ParticipantState.ADMITTED,
    ParticipantState.JOINED,
    ParticipantState.LEFT,
)


def _participant(state: ParticipantState = W) -> Participant:
    p = Participant(id="p1", name="Ann", role=Role.PARTICIPANT, user_id=1, guest_key=None)
    p.state = state
    return p


@pytest.mark.parametrize(("start", "to"), [(W, A), (W, J), (W, L), (A, J), (A, L), (J, L)])
def test_participant_legal_moves(start: ParticipantState, to: ParticipantState) -> None:
    p = _participant(start)
    p.move(to)
    assert p.state == to


@pytest.mark.parametrize(
    ("start", "to"),
    [(s, t) for s in ParticipantState for t in ParticipantState if t not in TRANSITIONS[s]],
)
def test_participant_illegal_moves(start: ParticipantState, to: ParticipantState) -> None:
    p = _participant(start)
    with pytest.raises(YuntongError) as err:
        p.move(to)
    assert err.value.code == "invalid_transition"
    assert p.state == start


def test_a_participant_who_left_never_comes_back() -> None:
    assert TRANSITIONS[L] == frozenset()
    p = _participant(J)
    p.move(L)
    for to in (W, A, J, L):
        with pytest.raises(YuntongError):
            p.move(to)


def test_joined_participant_is_not_admitted_again() -> None:
    with pytest.raises(YuntongError):
        _participant(J).move(A)


S, LV, E = MeetingStatus.SCHEDULED, MeetingStatus.LIVE, MeetingStatus.ENDED


@pytest.mark.parametrize(("start", "to"), [(S, LV), (S, E), (LV, S), (LV, E)])
def test_meeting_legal_moves(start: MeetingStatus, to: MeetingStatus) -> None:
    meeting = Meeting(status=start)
    service.move(meeting, to)
    assert meeting.status == to


@pytest.mark.parametrize(
    ("start", "to"),
    [(s, t) for s in MeetingStatus for t in MeetingStatus if t not in service.TRANSITIONS[s]],
)
def test_meeting_illegal_moves(start: MeetingStatus, to: MeetingStatus) -> None:
    meeting = Meeting(status=start)
    with pytest.raises(YuntongError) as err:
        service.move(meeting, to)
    assert err.value.code == "invalid_transition"
    assert meeting.status == start


def test_an_ended_meeting_stays_ended() -> None:
    for to in MeetingStatus:
        with pytest.raises(YuntongError):
            service.check_move(E, to)
