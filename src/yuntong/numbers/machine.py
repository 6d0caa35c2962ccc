"""The number state machine (CP 1.1): available → reserved → assigned → quarantined → available,
blocked by staff, ported out with its holder.

A number moves only along :data:`TRANSITIONS`; :func:`check_move` refuses any other move with
``invalid_transition``. A reservation that lapses or is given up returns the number to
``available``; a released number waits in ``quarantined`` (so that it does not ring for its
former holder) until its quarantine ends; staff may block a number that is not assigned and
unblock it; a number ported in arrives ``assigned`` (its row is created so); ``ported_out`` is
final.
"""

from __future__ import annotations

from yuntong.core.errors import YuntongError
from yuntong.numbers.models import NumberState as N

# state -> states it may move to
TRANSITIONS: dict[N, frozenset[N]] = {
    N.AVAILABLE: frozenset({N.RESERVED, N.ASSIGNED, N.BLOCKED}),
    N.RESERVED: frozenset({N.AVAILABLE, N.ASSIGNED, N.BLOCKED}),
    N.ASSIGNED: frozenset({N.QUARANTINED, N.PORTED_OUT}),
    N.QUARANTINED: frozenset({N.AVAILABLE, N.BLOCKED}),
    N.BLOCKED: frozenset({N.AVAILABLE}),
    N.PORTED_OUT: frozenset(),
}


def may_move(state: str, to: N) -> bool:
    return to in TRANSITIONS[N(state)]


def check_move(state: str, to: N) -> N:
    """``to`` if a number in ``state`` may move there; ``invalid_transition`` otherwise."""
    if not may_move(state, to):
        raise YuntongError("invalid_transition", state=state)
    return to
