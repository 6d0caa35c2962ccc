"""The call state machine refuses illegal transitions; SDP is checked before it is relayed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.wsclient import FAKE_SDP
from yuntong.calls.engine import ActiveCall, check_sdp
from yuntong.calls.models import CallState
from yuntong.core.errors import YuntongError


def make_call() -> ActiveCall:
    return ActiveCall("c1", 1, 2, "video", "d1", datetime(2026, 1, 1, tzinfo=UTC))


def test_a_call_goes_ringing_answered_connected_ended() -> None:
    call = make_call()
    for state in (CallState.ANSWERED, CallState.CONNECTED, CallState.ENDED):
        call.move(state)
    assert call.state == CallState.ENDED


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], CallState.CONNECTED),
        ([CallState.ENDED], CallState.ANSWERED),
        ([CallState.ANSWERED, CallState.CONNECTED], CallState.ANSWERED),
        ([CallState.ENDED], CallState.ENDED),
    ],
)
def test_illegal_transitions_are_refused(path: list[CallState], illegal: CallState) -> None:
    call = make_call()
    for state in path:
        call.move(state)
    with pytest.raises(YuntongError) as exc:
        call.move(illegal)
    assert exc.value.code == "invalid_transition"
    assert exc.value.params["state"] == call.state.value


def test_only_parties_have_a_role_in_the_call() -> None:
    call = make_call()
    assert (call.party(1), call.party(2)) == ("caller", "callee")
    with pytest.raises(YuntongError):
        call.party(3)


def test_sdp_check_accepts_a_webrtc_offer_and_refuses_junk() -> None:
    check_sdp(FAKE_SDP)
    for junk in ("", "v=1", "v=0\r\ns=-", "v=0\r\nm=audio 9 RTP/AVP 0\r\n"):
        with pytest.raises(YuntongError) as exc:
            check_sdp(junk)
        assert exc.value.code == "invalid_sdp"
