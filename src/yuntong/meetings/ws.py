"""The meeting socket ``/ws/meeting?ticket=…``: one per participant, same envelopes as ``/ws``.

The loop is the realtime gateway's (``realtime/gateway.py``) with the ticket authenticator
(``realtime/auth.py``) and lanes (:func:`_lane`). Handlers are thin: validate the message,
check access with a ``check_*``, call the :class:`~yuntong.meetings.live.room.Room`. A failing
handler answers ``error`` and never ends the connection.

A socket whose meeting runs on another node (the owner of its lease) is relayed there
(:mod:`.live.relay`): the owner runs these same handlers on its room for it (:func:`install`
serves the requests), and this node writes the room's events to the socket.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ConfigDict, Field

from yuntong.cluster import forward
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.meetings import service
from yuntong.meetings.live import lease, policy, relay
from yuntong.meetings.live.participant import Participant
from yuntong.meetings.live.relay import Relayed, RelayedSocket
from yuntong.meetings.live.room import Room
from yuntong.meetings.live.rooms import live_room, open_room
from yuntong.meetings.models import Role
from yuntong.realtime.auth import Admission, TicketAuthenticator, TicketSocket
from yuntong.realtime.gateway import Gateway
from yuntong.realtime.gateway import Handler as GatewayHandler
from yuntong.realtime.protocol import MAX_SDP_BYTES, Envelope, IceCandidate

router = APIRouter()


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Join(_Msg):
    resume: bool = False


class Publish(_Msg):
    kind: Literal["camera", "screen"] = "camera"
    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)
    simulcast: bool = False


class Kind(_Msg):
    kind: Literal["camera", "screen"] = "camera"


class FeedRef(_Msg):
    feed_id: int = Field(ge=1)


class SubRef(_Msg):
    sub_id: str = Field(min_length=1, max_length=32)


class Answer(SubRef):
    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)


class Layer(SubRef):
    substream: int = Field(ge=0, le=2)


class Ice(_Msg):
    target: str = Field(min_length=1, max_length=32)
    candidate: IceCandidate | None


class Restart(_Msg):
    target: str = Field(min_length=1, max_length=32)
    sdp: str | None = Field(default=None, max_length=MAX_SDP_BYTES)


class SelfState(_Msg):
    audio_muted: bool | None = None
    video_muted: bool | None = None


class Hand(_Msg):
    raised: bool


class Chat(_Msg):
    text: str = Field(min_length=1, max_length=2000)
    to: str | None = Field(default=None, max_length=32)


class Empty(_Msg):
    pass


class Someone(_Msg):
    participant_id: str | None = Field(default=None, max_length=32)
    all: bool = False


class Target(_Msg):
    participant_id: str = Field(min_length=1, max_length=32)


class Mute(Target):
    audio: bool | None = None
    video: bool | None = None


class MuteAll(_Msg):
    ask_to_unmute: bool | None = None


class Lock(_Msg):
    locked: bool


class SetRole(Target):
    role: Literal["cohost", "participant"]


class Record(_Msg):
    on: bool


Handler = Callable[[Room, Participant, Any], Awaitable[dict[str, Any] | None]]


def _one(msg: Someone) -> str | None:
    if msg.all:
        return None
    if msg.participant_id is None:
        raise YuntongError("validation_failed", fields={"participant_id": "required"})
    return msg.participant_id


async def _publish(room: Room, p: Participant, m: Publish) -> dict[str, Any]:
    return await room.publish(p, m.kind, m.sdp)


async def _restart(room: Room, p: Participant, m: Restart) -> dict[str, Any]:
    if m.target in ("camera", "screen"):
        if m.sdp is None:
            raise YuntongError("validation_failed", fields={"sdp": "required"})
        kind: Literal["camera", "screen"] = "camera" if m.target == "camera" else "screen"
        return await room.restart_publisher(p, kind, m.sdp)
    return await room.restart_subscriber(p, m.target)


async def _ice(room: Room, p: Participant, m: Ice) -> None:
    candidate = m.candidate.model_dump(exclude_none=True) if m.candidate else None
    await room.trickle(p, m.target, candidate)


async def _leave(room: Room, p: Participant, _m: Empty) -> None:
    await room.leave(p)


async def _end(room: Room, p: Participant, _m: Empty) -> None:
    policy.check_may_end_for_all(p)
    room.spawn(room.end("host"))


async def _admit(room: Room, p: Participant, m: Someone) -> dict[str, Any]:
    return {"admitted": await room.admit(p, _one(m))}


async def _deny(room: Room, p: Participant, m: Someone) -> dict[str, Any]:
    return {"denied": await room.deny(p, _one(m))}


async def _mute_all(room: Room, p: Participant, m: MuteAll) -> dict[str, Any]:
    return {"muted": await room.mute_all(p, m.ask_to_unmute)}


HANDLERS: dict[str, tuple[type[BaseModel], Handler]] = {
    "meeting.join": (Join, lambda r, p, m: r.join(p, resume=m.resume)),
    "meeting.publish": (Publish, _publish),
    "meeting.unpublish": (Kind, lambda r, p, m: r.unpublish(p, m.kind)),
    "meeting.subscribe": (FeedRef, lambda r, p, m: r.subscribe(p, m.feed_id)),
    "meeting.answer": (Answer, lambda r, p, m: r.answer(p, m.sub_id, m.sdp)),
    "meeting.unsubscribe": (SubRef, lambda r, p, m: r.unsubscribe(p, m.sub_id)),
    "meeting.layer": (Layer, lambda r, p, m: r.layer(p, m.sub_id, m.substream)),
    "meeting.ice": (Ice, _ice),
    "meeting.restart": (Restart, _restart),
    "meeting.self": (SelfState, lambda r, p, m: r.set_self(p, m.audio_muted, m.video_muted)),
    "meeting.hand": (Hand, lambda r, p, m: r.set_hand(p, m.raised)),
    "meeting.chat": (Chat, lambda r, p, m: r.chat(p, m.text, m.to)),
    "meeting.leave": (Empty, _leave),
    "meeting.admit": (Someone, _admit),
    "meeting.deny": (Someone, _deny),
    "meeting.mute": (Mute, lambda r, p, m: r.mute(p, m.participant_id, m.audio, m.video)),
    "meeting.mute_all": (MuteAll, _mute_all),
    "meeting.remove": (Target, lambda r, p, m: r.remove(p, m.participant_id)),
    "meeting.lock": (Lock, lambda r, p, m: r.set_locked(p, m.locked)),
    "meeting.role": (SetRole, lambda r, p, m: r.set_role(p, m.participant_id, Role(m.role))),
    "meeting.record": (Record, lambda r, p, m: r.set_recording(p, m.on)),
    "meeting.end": (Empty, _end),
}


@dataclass
class Attendee:
    """What a meeting handler is given: the live room and the socket's participant."""

    room: Room
    participant: Participant


Conn = Attendee | Relayed


def _hello(ctx: Context, room: Room, participant: Participant) -> dict[str, Any]:
    return {
        "participant_id": participant.id,
        "heartbeat_s": ctx.settings.heartbeat_interval_s,
        "meeting": {"id": room.meeting_id, "number": room.number, "title": room.title},
        "name": participant.name,
        "role": participant.role.value,
    }


TAKE_OVER_WAIT_S = 6.0  # a socket waits this long for a dead owner's meeting to be taken over


async def _admit_ticket(ctx: Context, ticket_text: str, socket: TicketSocket) -> Admission[Conn]:
    """Attach the socket to its participant: in the room here, or relayed to the owner. A
    socket arriving while the owner has just died waits for the meeting to be taken over
    (here once the dead owner's lease lapses, or by another node) for a few seconds rather
    than being sent back at once."""
    ticket = service.decode_ticket(ctx, ticket_text)
    tries = 3
    while True:
        owner = await lease.owner(ctx, ticket.meeting_id)
        try:
            if owner is not None and owner != ctx.node_id:  # the room runs on another node
                relayed, hello = await relay.attach(
                    ctx, owner, ticket.meeting_id, ticket_text, socket
                )
                return Admission(relayed, hello, partial(relay.lost, ctx, relayed))
            room = await open_room(ctx, ticket.meeting_id)
            break
        except YuntongError as exc:
            tries -= 1
            if exc.code != "node_unreachable" or not tries:
                raise
            # the owner died, or another node took the meeting over meanwhile
            elsewhere = owner is not None and owner != ctx.node_id
            if elsewhere and not await relay.owner_gone(
                ctx, ticket.meeting_id, str(owner), TAKE_OVER_WAIT_S
            ):
                raise
            if socket.closed:  # closed meanwhile: its client comes back on another socket
                raise
    participant = await room.attach_socket(ticket, socket)
    lost = partial(room.socket_lost, participant, socket)
    return Admission(Attendee(room, participant), _hello(ctx, room, participant), lost)


def _bound(type_: str, handler: Handler) -> GatewayHandler[Conn]:
    async def run(a: Conn, msg: BaseModel) -> dict[str, Any] | None:
        if isinstance(a, Relayed):
            answer: dict[str, Any] | None = await relay.ask(
                a.ctx, a, type_, msg.model_dump(mode="json")
            )
            return answer
        return await handler(a.room, a.participant, msg)

    return run


# --- the owner's side of relayed sockets ---------------------------------------------------


async def _relayed_attach(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    ticket = service.decode_ticket(ctx, str(request["ticket"]))
    room = await open_room(ctx, ticket.meeting_id)
    relay.check_in_time(ctx, request)
    socket = RelayedSocket(ctx, str(request["via"]), str(request["conn"]), room.meeting_id)
    participant = socket.participant = await room.attach_socket(ticket, socket)
    relay.serve(ctx, socket)
    return _hello(ctx, room, participant)


def _relayed(ctx: Context, request: dict[str, Any]) -> tuple[Room, Participant, RelayedSocket]:
    """The room, participant and socket a relayed request is about; a socket replaced since
    (its participant reconnected elsewhere) is no longer heard."""
    socket, participant = relay.served(ctx, request.get("conn"))
    room = live_room(ctx, socket.meeting_id)
    if room is None:
        raise YuntongError("meeting_ended")
    return room, participant, socket


async def _serve_relayed(ctx: Context, request: dict[str, Any]) -> dict[str, Any] | None:
    op = request.get("op")
    if op == "attach":
        return await _relayed_attach(ctx, request)
    room, p, socket = _relayed(ctx, request)
    if op == "lost":
        room.socket_lost(p, socket)
        return None
    found = HANDLERS.get(str(request.get("type")))
    if op != "message" or found is None:
        raise YuntongError("validation_failed", fields={"type": "invalid"})
    model, handler = found
    return await handler(room, p, model.model_validate(request.get("data") or {}))


def install(ctx: Context) -> None:
    """Run the sockets other nodes relay to this node's rooms, and write what other nodes'
    rooms send to the sockets this node relays."""
    forward.serve(ctx, relay.FORWARDED_SOCKET, partial(_serve_relayed, ctx))
    relay.install(ctx)


MAIN_LANE = "main"
SUB_ID = re.compile(r"s[0-9]{1,20}")  # Room.subscribe: "s" + the Janus handle id


def _lane(envelope: Envelope) -> str | None:
    """Which messages must keep their order. A subscription's messages (``answer``, ``ice``,
    ``restart``, ``layer``, ``unsubscribe`` for a sub id) stay in order among themselves, each
    ``meeting.subscribe`` runs on its own (``None``), and everything else (join, publish, the
    publisher's ICE, host controls) is one lane in arrival order, as before. So a joining
    client's subscriptions proceed side by side instead of one Janus round trip after another.
    """
    if envelope.type == "meeting.subscribe":
        return None
    ref = envelope.data.get("sub_id") or envelope.data.get("target")
    if envelope.type in SUBSCRIPTION_MESSAGES and isinstance(ref, str) and SUB_ID.fullmatch(ref):
        return f"sub:{ref}"
    return MAIN_LANE


SUBSCRIPTION_MESSAGES = frozenset(
    {"meeting.answer", "meeting.ice", "meeting.restart", "meeting.layer", "meeting.unsubscribe"}
)


# a silent socket is closed with 4008: 4400-4499 are final on this socket (docs/meetings.md)
SILENT_CLOSE_CODE = 4008
GATEWAY: Gateway[Conn] = Gateway(
    "meeting",
    TicketAuthenticator(_admit_ticket),
    lane_of=_lane,
    silent_close_code=SILENT_CLOSE_CODE,
)
GATEWAY.install(
    {type_: (model, _bound(type_, handler)) for type_, (model, handler) in HANDLERS.items()}
)


@router.websocket("/ws/meeting")
async def meeting_socket(websocket: WebSocket) -> None:
    await GATEWAY.serve(websocket)
