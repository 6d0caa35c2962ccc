"""Call forwarding (3GPP TS 22.082): unconditional (CFU), on busy (CFB), on no reply (CFNRy,
after the user's 5–30 s timer) and when not reachable (CFNRc), to another Yuntong number.

A call keeps a :class:`Route`: who it reached on which number, and every hop so far. A hop
that would visit a user or a number again, or a sixth hop, is refused (the call ends as
``forwarding_loop``, Q.850 cause 25). The forwarded leg is the forwarding subscriber's own
call to the target (their record, their charge), presenting the original caller's number and
telling the target which number forwarded it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers import directory as numbers
from yuntong.supplementary import barring
from yuntong.supplementary.profile import Profile

MAX_HOPS = 5
LOOP = "forwarding_loop"  # end reason of a call refused by the loop guard
# (outcome, reason) of a callee who cannot take the call -> the forwarding that applies
CONDITIONS: dict[tuple[str, str], str] = {
    ("busy", "in_call"): "cfb",
    ("busy", "dnd"): "cfb",
    ("rejected", "rejected"): "cfb",  # user determined user busy (TS 22.082 §2)
    ("unreachable", "offline"): "cfnrc",
    ("unreachable", "unavailable"): "cfnrc",
}


@dataclass(frozen=True)
class Hop:
    kind: str  # cfu | cfb | cfnry | cfnrc
    forwarder_id: int
    forwarding_number: str | None  # the number of the forwarder the call reached
    target_id: int
    target_number: str


@dataclass
class Route:
    """Where a call went: set up at the invite, followed by every hop."""

    calling_number: str | None
    withheld: bool
    caller: dict[str, Any]  # the ``from`` of call.incoming
    offer: str  # the caller's SDP, for every callee the call rings
    callee_number: str | None  # the number the current callee was reached on
    callee_profile: Profile
    visited_users: set[int] = field(default_factory=set)
    visited_numbers: set[str] = field(default_factory=set)
    hops: list[Hop] = field(default_factory=list)

    @property
    def forwarded_by(self) -> Hop | None:
        return self.hops[-1] if self.hops else None


def kind_for(outcome: tuple[str, str] | None) -> str | None:
    """The forwarding a callee's ``(outcome, reason)`` calls for; None for none."""
    return None if outcome is None else CONDITIONS.get((str(outcome[0]), outcome[1]))


async def next_hop(ctx: Context, route: Route, callee_id: int, kind: str) -> Hop | str | None:
    """The hop ``kind`` of forwarding makes from ``callee_id``; None when they have none set
    (or it stopped working); :data:`LOOP` when the loop guard refuses it."""
    profile = route.callee_profile
    target = profile.forwarding_to(kind)
    if target is None or barring.outgoing_barred(profile, target) is not None:
        return None
    route.visited_users.add(callee_id)
    if route.callee_number:
        route.visited_numbers.add(route.callee_number)
    try:
        target_id = await numbers.user_for_number(ctx, callee_id, target)
    except YuntongError:
        return None  # the target number left service since it was set
    if target_id is None:
        return None
    if (
        len(route.hops) >= MAX_HOPS
        or target in route.visited_numbers
        or target_id in route.visited_users
    ):
        return LOOP
    forwarding_number = route.callee_number
    if forwarding_number is None:
        own = await numbers.numbers_of_user(ctx, callee_id)
        forwarding_number = own[0] if own else None
    return Hop(kind, callee_id, forwarding_number, target_id, target)


def incoming_extras(route: Route) -> dict[str, Any]:
    """What a forwarded ``call.incoming`` adds: which number forwarded it, and why."""
    hop = route.forwarded_by
    if hop is None:
        return {}
    return {"forwarded_by": hop.forwarding_number, "forwarding": hop.kind}
