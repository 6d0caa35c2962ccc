"""A meeting socket held by a node that does not run the meeting's room: relayed to the owner.

The balancer sends a participant's socket to any node, and its ticket names no node (a
client behind a round-robin balancer could not pick one anyway). So the node that accepts the
socket (the *relay*) keeps it and passes everything on: the socket's admission and each
message the socket's lanes let through go to the owner as forwarded requests
(:mod:`yuntong.cluster.forward`), where the owner runs the same handlers on its room and
answers with the ack or the error; what the room sends the participant (events, the close)
the owner publishes on the relay's node channel as a :class:`RelayedSocket`, and the relay
writes it to the socket, in order (one publisher, one channel). A relayed socket that drops
is reported to the owner, which keeps the participant's place for the grace period as for
its own sockets.

When the owner goes (it died, or lost the meeting to another node), the relay closes the
socket for a restart (1012) and the client reconnects with its ticket: to the new owner, or
through a relay to it. The relay checks its owners every half of the shorter of
``node_dead_after_s`` and ``meeting_lease_s``, so its clients come back as soon as their owner
is seen dead. The owner treats the sockets of a relay that died as dropped, and refuses an
attach that arrives after its relay gave up on it (``until``), which would otherwise replace
the socket the client opened again meanwhile.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from yuntong.cluster import forward
from yuntong.cluster.nodes import live_view, node_of
from yuntong.core.bus import node_channel
from yuntong.core.clock import Timer
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.meetings.live import lease
from yuntong.meetings.live.participant import Participant, ParticipantState
from yuntong.realtime.auth import TicketSocket

log = get_logger(__name__)
FORWARDED_SOCKET = "meetings.socket"  # the forwarded requests of relayed sockets
RELAY_TIMEOUT_S = 20.0  # a relayed message may wait on Janus (a client waits 15 s for an ack)
MOVED = (1012, "moved")  # the socket's client reconnects with its ticket


class RelayedSocket:
    """On the owner: a participant's socket held by another node (``via``), reached through
    that node's channel, and the participant it was attached to (in the room once joined)."""

    def __init__(self, ctx: Context, via: str, conn: str, meeting_id: str) -> None:
        self.ctx = ctx
        self.via = via
        self.conn = conn
        self.meeting_id = meeting_id
        self.participant: Participant | None = None  # once attached

    @property
    def current(self) -> bool:
        """Attached, and still its participant's socket (not replaced, not left)."""
        p = self.participant
        return p is not None and p.socket is self and p.state != ParticipantState.LEFT

    async def send_event(self, type_: str, data: dict[str, Any]) -> None:
        message = {"meeting_socket": self.conn, "event": type_, "data": data}
        await self.ctx.bus.publish(node_channel(self.via), message)

    async def close(self, code: int, reason: str) -> None:
        message = {"meeting_socket": self.conn, "close": code, "reason": reason}
        await self.ctx.bus.publish(node_channel(self.via), message)


@dataclass(eq=False)
class Relayed:
    """On the relay: a socket whose meeting runs on ``owner``."""

    ctx: Context
    owner: str
    meeting_id: str
    participant_id: str
    conn: str
    socket: TicketSocket


@dataclass
class Relays:
    """This node's relayed sockets by connection id, and the timer that checks their owners;
    as an owner, the sockets other nodes relay to its rooms."""

    by_conn: dict[str, Relayed] = field(default_factory=dict)
    served: dict[str, RelayedSocket] = field(default_factory=dict)
    listening: bool = False
    check: Timer | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


RELAYS = Piece(
    "meetings.relays",
    "node-owned live state",
    lambda ctx: Relays(),
    "the meeting sockets this node holds for rooms other nodes run",
)


def relays_of(ctx: Context) -> Relays:
    return ctx.services.get(RELAYS)


def serve(ctx: Context, socket: RelayedSocket) -> None:
    """As the owner, take requests for ``socket`` (forgetting those no longer current)."""
    served = relays_of(ctx).served
    for conn in [c for c, s in served.items() if not s.current]:
        del served[conn]
    served[socket.conn] = socket


def check_in_time(ctx: Context, request: dict[str, Any]) -> None:
    """As the owner, refuse an attach its relay has given up on (the owner was slow, opening
    the room): attached late, it would replace the socket its client opened again since."""
    until = request.get("until")
    if isinstance(until, str) and node_of(ctx).clock.now() > datetime.fromisoformat(until):
        raise YuntongError("node_unreachable", retry_after=1)


def served(ctx: Context, conn: object) -> tuple[RelayedSocket, Participant]:
    """As the owner, the current relayed socket ``conn`` and its participant."""
    socket = relays_of(ctx).served.get(str(conn))
    if socket is None or socket.participant is None or not socket.current:
        raise YuntongError("meeting_ticket_invalid")
    return socket, socket.participant


def install(ctx: Context) -> None:
    """Write to this node's relayed sockets what their rooms' owners send them."""
    relays = relays_of(ctx)
    if relays.listening:
        return
    relays.listening = True

    async def deliver(message: dict[str, Any]) -> None:
        conn = message.get("meeting_socket")
        relayed = relays.by_conn.get(conn) if isinstance(conn, str) else None
        if relayed is None:
            return
        if "close" in message:
            await relayed.socket.close(int(message["close"]), str(message.get("reason") or ""))
        else:
            await relayed.socket.send_event(str(message["event"]), dict(message["data"]))

    ctx.bus.subscribe(node_channel(ctx.node_id), deliver)


async def attach(
    ctx: Context, owner: str, meeting_id: str, ticket: str, socket: TicketSocket
) -> tuple[Relayed, dict[str, Any]]:
    """Attach ``socket`` to the participant of ``ticket`` in the room ``owner`` runs: the
    relay, and the owner's hello (its refusal raised as it is)."""
    conn = secrets.token_hex(8)
    given_up = node_of(ctx).clock.now() + timedelta(seconds=ctx.settings.forward_timeout_s)
    request = {
        "op": "attach",
        "ticket": ticket,
        "via": ctx.node_id,
        "conn": conn,
        "until": given_up.isoformat(),  # the relay has given up by then: too late to attach
    }
    relays = relays_of(ctx)
    relayed = Relayed(ctx, owner, meeting_id, "", conn, socket)
    relays.by_conn[conn] = relayed  # events may follow the hello at once
    try:
        hello = await forward.ask(ctx, owner, FORWARDED_SOCKET, request)
    except BaseException:
        relays.by_conn.pop(conn, None)
        raise
    assert hello is not None
    relayed.participant_id = str(hello["participant_id"])
    _watch(ctx)
    return relayed, hello


async def ask(ctx: Context, relayed: Relayed, type_: str, data: dict[str, Any]) -> Any:
    """Have the owner run the socket's message; its ack data, or its error raised here. An
    owner that does not answer is gone: the socket is closed for the client to come back."""
    request = {**_about(relayed), "op": "message", "type": type_, "data": data}
    try:
        return await forward.ask(
            ctx, relayed.owner, FORWARDED_SOCKET, request, timeout_s=RELAY_TIMEOUT_S
        )
    except YuntongError as exc:
        if exc.code == "node_unreachable":
            _spawn(ctx, relayed.socket.close(*MOVED))
        raise


async def owner_gone(ctx: Context, meeting_id: str, owner: str, wait_s: float) -> bool:
    """After ``owner`` did not answer: wait (up to ``wait_s``) until the meeting's lease is no
    longer held by it, if it is dead — its lease lapses, or another node takes the meeting
    over — so that the socket goes to whoever runs the meeting next. False at once while
    ``owner`` is alive (merely slow), or when the wait ran out."""
    if owner in await live_view(ctx):
        return False
    clock = node_of(ctx).clock
    deadline = clock.now() + timedelta(seconds=wait_s)
    while await lease.owner(ctx, meeting_id) == owner:
        if clock.now() >= deadline:
            return False
        await clock.sleep(ctx.settings.node_keepalive_s)
    return True


def lost(ctx: Context, relayed: Relayed) -> None:
    """The relayed socket closed: the owner keeps the participant's place for the grace."""
    if relays_of(ctx).by_conn.pop(relayed.conn, None) is None:
        return
    request = {**_about(relayed), "op": "lost"}
    _spawn(ctx, _tell(ctx, relayed.owner, request))


def _about(relayed: Relayed) -> dict[str, Any]:
    return {
        "meeting_id": relayed.meeting_id,
        "participant_id": relayed.participant_id,
        "conn": relayed.conn,
    }


async def _tell(ctx: Context, owner: str, request: dict[str, Any]) -> None:
    try:
        await forward.ask(ctx, owner, FORWARDED_SOCKET, request)
    except YuntongError as exc:  # the owner is gone: its successor's grace period runs
        log.info("meeting_relay_lost_untold", owner=owner, error=exc.code)


def _spawn(ctx: Context, work: Coroutine[Any, Any, Any]) -> None:
    tasks = relays_of(ctx).tasks
    task = asyncio.create_task(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def _watch(ctx: Context) -> None:
    """While this node relays sockets, check that their rooms still run where they did, on a
    live node; a socket whose owner is gone is closed for its client to come back."""
    relays = relays_of(ctx)
    if relays.check is not None or not relays.by_conn:
        return

    def due() -> None:
        relays.check = None
        _spawn(ctx, _check(ctx))

    every = min(ctx.settings.meeting_lease_s, ctx.settings.node_dead_after_s) / 2
    relays.check = node_of(ctx).clock.call_later(every, due)


async def _check(ctx: Context) -> None:
    relays = relays_of(ctx)
    meetings = {relayed.meeting_id for relayed in relays.by_conn.values()}
    try:
        owners = await lease.owners(ctx, meetings) if meetings else {}
        alive = await live_view(ctx)
    except SQLAlchemyError:  # the next check looks again
        log.exception("meeting_relay_check_failed")
        owners, alive = {}, frozenset()
    for relayed in list(relays.by_conn.values()):
        if relayed.meeting_id not in owners or not relayed.participant_id:
            continue  # an admission under way: it finds the owner gone by itself
        owner = owners[relayed.meeting_id]
        if owner != relayed.owner or owner not in alive:
            log.info("meeting_relay_owner_gone", meeting=relayed.meeting_id, owner=relayed.owner)
            await relayed.socket.close(*MOVED)
    _watch(ctx)
