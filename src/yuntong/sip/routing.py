"""Where a call through the SIP edge goes: the answer to every question Kamailio asks.

A new call (``decide_new``): who calls (a phone's authenticated number, or a carrier trunk's
caller), what was dialled, and then the same rules a browser's call meets in the call engine,
from the same modules: the caller's outgoing barring and credit, the callee's incoming
barring, blocking, unconditional forwarding, the shared busy marks, do-not-disturb, and CLIP /
CLIR for what the callee is shown. A failed branch (``decide_failure``): busy, declined, no
reply or not registered may be forwarded (CFB, CFNRy, CFNRc, with the loop guard); otherwise
the call ends with that response. Numbers outside Yuntong leave by the carrier trunk with the
caller's number asserted (P-Asserted-Identity) or withheld (RFC 3323/3325 ``Privacy: id``).

The route so far is kept on the call's row (:class:`~yuntong.sip.models.SipCall`), so that any
node answers the next question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select

from yuntong.calls import causes
from yuntong.calls.gate import credit_gate
from yuntong.calls.models import CallOutcome
from yuntong.contacts import service as contacts
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.errors import YuntongError
from yuntong.core.ids import new_id
from yuntong.core.logging import get_logger
from yuntong.numbers import directory as numbers
from yuntong.numbers.models import NumberState
from yuntong.presence.busy import busy_marks
from yuntong.presence.service import is_dnd
from yuntong.sip import records
from yuntong.sip.credentials import sip_domain, username_of
from yuntong.sip.models import SipCall
from yuntong.supplementary import barring, clip, forwarding
from yuntong.supplementary.forwarding import Hop, Route
from yuntong.supplementary.profile import Profile, profile_of
from yuntong.tariffs import charges, rating

log = get_logger(__name__)

# RFC 3398 (ISUP cause -> SIP response), with RFC 5079's 433 for anonymity rejected
SIP_FOR_CAUSE: dict[int, tuple[int, str]] = {
    1: (404, "Not Found"),
    3: (404, "No Route to Destination"),
    causes.USER_BUSY: (486, "Busy Here"),
    causes.NO_ANSWER: (480, "Temporarily Unavailable"),
    causes.SUBSCRIBER_ABSENT: (480, "Temporarily Unavailable"),
    causes.CALL_REJECTED: (403, "Forbidden"),
    causes.REJECTED_BY_FEATURE: (433, "Anonymity Disallowed"),
    causes.EXCHANGE_ROUTING_ERROR: (483, "Too Many Hops"),
    causes.TEMPORARY_FAILURE: (503, "Service Unavailable"),
    causes.OUTGOING_CALL_BARRED: (403, "Outgoing Calls Barred"),
    causes.INCOMING_CALL_BARRED: (403, "Incoming Calls Barred"),
}
UNALLOCATED = 1
NO_ROUTE = 3


@dataclass(frozen=True)
class Ask:
    """What Kamailio tells about a new call (the form of ``/internal/sip/route``)."""

    sip_call_id: str
    source: str  # "" (an authenticated phone) | trunk:<code>
    caller: str  # the phone's username, or the trunk caller's From user
    to: str  # the Request-URI's user
    from_display: str = ""
    privacy: str = ""
    pai: str = ""
    sdp: str = ""  # the INVITE's SDP offer (for a call the edge answers itself)
    arrived_at: datetime | None = None  # when the INVITE reached the edge (its clock)


# --- calls the edge answers itself (a conference's dial-in: yuntong.conferences) -----------


@dataclass(frozen=True)
class DialIn:
    """A call the edge may answer itself: who calls (no user: an outside caller), what was
    dialled (with ``*`` and what follows), and the caller's SDP offer."""

    sip_call_id: str
    caller_user_id: int | None
    calling_number: str | None
    dialled: str
    sdp: str


class Answering(Protocol):
    """What answers such calls: an answer (``action`` answer or reject), or None (not its
    call); the end of a call it answered; the final answer to a call it made (dial-out)."""

    async def answer(self, ctx: Context, call: DialIn) -> dict[str, Any] | None: ...

    async def ended(self, ctx: Context, sip_call_id: str) -> None: ...

    async def dialled(self, ctx: Context, sip_call_id: str, code: int, sdp: str) -> None: ...


ANSWERING = Piece(
    "sip.answering",
    "node-owned live state",
    lambda ctx: Slot[Answering](),
    "what answers calls the edge takes itself (conference dial-in), handed over when the "
    "context is built (sip does not import conferences)",
)


def answer_with(ctx: Context, answering: Answering) -> None:
    ctx.services.get(ANSWERING).value = answering


def reject(code: int, reason: str) -> dict[str, Any]:
    return {"action": "reject", "code": code, "reason": reason}


def reject_cause(cause: int) -> dict[str, Any]:
    code, reason = SIP_FOR_CAUSE.get(cause, (500, "Server Internal Error"))
    return reject(code, reason)


def _uri_user(header: str) -> str:
    """The user part of the first SIP URI in a header value."""
    start = header.find("sip:")
    if start < 0:
        start = header.find("tel:")
    if start < 0:
        return ""
    rest = header[start + 4 :]
    end = min((i for i in (rest.find("@"), rest.find(">"), rest.find(";")) if i >= 0), default=-1)
    return rest if end < 0 else rest[:end]


def _trunk_of(ctx: Context, code: str) -> Any:
    for trunk in ctx.settings.sip_trunks:
        if trunk.code == code:
            return trunk
    return None


def _trunk_uri(trunk: Any, e164: str) -> tuple[str, str]:
    """The Request-URI of an outside number at a trunk, and the trunk as next hop."""
    return (
        f"sip:{e164}@{trunk.host}:{trunk.port}",
        f"sip:{trunk.host}:{trunk.port};transport={trunk.transport}",
    )


async def decide_new(ctx: Context, ask: Ask) -> dict[str, Any]:
    """Kamailio's first question about a call; the row of the call is written either way."""
    now = ctx.clock.now()
    call = SipCall(
        id=new_id(),
        sip_call_id=ask.sip_call_id[:200],
        source=ask.source or "phone",
        direction="internal",
        state="routing",
        # the edge's clock, as the answer and the end it reports: one clock for a call's times
        created_at=ask.arrived_at or now,
        node_id=ctx.node_id,
        route={},
    )
    try:
        answer = await _route_new(ctx, ask, call)
    except YuntongError as exc:
        answer = _refusal(exc)
    if answer["action"] == "reject":
        # a rule's outcome (barred, busy, do-not-disturb, a loop) is an attempt that ended;
        # anything refused before routing (no such number, no credit, a caller who may not
        # call) is "refused", as the call engine refuses it with an error (not in the NER)
        call.state = "ended" if call.outcome is not None else "refused"
        call.ended_at = now
        call.final_code = int(answer["code"])
        call.outcome = call.outcome or CallOutcome.REJECTED
        await _release(ctx, call)
    if not await records.insert(ctx, call):
        await _release(ctx, call)
        return reject(482, "Loop Detected")  # this Call-ID was routed before
    return answer


def _refusal(exc: YuntongError) -> dict[str, Any]:
    code = exc.code
    if code in ("credit_exhausted", "insufficient_credit", "credit_limit_reached"):
        return reject(402, "Payment Required")
    if code in ("rate_limited",):
        return reject(503, "Service Unavailable")
    if code in ("number_unallocated", "number_not_found"):
        return reject_cause(UNALLOCATED)
    if code == "service_not_ordered":
        return reject(403, "Service Not Ordered")
    return reject(403, "Forbidden")


async def _route_new(ctx: Context, ask: Ask, call: SipCall) -> dict[str, Any]:
    to, dialled_withhold = clip.split_prefix(ask.to)
    caller_profile: Profile | None = None
    if ask.source.startswith("trunk:"):
        trunk = _trunk_of(ctx, ask.source[6:])
        if trunk is None:
            return reject(403, "Forbidden")
        call.trunk, call.direction = trunk.code, "inbound"
        call.calling_number = numbers.parse_dialled(_uri_user(ask.pai) or ask.caller)
        call.withheld = "id" in ask.privacy.lower()
    else:
        call.calling_number = "+" + ask.caller
        found = await numbers.number_state(ctx, call.calling_number)
        if found is None or found[0] != NumberState.ASSIGNED or found[1] is None:
            return reject(403, "Forbidden")
        call.caller_user_id = found[1]
        caller_profile = await profile_of(ctx, found[1])
        asked = True if "id" in ask.privacy.lower() else dialled_withhold
        call.withheld = clip.check_withheld(caller_profile, asked)
    # conference dial-in (yuntong.conferences, docs/conferences.md): "number*PIN" is
    # answered by the edge itself, the audio going to the conference's bridge
    answering = ctx.services.get(ANSWERING).value
    if answering is not None and "*" in to:
        ask_in = DialIn(ask.sip_call_id, call.caller_user_id, call.calling_number, to, ask.sdp)
        answered = await answering.answer(ctx, ask_in)
        if answered is not None:
            call.called_number = numbers.parse_dialled(to.partition("*")[0])
            return answered
    called = numbers.parse_dialled(to)
    if called is None:
        call.cause = UNALLOCATED
        return reject(484, "Address Incomplete")
    call.called_number = called
    if caller_profile is not None:
        barred = barring.outgoing_barred(caller_profile, called)
        if barred is not None:
            return _ended(call, CallOutcome.REJECTED, barred)
    found = await numbers.number_state(ctx, called)
    if found is None:  # not one of Yuntong's numbers: the public network
        if call.trunk is not None:
            call.cause = NO_ROUTE  # no transit between carriers
            return reject_cause(NO_ROUTE)
        return await _outbound(ctx, call)
    if call.caller_user_id is not None:  # a call between Yuntong's numbers: the package rates
        limit = await credit_gate(ctx).check_may_start(ctx, call.caller_user_id, "call.audio")
        if limit is not None:
            call.route = {**call.route, "max_s": limit}
    state, callee = found
    if state != NumberState.ASSIGNED or callee is None:
        if call.caller_user_id is not None:
            await numbers.user_for_number(ctx, call.caller_user_id, called)  # throttled
        call.cause = UNALLOCATED
        return reject_cause(UNALLOCATED)
    if callee == call.caller_user_id:
        return reject(486, "Busy Here")
    call.callee_user_id = callee
    call.route = {
        **call.route,
        "callee_number": called,
        "visited_users": [],
        "visited_numbers": [],
        "hops": [],
    }
    if call.caller_user_id is not None:
        call.route["visited_users"].append(call.caller_user_id)
    return await _towards(ctx, call, with_caller=True)


async def _outbound(ctx: Context, call: SipCall) -> dict[str, Any]:
    """A phone's call to the public network: priced by the tariffs (no tariff: refused),
    paid by the caller (the credit check of an outside call), out by the trunk."""
    trunks = ctx.settings.sip_trunks
    if not trunks:
        call.cause = NO_ROUTE
        return reject_cause(NO_ROUTE)
    trunk = trunks[0]
    call.direction, call.trunk = "outbound", trunk.code
    assert call.called_number is not None and call.caller_user_id is not None
    limit = await _priced(ctx, call, trunk.code, call.called_number, call.caller_user_id)
    if isinstance(limit, dict):
        return limit
    ruri, dst = _trunk_uri(trunk, call.called_number)
    return {
        "action": "route",
        "ruri": ruri,
        "dst": dst,
        "lookup": "0",
        **_identity(ctx, call),
        **_limit(call),
    }


async def _priced(
    ctx: Context, call: SipCall, trunk: str, destination: str, payer: int
) -> dict[str, Any] | None:
    """Rate an outside leg and check its payer may pay for it (YuntongError: may not); keeps
    what the charge at its end needs on the route. A refusal when no tariff covers it."""
    home = await numbers.numbers_of_user(ctx, payer)
    home_area = call.calling_number if call.calling_number in home else None
    if home_area is None and home:
        home_area = home[0]
    rate = await rating.rate_of(ctx, trunk=trunk, destination=destination, home_area=home_area)
    if rate is None:
        call.cause = NO_ROUTE
        return reject(404, "No Tariff for Destination")
    limit = await charges.check_may_call_out(ctx, user_id=payer, rate=rate)
    outside = {"payer": payer, "destination": destination, "home_area": home_area}
    call.route = {**call.route, "outside": outside}
    if limit is not None:
        call.route["max_s"] = limit
    return None


def _limit(call: SipCall) -> dict[str, str]:
    """The longest the call may last (prepaid credit), for the edge's dialog timer."""
    limit = call.route.get("max_s")
    return {} if limit is None else {"max_s": str(max(1, int(limit)))}


def _identity(ctx: Context, call: SipCall, *, shown: bool = True) -> dict[str, str]:
    """From, P-Asserted-Identity and Privacy of a branch: the calling number asserted towards
    trusted parties (the trunk, Yuntong's own phones), withheld as RFC 3323 says."""
    domain = sip_domain(ctx)
    number = call.calling_number
    if number is None:
        return {"from_uri": "", "from_display": "", "pai": "", "privacy": ""}
    pai = f"<sip:{number}@{domain}>"
    if call.withheld or not shown:
        return {
            "from_uri": "sip:anonymous@anonymous.invalid",
            "from_display": "Anonymous",
            "pai": pai if call.withheld and call.trunk else "",
            "privacy": "id" if call.withheld else "",
        }
    return {"from_uri": f"sip:{number}@{domain}", "from_display": "", "pai": pai, "privacy": ""}


async def _towards(ctx: Context, call: SipCall, *, with_caller: bool) -> dict[str, Any]:
    """Take the call to its current callee (a user), forwarding unconditionally first."""
    while True:
        callee = call.callee_user_id
        assert callee is not None
        profile = await profile_of(ctx, callee)
        barred = barring.incoming_barred(profile, call.calling_number, call.withheld)
        if barred is not None:
            return _ended(call, CallOutcome.REJECTED, barred)
        hop = await _next_hop(ctx, call, profile, "cfu")
        if isinstance(hop, dict):
            return hop
        if hop is not None:
            continue
        if call.caller_user_id is not None and await contacts.is_blocked(
            ctx, callee, call.caller_user_id
        ):
            return _ended(call, CallOutcome.UNREACHABLE, "blocked")
        parties = [callee]
        if with_caller and call.caller_user_id is not None:
            parties.insert(0, call.caller_user_id)
        held = await busy_marks(ctx).take(call.id, parties)
        outcome: tuple[CallOutcome, str] | None = None
        if held is not None and held == callee:
            outcome = (CallOutcome.BUSY, "in_call")
        elif held is not None:
            return reject(486, "Busy Here")  # the caller is in another call
        else:
            call.route["parties"] = sorted(set(call.route.get("parties", [])) | set(parties))
            if await is_dnd(ctx, callee):
                await busy_marks(ctx).release(call.id, (callee,))
                outcome = (CallOutcome.BUSY, "dnd")
        if outcome is None:
            return _ring(ctx, call, profile)
        kind = forwarding.kind_for(outcome)
        hop = None if kind is None else await _next_hop(ctx, call, profile, kind)
        if isinstance(hop, dict):
            return hop
        if hop is None:
            return _ended(call, *outcome)
        with_caller = False


def _ring(ctx: Context, call: SipCall, profile: Profile) -> dict[str, Any]:
    number = call.route["callee_number"]
    ring_s = profile.cfnry_timer_s if profile.cfnry else ctx.settings.sip_ring_timeout_s
    identity = _identity(ctx, call, shown=profile.clip)
    diversion = _diversion(ctx, call.route.get("hops", []))
    return {
        "action": "route",
        "ruri": f"sip:{username_of(number)}@{sip_domain(ctx)}",
        "dst": "",
        "lookup": "1",
        "ring_s": str(ring_s),
        "diversion": diversion,
        **identity,
        **_limit(call),
    }


def _ended(call: SipCall, outcome: CallOutcome, reason: str) -> dict[str, Any]:
    call.outcome = outcome
    call.cause = causes.cause_for(outcome, reason)
    call.route = {**call.route, "reason": reason}
    return reject_cause(call.cause)


async def _next_hop(
    ctx: Context, call: SipCall, profile: Profile, kind: str
) -> Hop | dict[str, Any] | None:
    """Forward the call ``kind`` from its current callee: the hop taken (the call's callee
    is now the target), the refusal of the loop guard, or None (no such forwarding)."""
    callee = call.callee_user_id
    assert callee is not None
    outside = await _outside_hop(ctx, call, profile, kind)
    if outside is not None:
        return outside
    route = Route(
        call.calling_number,
        call.withheld,
        {},
        "",
        call.route.get("callee_number"),
        profile,
        set(call.route.get("visited_users", [])),
        set(call.route.get("visited_numbers", [])),
        [Hop(*h) for h in call.route.get("hops", [])],
    )
    hop = await forwarding.next_hop(ctx, route, callee, kind)
    if hop is None:
        return None
    if isinstance(hop, str):
        return _ended(call, CallOutcome.UNREACHABLE, hop)
    hops = [
        *call.route.get("hops", []),
        [hop.kind, hop.forwarder_id, hop.forwarding_number, hop.target_id, hop.target_number],
    ]
    call.route = {
        **call.route,
        "callee_number": hop.target_number,
        "visited_users": sorted(route.visited_users),
        "visited_numbers": sorted(route.visited_numbers),
        "hops": hops,
    }
    call.callee_user_id = hop.target_id
    return hop


async def _outside_hop(
    ctx: Context, call: SipCall, profile: Profile, kind: str
) -> dict[str, Any] | None:
    """Forwarding to a number outside Yuntong: the call leaves by the trunk, carrying the
    original caller (P-Asserted-Identity) and the forwarding number (Diversion); the outside
    leg is the forwarder's, billed to them (``route.billed_to``). None when the target is a
    Yuntong number (:func:`forwarding.next_hop` takes it) or cannot be reached."""
    target = profile.forwarding_to(kind)
    trunks = ctx.settings.sip_trunks
    if target is None or not trunks or await numbers.number_state(ctx, target) is not None:
        return None
    if barring.outgoing_barred(profile, target) is not None:
        return None
    hops = call.route.get("hops", [])
    if len(hops) >= forwarding.MAX_HOPS:
        return _ended(call, CallOutcome.UNREACHABLE, forwarding.LOOP)
    forwarder = call.callee_user_id
    assert forwarder is not None
    own: str | None = call.route.get("callee_number")
    if own is None:
        numbers_of = await numbers.numbers_of_user(ctx, forwarder)
        own = numbers_of[0] if numbers_of else None
    hops = [*hops, [kind, forwarder, own, None, target]]
    trunk = trunks[0]
    try:
        if await _priced(ctx, call, trunk.code, target, forwarder) is not None:
            return None  # no tariff covers the target
    except YuntongError:
        return None  # the forwarder may not pay for it
    call.route = {**call.route, "hops": hops, "callee_number": target, "billed_to": forwarder}
    call.trunk, call.callee_user_id = trunk.code, None
    ruri, dst = _trunk_uri(trunk, target)
    identity = _identity(ctx, call)
    return {
        "action": "route",
        "ruri": ruri,
        "dst": dst,
        "lookup": "0",
        "diversion": _diversion(ctx, hops),
        **identity,
        **_limit(call),
    }


def _diversion(ctx: Context, hops: list[Any]) -> str:
    """The Diversion header (RFC 5806) of the last hop of forwarding ("" for none)."""
    if not hops:
        return ""
    kind, forwarding_number = hops[-1][0], hops[-1][2]
    if not forwarding_number:
        return ""
    reason = {"cfu": "unconditional", "cfb": "user-busy", "cfnry": "no-answer"}.get(
        kind, "unavailable"
    )
    return f"<sip:{forwarding_number}@{sip_domain(ctx)}>;reason={reason};counter={len(hops)}"


# --- a branch failed ------------------------------------------------------------------------

# final responses of a ringing branch -> (outcome, reason) as the call engine names them
FAILURES: dict[int, tuple[CallOutcome, str]] = {
    486: (CallOutcome.BUSY, "in_call"),
    600: (CallOutcome.BUSY, "in_call"),
    603: (CallOutcome.REJECTED, "rejected"),
    408: (CallOutcome.NO_ANSWER, "no_answer"),
    480: (CallOutcome.NO_ANSWER, "no_answer"),
    487: (CallOutcome.CANCELED, "canceled"),
}


def failure_of(code: int, unregistered: bool) -> tuple[CallOutcome, str]:
    if unregistered:
        return CallOutcome.UNREACHABLE, "offline"
    if code in FAILURES:
        return FAILURES[code]
    if 400 <= code < 500:
        return CallOutcome.REJECTED, "rejected"
    return CallOutcome.FAILED, "network"


async def decide_failure(
    ctx: Context, sip_call_id: str, code: int, *, unregistered: bool, pdd_ms: int | None
) -> dict[str, Any]:
    """Every branch of a call failed with ``code``: forward it, or end it."""
    async with ctx.db.session() as s:
        call = (
            await s.execute(select(SipCall).where(SipCall.sip_call_id == sip_call_id[:200]))
        ).scalar_one_or_none()
    if call is None or call.state != "routing":
        return reject(481, "Call Does Not Exist")
    outcome = failure_of(code, unregistered)
    answer: dict[str, Any] | None = None
    kind = forwarding.kind_for(outcome)
    if outcome[0] == CallOutcome.NO_ANSWER:
        kind = "cfnry"
    if kind is not None and call.callee_user_id is not None:
        left = call.callee_user_id
        profile = await profile_of(ctx, left)
        hop = await _next_hop(ctx, call, profile, kind)
        if isinstance(hop, dict):
            answer = hop
        elif hop is not None:
            await busy_marks(ctx).release(call.id, (left,))
            call.route["parties"] = [p for p in call.route.get("parties", []) if p != left]
            answer = await _towards(ctx, call, with_caller=False)
    final = code
    if answer is None:
        _ended(call, *outcome)
        answer = reject(code, "Temporarily Unavailable" if unregistered else "Call Failed")
    else:
        final = int(answer.get("code", code))
    if answer["action"] != "route":
        call.state, call.ended_at = "ended", ctx.clock.now()
        call.final_code = final
        call.pdd_ms = pdd_ms
        await _release(ctx, call)
    await records.update(ctx, call)
    return answer


async def _release(ctx: Context, call: SipCall) -> None:
    parties = call.route.get("parties", []) if call.route else []
    if parties:
        await busy_marks(ctx).release(call.id, tuple(parties))


async def do_finish(ctx: Context, call: SipCall) -> None:
    """An answered call ended: free its busy marks, and charge its outside leg (to the
    caller, or for a forwarded leg to the forwarder) by the tariffs, once per call. A charge
    that fails is logged for the operator; the record stays as it is (billable seconds)."""
    await _release(ctx, call)
    outside = call.route.get("outside") if call.route else None
    if not outside or call.trunk is None or call.answered_at is None or call.ended_at is None:
        return
    try:
        await charges.do_charge_outside_call(
            ctx,
            call_id=call.id,
            user_id=int(outside["payer"]),
            trunk=call.trunk,
            destination=str(outside["destination"]),
            home_area=outside.get("home_area"),
            answered_at=call.answered_at,
            ended_at=call.ended_at,
        )
    except YuntongError as exc:
        log.error("sip_outside_charge_failed", call_id=call.id, code=exc.code)
