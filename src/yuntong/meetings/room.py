"""A meeting while people are in it: one Janus VideoRoom, one Janus session per participant.

:class:`Room` is the only owner of a meeting's live state (participants, lobby, feeds, host
controls). Every control is applied in Janus — ``moderate`` mutes a stream at the SFU,
``kick`` removes a publisher, ``destroy`` ends the room — and written to the attendance
record. If the Janus connection is lost (Janus died), the room waits for its node (the
supervisor restarts a local Janus) or another healthy one, creates the VideoRoom again,
gives every participant a new Janus session and tells the clients ``meeting.media_reset``:
who is in, with which role, muted or not, is kept here and survives.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from prometheus_client import Counter, Gauge
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from yuntong.billing.ledger.usage import UsageInput, do_record_usage
from yuntong.calls import service as calls
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.ids import new_id
from yuntong.core.logging import get_logger
from yuntong.media.janus import (
    VIDEOROOM,
    JanusClient,
    JanusError,
    JanusEvent,
    JanusHandle,
    JanusSession,
)
from yuntong.media.pool import POOL, JanusPool, NodeState
from yuntong.meetings import service
from yuntong.meetings.models import (
    Meeting,
    MeetingAttendance,
    MeetingChatMessage,
    MeetingStatus,
    Role,
)

log = get_logger(__name__)
PARTICIPANTS = Gauge("yuntong_meeting_participants", "Participants in meetings on this node")
ROOMS_LIVE = Gauge("yuntong_meetings_live", "Meetings live on this node")
RECOVERIES = Counter("yuntong_meeting_media_recoveries_total", "Rooms recreated after Janus loss")
KEEPALIVE_S = 20.0
RECOVERY_LIMIT_S = 60.0
MEDIA_WAIT_S = 15.0
MAX_CHAT_CHARS = 2000
HOSTS = frozenset({Role.HOST, Role.COHOST})
TOP_LAYER = 2  # simulcast substreams 0 (smallest) … 2
LAYER_HOLD_S = 3.0  # after lowering a subscriber's layer, slow links this soon do not count
LAYER_CONFIRM_S = 2.0  # a layer switch Janus has not confirmed by then is asked again
Kind = Literal["camera", "screen"]


class Socket(Protocol):
    """How the room reaches a participant's meeting socket."""

    async def send_event(self, type_: str, data: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(eq=False)
class Feed:
    """One stream a participant publishes (camera, or screen) through its own Janus handle."""

    feed_id: int
    kind: Kind
    handle: JanusHandle
    mids: dict[str, str] = field(default_factory=dict)  # "audio"/"video" → mid
    up: bool = False


@dataclass(eq=False)
class Subscription:
    sub_id: str
    feed_id: int
    handle: JanusHandle
    video_mid: str | None = None
    sending: int | None = None  # the simulcast layer Janus says it sends
    wanted: int = TOP_LAYER  # the simulcast layer the client asked for (its tile's size)
    cap: int = TOP_LAYER  # lowered on the subscriber's slow links, raised again when quiet
    capped_at: float = 0.0

    @property
    def layer(self) -> int:
        return min(self.wanted, self.cap)


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(eq=False)
class Participant:
    id: str
    name: str
    role: Role
    user_id: int | None
    guest_key: str | None
    state: Literal["waiting", "admitted", "joined", "left"] = "waiting"
    socket: Socket | None = None
    session: JanusSession | None = None
    session_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    feeds: dict[str, Feed] = field(default_factory=dict)  # kind → feed
    subs: dict[str, Subscription] = field(default_factory=dict)
    audio_muted: bool = False
    video_muted: bool = False
    host_muted_audio: bool = False  # enforced in Janus
    host_muted_video: bool = False
    must_ask_to_unmute: bool = False
    hand: bool = False
    quality: str = "good"
    joined_at: datetime | None = None
    sent_video: bool = False
    grace: asyncio.TimerHandle | None = None
    chat: TokenBucket | None = None
    loss_pct: float = 0.0
    jitter_sum: float = 0.0
    quality_samples: int = 0

    @property
    def is_host(self) -> bool:
        return self.role in HOSTS

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "guest": self.role == Role.GUEST,
            "user_id": self.user_id,
            "audio_muted": self.audio_muted or self.host_muted_audio,
            "video_muted": self.video_muted or self.host_muted_video,
            "hand": self.hand,
            "quality": self.quality,
            "joined_at": self.joined_at.isoformat() if self.joined_at else None,
        }


class Rooms:
    """The live rooms of this process and the Janus handles that lead back to them."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.opening: dict[str, asyncio.Lock] = {}
        self.by_handle: dict[int, tuple[Room, Participant]] = {}

    async def close_all(self) -> None:
        for room in list(self.rooms.values()):
            await room.shutdown()


ROOMS = Piece(
    "meetings.rooms",
    "node-owned live state",
    lambda ctx: Rooms(),
    "the live meetings this node runs on Janus and the Janus handles that lead back to them",
)


def rooms_of(ctx: Context) -> Rooms:
    return ctx.services.get(ROOMS)


def live_room(ctx: Context, meeting_id: str) -> Room | None:
    return rooms_of(ctx).rooms.get(meeting_id)


async def open_room(ctx: Context, meeting_id: str) -> Room:
    """The live room of a meeting, created on the least-loaded healthy Janus node if needed."""
    rooms = rooms_of(ctx)
    lock = rooms.opening.setdefault(meeting_id, asyncio.Lock())
    async with lock:
        room = rooms.rooms.get(meeting_id)
        if room is not None and not room.closed:
            return room
        meeting = await service.get_meeting(ctx, meeting_id)
        service.check_joinable(meeting, ctx.clock.now())
        room = Room(ctx, meeting)
        await room.open()
        rooms.rooms[meeting_id] = room
        ROOMS_LIVE.set(len(rooms.rooms))
        return room


class Room:
    def __init__(self, ctx: Context, meeting: Meeting) -> None:
        self.ctx = ctx
        self.meeting_id = meeting.id
        self.title = meeting.title
        self.number = meeting.number
        self.host_user_id = meeting.host_id
        self.settings = service.settings_of(meeting)
        self.janus_room = secrets.randbelow(2**52) + 1
        self.secret = secrets.token_urlsafe(24)
        self.participants: dict[str, Participant] = {}
        self.banned_users: set[int] = set()
        self.banned_guests: set[str] = set()
        self.locked = False
        self.recording_id: str | None = None
        self.closed = False
        self.media_ready = asyncio.Event()
        self.lock = asyncio.Lock()
        self.node: NodeState | None = None
        self._client: JanusClient | None = None
        self._control: JanusHandle | None = None
        self._watch: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._empty_timer: asyncio.TimerHandle | None = None
        self._next_feed = secrets.randbelow(2**40) * 1000

    # --- Janus room ---------------------------------------------------------------------

    def _pool(self) -> JanusPool:
        pool = self.ctx.services.get(POOL).value
        if pool is None:
            raise YuntongError("janus_unavailable")
        return pool

    async def open(self) -> None:
        node = await self._pool().place(self._connect)  # waits briefly for a Janus starting
        now = self.ctx.clock.now()
        async with self.ctx.db.session() as s:
            await s.execute(
                update(Meeting)
                .where(Meeting.id == self.meeting_id)
                .values(
                    status=MeetingStatus.LIVE,
                    janus_node=node.name,
                    janus_room=self.janus_room,
                    started_at=now,
                )
            )
        self._watch = asyncio.create_task(self._watch_janus(), name=f"room-{self.number}")
        self.spawn(self._checkpoint_loop())
        self._arm_empty_timer()
        log.info("meeting_room_opened", meeting=self.meeting_id, node=node.name)

    async def _connect(self, node: NodeState) -> None:
        """Connect to ``node`` and create the VideoRoom there."""
        client = await self._pool().connect(node, timeout_s=5.0)  # refused: node marked down
        try:
            session = await client.create_session(keepalive_s=KEEPALIVE_S)
            control = await session.attach(VIDEOROOM)
            admin_key = node.config.videoroom_admin_key
            body: dict[str, Any] = {
                "request": "create",
                "room": self.janus_room,
                "secret": self.secret,
                "description": self.number,
                "publishers": self.settings.max_participants * 2,
                "is_private": True,
                "audiolevel_event": True,
                "audio_active_packets": 50,
                "audio_level_average": 60,
                "videocodec": "vp8,h264",
                "rec_dir": str(self.recordings_dir()),
            }
            if admin_key is not None:
                body["admin_key"] = admin_key.get_secret_value()
            await control.request(body)
        except BaseException:
            await client.close()
            raise
        self.node, self._client, self._control = node, client, control
        self.media_ready.set()

    def recordings_dir(self) -> Path:
        return (self.ctx.settings.var_dir / "recordings" / self.meeting_id).resolve()

    async def _watch_janus(self) -> None:
        """When the Janus connection ends while the room is open, bring the media back."""
        while not self.closed:
            client = self._client
            if client is None:
                return
            await client.closed_event.wait()
            if self.closed:
                return
            self.media_ready.clear()
            log.warning("meeting_media_lost", meeting=self.meeting_id)
            try:
                await self._recover()
            except Exception:
                log.exception("meeting_media_recovery_failed", meeting=self.meeting_id)
                await self.end("media_lost")
                return

    async def _recover(self) -> None:
        deadline = time.monotonic() + RECOVERY_LIMIT_S
        self._forget_handles()
        for p in self.participants.values():
            p.session, p.feeds, p.subs = None, {}, {}
        lost = self.node
        while True:
            node = self._recovery_node()
            try:
                await self._connect(node)
                break
            except YuntongError as exc:
                if time.monotonic() > deadline:
                    raise
                log.info("meeting_media_waiting", meeting=self.meeting_id, error=str(exc))
                await asyncio.sleep(0.25)
        RECOVERIES.inc()
        if self.recording_id is not None:  # a new segment in the same directory
            directory = self.recordings_dir() / self.recording_id
            with contextlib.suppress(YuntongError):
                await self._control_request({"request": "edit", "new_rec_dir": str(directory)})
                await self._control_request({"request": "enable_recording", "record": True})
        for p in self.joined():
            with contextlib.suppress(YuntongError):
                await self._session_for(p)
            await self._send(p, "meeting.media_reset", {})
        log.info("meeting_media_recovered", meeting=self.meeting_id, node=node.name)
        if node is not lost:
            log.warning("meeting_moved", meeting=self.meeting_id, node=node.name)
            try:  # the row says where the meeting lives; media is back either way
                async with self.ctx.db.session() as s:
                    await s.execute(
                        update(Meeting)
                        .where(Meeting.id == self.meeting_id)
                        .values(janus_node=node.name)
                    )
            except Exception:
                log.exception("meeting_node_not_recorded", meeting=self.meeting_id)

    def _recovery_node(self) -> NodeState:
        """The same node while it may come back, else any healthy one."""
        assert self.node is not None
        try:
            other = self._pool().pick()
        except YuntongError:
            return self.node
        return self.node if not other.healthy or self.node.healthy else other

    def _forget_handles(self) -> None:
        by_handle = rooms_of(self.ctx).by_handle
        for key in [k for k, (room, _) in by_handle.items() if room is self]:
            del by_handle[key]

    async def _control_request(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._control is None:
            raise YuntongError("janus_unavailable")
        body = {**body, "room": self.janus_room, "secret": self.secret}
        return await self._control.request(body)

    async def _session_for(self, p: Participant) -> JanusSession:
        async with p.session_lock:  # subscriptions are set up side by side: one session
            if p.session is not None and not p.session.ended.is_set():
                return p.session
            await asyncio.wait_for(self.media_ready.wait(), MEDIA_WAIT_S)
            if self._client is None:
                raise YuntongError("janus_unavailable")
            p.session = await self._client.create_session(keepalive_s=KEEPALIVE_S)
            return p.session

    async def _attach(self, p: Participant) -> JanusHandle:
        session = await self._session_for(p)
        handle_box: list[JanusHandle] = []

        def on_event(event: JanusEvent) -> None:
            if handle_box:
                self.spawn(self._on_janus_event(p, handle_box[0], event))

        handle = await session.attach(VIDEOROOM, on_event=on_event)
        handle_box.append(handle)
        rooms_of(self.ctx).by_handle[handle.id] = (self, p)
        return handle

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- membership ---------------------------------------------------------------------

    def joined(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.state == "joined"]

    def waiting(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.state == "waiting"]

    def get(self, participant_id: str) -> Participant:
        p = self.participants.get(participant_id)
        if p is None or p.state == "left":
            raise YuntongError("meeting_participant_not_found")
        return p

    async def attach_socket(self, ticket: service.Ticket, socket: Socket) -> Participant:
        """A participant's socket arrives (first time, or back within the grace period)."""
        if self.closed:
            raise YuntongError("meeting_ended")
        p = self.participants.get(ticket.participant_id)
        if p is not None:
            if p.state == "left":
                raise YuntongError("meeting_ticket_invalid")
            if p.grace is not None:
                p.grace.cancel()
                p.grace = None
            old, p.socket = p.socket, socket
            if old is not None and old is not socket:
                with contextlib.suppress(Exception):
                    await old.close(4409, "replaced")
            return p
        if ticket.user_id in self.banned_users or (
            ticket.guest_key is not None and ticket.guest_key in self.banned_guests
        ):
            raise YuntongError("meeting_removed")
        p = Participant(
            id=ticket.participant_id,
            name=ticket.name,
            role=ticket.role,
            user_id=ticket.user_id,
            guest_key=ticket.guest_key,
            socket=socket,
        )
        p.chat = TokenBucket(
            self.ctx.settings.meeting_chat_per_s,
            self.ctx.settings.meeting_chat_burst,
            self.ctx.settings.meeting_chat_burst,
            time.monotonic(),
        )
        return p

    async def join(self, p: Participant, *, resume: bool = False) -> dict[str, Any]:
        """Enter the meeting, or the lobby when there is one and ``p`` is not a host."""
        async with self.lock:
            if self.closed:
                raise YuntongError("meeting_ended")
            known = p.id in self.participants
            if p.state == "joined":
                if not resume:
                    await self._drop_media(p)
                return {"state": "joined", "room": self.snapshot(p)}
            if not known:
                if self.locked and p.role != Role.HOST:
                    raise YuntongError("meeting_locked")
                self.participants[p.id] = p
            if p.state == "waiting" and self.settings.waiting_room and not p.is_host:
                if not known:
                    await self._write_attendance(p, waited=True)
                    await self._tell_hosts_lobby()
                return {"state": "waiting"}
            if len(self.joined()) >= self.settings.max_participants:
                if not known:
                    await self._write_attendance(p)  # who tried, with no time joined
                raise YuntongError("meeting_full")
            await self._session_for(p)
            if self.settings.mute_on_entry and not p.is_host and p.joined_at is None:
                p.host_muted_audio = True
                p.must_ask_to_unmute = self.settings.ask_to_unmute
            p.state = "joined"
            p.joined_at = p.joined_at or self.ctx.clock.now()
            await self._write_attendance(p, joined=True)
            self._cancel_empty_timer()
            PARTICIPANTS.inc()
        await self._broadcast("meeting.participant", {"participant": p.public()}, but=p)
        return {"state": "joined", "room": self.snapshot(p)}

    def snapshot(self, me: Participant) -> dict[str, Any]:
        feeds = [
            {"feed_id": f.feed_id, "participant_id": q.id, "kind": f.kind}
            for q in self.joined()
            if q is not me
            for f in q.feeds.values()
            if f.up
        ]
        return {
            "meeting": {
                "id": self.meeting_id,
                "number": self.number,
                "title": self.title,
                "settings": self.settings.model_dump(),
            },
            "me": me.public(),
            "participants": [q.public() for q in self.joined()],
            "waiting": [q.public() for q in self.waiting()] if me.is_host else [],
            "feeds": feeds,
            "ice_servers": calls.ice_servers_for(self.ctx, me.user_id or 0),
            "recording": self.recording_id is not None,
            "locked": self.locked,
        }

    async def leave(self, p: Participant, reason: str = "left") -> None:
        async with self.lock:
            if p.state == "left":
                return
            was_joined = p.state == "joined"
            p.state = "left"
            if p.grace is not None:
                p.grace.cancel()
                p.grace = None
            await self._drop_media(p, notify=was_joined)
            if p.session is not None:
                with contextlib.suppress(YuntongError, OSError):
                    await p.session.destroy()
                p.session = None
            if was_joined:
                PARTICIPANTS.dec()
            await self._close_attendance(p, reason)
        if was_joined:
            await self._broadcast("meeting.left", {"participant_id": p.id, "reason": reason})
        else:
            await self._tell_hosts_lobby()
        if not self.joined():
            self._arm_empty_timer()

    def socket_lost(self, p: Participant, socket: Socket) -> None:
        """The socket closed without a leave: keep the place for the grace period."""
        if p.socket is not socket or p.state == "left":
            return
        p.socket = None
        loop = asyncio.get_running_loop()
        p.grace = loop.call_later(
            self.ctx.settings.meeting_reconnect_grace_s,
            lambda: self.spawn(self.leave(p, "connection_lost")),
        )

    async def _drop_media(self, p: Participant, notify: bool = True) -> None:
        for feed in list(p.feeds.values()):
            await self._unpublish(p, feed, notify=notify)
        for sub in list(p.subs.values()):
            await self._close_sub(p, sub)

    # --- media --------------------------------------------------------------------------

    def _check_joined(self, p: Participant) -> None:
        if p.state != "joined":
            raise YuntongError("meeting_not_joined")

    async def publish(self, p: Participant, kind: Kind, sdp: str) -> dict[str, Any]:
        self._check_joined(p)
        if kind == "screen" and not self.settings.allow_screen_share and not p.is_host:
            raise YuntongError("meeting_feature_off", feature="screen_share")
        old = p.feeds.get(kind)
        if old is not None:
            await self._unpublish(p, old)
        handle = await self._attach(p)
        self._next_feed += 1
        feed = Feed(self._next_feed, kind, handle)
        p.feeds[kind] = feed
        try:
            await handle.message(
                {
                    "request": "join",
                    "ptype": "publisher",
                    "room": self.janus_room,
                    "id": feed.feed_id,
                    "display": f"{p.id}:{kind}",
                }
            )
            answer = await handle.message(
                {"request": "publish", "display": f"{p.id}:{kind}"},
                {"type": "offer", "sdp": sdp},
            )
        except JanusError as exc:
            p.feeds.pop(kind, None)
            await self._detach(handle)
            raise YuntongError("invalid_sdp") from exc
        if answer.jsep is None:
            raise YuntongError("invalid_sdp")
        for stream in answer.data.get("streams", []):
            if stream.get("type") in ("audio", "video") and not stream.get("disabled"):
                feed.mids.setdefault(str(stream["type"]), str(stream["mid"]))
        if "video" in feed.mids and kind == "camera":
            p.sent_video = True
        if kind == "camera":
            await self._apply_host_mutes(p)
        return {"sdp": answer.jsep["sdp"], "feed_id": feed.feed_id}

    async def restart_publisher(self, p: Participant, kind: Kind, sdp: str) -> dict[str, Any]:
        """ICE restart of a publisher: its new offer, Janus's new answer."""
        self._check_joined(p)
        feed = p.feeds.get(kind)
        if feed is None:
            raise YuntongError("meeting_feed_not_found")
        try:
            answer = await feed.handle.message(
                {"request": "configure"}, {"type": "offer", "sdp": sdp}
            )
        except JanusError as exc:
            raise YuntongError("invalid_sdp") from exc
        if answer.jsep is None:
            raise YuntongError("invalid_sdp")
        return {"sdp": answer.jsep["sdp"]}

    async def unpublish(self, p: Participant, kind: Kind) -> None:
        feed = p.feeds.get(kind)
        if feed is not None:
            await self._unpublish(p, feed)

    async def _unpublish(self, p: Participant, feed: Feed, notify: bool = True) -> None:
        if p.feeds.get(feed.kind) is feed:
            del p.feeds[feed.kind]
        await self._detach(feed.handle)
        if feed.up and notify:
            await self._broadcast("meeting.feed_gone", {"feed_id": feed.feed_id}, but=p)

    async def _detach(self, handle: JanusHandle) -> None:
        rooms_of(self.ctx).by_handle.pop(handle.id, None)
        with contextlib.suppress(YuntongError, OSError):
            await handle.detach()

    def _find_feed(self, feed_id: int) -> tuple[Participant, Feed]:
        for q in self.joined():
            for feed in q.feeds.values():
                if feed.feed_id == feed_id and feed.up:
                    return q, feed
        raise YuntongError("meeting_feed_not_found")

    async def subscribe(self, p: Participant, feed_id: int) -> dict[str, Any]:
        self._check_joined(p)
        owner, _ = self._find_feed(feed_id)
        if owner is p:
            raise YuntongError("meeting_feed_not_found")
        handle = await self._attach(p)
        try:
            offer = await handle.message(
                {
                    "request": "join",
                    "ptype": "subscriber",
                    "room": self.janus_room,
                    "streams": [{"feed": feed_id}],
                }
            )
        except JanusError as exc:
            await self._detach(handle)
            raise YuntongError("meeting_feed_not_found") from exc
        if offer.jsep is None:
            await self._detach(handle)
            raise YuntongError("meeting_feed_not_found")
        sub = Subscription(f"s{handle.id}", feed_id, handle)
        for stream in offer.data.get("streams", []):
            if stream.get("type") == "video":
                sub.video_mid = str(stream.get("mid"))
        p.subs[sub.sub_id] = sub
        return {"sub_id": sub.sub_id, "sdp": offer.jsep["sdp"], "feed_id": feed_id}

    def _sub(self, p: Participant, sub_id: str) -> Subscription:
        sub = p.subs.get(sub_id)
        if sub is None:
            raise YuntongError("meeting_feed_not_found")
        return sub

    async def answer(self, p: Participant, sub_id: str, sdp: str) -> None:
        self._check_joined(p)
        sub = self._sub(p, sub_id)
        try:
            await sub.handle.message({"request": "start"}, {"type": "answer", "sdp": sdp})
        except JanusError as exc:
            raise YuntongError("invalid_sdp") from exc

    async def restart_subscriber(self, p: Participant, sub_id: str) -> dict[str, Any]:
        self._check_joined(p)
        sub = self._sub(p, sub_id)
        offer = await sub.handle.message({"request": "configure", "restart": True})
        if offer.jsep is None:
            raise YuntongError("meeting_feed_not_found")
        return {"sdp": offer.jsep["sdp"], "sub_id": sub_id}

    async def unsubscribe(self, p: Participant, sub_id: str) -> None:
        sub = p.subs.get(sub_id)
        if sub is not None:
            await self._close_sub(p, sub)

    async def _close_sub(self, p: Participant, sub: Subscription) -> None:
        p.subs.pop(sub.sub_id, None)
        await self._detach(sub.handle)

    async def layer(self, p: Participant, sub_id: str, substream: int) -> None:
        """The layer the client wants (by its tile's size); bandwidth may hold it lower."""
        self._check_joined(p)
        sub = self._sub(p, sub_id)
        before, sub.wanted = sub.layer, substream
        if sub.layer != before:
            await self._send_layer(p, sub)

    async def _send_layer(self, p: Participant, sub: Subscription, tries: int = 3) -> None:
        """Ask Janus for ``sub.layer``. Janus switches on the layer's next keyframe, which it
        requests from the publisher; when that request is lost (or throttled), the switch never
        comes, so it is asked again after ``LAYER_CONFIRM_S`` without Janus's confirmation."""
        if sub.video_mid is None:
            return
        stream = {"mid": sub.video_mid, "substream": sub.layer}
        await sub.handle.message({"request": "configure", "streams": [stream]})
        target = sub.layer

        def check() -> None:
            if (
                tries > 1
                and sub.sending != target == sub.layer
                and p.subs.get(sub.sub_id) is sub
                and not self.closed
            ):
                self.spawn(self._resend_layer(p, sub, tries - 1))

        asyncio.get_running_loop().call_later(LAYER_CONFIRM_S, check)

    async def _resend_layer(self, p: Participant, sub: Subscription, tries: int) -> None:
        with contextlib.suppress(YuntongError, JanusError):  # the subscription went away
            await self._send_layer(p, sub, tries)

    async def _slow_subscription(self, p: Participant, sub: Subscription) -> None:
        """Janus loses packets on the way to this subscriber: one layer down (at most one
        step per ``LAYER_HOLD_S``), and back up one step after a quiet
        ``meeting_layer_recover_s``."""
        now = time.monotonic()
        if sub.video_mid is None or sub.layer == 0 or now - sub.capped_at < LAYER_HOLD_S:
            return
        sub.cap, sub.capped_at = sub.layer - 1, now
        log.info("meeting_layer_lowered", participant=p.id, sub=sub.sub_id, layer=sub.layer)
        await self._send_layer(p, sub)
        self._schedule_raise(p, sub)

    def _schedule_raise(self, p: Participant, sub: Subscription) -> None:
        stamp = sub.capped_at

        def due() -> None:
            if sub.capped_at == stamp and p.subs.get(sub.sub_id) is sub and not self.closed:
                self.spawn(self._raise_cap(p, sub))

        asyncio.get_running_loop().call_later(self.ctx.settings.meeting_layer_recover_s, due)

    async def _raise_cap(self, p: Participant, sub: Subscription) -> None:
        before = sub.layer
        sub.cap, sub.capped_at = min(TOP_LAYER, sub.cap + 1), time.monotonic()
        if sub.layer != before:
            await self._resend_layer(p, sub, 3)
        if sub.cap < TOP_LAYER:
            self._schedule_raise(p, sub)

    async def trickle(self, p: Participant, target: str, candidate: dict[str, Any] | None) -> None:
        self._check_joined(p)
        if target in ("camera", "screen"):
            feed = p.feeds.get(target)
            if feed is None:
                raise YuntongError("meeting_feed_not_found")
            handle = feed.handle
        else:
            handle = self._sub(p, target).handle
        await handle.trickle(candidate)

    # --- Janus events -------------------------------------------------------------------

    async def _on_janus_event(self, p: Participant, handle: JanusHandle, event: JanusEvent) -> None:
        feed = next((f for f in p.feeds.values() if f.handle is handle), None)
        if feed is not None:
            await self._on_publisher_event(p, feed, event)
            return
        sub = next((s for s in p.subs.values() if s.handle is handle), None)
        if sub is None:
            return
        if event.kind == "hangup":
            p.subs.pop(sub.sub_id, None)
        elif event.kind == "slowlink" and event.message.get("media") == "video":
            await self._slow_subscription(p, sub)
        elif event.kind == "event" and isinstance(event.data.get("substream"), int):
            sub.sending = event.data["substream"]  # Janus switched: tell the client
            message = {"sub_id": sub.sub_id, "substream": sub.sending, "target": sub.layer}
            await self._send(p, "meeting.layer", {**message, "cap": sub.cap})

    async def _on_publisher_event(self, p: Participant, feed: Feed, event: JanusEvent) -> None:
        if event.kind == "webrtcup" and not feed.up and p.feeds.get(feed.kind) is feed:
            feed.up = True
            message = {"feed_id": feed.feed_id, "participant_id": p.id, "kind": feed.kind}
            await self._broadcast("meeting.feed", message, but=p)
        elif event.kind == "hangup" and p.feeds.get(feed.kind) is feed:
            await self._unpublish(p, feed)
        elif event.kind == "slowlink":
            await self.set_quality(p, "poor")
        elif event.kind == "event" and event.data.get("id") == feed.feed_id:
            talking = event.data.get("videoroom")
            if talking in ("talking", "stopped-talking"):
                message = {"participant_id": p.id, "speaking": talking == "talking"}
                await self._broadcast("meeting.speaking", message)

    async def set_quality(self, p: Participant, level: str) -> None:
        if p.quality != level and p.state == "joined":
            p.quality = level
            await self._broadcast("meeting.quality", {"participant_id": p.id, "level": level})

    def add_quality_sample(self, p: Participant, loss_pct: float, jitter_ms: float) -> None:
        """``loss_pct`` is over the whole stay so far (Janus counts from the start): keep the
        latest; jitter is averaged over the samples."""
        p.loss_pct = loss_pct
        p.jitter_sum += jitter_ms
        p.quality_samples += 1

    async def apply_settings(self, settings: service.MeetingSettings) -> None:
        self.settings = settings
        await self._broadcast("meeting.settings", {"settings": settings.model_dump()})

    # --- self state, chat ---------------------------------------------------------------

    async def set_self(
        self, p: Participant, audio_muted: bool | None, video_muted: bool | None
    ) -> None:
        self._check_joined(p)
        if audio_muted is False and p.host_muted_audio:
            if p.must_ask_to_unmute:
                raise YuntongError("meeting_unmute_needs_host")
            p.host_muted_audio = False
            await self._moderate(p, "audio", False)
        if video_muted is False and p.host_muted_video:
            if p.must_ask_to_unmute:
                raise YuntongError("meeting_unmute_needs_host")
            p.host_muted_video = False
            await self._moderate(p, "video", False)
        if audio_muted is not None:
            p.audio_muted = audio_muted
        if video_muted is not None:
            p.video_muted = video_muted
        await self._broadcast("meeting.participant", {"participant": p.public()})

    async def set_hand(self, p: Participant, raised: bool) -> None:
        self._check_joined(p)
        p.hand = raised
        await self._broadcast("meeting.participant", {"participant": p.public()})

    async def chat(self, p: Participant, text: str, to: str | None) -> dict[str, Any]:
        self._check_joined(p)
        if not self.settings.allow_chat and not p.is_host:
            raise YuntongError("meeting_feature_off", feature="chat")
        text = text.strip()
        if not text or len(text) > MAX_CHAT_CHARS:
            raise YuntongError("validation_failed", fields={"text": "invalid"})
        assert p.chat is not None
        if not p.chat.take(time.monotonic()):
            raise YuntongError("chat_rate_limited")
        recipient = self.get(to) if to is not None else None
        row = MeetingChatMessage(
            meeting_id=self.meeting_id,
            sender_id=p.id,
            sender_name=p.name,
            recipient_id=recipient.id if recipient else None,
            text=text,
            at=self.ctx.clock.now(),
        )
        async with self.ctx.db.session() as s:
            s.add(row)
        message = {
            "id": row.id,
            "from": p.id,
            "from_name": p.name,
            "to": row.recipient_id,
            "text": text,
            "at": row.at.isoformat(),
        }
        if recipient is None:
            await self._broadcast("meeting.chat", {"message": message})
        else:
            for q in {p, recipient}:
                await self._send(q, "meeting.chat", {"message": message})
        return {"message": message}

    # --- host controls ------------------------------------------------------------------

    def require_host(self, actor: Participant | None) -> None:
        if actor is not None and (not actor.is_host or actor.state != "joined"):
            raise YuntongError("meeting_forbidden")

    async def admit(self, actor: Participant | None, participant_id: str | None) -> int:
        """Open the lobby's door; the admitted send ``meeting.join`` again and are in."""
        self.require_host(actor)
        targets = self.waiting() if participant_id is None else [self.get(participant_id)]
        admitted = 0
        for q in targets:
            if q.state != "waiting":
                continue
            q.state = "admitted"
            await self._send(q, "meeting.admitted", {})
            admitted += 1
        await self._tell_hosts_lobby()
        return admitted

    async def deny(self, actor: Participant | None, participant_id: str | None) -> int:
        self.require_host(actor)
        targets = self.waiting() if participant_id is None else [self.get(participant_id)]
        denied = 0
        for q in targets:
            if q.state != "waiting":
                continue
            await self._send(q, "meeting.denied", {})
            socket = q.socket
            await self.leave(q, "denied")
            if socket is not None:
                await socket.close(4403, "denied")
            denied += 1
        return denied

    async def _moderate(self, p: Participant, kind: str, mute: bool) -> None:
        feed = p.feeds.get("camera")
        if feed is None or kind not in feed.mids:
            return
        body = {"request": "moderate", "id": feed.feed_id, "mid": feed.mids[kind], "mute": mute}
        await self._control_request(body)

    async def _apply_host_mutes(self, p: Participant) -> None:
        """Mutes decided before this camera feed existed (mute on entry, host, Janus restart)."""
        if p.host_muted_audio:
            await self._moderate(p, "audio", True)
        if p.host_muted_video:
            await self._moderate(p, "video", True)

    async def mute(
        self,
        actor: Participant | None,
        participant_id: str,
        audio: bool | None,
        video: bool | None,
        ask_to_unmute: bool | None = None,
    ) -> None:
        """Mute (True) or allow to unmute (False) someone's audio/video, enforced in Janus."""
        self.require_host(actor)
        q = self.get(participant_id)
        if q.state != "joined":
            raise YuntongError("meeting_not_joined")
        ask = self.settings.ask_to_unmute if ask_to_unmute is None else ask_to_unmute
        changes: dict[str, Any] = {"by": actor.id if actor else None}
        if audio is not None:
            q.host_muted_audio = audio
            await self._moderate(q, "audio", audio)
            changes["audio"] = audio
        if video is not None:
            q.host_muted_video = video
            await self._moderate(q, "video", video)
            changes["video"] = video
        q.must_ask_to_unmute = bool(ask and (q.host_muted_audio or q.host_muted_video))
        await self._send(q, "meeting.muted", changes)
        await self._broadcast("meeting.participant", {"participant": q.public()})

    async def mute_all(self, actor: Participant | None, ask_to_unmute: bool | None) -> int:
        self.require_host(actor)
        count = 0
        for q in self.joined():
            if q is actor or q.is_host:
                continue
            await self.mute(actor, q.id, True, None, ask_to_unmute)
            count += 1
        return count

    async def remove(self, actor: Participant | None, participant_id: str) -> None:
        self.require_host(actor)
        q = self.get(participant_id)
        if q.role == Role.HOST:
            raise YuntongError("meeting_forbidden")
        if q.user_id is not None:
            self.banned_users.add(q.user_id)
        if q.guest_key is not None:
            self.banned_guests.add(q.guest_key)
        for feed in list(q.feeds.values()):
            with contextlib.suppress(YuntongError):
                await self._control_request({"request": "kick", "id": feed.feed_id})
        await self._send(q, "meeting.removed", {})
        socket = q.socket
        await self.leave(q, "removed")
        if socket is not None:
            await socket.close(4403, "removed")

    async def set_locked(self, actor: Participant | None, locked: bool) -> None:
        self.require_host(actor)
        self.locked = locked
        await self._broadcast_state()

    async def set_role(self, actor: Participant | None, participant_id: str, role: Role) -> None:
        if actor is not None and actor.role != Role.HOST:
            raise YuntongError("meeting_forbidden")
        q = self.get(participant_id)
        if q.role == Role.HOST or role not in (Role.COHOST, Role.PARTICIPANT):
            raise YuntongError("meeting_forbidden")
        if q.role == Role.GUEST and role == Role.PARTICIPANT:
            return
        q.role = role
        await self._broadcast("meeting.participant", {"participant": q.public()})
        if q.is_host and self.waiting():
            await self._send(q, "meeting.lobby", {"waiting": [w.public() for w in self.waiting()]})

    async def end(self, reason: str) -> None:
        """End the meeting for everyone: Janus room destroyed, sockets closed, records written."""
        async with self.lock:
            if self.closed:
                return
            self.closed = True
        await _mark_ended(self.ctx, self.meeting_id, reason)  # first: no new tickets from now
        self._cancel_empty_timer()
        for p in list(self.participants.values()):
            if p.state != "left":
                await self._send(p, "meeting.ended", {"reason": reason})
                socket = p.socket
                await self.leave(p, "ended")
                if socket is not None:
                    with contextlib.suppress(Exception):
                        await socket.close(4410, "ended")
        await self._finish_recording()
        with contextlib.suppress(YuntongError, OSError):
            await self._control_request({"request": "destroy"})
        await self._close_janus()
        rooms = rooms_of(self.ctx)
        if rooms.rooms.get(self.meeting_id) is self:
            del rooms.rooms[self.meeting_id]
        ROOMS_LIVE.set(len(rooms.rooms))
        log.info("meeting_ended", meeting=self.meeting_id, reason=reason)

    async def shutdown(self) -> None:
        """The process stops: participants are told to come back (the meeting is not ended)."""
        self.closed = True
        self._cancel_empty_timer()
        for p in list(self.participants.values()):
            if p.state == "joined":
                await self._close_attendance(p, "server_stopped")
                if p.socket is not None:
                    with contextlib.suppress(Exception):
                        await p.socket.close(1012, "restarting")
        await self._close_janus()

    async def _close_janus(self) -> None:
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        client, self._client, self._control = self._client, None, None
        self._forget_handles()
        if client is not None:
            with contextlib.suppress(YuntongError, OSError):
                await client.close()
        for task in list(self._tasks):
            task.cancel()

    # --- recording ----------------------------------------------------------------------

    async def set_recording(self, actor: Participant | None, on: bool) -> None:
        """Start or stop recording every publisher (Janus writes .mjr files per stream)."""
        self.require_host(actor)
        if not self.settings.allow_recording:
            raise YuntongError("meeting_feature_off", feature="recording")
        from yuntong.meetings import recordings

        if on and self.recording_id is None:
            recording_id = new_id()
            directory = self.recordings_dir() / recording_id
            directory.mkdir(parents=True, exist_ok=True)
            await self._control_request({"request": "edit", "new_rec_dir": str(directory)})
            await self._control_request({"request": "enable_recording", "record": True})
            await recordings.do_start(self.ctx, self.meeting_id, recording_id, directory)
            self.recording_id = recording_id
        elif not on and self.recording_id is not None:
            await self._finish_recording()
        await self._broadcast_state()

    async def _finish_recording(self) -> None:
        from yuntong.meetings import recordings

        recording_id, self.recording_id = self.recording_id, None
        if recording_id is not None:
            with contextlib.suppress(YuntongError):
                await self._control_request({"request": "enable_recording", "record": False})
            recordings.process_later(self.ctx, recording_id)

    # --- sending ------------------------------------------------------------------------

    async def _send(self, p: Participant, type_: str, data: dict[str, Any]) -> None:
        socket = p.socket
        if socket is None:
            return
        try:
            await socket.send_event(type_, data)
        except Exception as exc:  # a dead socket is noticed by its reader
            log.debug("meeting_send_failed", participant=p.id, error=str(exc))

    async def _broadcast(
        self, type_: str, data: dict[str, Any], but: Participant | None = None
    ) -> None:
        await asyncio.gather(*(self._send(p, type_, data) for p in self.joined() if p is not but))

    async def _broadcast_state(self) -> None:
        state = {"locked": self.locked, "recording": self.recording_id is not None}
        await self._broadcast("meeting.state", state)

    async def _tell_hosts_lobby(self) -> None:
        waiting = [w.public() for w in self.waiting()]
        for q in self.joined():
            if q.is_host:
                await self._send(q, "meeting.lobby", {"waiting": waiting})

    # --- timers -------------------------------------------------------------------------

    def _arm_empty_timer(self) -> None:
        self._cancel_empty_timer()
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        self._empty_timer = loop.call_later(
            self.settings.auto_end_after_empty_s, lambda: self.spawn(self._end_if_empty())
        )

    def _cancel_empty_timer(self) -> None:
        if self._empty_timer is not None:
            self._empty_timer.cancel()
            self._empty_timer = None

    async def _end_if_empty(self) -> None:
        if not self.joined() and not self.closed:
            await self.end("empty")

    # --- records ------------------------------------------------------------------------

    async def _write_attendance(
        self, p: Participant, *, waited: bool = False, joined: bool = False
    ) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.db.session() as s:
            row = await s.get(MeetingAttendance, p.id)
            if row is None:
                row = MeetingAttendance(
                    id=p.id,
                    meeting_id=self.meeting_id,
                    user_id=p.user_id,
                    guest_key=p.guest_key,
                    name=p.name,
                    role=p.role.value,
                )
                s.add(row)
            row.role = p.role.value
            if waited and row.waited_at is None:
                row.waited_at = now
            if joined and row.joined_at is None:
                row.joined_at = p.joined_at or now

    async def _close_attendance(self, p: Participant, reason: str) -> None:
        """The stay ends: billed first (once, whatever happens next), then written."""
        now = self.ctx.clock.now()
        seconds = max(0, int((now - p.joined_at).total_seconds())) if p.joined_at else 0
        media = _media_of(p)
        async with self.ctx.db.session() as s:
            row = await s.get(MeetingAttendance, p.id)
            if row is None or row.left_at is not None:
                return
        if p.joined_at is not None:
            await _bill_stay(self.ctx, self.host_user_id, row, seconds, media)
        async with self.ctx.db.session() as s:
            row = await s.get(MeetingAttendance, p.id)
            if row is None or row.left_at is not None:
                return
            row.left_at = now
            row.leave_reason = reason
            row.seconds = seconds
            row.media = media
            row.role = p.role.value
            row.removed = reason == "removed"
            if p.quality_samples:
                row.loss_pct = p.loss_pct
                row.jitter_ms = p.jitter_sum / p.quality_samples
                row.quality_samples = p.quality_samples

    async def _checkpoint_loop(self) -> None:
        """Every ``meeting_checkpoint_s``, write each stay's seconds so far: if this process
        dies, the next start bills the stays up to the last checkpoint
        (:func:`close_interrupted`)."""
        while not self.closed:
            await asyncio.sleep(self.ctx.settings.meeting_checkpoint_s)
            try:
                await self.checkpoint()
            except SQLAlchemyError:
                log.exception("meeting_checkpoint_failed", meeting=self.meeting_id)

    async def checkpoint(self) -> None:
        now = self.ctx.clock.now()
        stays = [p for p in self.joined() if p.joined_at is not None]
        if not stays:
            return
        async with self.ctx.db.session() as s:
            for p in stays:
                assert p.joined_at is not None
                await s.execute(
                    update(MeetingAttendance)
                    .where(MeetingAttendance.id == p.id, MeetingAttendance.left_at.is_(None))
                    .values(
                        seconds=max(0, int((now - p.joined_at).total_seconds())),
                        media=_media_of(p),
                    )
                )


def _media_of(p: Participant) -> str:
    return "video" if p.sent_video else "audio"


async def _bill_stay(
    ctx: Context, host_user_id: int, row: MeetingAttendance, seconds: int, media: str
) -> None:
    """One usage record per stay, on the host's account (a second delivery adds nothing)."""
    if row.joined_at is None or seconds <= 0:
        return
    usage = UsageInput(
        source="meeting",
        source_id=row.id,
        user_id=host_user_id,
        usage_type=f"meeting.{media}",
        quantity_s=seconds,
        started_at=row.joined_at,
        other_party=row.name,
    )
    try:
        await do_record_usage(ctx, usage)
    except YuntongError as exc:  # e.g. a host without a billing account
        log.warning("meeting_usage_not_recorded", participant=row.id, error=exc.code)


async def _mark_ended(ctx: Context, meeting_id: str, reason: str) -> None:
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        meeting = await s.get(Meeting, meeting_id, with_for_update=True)
        if meeting is None:
            return
        following = service.next_start(meeting, now)
        if following is not None:  # a recurring meeting waits for its next occurrence
            meeting.status = MeetingStatus.SCHEDULED
            meeting.start_at = following
        else:
            meeting.status = MeetingStatus.ENDED
            meeting.ended_at = now
        meeting.end_reason = reason
        meeting.janus_room = None


async def close_interrupted(ctx: Context) -> int:
    """Meetings left live by a previous process: every open stay is billed up to its last
    checkpoint and closed there, and the meetings wait for their participants again."""
    async with ctx.db.session() as s:
        found = await s.execute(
            select(MeetingAttendance, Meeting.host_id)
            .join(Meeting, Meeting.id == MeetingAttendance.meeting_id)
            .where(MeetingAttendance.joined_at.is_not(None), MeetingAttendance.left_at.is_(None))
        )
        stays = [(row, host_id) for row, host_id in found.all()]
    for row, host_id in stays:  # billed first: a crash in between bills nothing twice
        await _bill_stay(ctx, host_id, row, row.seconds, row.media)
    async with ctx.db.session() as s:
        for row, _ in stays:
            assert row.joined_at is not None
            await s.execute(
                update(MeetingAttendance)
                .where(MeetingAttendance.id == row.id, MeetingAttendance.left_at.is_(None))
                .values(
                    left_at=row.joined_at + timedelta(seconds=row.seconds),
                    leave_reason="server_stopped",
                )
            )
        live = await s.execute(
            update(Meeting)
            .where(Meeting.status == MeetingStatus.LIVE)
            .values(status=MeetingStatus.SCHEDULED, janus_room=None)
        )
    return len(stays) + int(getattr(live, "rowcount", 0) or 0)
