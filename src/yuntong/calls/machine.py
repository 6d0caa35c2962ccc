"""The call state machine: ringing → answered → connected → ended, and what a caller is told.

A live call moves only along :data:`TRANSITIONS`; :func:`check_move` refuses any other move
with ``invalid_transition``. Every outcome ends the call in ``ended``; ``ended`` goes nowhere.
Holding (call waiting, TS 22.083) is no state of its own: an answered call is held or resumed
by a party and stays answered (or connected), running and billed, meanwhile.
"""

from __future__ import annotations

from yuntong.calls.models import CallState
from yuntong.core.errors import YuntongError

# state -> states it may move to
TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    CallState.RINGING: frozenset({CallState.ANSWERED, CallState.ENDED}),
    CallState.ANSWERED: frozenset({CallState.CONNECTED, CallState.ENDED}),
    CallState.CONNECTED: frozenset({CallState.ENDED}),
    CallState.ENDED: frozenset(),
}


def check_move(state: CallState, to: CallState) -> CallState:
    """``to`` if a call in ``state`` may move there; ``invalid_transition`` otherwise."""
    if to not in TRANSITIONS[state]:
        raise YuntongError("invalid_transition", state=state.value)
    return to


# the states in which a party may hold or resume a call
HOLDABLE = frozenset({CallState.ANSWERED, CallState.CONNECTED})


def check_may_hold(state: CallState) -> None:
    """``invalid_transition`` unless a call in ``state`` may be held or resumed."""
    if state not in HOLDABLE:
        raise YuntongError("invalid_transition", state=state.value)


def public_reason(reason: str) -> str:
    """What the caller is told: a block is never revealed. The caller hears exactly what an
    offline callee gives (``unreachable`` / ``offline``, at once), as presence shows the blocking
    user offline to them too; the record keeps ``blocked``."""
    return "offline" if reason == "blocked" else reason
