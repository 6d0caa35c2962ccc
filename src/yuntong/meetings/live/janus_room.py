"""A live meeting's VideoRoom on Janus: the node it runs on, the control handle, one Janus
session per participant, the handles that lead Janus's events back to their participant, and
recovery to the same node (the supervisor restarts a local Janus) or another healthy one.

A room's secret (what Janus asks to edit or destroy it) is derived from the meeting, the room
and the secret key every node shares (:func:`room_secret`), so the node taking a meeting over
destroys the room the previous owner left on Janus (:meth:`JanusRoom.destroy_left`) before it
opens its own: the dead node's publishers are dropped there, and one meeting never has two
live rooms."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
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
from yuntong.meetings.live.participant import Feed, Handles, Participant

log = get_logger(__name__)
RECOVERIES = Counter("yuntong_meeting_media_recoveries_total", "Rooms recreated after Janus loss")
KEEPALIVE_S = 20.0
RECOVERY_LIMIT_S = 60.0
MEDIA_WAIT_S = 15.0
OnEvent = Callable[[Participant, JanusHandle, JanusEvent], Coroutine[Any, Any, None]]


def room_secret(ctx: Context, meeting_id: str, room_id: int) -> str:
    """The VideoRoom's secret: the same on every node (they share the secret key)."""
    key = ctx.settings.secret_key.get_secret_value().encode()
    message = f"janus-room:{meeting_id}:{room_id}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


class JanusRoom:
    """The Janus side of one live meeting; the room's tasks run (and are cancelled) here."""

    def __init__(self, ctx: Context, meeting_id: str, number: str, handles: Handles) -> None:
        self.ctx = ctx
        self.meeting_id = meeting_id
        self.number = number
        self.handles = handles
        self.room_id = secrets.randbelow(2**52) + 1
        self.secret = room_secret(ctx, meeting_id, self.room_id)
        self.node: NodeState | None = None
        self.media_ready = asyncio.Event()
        self.publishers = 0
        self._client: JanusClient | None = None
        self._control: JanusHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._next_feed = secrets.randbelow(2**40) * 1000

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def new_feed_id(self) -> int:
        self._next_feed += 1
        return self._next_feed

    def recordings_dir(self) -> Path:
        return (self.ctx.settings.var_dir / "recordings" / self.meeting_id).resolve()

    def _pool(self) -> JanusPool:
        pool = self.ctx.services.get(POOL).value
        if pool is None:
            raise YuntongError("janus_unavailable")
        return pool

    async def open(self, publishers: int) -> NodeState:
        """Create the VideoRoom on the least-loaded healthy node (waits briefly for a Janus
        that is starting)."""
        self.publishers = publishers
        return await self._pool().place(self._connect)

    async def _connect(self, node: NodeState) -> None:
        """Connect to ``node`` and create the VideoRoom there."""
        client = await self._pool().connect(node, timeout_s=5.0)  # refused: node marked down
        try:
            session = await client.create_session(keepalive_s=KEEPALIVE_S)
            control = await session.attach(VIDEOROOM)
            admin_key = node.config.videoroom_admin_key
            body: dict[str, Any] = {
                "request": "create",
                "room": self.room_id,
                "secret": self.secret,
                "description": self.number,
                "publishers": self.publishers,
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

    async def wait_lost(self) -> bool:
        """Wait until the Janus connection ends (False: there is none)."""
        client = self._client
        if client is None:
            return False
        await client.closed_event.wait()
        self.media_ready.clear()
        return True

    async def reconnect(self) -> NodeState:
        """Create the VideoRoom again, on its node while it may come back, else on any healthy
        one; gives up (raises) after ``RECOVERY_LIMIT_S``. Every handle is forgotten first."""
        deadline = time.monotonic() + RECOVERY_LIMIT_S
        self.forget_handles()
        while True:
            node = self._recovery_node()
            try:
                await self._connect(node)
                break
            except YuntongError as exc:
                if time.monotonic() > deadline:
                    raise
                log.info("meeting_media_waiting", meeting=self.meeting_id, error=str(exc))
                await self.ctx.clock.sleep(0.25)
        RECOVERIES.inc()
        return node

    def _recovery_node(self) -> NodeState:
        """The same node while it may come back, else any healthy one."""
        assert self.node is not None
        try:
            other = self._pool().pick()
        except YuntongError:
            return self.node
        return self.node if not other.healthy or self.node.healthy else other

    def forget_handles(self) -> None:
        for key in [k for k, (meeting, _) in self.handles.items() if meeting == self.meeting_id]:
            del self.handles[key]

    async def control_request(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._control is None:
            raise YuntongError("janus_unavailable")
        body = {**body, "room": self.room_id, "secret": self.secret}
        return await self._control.request(body)

    async def record_to(self, directory: Path) -> None:
        """Every publisher is recorded into ``directory`` from now on."""
        await self.control_request({"request": "edit", "new_rec_dir": str(directory)})
        await self.control_request({"request": "enable_recording", "record": True})

    async def stop_recording(self) -> None:
        with contextlib.suppress(YuntongError):
            await self.control_request({"request": "enable_recording", "record": False})

    async def moderate(self, feed: Feed, kind: str, mute: bool) -> None:
        """Mute (or unmute) one stream of a feed at the SFU."""
        if kind not in feed.mids:
            return
        body = {"request": "moderate", "id": feed.feed_id, "mid": feed.mids[kind], "mute": mute}
        await self.control_request(body)

    async def kick(self, feed: Feed) -> None:
        with contextlib.suppress(YuntongError):
            await self.control_request({"request": "kick", "id": feed.feed_id})

    async def session_for(self, p: Participant) -> JanusSession:
        async with p.session_lock:  # subscriptions are set up side by side: one session
            if p.session is not None and not p.session.ended.is_set():
                return p.session
            await asyncio.wait_for(self.media_ready.wait(), MEDIA_WAIT_S)
            if self._client is None:
                raise YuntongError("janus_unavailable")
            p.session = await self._client.create_session(keepalive_s=KEEPALIVE_S)
            return p.session

    async def end_session(self, p: Participant) -> None:
        if p.session is not None:
            with contextlib.suppress(YuntongError, OSError):
                await p.session.destroy()
            p.session = None

    async def attach(self, p: Participant, on_event: OnEvent) -> JanusHandle:
        """A new VideoRoom handle in ``p``'s session; its events go to ``on_event``."""
        session = await self.session_for(p)
        handle_box: list[JanusHandle] = []

        def event(janus_event: JanusEvent) -> None:
            if handle_box:
                self.spawn(on_event(p, handle_box[0], janus_event))

        handle = await session.attach(VIDEOROOM, on_event=event)
        handle_box.append(handle)
        self.handles[handle.id] = (self.meeting_id, p)
        return handle

    async def detach(self, handle: JanusHandle) -> None:
        self.handles.pop(handle.id, None)
        with contextlib.suppress(YuntongError, OSError):
            await handle.detach()

    async def destroy_left(self, node_name: str | None, room_id: int | None) -> None:
        """Destroy the VideoRoom a previous owner of the meeting left on Janus node
        ``node_name`` (it died, or stopped): its publishers are dropped. Nothing to do when that
        node is unknown or unreachable (its rooms went with it) or the room is gone already."""
        pool = self.ctx.services.get(POOL).value
        if node_name is None or room_id is None or room_id == self.room_id or pool is None:
            return
        node = pool.nodes.get(node_name)
        if node is None:
            return
        try:
            client = await pool.connect(node, timeout_s=2.0)
        except YuntongError as exc:
            log.info("meeting_left_room_unreachable", meeting=self.meeting_id, error=str(exc))
            return
        try:
            session = await client.create_session()
            control = await session.attach(VIDEOROOM)
            secret = room_secret(self.ctx, self.meeting_id, room_id)
            await control.request({"request": "destroy", "room": room_id, "secret": secret})
            log.info("meeting_left_room_destroyed", meeting=self.meeting_id, node=node_name)
        except JanusError as exc:  # no such room (Janus restarted), or a secret of old
            log.info("meeting_left_room_not_destroyed", meeting=self.meeting_id, error=str(exc))
        except YuntongError as exc:
            log.warning("meeting_left_room_not_destroyed", meeting=self.meeting_id, error=str(exc))
        finally:
            with contextlib.suppress(YuntongError, OSError):
                await client.close()

    async def destroy(self) -> None:
        with contextlib.suppress(YuntongError, OSError):
            await self.control_request({"request": "destroy"})

    async def close(self) -> None:
        """Let go of Janus and stop the room's tasks (except the one closing)."""
        client, self._client, self._control = self._client, None, None
        self.forget_handles()
        if client is not None:
            with contextlib.suppress(YuntongError, OSError):
                await client.close()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
