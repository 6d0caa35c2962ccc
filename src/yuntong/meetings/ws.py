"""The meeting socket ``/ws/meeting?ticket=…``: one per participant, same envelopes as ``/ws``.

Handlers are thin: validate the message, call the :class:`~yuntong.meetings.room.Room`.
A failing handler answers ``error`` and never ends the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from yuntong.core.context import get_context
from yuntong.core.dbhealth import unavailable_error
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import pick_locale
from yuntong.core.logging import get_logger
from yuntong.meetings import service
from yuntong.meetings.live.participant import Participant
from yuntong.meetings.live.room import Room
from yuntong.meetings.live.rooms import open_room
from yuntong.meetings.models import Role
from yuntong.realtime.protocol import (
    Envelope,
    EnvelopeError,
    encode,
    event,
    invalid_data,
    parse_envelope,
    reply,
)

log = get_logger(__name__)
router = APIRouter()
MAX_SDP = 60_000


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Join(_Msg):
    resume: bool = False


class Publish(_Msg):
    kind: Literal["camera", "screen"] = "camera"
    sdp: str = Field(min_length=1, max_length=MAX_SDP)
    simulcast: bool = False


class Kind(_Msg):
    kind: Literal["camera", "screen"] = "camera"


class FeedRef(_Msg):
    feed_id: int = Field(ge=1)


class SubRef(_Msg):
    sub_id: str = Field(min_length=1, max_length=32)


class Answer(SubRef):
    sdp: str = Field(min_length=1, max_length=MAX_SDP)


class Layer(SubRef):
    substream: int = Field(ge=0, le=2)


class Candidate(_Msg):
    candidate: str = Field(max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)
    usernameFragment: str | None = Field(default=None, max_length=256)


class Ice(_Msg):
    target: str = Field(min_length=1, max_length=32)
    candidate: Candidate | None


class Restart(_Msg):
    target: str = Field(min_length=1, max_length=32)
    sdp: str | None = Field(default=None, max_length=MAX_SDP)


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
    if p.role != Role.HOST or p.state != "joined":
        raise YuntongError("meeting_forbidden")
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


class MeetingSocket:
    """One participant's socket: numbered events, one writer at a time."""

    def __init__(self, websocket: WebSocket, locale: str) -> None:
        self.websocket = websocket
        self.locale = locale
        self.seq = 0
        self.closed = False
        self._lock = asyncio.Lock()

    async def send_raw(self, message: dict[str, Any]) -> None:
        async with self._lock:
            if self.closed:
                return
            await self.websocket.send_text(encode(message))

    async def send_event(self, type_: str, data: dict[str, Any]) -> None:
        async with self._lock:
            if self.closed:
                return
            self.seq += 1
            await self.websocket.send_text(encode(event(type_, data, self.seq)))

    async def close(self, code: int, reason: str) -> None:
        async with self._lock:
            if self.closed:
                return
            self.closed = True
        with contextlib.suppress(Exception):
            await self.websocket.close(code=code, reason=reason)


@router.websocket("/ws/meeting")
async def meeting_socket(websocket: WebSocket) -> None:
    ctx = get_context(websocket)
    locale = pick_locale(websocket.query_params.get("locale") or websocket.cookies.get("yt_locale"))
    await websocket.accept()
    socket = MeetingSocket(websocket, locale)
    try:
        ticket = service.decode_ticket(ctx, websocket.query_params.get("ticket", ""))
        room = await open_room(ctx, ticket.meeting_id)
        participant = await room.attach_socket(ticket, socket)
    except Exception as exc:
        # refused, or the database is down (try again later); anything else is a bug
        err = exc if isinstance(exc, YuntongError) else unavailable_error(exc)
        if err is None:
            raise
        await socket.send_raw(reply("error", None, err.to_dict(locale)))
        await socket.close(
            4400 + min(err.status - 400, 99) if err.status >= 400 else 4400, err.code
        )
        return
    await socket.send_raw(
        {
            "v": 1,
            "type": "hello",
            "data": {
                "participant_id": participant.id,
                "heartbeat_s": ctx.settings.heartbeat_interval_s,
                "meeting": {"id": room.meeting_id, "number": room.number, "title": room.title},
                "name": participant.name,
                "role": participant.role.value,
            },
        }
    )
    limit = 2.5 * ctx.settings.heartbeat_interval_s
    lanes = Lanes()
    try:
        while not socket.closed:
            try:
                message = await asyncio.wait_for(websocket.receive(), limit)
            except TimeoutError:
                break
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            try:
                envelope = parse_envelope(raw, ctx.settings.ws_max_message_bytes)
            except EnvelopeError as exc:
                await socket.send_raw(reply("error", exc.re, exc.to_dict(socket.locale)))
                continue
            await lanes.run(_lane(envelope), _dispatch(room, participant, socket, envelope))
    except WebSocketDisconnect:
        pass
    finally:
        socket.closed = True
        await lanes.drain(DRAIN_S)
        room.socket_lost(participant, socket)


MAIN_LANE = "main"
SUB_ID = re.compile(r"s[0-9]{1,20}")  # Room.subscribe: "s" + the Janus handle id
MAX_IN_FLIGHT = 16
DRAIN_S = 10.0


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


class Lanes:
    """Runs one socket's messages: in arrival order within a lane, lanes side by side, at most
    ``limit`` at once (the reader waits beyond that, so a client cannot pile up work)."""

    def __init__(self, limit: int = MAX_IN_FLIGHT) -> None:
        self._room = asyncio.Semaphore(limit)
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, lane: str | None, work: Coroutine[Any, Any, None]) -> None:
        """Start ``work`` after the lane's earlier messages (``None``: a lane of its own)."""
        await self._room.acquire()
        before = self._tails.get(lane) if lane is not None else None
        task = asyncio.create_task(self._after(before, work))
        if lane is not None:
            self._tails[lane] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(lane, t))

    async def _after(
        self, before: asyncio.Task[None] | None, work: Coroutine[Any, Any, None]
    ) -> None:
        if before is not None:
            await asyncio.wait([before])
        await work

    def _done(self, lane: str | None, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.release()
        if lane is not None and self._tails.get(lane) is task:
            del self._tails[lane]

    async def drain(self, timeout: float) -> None:
        """Let what was received finish (a leave, an answer) before the socket is let go."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)


async def _dispatch(room: Room, p: Participant, socket: MeetingSocket, envelope: Envelope) -> None:
    msg_id = envelope.id
    try:
        if envelope.type == "ping":
            await socket.send_raw(reply("pong", msg_id, {}))
            return
        entry = HANDLERS.get(envelope.type)
        if entry is None:
            raise YuntongError("unknown_message_type", type=envelope.type[:64])
        model, handler = entry
        try:
            data = model.model_validate(envelope.data)
        except ValidationError as exc:
            raise invalid_data(exc) from exc
        result = await handler(room, p, data)
        if msg_id is not None:
            await socket.send_raw(reply("ack", msg_id, result or {}))
    except YuntongError as exc:
        await socket.send_raw(reply("error", msg_id, exc.to_dict(socket.locale)))
    except Exception as exc:
        err = unavailable_error(exc)  # a database outage is said so, and the socket stays
        if err is None:
            log.exception("meeting_handler_failed")
            err = YuntongError("internal_error")
        await socket.send_raw(reply("error", msg_id, err.to_dict(socket.locale)))
