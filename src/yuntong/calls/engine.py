"""The live call engine: the calls this node owns, from the invite to the end.

Live calls are held in memory by :class:`CallEngine` (one process owns a call) and move along
the state machine of :mod:`yuntong.calls.machine`; every transition is written to the call
record at once, so no attempt ever lacks a record. Timers (ring time-out, media time-out, the
prepaid credit warning and cut-off) are the injected clock's timer handles. Answered calls are
checkpointed every ``call_checkpoint_s``; calls left open by a crash are closed as
``interrupted`` by :mod:`yuntong.calls.recovery`. A device that is gone ends the call it
carried. Who is busy is decided by the busy marks (:mod:`yuntong.presence.busy`), taken for
both parties at the invite and released at the end, shared by every node; this node renews
its own. Call waiting (TS 22.083): a callee with it, in an answered call, is rung by a second
call as a waiting call, which they answer by holding or ending the first, reject (busy) or
let ring to forwarding; a held call goes on (and is billed) until its holder resumes it.
Each hold is a row of ``call_holds`` written when it starts and ends (closed with the call at
the latest): its open rows are who holds the call, read by the node that takes it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy.exc import SQLAlchemyError

from yuntong.accounts import directory
from yuntong.accounts.auth import Principal
from yuntong.calls import store
from yuntong.calls.causes import cause_for
from yuntong.calls.gate import credit_gate
from yuntong.calls.machine import check_may_hold, check_move, public_reason
from yuntong.calls.models import CallOutcome, CallRecord, CallState
from yuntong.cluster import forward, nodes
from yuntong.contacts import service as contacts
from yuntong.core.clock import Timer
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.ids import new_id
from yuntong.core.logging import get_logger
from yuntong.numbers import directory as numbers
from yuntong.presence import service as presence
from yuntong.presence.busy import busy_marks
from yuntong.realtime.connection import hub_of
from yuntong.realtime.protocol import MAX_SDP_BYTES
from yuntong.supplementary import barring, clip, forwarding
from yuntong.supplementary.forwarding import Hop, Route
from yuntong.supplementary.profile import profiles_of

log = get_logger(__name__)
CALLS_TOTAL = Counter("yuntong_calls_total", "Finished call attempts by outcome", ["outcome"])
CALLS_ACTIVE = Gauge("yuntong_calls_active", "Calls ringing or in progress")
CALLS_ADOPTED = Counter(
    "yuntong_calls_taken_over_total", "Answered calls this node took over from a dead node"
)
CALLS_END_FENCED = Counter(
    "yuntong_calls_end_fenced_total",
    "Ends of calls another node had taken over or closed while this one stalled (not written)",
)
CREDIT_WARNING_S = 60
# suspended accounts still receive calls: they cost the callee nothing
RECEIVING_STATUSES = frozenset({"active", "warned", "limited", "suspended"})
CALL_COMMAND = "calls.command"  # a party's command forwarded to the node that owns the call
OWNERS_KEPT = 10_000  # owners of other nodes' calls remembered by a node
# call waiting: what answering a waiting call does with the call its callee is in
ANSWER_MODES = ("hold", "end")
# the other call of a user that ended, or is not answered, meanwhile: nothing to hold or end
_GONE = frozenset({"call_not_found", "invalid_transition"})


@dataclass(eq=False)
class ActiveCall:
    id: str
    caller_id: int
    callee_id: int
    media: str
    caller_device: str
    created_at: datetime
    state: CallState = CallState.RINGING
    callee_device: str | None = None
    answered_at: datetime | None = None
    connected_at: datetime | None = None
    ringing_sent: bool = False
    timer: Timer | None = None
    # prepaid: the longest the call may last, and the timers that warn and end it
    max_seconds: int | None = None
    credit_timers: tuple[Timer, ...] = ()
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # several nodes: since when a party's device has been on no live node (do_watch_devices)
    devices_missing_since: datetime | None = None
    # supplementary services: who the call reached and how, and the records of its forwarded
    # legs (each billed to its forwarding subscriber), ended with the call
    route: Route | None = None
    legs: list[tuple[str, Hop]] = field(default_factory=list)
    # call waiting: rung while its callee was in another call (until that one ends); the
    # parties who hold the call (its media paused; it runs on and is billed)
    waiting: bool = False
    holders: set[int] = field(default_factory=set)

    def move(self, to: CallState) -> None:
        self.state = check_move(self.state, to)

    def party(self, user_id: int) -> str:
        if user_id == self.caller_id:
            return "caller"
        if user_id == self.callee_id:
            return "callee"
        raise YuntongError("call_not_found")


class CallEngine:
    """In-memory registry of live calls on this node (``by_user``: this node's calls only,
    two for a user with a call waiting or held; the busy marks decide busy across nodes)."""

    def __init__(self) -> None:
        self.calls: dict[str, ActiveCall] = {}
        self.by_user: dict[int, set[str]] = {}
        self.checkpointer: asyncio.Task[None] | None = None
        self.renewer: asyncio.Task[None] | None = None
        # calls other nodes own, as last looked up (call id -> node), oldest first
        self.owners: OrderedDict[str, str] = OrderedDict()
        self.reconciling = asyncio.Lock()  # one check of what this node owns at a time

    def note_owner(self, call_id: str, node_id: str) -> None:
        self.owners[call_id] = node_id
        self.owners.move_to_end(call_id)
        while len(self.owners) > OWNERS_KEPT:
            self.owners.popitem(last=False)

    def is_busy(self, user_id: int) -> bool:
        """In a call this node owns."""
        return user_id in self.by_user

    def add(self, call: ActiveCall) -> None:
        self.calls[call.id] = call
        self.by_user.setdefault(call.caller_id, set()).add(call.id)
        self.by_user.setdefault(call.callee_id, set()).add(call.id)
        CALLS_ACTIVE.set(len(self.calls))

    def move_callee(self, call: ActiveCall, to: int) -> None:
        """A ringing call forwarded: ``to`` is its callee now."""
        self._drop(call.callee_id, call.id)
        call.callee_id = to
        self.by_user.setdefault(to, set()).add(call.id)

    def remove(self, call: ActiveCall) -> None:
        self.calls.pop(call.id, None)
        for uid in (call.caller_id, call.callee_id):
            self._drop(uid, call.id)
        CALLS_ACTIVE.set(len(self.calls))

    def _drop(self, user_id: int, call_id: str) -> None:
        ids = self.by_user.get(user_id)
        if ids is not None:
            ids.discard(call_id)
            if not ids:
                del self.by_user[user_id]


ENGINE = Piece(
    "calls.engine",
    "node-owned live state",
    lambda ctx: CallEngine(),
    "the live calls this node owns, their timers, and who is in them",
)


def engine_of(ctx: Context) -> CallEngine:
    return ctx.services.get(ENGINE)


async def start_engine(ctx: Context) -> None:
    engine = engine_of(ctx)
    hub = hub_of(ctx)
    hub.on_device_gone.append(partial(do_device_gone, ctx))
    hub.on_event_from.setdefault("call.incoming", []).append(partial(_note_incoming, ctx))
    forward.serve(ctx, CALL_COMMAND, partial(_run_forwarded, ctx))
    nodes.when_in_doubt(ctx, do_reconcile)
    engine.checkpointer = asyncio.create_task(_checkpoint_loop(ctx), name="call-checkpoints")
    every = busy_marks(ctx).renew_every_s
    if every is not None:
        engine.renewer = asyncio.create_task(_renew_loop(ctx, every), name="busy-marks")


async def stop_engine(ctx: Context) -> None:
    engine = engine_of(ctx)
    for task in (engine.checkpointer, engine.renewer):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    for call in list(engine.calls.values()):
        _cancel_timers(call)
    # calls still live at shutdown stay open in the database and are closed as
    # `interrupted` by the next start (do_close_interrupted_calls), billed up to now; their
    # busy marks expire when no longer renewed
    try:
        await do_checkpoint_calls(ctx)
    except SQLAlchemyError:
        log.exception("call_checkpoint_failed")


# -- checks --------------------------------------------------------------------------------


def check_sdp(sdp: str) -> None:
    """Refuse what cannot be a WebRTC session description before it reaches the other party."""
    if len(sdp) > MAX_SDP_BYTES or not sdp.startswith("v=0"):
        raise YuntongError("invalid_sdp")
    lines = sdp.replace("\r\n", "\n").split("\n")
    if not any(line.startswith("m=") for line in lines):
        raise YuntongError("invalid_sdp")
    if not any(line.startswith(("a=fingerprint:", "a=ice-ufrag:")) for line in lines):
        raise YuntongError("invalid_sdp")


def _get_call(ctx: Context, call_id: str, user_id: int) -> ActiveCall:
    call = engine_of(ctx).calls.get(call_id)
    if call is None or user_id not in (call.caller_id, call.callee_id):
        raise YuntongError("call_not_found")
    return call


# -- transitions ---------------------------------------------------------------------------


async def do_invite(
    ctx: Context,
    caller: Principal,
    device: str,
    to: str | int,
    media: str,
    sdp: str,
    from_number: str | None = None,
    withhold: bool | None = None,
) -> dict[str, Any]:
    """Place a call; returns ``{call_id}`` and, when it ended at once, its ``ended`` outcome.

    ``to`` is a user id, a username, an e-mail address or a number: a number the inventory
    holds rings the user it is assigned to (``number_unallocated`` when it is not assigned) and
    the call becomes a call by number, presented from ``from_number`` (one of the caller's own
    numbers; by default their first). ``withhold`` (or ``#31#`` / ``*31#`` dialled before the
    number) withholds or shows the caller on this call; the parties' supplementary services
    (:mod:`yuntong.supplementary`) bar, present and forward it (:func:`_route`)."""
    check_sdp(sdp)
    engine = engine_of(ctx)
    if engine.is_busy(caller.user_id):
        raise YuntongError("already_in_call")
    if isinstance(to, str):
        to, dialled_withhold = clip.split_prefix(to)
        withhold = withhold if dialled_withhold is None else dialled_withhold
    to, called_number = await _dialled(ctx, caller.user_id, to)
    calling_number = None
    if called_number is not None or from_number is not None:
        calling_number = await numbers.check_calling_number(ctx, caller.user_id, from_number)
    callee = await directory.resolve_call_parties(ctx, caller.user_id, media, to)
    if callee.id == caller.user_id:
        raise YuntongError("call_self")
    profiles = await profiles_of(ctx, (caller.user_id, callee.id))
    shown = {
        "user_id": caller.user_id,
        "username": caller.username,
        "display_name": caller.display_name,
    }
    withheld = clip.check_withheld(profiles[caller.user_id], withhold)
    route = Route(calling_number, withheld, shown, sdp, called_number, profiles[callee.id])
    route.visited_users.add(caller.user_id)  # forwarding back to the caller is a loop
    max_seconds = await credit_gate(ctx).check_may_start(ctx, caller.user_id, f"call.{media}")
    now = ctx.clock.now()
    call = ActiveCall(new_id(), caller.user_id, callee.id, media, device, now, route=route)
    call.max_seconds = max_seconds
    barred = barring.outgoing_barred(profiles[caller.user_id], called_number)
    immediate: tuple[CallOutcome, str] | None = (CallOutcome.REJECTED, barred) if barred else None
    if immediate is None:
        immediate = await _route(ctx, call, callee.status, with_caller=True)
    record: dict[str, Any] = {
        "id": call.id,
        "caller_id": caller.user_id,
        "callee_id": callee.id,
        "media": media,
        "state": CallState.RINGING,
        "caller_device": device,
        "created_at": now,
        "node_id": ctx.node_id,
        "max_seconds": call.max_seconds,
        "calling_number": calling_number,
        "called_number": called_number,
    }
    ended: dict[str, Any] = {}
    if immediate is not None:
        outcome, reason = immediate
        ended = {
            "state": CallState.ENDED,
            "outcome": outcome,
            "end_reason": reason,
            "ended_at": now,
            "cause": cause_for(outcome, reason),
        }
    try:
        await store.insert_record(ctx.writer, **{**record, **ended})
        await _insert_legs(ctx, call, call.legs, ended)
    except BaseException:
        if immediate is None:
            await _release(ctx, call.id, (call.caller_id, call.callee_id))
        raise
    if immediate is not None:
        CALLS_TOTAL.labels(immediate[0]).inc()
        payload = _ended_payload(call.id, immediate[0], public_reason(immediate[1]), None, 0)
        await hub_of(ctx).send(caller.user_id, "call.ended", payload, device=device)
        return {"call_id": call.id, "ended": payload}
    engine.add(call)
    await _ring(ctx, call)
    await _publish_presence(ctx, call)
    return {"call_id": call.id}


async def _ring(ctx: Context, call: ActiveCall) -> None:
    """Ring the callee: ``call.incoming`` as their services present the caller, and the ring
    timer (the callee's no-reply timer when they forward on no reply)."""
    route = call.route
    assert route is not None
    profile = route.callee_profile
    delay = profile.cfnry_timer_s if profile.cfnry else ctx.settings.ring_timeout_s
    call.timer = _later(ctx, delay, partial(_ring_timeout, ctx, call))
    shown = await clip.presented(ctx, profile, route.caller, route.calling_number, route.withheld)
    await hub_of(ctx).send(
        call.callee_id,
        "call.incoming",
        {
            "call_id": call.id,
            **shown,
            "media": call.media,
            "sdp": route.offer,
            **({"to_number": route.callee_number} if route.callee_number else {}),
            **forwarding.incoming_extras(route),
            **({"waiting": True, "answer_modes": list(ANSWER_MODES)} if call.waiting else {}),
        },
    )


async def _route(
    ctx: Context, call: ActiveCall, callee_status: str, *, with_caller: bool
) -> tuple[CallOutcome, str] | None:
    """Take the parties for a call that rings its callee, following the callee's forwarding
    (TS 22.082) hop by hop; the outcome when it ends at once instead (barred by the callee,
    unreachable, busy, a forwarding loop). ``with_caller``: the caller is not held yet."""
    route = call.route
    assert route is not None
    skip_cfu = False
    while True:
        barred = barring.incoming_barred(route.callee_profile, route.calling_number, route.withheld)
        if barred is not None:
            return CallOutcome.REJECTED, barred
        hop = None if skip_cfu else await forwarding.next_hop(ctx, route, call.callee_id, "cfu")
        outcome = None
        if hop is None:
            outcome = await _immediate_outcome(ctx, call.caller_id, call.callee_id, callee_status)
            if outcome is None:
                outcome = await _take_parties(ctx, call, with_caller=with_caller)
            kind = forwarding.kind_for(outcome)
            if kind is None:
                return outcome
            hop = await forwarding.next_hop(ctx, route, call.callee_id, kind)
            if hop is None:
                return outcome
        if isinstance(hop, str):
            return CallOutcome.UNREACHABLE, hop  # the loop guard
        status = await _hop(ctx, call, hop)
        if status is None:  # the forwarder may not forward (suspended, no credit)
            if outcome is not None:
                return outcome
            skip_cfu = True
            continue
        callee_status, skip_cfu = status, False


async def _hop(ctx: Context, call: ActiveCall, hop: Hop) -> str | None:
    """Forward ``call`` along ``hop``: a leg of the forwarder's own (checked as a call they
    place); the target's status, or None when the forwarder may not place it."""
    route = call.route
    assert route is not None
    try:
        target = await directory.resolve_call_parties(
            ctx, hop.forwarder_id, call.media, hop.target_id
        )
        limit = await credit_gate(ctx).check_may_start(ctx, hop.forwarder_id, f"call.{call.media}")
    except YuntongError:
        return None
    if limit is not None:
        call.max_seconds = limit if call.max_seconds is None else min(call.max_seconds, limit)
    route.hops.append(hop)
    route.callee_number = hop.target_number
    route.callee_profile = (await profiles_of(ctx, (hop.target_id,)))[hop.target_id]
    call.legs.append((new_id(), hop))
    engine = engine_of(ctx)
    if engine.calls.get(call.id) is call:
        engine.move_callee(call, hop.target_id)
    else:
        call.callee_id = hop.target_id
    return target.status


async def _insert_legs(
    ctx: Context, call: ActiveCall, legs: list[tuple[str, Hop]], ended: dict[str, Any]
) -> None:
    """The records of forwarded legs: the forwarder calls the target, presenting the original
    calling number, linked to the leg before (``parent_call_id``)."""
    route = call.route
    assert route is not None
    now = ctx.clock.now()
    for leg_id, hop in legs:
        index = [leg for leg, _ in call.legs].index(leg_id)
        parent = call.id if index == 0 else call.legs[index - 1][0]
        leg: dict[str, Any] = {
            "id": leg_id,
            "caller_id": hop.forwarder_id,
            "callee_id": hop.target_id,
            "media": call.media,
            "state": CallState.RINGING,
            "caller_device": "",
            "created_at": now,
            "node_id": ctx.node_id,
            "max_seconds": call.max_seconds,
            "calling_number": route.calling_number,
            "called_number": hop.target_number,
            "parent_call_id": parent,
            "forwarding": hop.kind,
        }
        await store.insert_record(ctx.writer, **{**leg, **ended})


async def _forward_ringing(ctx: Context, call: ActiveCall, kind: str, outcome: CallOutcome) -> bool:
    """A ringing callee did not answer (CFNRy) or declined (CFB): forward the call if they
    forward it so (caller holds ``call.lock``). False: they do not."""
    route = call.route
    if route is None:
        return False
    hop = await forwarding.next_hop(ctx, route, call.callee_id, kind)
    if hop is None:
        return False
    if isinstance(hop, str):
        await _end(ctx, call, CallOutcome.UNREACHABLE, hop, None)
        return True
    left = call.callee_id
    legs = len(call.legs)
    status = await _hop(ctx, call, hop)
    if status is None:
        return False
    _cancel_timer(call)
    call.ringing_sent = False
    call.waiting = False  # the next callee's marks decide anew
    await _release(ctx, call.id, (left,))
    await hub_of(ctx).send(
        left, "call.ended", _ended_payload(call.id, outcome, "forwarded", None, 0)
    )
    immediate = await _route(ctx, call, status, with_caller=False)
    await _insert_legs(ctx, call, call.legs[legs:], {})
    if immediate is not None:
        await _end(ctx, call, immediate[0], immediate[1], None)
        return True
    await _ring(ctx, call)
    await presence.do_publish(ctx, left)
    await presence.do_publish(ctx, call.callee_id)
    return True


async def _dialled(ctx: Context, caller_id: int, to: str | int) -> tuple[str | int, str | None]:
    """Who ``to`` means, and the number dialled when it is one the inventory holds."""
    e164 = None if isinstance(to, int) else numbers.parse_dialled(to)
    if e164 is None:
        return to, None  # a user id, a name, or digits that are no valid number
    user_id = await numbers.user_for_number(ctx, caller_id, e164)
    return (to, None) if user_id is None else (user_id, e164)


async def _immediate_outcome(
    ctx: Context, caller_id: int, callee_id: int, callee_status: str
) -> tuple[CallOutcome, str] | None:
    """Outcomes decided without ringing anyone."""
    if await contacts.is_blocked(ctx, callee_id, caller_id):
        return CallOutcome.UNREACHABLE, "blocked"
    if callee_status not in RECEIVING_STATUSES:
        return CallOutcome.UNREACHABLE, "unavailable"
    if not await hub_of(ctx).is_online(callee_id):
        return CallOutcome.UNREACHABLE, "offline"
    return None


async def _take_parties(
    ctx: Context, call: ActiveCall, *, with_caller: bool = True
) -> tuple[CallOutcome, str] | None:
    """Mark both parties busy with ``call``, atomically on every node (of two calls placed to
    one user at once, exactly one rings); the outcome when the callee cannot take it.
    ``with_caller=False``: the caller is held already (a call forwarded while ringing)."""
    parties = (call.caller_id, call.callee_id) if with_caller else (call.callee_id,)
    held = await busy_marks(ctx).take(call.id, parties)
    if held is not None and held == call.callee_id:
        held = await _take_waiting(ctx, call, parties[:-1])
    if held == call.caller_id:
        raise YuntongError("already_in_call")  # placed from another device meanwhile
    if held is not None:
        return CallOutcome.BUSY, "in_call"
    if await presence.is_dnd(ctx, call.callee_id):
        await _release(ctx, call.id, parties)
        return CallOutcome.BUSY, "dnd"
    return None


async def _take_waiting(ctx: Context, call: ActiveCall, busy_ids: tuple[int, ...]) -> int | None:
    """The callee is in a call: with call waiting (TS 22.083) on and that call answered, this
    one waits for them (one at most, decided by the shared marks); the user who stops it
    otherwise (the callee: busy)."""
    route = call.route
    if route is None or not route.callee_profile.waiting:
        return call.callee_id
    marks = busy_marks(ctx)
    current = await marks.call_of(call.callee_id)
    if current is None or not await _is_answered(ctx, current):
        return call.callee_id
    held = await marks.take_waiting(call.id, busy_ids, call.callee_id, current)
    call.waiting = held is None
    return held


async def _is_answered(ctx: Context, call_id: str) -> bool:
    """Whether a live call (this node's, or with several nodes any node's) was answered."""
    call = engine_of(ctx).calls.get(call_id)
    if call is not None:
        return call.state in (CallState.ANSWERED, CallState.CONNECTED)
    if ctx.redis is None:
        return False  # one node: its calls are all here
    async with ctx.db.session() as session:
        return await store.is_answered(session, call_id)


async def _still_waiting(ctx: Context, call: ActiveCall) -> bool:
    """A waiting call waits while its callee's busy mark is another call's; when that call
    ended, it rings on as an ordinary call."""
    if call.waiting:
        current = await busy_marks(ctx).call_of(call.callee_id)
        call.waiting = current is not None and current != call.id
    return call.waiting


async def _release(ctx: Context, call_id: str, user_ids: tuple[int, ...]) -> None:
    """Free the marks a call holds; a call waiting for one of its parties (call waiting) is
    no longer waiting: its callee is told, and it rings on as an ordinary call."""
    for user_id, moved in await busy_marks(ctx).release(call_id, user_ids):
        data = {"call_id": moved, "waiting": False, "answer_modes": []}
        await hub_of(ctx).send(user_id, "call.waiting", data)


async def do_ringing(ctx: Context, user_id: int, call_id: str) -> None:
    if not await _forwarded(ctx, call_id, "ringing", user_id=user_id):
        await _ringing(ctx, user_id, call_id)


async def _ringing(ctx: Context, user_id: int, call_id: str) -> None:
    call = _get_call(ctx, call_id, user_id)
    async with call.lock:
        if call.party(user_id) != "callee" or call.state != CallState.RINGING:
            return
        if not call.ringing_sent:
            call.ringing_sent = True
            data = {"call_id": call.id, **({"waiting": True} if call.waiting else {})}
            await hub_of(ctx).send(call.caller_id, "call.ringing", data, device=call.caller_device)


async def do_answer(
    ctx: Context, user_id: int, device: str, call_id: str, sdp: str, mode: str | None = None
) -> None:
    """Answer a ringing call; a waiting call holds (``mode`` "hold", the default) or ends
    ("end") the call its callee is in first."""
    check_sdp(sdp)
    if mode is not None and mode not in ANSWER_MODES:
        raise YuntongError("bad_request")
    if not await _forwarded(
        ctx, call_id, "answer", user_id=user_id, device=device, sdp=sdp, mode=mode
    ):
        await _answer(ctx, user_id, device, call_id, sdp, mode)


async def _answer(
    ctx: Context, user_id: int, device: str, call_id: str, sdp: str, mode: str | None = None
) -> None:
    call = _get_call(ctx, call_id, user_id)
    async with call.lock:
        if call.party(user_id) != "callee":
            raise YuntongError("forbidden")
        check_move(call.state, CallState.ANSWERED)
        if call.waiting:
            await _make_way(ctx, call, mode or "hold")
        call.move(CallState.ANSWERED)
        _cancel_timer(call)
        call.callee_device = device
        call.answered_at = ctx.clock.now()
        # the forwarded legs are answered with their call: checkpointed with it from now on,
        # so that a crash bills each forwarder for the time its leg was alive
        for record_id in (call.id, *(leg for leg, _ in call.legs)):
            await store.update_record(
                ctx.writer,
                record_id,
                ctx.node_id,
                state=CallState.ANSWERED,
                answered_at=call.answered_at,
                callee_device=device,
            )
        call.timer = _later(ctx, ctx.settings.media_timeout_s, partial(_media_timeout, ctx, call))
        _start_credit_timers(ctx, call)
        hub = hub_of(ctx)
        await hub.send(
            call.caller_id,
            "call.answered",
            {"call_id": call.id, "sdp": sdp},
            device=call.caller_device,
        )
        await hub.send(
            call.callee_id, "call.answered_elsewhere", {"call_id": call.id}, exclude=device
        )


async def _make_way(ctx: Context, call: ActiveCall, mode: str) -> None:
    """A waiting call is answered: the call its callee is in (on whichever node) is held, or
    ended as the callee's hang-up, first (caller holds ``call.lock``)."""
    for other in await _other_calls(ctx, call.callee_id, call.id):
        try:
            if mode == "end":
                await do_hangup(ctx, call.callee_id, other)
            else:
                await do_hold(ctx, call.callee_id, other)
        except YuntongError as exc:
            if exc.code not in _GONE:
                raise


async def _other_calls(ctx: Context, user_id: int, call_id: str) -> list[str]:
    """The user's calls other than ``call_id``, on any node (one at most, with call
    waiting)."""
    found = set(engine_of(ctx).by_user.get(user_id, ()))
    found.update(await busy_marks(ctx).calls_of(user_id))
    found.discard(call_id)
    return sorted(found)


async def do_hold(ctx: Context, user_id: int, call_id: str) -> None:
    """Hold an answered call: its media pauses (both parties are told ``call.held``), the call
    runs on and is billed as usual."""
    if not await _forwarded(ctx, call_id, "hold", user_id=user_id):
        await _hold(ctx, user_id, call_id)


async def _hold(ctx: Context, user_id: int, call_id: str) -> None:
    call = _get_call(ctx, call_id, user_id)
    async with call.lock:
        check_may_hold(call.state)
        if user_id not in call.holders:
            # written first: the hold outlives this node (a node taking the call over reads
            # it, do_adopt) and is recorded with the call (its history shows it)
            await store.start_hold(ctx.writer, call.id, user_id, ctx.clock.now())
            call.holders.add(user_id)
            await _tell_hold(ctx, call, "call.held")


async def do_resume(ctx: Context, user_id: int, call_id: str) -> None:
    """Take back a call the user holds; the other call they are in, if answered, is held in
    its place (a swap)."""
    if not await _forwarded(ctx, call_id, "resume", user_id=user_id):
        await _resume(ctx, user_id, call_id)
    for other in await _other_calls(ctx, user_id, call_id):
        try:
            await do_hold(ctx, user_id, other)
        except YuntongError as exc:
            if exc.code not in _GONE:
                raise


async def _resume(ctx: Context, user_id: int, call_id: str) -> None:
    call = _get_call(ctx, call_id, user_id)
    async with call.lock:
        check_may_hold(call.state)
        if user_id not in call.holders:
            raise YuntongError("call_not_held")
        await store.end_hold(ctx.writer, call.id, user_id, ctx.node_id, ctx.clock.now())
        call.holders.discard(user_id)
        await _tell_hold(ctx, call, "call.resumed")


async def _tell_hold(ctx: Context, call: ActiveCall, type_: str) -> None:
    """``call.held`` / ``call.resumed`` to both parties: whether the call is on hold now, and
    whether the one told may resume it (they hold it)."""
    hub = hub_of(ctx)
    for user_id, device in (
        (call.caller_id, call.caller_device),
        (call.callee_id, call.callee_device),
    ):
        data = {
            "call_id": call.id,
            "on_hold": bool(call.holders),
            "can_resume": user_id in call.holders,
        }
        await hub.send(user_id, type_, data, device=device)


async def do_media_connected(ctx: Context, user_id: int, call_id: str) -> None:
    if not await _forwarded(ctx, call_id, "media_connected", user_id=user_id):
        await _media_connected(ctx, user_id, call_id)


async def _media_connected(ctx: Context, user_id: int, call_id: str) -> None:
    call = _get_call(ctx, call_id, user_id)
    async with call.lock:
        if call.state != CallState.ANSWERED:
            return  # the other side reported first, or the call is over
        call.move(CallState.CONNECTED)
        _cancel_timer(call)
        # kept in memory and written with the end: a crash closes the call from answered_at
        call.connected_at = ctx.clock.now()
        data = {"call_id": call.id, "answered_at": _iso(call.answered_at)}
        await _send_both(ctx, call, "call.connected", data)


async def do_media_failed(ctx: Context, user_id: int, call_id: str) -> None:
    """A client's ICE connection failed: the call cannot go on."""
    if not await _forwarded(ctx, call_id, "media_failed", user_id=user_id):
        await _media_failed(ctx, user_id, call_id)


async def _media_failed(ctx: Context, user_id: int, call_id: str) -> None:
    call = _get_call(ctx, call_id, user_id)
    async with call.lock:
        if call.state == CallState.ANSWERED:
            await _end(ctx, call, CallOutcome.FAILED, "media_failed", None)
        elif call.state == CallState.CONNECTED:
            await _end(ctx, call, CallOutcome.ANSWERED, "media_lost", None)


async def do_reject(ctx: Context, user_id: int, call_id: str) -> None:
    if not await _forwarded(ctx, call_id, "reject", user_id=user_id):
        await _reject(ctx, user_id, call_id)


async def _reject(ctx: Context, user_id: int, call_id: str) -> None:
    await _end_ringing(ctx, user_id, call_id, "callee", CallOutcome.REJECTED)


async def do_cancel(ctx: Context, user_id: int, call_id: str) -> None:
    if not await _forwarded(ctx, call_id, "cancel", user_id=user_id):
        await _cancel(ctx, user_id, call_id)


async def _cancel(ctx: Context, user_id: int, call_id: str) -> None:
    await _end_ringing(ctx, user_id, call_id, "caller", CallOutcome.CANCELED)


async def _end_ringing(
    ctx: Context, user_id: int, call_id: str, party: str, outcome: CallOutcome
) -> None:
    """The callee declines or the caller gives up: only while the call is still ringing."""
    call = _get_call(ctx, call_id, user_id)
    async with call.lock:
        if call.party(user_id) != party:
            raise YuntongError("forbidden")
        if call.state != CallState.RINGING:
            raise YuntongError("invalid_transition", state=call.state.value)
        reason = outcome.value
        if party == "callee" and await _still_waiting(ctx, call):
            outcome, reason = CallOutcome.BUSY, "waiting_rejected"  # user busy (TS 22.083)
        if party == "callee" and await _forward_ringing(ctx, call, "cfb", outcome):
            return  # user determined user busy: forwarded on busy
        await _end(ctx, call, outcome, reason, user_id)


async def do_hangup(ctx: Context, user_id: int, call_id: str) -> None:
    if not await _forwarded(ctx, call_id, "hangup", user_id=user_id):
        await _hangup(ctx, user_id, call_id)


async def _hangup(ctx: Context, user_id: int, call_id: str) -> None:
    call = _get_call(ctx, call_id, user_id)
    async with call.lock:
        if call.state == CallState.RINGING:
            raise YuntongError("invalid_transition", state=call.state.value)
        await _end(ctx, call, CallOutcome.ANSWERED, "hangup", user_id)


async def do_relay_ice(
    ctx: Context, user_id: int, device: str, call_id: str, candidate: dict[str, Any] | None
) -> None:
    if not await _forwarded(
        ctx, call_id, "ice", user_id=user_id, device=device, candidate=candidate
    ):
        await _relay_ice(ctx, user_id, device, call_id, candidate)


async def _relay_ice(
    ctx: Context, user_id: int, device: str, call_id: str, candidate: dict[str, Any] | None
) -> None:
    call = _get_call(ctx, call_id, user_id)
    data = {"call_id": call.id, "candidate": candidate}
    hub = hub_of(ctx)
    if call.party(user_id) == "caller":
        if device != call.caller_device:
            return
        # before the answer every ringing device of the callee may need the candidates
        await hub.send(call.callee_id, "call.ice", data, device=call.callee_device)
    elif call.callee_device == device:
        await hub.send(call.caller_id, "call.ice", data, device=call.caller_device)


async def do_device_gone(ctx: Context, user_id: int, device: str) -> None:
    """A device is gone (closed by its client, logged out, or not back within the grace
    period): end the call it carried, and a call ringing for a callee with no device left.
    The node that owns the call decides, wherever the device was."""
    call_ids = set(engine_of(ctx).by_user.get(user_id, ()))
    if ctx.redis is not None:
        call_ids.update(await busy_marks(ctx).calls_of(user_id))  # calls other nodes may own
    for call_id in sorted(call_ids):
        with contextlib.suppress(YuntongError):  # ended, or its owner died: its sweep ends it
            if not await _forwarded(ctx, call_id, "device_gone", user_id=user_id, device=device):
                await _device_gone(ctx, user_id, device, call_id)


async def _device_gone(ctx: Context, user_id: int, device: str, call_id: str) -> None:
    call = engine_of(ctx).calls.get(call_id)
    if call is None:
        return
    async with call.lock:
        if call.state == CallState.ENDED:
            return
        is_caller = user_id == call.caller_id and device == call.caller_device
        is_callee = user_id == call.callee_id and device == call.callee_device
        if call.state == CallState.RINGING and is_caller:
            await _end(ctx, call, CallOutcome.CANCELED, "connection_lost", None)
        elif call.state == CallState.RINGING and user_id == call.callee_id:
            if not await hub_of(ctx).is_online(user_id):  # nothing left to ring: as if offline
                await _end(ctx, call, CallOutcome.UNREACHABLE, "offline", None)
        elif call.state == CallState.ANSWERED and (is_caller or is_callee):
            await _end(ctx, call, CallOutcome.FAILED, "connection_lost", None)
        elif call.state == CallState.CONNECTED and (is_caller or is_callee):
            await _end(ctx, call, CallOutcome.ANSWERED, "connection_lost", None)


# -- forwarding: a command for a call another node owns runs there ------------------------

_OPS: dict[str, Callable[..., Awaitable[None]]] = {
    "ringing": _ringing,
    "answer": _answer,
    "media_connected": _media_connected,
    "media_failed": _media_failed,
    "reject": _reject,
    "cancel": _cancel,
    "hangup": _hangup,
    "hold": _hold,
    "resume": _resume,
    "ice": _relay_ice,
    "device_gone": _device_gone,
}


async def _forwarded(ctx: Context, call_id: str, op: str, **args: Any) -> bool:
    """Run a party's command on the node that owns the call when that is another node (its
    answer or error is this one's); False: the call is this node's, or unknown (the command
    runs here, and finds it or says ``call_not_found``)."""
    engine = engine_of(ctx)
    if ctx.redis is None:
        return False
    await _owned_for_sure(ctx)
    if call_id in engine.calls:
        return False
    owner = engine.owners.get(call_id)
    if owner is not None and owner not in await nodes.live_view(ctx):
        # remembered from before its owner died: a survivor may own it now (asking the dead
        # one first would hold the command for the whole forward time-out)
        engine.owners.pop(call_id, None)
        owner = None
    owner = owner or await _look_up_owner(ctx, call_id)
    if owner is None or owner == ctx.node_id:
        return False
    payload = {"op": op, "call_id": call_id, **args}
    try:
        await forward.ask(ctx, owner, CALL_COMMAND, payload)
    except YuntongError as exc:
        if exc.code != "node_unreachable":
            raise
        # the owner died: ask again whoever owns the call now (a node that took it over)
        engine.owners.pop(call_id, None)
        again = await _look_up_owner(ctx, call_id)
        if again is None or again == owner:
            raise
        await forward.ask(ctx, again, CALL_COMMAND, payload)
    return True


def _note_incoming(ctx: Context, data: dict[str, Any], node: str) -> None:
    """The callee's node learns who owns a call from its ``call.incoming``, which the owner
    sent: the callee's first commands are forwarded without looking the owner up."""
    if node and node != ctx.node_id:
        engine_of(ctx).note_owner(str(data["call_id"]), node)


async def _look_up_owner(ctx: Context, call_id: str) -> str | None:
    async with ctx.db.session() as session:
        owner = await store.owner_of(session, call_id)
    if owner is not None and owner != ctx.node_id:
        engine_of(ctx).note_owner(call_id, owner)
    return owner


async def _run_forwarded(ctx: Context, payload: dict[str, Any]) -> None:
    """A command another node forwarded: run here, where the call is (never forwarded on)."""
    args = dict(payload)
    run = _OPS.get(str(args.pop("op", "")))
    if run is None:
        raise YuntongError("bad_request")
    await run(ctx, **args)


async def _ring_timeout(ctx: Context, call: ActiveCall) -> None:
    async with call.lock:
        if call.state != CallState.RINGING:
            return
        if await _forward_ringing(ctx, call, "cfnry", CallOutcome.NO_ANSWER):
            return
        # a waiting call left to ring goes on as the callee's busy would (TS 22.083)
        if await _still_waiting(ctx, call) and await _forward_ringing(
            ctx, call, "cfb", CallOutcome.NO_ANSWER
        ):
            return
        await _end(ctx, call, CallOutcome.NO_ANSWER, "ring_timeout", None)


async def _media_timeout(ctx: Context, call: ActiveCall) -> None:
    async with call.lock:
        if call.state == CallState.ANSWERED:
            await _end(ctx, call, CallOutcome.FAILED, "media_timeout", None)


async def _end(
    ctx: Context,
    call: ActiveCall,
    outcome: CallOutcome,
    reason: str,
    hung_up_by: int | None,
) -> None:
    """Finish a live call: caller holds ``call.lock``."""
    await _owned_for_sure(ctx)
    if engine_of(ctx).calls.get(call.id) is not call:
        return  # no longer this node's (it was taken for dead): its owner ends it
    call.move(CallState.ENDED)
    _cancel_timers(call)
    engine_of(ctx).remove(call)
    now = ctx.clock.now()
    duration_ms = 0
    if outcome == CallOutcome.ANSWERED and call.answered_at is not None:
        duration_ms = max(0, int((now - call.answered_at).total_seconds() * 1000))
    billable = math.ceil(duration_ms / 1000)
    if reason == "credit_exhausted" and call.max_seconds is not None:
        billable = min(billable, call.max_seconds)  # the cut-off timer may fire a little late
    if billable and call.answered_at is not None:
        # counted by credit control from now until rating has it in the ledger, so that the
        # caller's next call is checked against it (the caller is free to call again now)
        credit_gate(ctx).note_call_ended(
            ctx, call.caller_id, call.id, f"call.{call.media}", billable, call.answered_at
        )
    ended: dict[str, Any] = {
        "state": CallState.ENDED,
        "outcome": outcome,
        "end_reason": reason,
        "hung_up_by": hung_up_by,
        "connected_at": call.connected_at,
        "ended_at": now,
        "duration_ms": duration_ms,
        "billable_seconds": billable,
        "cause": cause_for(outcome, reason),
    }
    try:
        written = await store.end_record(ctx.writer, call.id, ctx.node_id, **ended)
        if written:
            await _end_legs(ctx, call, ended)
            if call.holders:  # a hold open at the end ends with the call
                await store.end_holds(ctx.writer, call.id, now)
    except BaseException:
        credit_gate(ctx).forget_call(ctx, call.caller_id, call.id)
        await _release(ctx, call.id, (call.caller_id, call.callee_id))
        raise
    if not written:
        # another node took the call over, or closed it, while this one stalled unaware: the
        # call and its parties' busy marks are the other node's, and so is telling them
        credit_gate(ctx).forget_call(ctx, call.caller_id, call.id)
        log.warning("call_end_fenced", call_id=call.id)
        CALLS_END_FENCED.inc()
        return
    await _release(ctx, call.id, (call.caller_id, call.callee_id))
    CALLS_TOTAL.labels(outcome.value).inc()
    hub = hub_of(ctx)
    data = _ended_payload(call.id, outcome, reason, hung_up_by, billable)
    await hub.send(call.caller_id, "call.ended", data, device=call.caller_device)
    await hub.send(call.callee_id, "call.ended", data)
    await _publish_presence(ctx, call)


async def _end_legs(ctx: Context, call: ActiveCall, ended: dict[str, Any]) -> None:
    """End the forwarded legs with their call, each counted against its forwarder."""
    billable = int(ended["billable_seconds"])
    for leg_id, hop in call.legs:
        if billable and call.answered_at is not None:
            credit_gate(ctx).note_call_ended(
                ctx, hop.forwarder_id, leg_id, f"call.{call.media}", billable, call.answered_at
            )
        values = {**ended, "answered_at": call.answered_at, "callee_device": call.callee_device}
        await store.end_record(ctx.writer, leg_id, ctx.node_id, **values)


def _record_ended(record: CallRecord) -> dict[str, Any]:
    """The ``call.ended`` of an ended call, from its record."""
    return _ended_payload(
        record.id,
        CallOutcome(str(record.outcome)),
        public_reason(str(record.end_reason)),
        record.hung_up_by,
        record.billable_seconds,
    )


def _ended_payload(
    call_id: str,
    outcome: CallOutcome,
    reason: str,
    hung_up_by: int | None,
    billable: int,
) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "outcome": outcome.value,
        "reason": reason,
        "hung_up_by": hung_up_by,
        "billable_seconds": billable,
    }


async def _publish_presence(ctx: Context, call: ActiveCall) -> None:
    await presence.do_publish(ctx, call.caller_id)
    await presence.do_publish(ctx, call.callee_id)


async def _send_both(ctx: Context, call: ActiveCall, type_: str, data: dict[str, Any]) -> None:
    hub = hub_of(ctx)
    await hub.send(call.caller_id, type_, data, device=call.caller_device)
    await hub.send(call.callee_id, type_, data, device=call.callee_device)


_TIMER_TASKS: set[asyncio.Task[None]] = set()  # fired timers still running (kept referenced)


def _later(ctx: Context, delay: float, fire: Callable[[], Coroutine[Any, Any, None]]) -> Timer:
    """Run ``fire()`` in a task after ``delay`` seconds on the injected clock unless cancelled
    first.

    A timer rather than a sleeping task: nearly every call cancels its timers, and cancelling
    a timer handle (the event loop's own, with the real clock) costs far less than creating
    and cancelling a task."""

    async def guarded() -> None:
        try:
            await fire()
        except Exception:
            log.exception("call_timer_failed")

    def start() -> None:
        task = asyncio.create_task(guarded())
        _TIMER_TASKS.add(task)
        task.add_done_callback(_TIMER_TASKS.discard)

    return ctx.clock.call_later(delay, start)


def _cancel_timer(call: ActiveCall) -> None:
    if call.timer is not None:
        call.timer.cancel()
        call.timer = None


def _cancel_timers(call: ActiveCall) -> None:
    """The call's timer and its credit timers: it ends, or is no longer this node's."""
    _cancel_timer(call)
    for timer in call.credit_timers:
        timer.cancel()


def _start_credit_timers(ctx: Context, call: ActiveCall) -> None:
    """Prepaid calls: warn a minute before the balance runs out, then end the call (counted
    from the answer: a call taken over from a dead node keeps its cut-off)."""
    if call.max_seconds is None or call.answered_at is None:
        return
    elapsed = (ctx.clock.now() - call.answered_at).total_seconds()
    warn_in = max(0.0, call.max_seconds - CREDIT_WARNING_S - elapsed)
    end_in = max(0.0, call.max_seconds - elapsed)
    call.credit_timers = (
        _later(ctx, warn_in, partial(_credit_warning, ctx, call)),
        _later(ctx, end_in, partial(_credit_exhausted, ctx, call)),
    )


async def _credit_warning(ctx: Context, call: ActiveCall) -> None:
    if call.state in (CallState.ANSWERED, CallState.CONNECTED) and call.answered_at:
        assert call.max_seconds is not None
        elapsed = (ctx.clock.now() - call.answered_at).total_seconds()
        left = max(0, round(call.max_seconds - elapsed))
        await _send_both(ctx, call, "call.credit_low", {"call_id": call.id, "seconds_left": left})


async def _credit_exhausted(ctx: Context, call: ActiveCall) -> None:
    async with call.lock:
        if call.state in (CallState.ANSWERED, CallState.CONNECTED):
            await _end(ctx, call, CallOutcome.ANSWERED, "credit_exhausted", None)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- start-up ------------------------------------------------------------------------------


async def _checkpoint_loop(ctx: Context) -> None:
    while True:
        await ctx.clock.sleep(ctx.settings.call_checkpoint_s)
        try:
            await do_checkpoint_calls(ctx)
        except SQLAlchemyError:
            log.exception("call_checkpoint_failed")
        try:
            await do_watch_devices(ctx)
        except Exception:
            log.exception("call_device_watch_failed")


async def _renew_loop(ctx: Context, every_s: float) -> None:
    """Keep this node's busy marks alive: they expire when a node stops renewing them."""
    while True:
        await ctx.clock.sleep(every_s)
        try:
            await busy_marks(ctx).renew()
        except Exception:
            log.exception("busy_marks_renewal_failed")


# -- several nodes: calls taken over from a dead node, and parties whose node died ----------


async def do_adopt(ctx: Context, record: CallRecord) -> None:
    """Run an answered call a dead node owned (its record is this node's now): it goes on
    until a party hangs up, or a party's device does not come back (:func:`do_watch_devices`).
    Taken as connected: its media runs between the parties, never through a node."""
    engine = engine_of(ctx)
    if record.id in engine.calls or record.answered_at is None:
        return
    legs = await _adopt_legs(ctx, record)
    async with ctx.db.session() as session:
        holders = await store.holders_of(session, record.id)  # still held by whom it was
    call = ActiveCall(
        record.id,
        record.caller_id,
        legs[-1][1].target_id if legs else record.callee_id,  # who answered a forwarded call
        record.media,
        record.caller_device,
        record.created_at,
        state=CallState.CONNECTED,
        callee_device=record.callee_device,
        answered_at=record.answered_at,
        connected_at=record.connected_at or record.answered_at,
        ringing_sent=True,
        max_seconds=record.max_seconds,
    )
    call.legs = legs
    call.holders = holders
    engine.add(call)
    _start_credit_timers(ctx, call)  # the balance's cut-off stays where the dead node had it
    await busy_marks(ctx).adopt(call.id, (call.caller_id, call.callee_id))
    CALLS_ADOPTED.inc()
    log.warning("call_taken_over", call_id=call.id)


async def _adopt_legs(ctx: Context, record: CallRecord) -> list[tuple[str, Hop]]:
    """The forwarded legs of a call taken over, taken over with it (fenced like the call):
    ended with it later, each billed to its forwarder."""
    async with ctx.db.session() as session:
        rows = await store.legs_of(session, record.id)
        for leg in rows:
            if leg.node_id is not None and leg.node_id != ctx.node_id:
                await store.take_over(session, leg.id, leg.node_id, ctx.node_id)
    legs, reached = [], record.called_number
    for leg in rows:
        hop = Hop(
            str(leg.forwarding), leg.caller_id, reached, leg.callee_id, str(leg.called_number)
        )
        legs.append((leg.id, hop))
        reached = leg.called_number
    return legs


async def tell_ended(ctx: Context, record: CallRecord) -> None:
    """Tell the parties of a call a dead node left ringing that it ended (it was closed by
    recovery, on their behalf)."""
    data = _record_ended(record)
    hub = hub_of(ctx)
    await hub.send(record.caller_id, "call.ended", data, device=record.caller_device)
    await hub.send(record.callee_id, "call.ended", data)
    await _release(ctx, record.id, (record.caller_id, record.callee_id))
    await presence.do_publish(ctx, record.caller_id)
    await presence.do_publish(ctx, record.callee_id)


async def ended_since_drop(ctx: Context, user_id: int, device: str) -> list[dict[str, Any]]:
    """The ``call.ended`` of the device's calls that ended within the grace period (a device
    resumed from a dead node missed them)."""
    since = ctx.clock.now() - timedelta(seconds=ctx.settings.reconnect_grace_s)
    async with ctx.db.session() as session:
        records = await store.ended_for_device(session, user_id, device, since)
    return [_record_ended(record) for record in records]


async def do_watch_devices(ctx: Context) -> int:
    """Several nodes: end this node's answered calls whose party's device has been on no live
    node for ``reconnect_grace_s`` (its node died and it did not come back elsewhere; a device
    that drops from a live node is that node's to time out). Returns how many ended."""
    if ctx.redis is None:
        return 0
    now = ctx.clock.now()
    ended = 0
    calls = [
        call
        for call in engine_of(ctx).calls.values()
        if call.state in (CallState.ANSWERED, CallState.CONNECTED)
    ]
    parties = [(call.caller_id, call.caller_device) for call in calls] + [
        (call.callee_id, call.callee_device) for call in calls if call.callee_device is not None
    ]
    online = await hub_of(ctx).directory.where_each(parties)  # one look for every call
    for call in calls:
        present = online[(call.caller_id, call.caller_device)] and (
            call.callee_device is None or online[(call.callee_id, call.callee_device)]
        )
        if present:
            call.devices_missing_since = None
            continue
        if call.devices_missing_since is None:
            call.devices_missing_since = now
            continue
        if (now - call.devices_missing_since).total_seconds() < ctx.settings.reconnect_grace_s:
            continue
        async with call.lock:
            if call.state == CallState.ANSWERED:
                await _end(ctx, call, CallOutcome.FAILED, "connection_lost", None)
            elif call.state == CallState.CONNECTED:
                await _end(ctx, call, CallOutcome.ANSWERED, "connection_lost", None)
            else:
                continue
        ended += 1
    return ended


async def _owned_for_sure(ctx: Context) -> None:
    """Before acting on its calls, a node that may have been taken for dead checks which are
    still its own (:func:`do_reconcile`)."""
    if nodes.in_doubt(ctx):
        await do_reconcile(ctx)


async def do_reconcile(ctx: Context) -> int:
    """This node may have been taken for dead (it stalled past its keepalive,
    :func:`yuntong.cluster.nodes.in_doubt`): drop the live calls it no longer owns — another
    node took them over, or closed them as interrupted and told the parties — without ending
    them, writing anything or telling anyone: their owner does. Their parties' commands are
    forwarded to it from now on. Returns how many were dropped."""
    engine = engine_of(ctx)
    async with engine.reconciling:
        ids = list(engine.calls)
        if not ids:
            return 0
        async with ctx.db.session() as session:
            owners = await store.owners_of(session, ids)
        dropped = 0
        for call_id in ids:
            call = engine.calls.get(call_id)
            owner = owners.get(call_id)
            if call is None or owner == ctx.node_id:
                continue
            call.state = CallState.ENDED  # whoever waits on its lock finds it over here
            _cancel_timers(call)
            engine.remove(call)
            if owner is not None:
                engine.note_owner(call_id, owner)
            dropped += 1
        if dropped:
            log.warning("calls_no_longer_owned", count=dropped)
        return dropped


async def do_checkpoint_calls(ctx: Context) -> int:
    """Write that this node's answered calls are alive now: one statement for all of them
    (off the signaling path), every ``call_checkpoint_s``. Returns how many."""
    engine = engine_of(ctx)
    live = [
        record_id
        for c in engine.calls.values()
        if c.state in (CallState.ANSWERED, CallState.CONNECTED)
        for record_id in (c.id, *(leg for leg, _ in c.legs))
    ]
    if live:
        async with ctx.db.session() as session:
            await store.checkpoint(session, live, ctx.node_id, ctx.clock.now())
    return len(live)
