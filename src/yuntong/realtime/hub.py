"""Connection registry: which devices of which users are attached to this node, and delivery.

Each device has a :class:`DeviceChannel` that outlives a dropped socket for the reconnect grace
period, keeps a numbered buffer of recent events for resume, and is removed (with listeners told)
when the grace period passes, or at once when the client closed the socket itself or its
session logged out. Delivery goes through the bus channel ``user:<id>`` so that a
Redis bus can carry it between nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket

from yuntong.cluster import forward
from yuntong.cluster.nodes import node_of
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.realtime.devices import devices_for, do_forget_dead_devices
from yuntong.realtime.protocol import encode, event

if TYPE_CHECKING:
    from yuntong.core.context import Context

log = get_logger(__name__)
DeviceListener = Callable[[int, str], Awaitable[None]]
UserListener = Callable[[int], Awaitable[None]]
HAND_OVER = "realtime.hand_over"  # the forwarded request that moves a device between nodes
HAND_OVER_TIMEOUT_S = 0.5


class DeviceChannel:
    __slots__ = (
        "buffer",
        "connection_id",
        "device_id",
        "gone_task",
        "locale",
        "resume_token",
        "resynced",
        "seq",
        "session_id",
        "user_id",
        "ws",
    )

    def __init__(
        self, user_id: int, device_id: str, locale: str, buffer_size: int, session_id: str = ""
    ) -> None:
        self.user_id = user_id
        self.device_id = device_id
        self.session_id = session_id  # the login session whose socket holds the device
        self.locale = locale
        self.connection_id = secrets.token_hex(8)
        self.resume_token = ""  # set by the hub when it attaches the channel
        # resumed from a node that could not hand its buffer over (it died): what was sent in
        # the gap is lost, and the greeters send what the device must know again
        self.resynced = False
        self.seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=buffer_size)
        self.ws: WebSocket | None = None
        self.gone_task: asyncio.Task[None] | None = None

    async def send_event(self, type_: str, data: dict[str, Any]) -> None:
        self.seq += 1
        text = encode(event(type_, data, self.seq))
        # kept as text: serialised once, and (seq, str) pairs are invisible to the garbage
        # collector, which would otherwise walk every buffered event of every session
        self.buffer.append((self.seq, text))
        await self.send_text(text)

    async def send_raw(self, msg: dict[str, Any]) -> None:
        await self.send_text(encode(msg))

    async def send_text(self, text: str) -> None:
        ws = self.ws
        if ws is None:
            return
        try:
            await ws.send_text(text)
        except Exception:  # a dying socket; the reader side notices and detaches
            log.debug("send_failed", user_id=self.user_id)

    def replay_after(self, last_seq: int) -> list[str]:
        return [text for seq, text in self.buffer if seq > last_seq]


class Hub:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.devices: dict[int, dict[str, DeviceChannel]] = {}
        self.on_device_gone: list[DeviceListener] = []
        self.on_user_online: list[UserListener] = []
        self.on_user_offline: list[UserListener] = []
        # event type -> what learns, on the node delivering it, which node sent it (the calls
        # engine: a call's events come from the node that owns it)
        self.on_event_from: dict[str, list[Callable[[dict[str, Any], str], None]]] = {}
        self._running = False
        self.closing = False  # the server is stopping: its own 1001 closes are no goodbyes
        self.directory = devices_for(ctx, lambda user_id: self.devices.get(user_id, {}).keys())
        self._restorer: asyncio.Task[None] | None = None
        # devices moving here, while their previous node is asked for their buffer: the
        # events sent to them meanwhile
        self._arriving: dict[tuple[int, str], list[dict[str, Any]]] = {}

    # -- attach / detach -------------------------------------------------------------------

    async def attach(
        self,
        user_id: int,
        device_id: str,
        ws: WebSocket,
        locale: str,
        resume_token: str | None = None,
        last_seq: int = 0,
        session_id: str = "",
    ) -> tuple[DeviceChannel, list[str] | None]:
        """Attach a socket; returns the channel and the events to replay when it resumed
        (None: a new channel). A resume token of a channel another node holds moves the device
        here with its buffer; one of a dead node's resumes it with nothing to replay."""
        user_devices = self.devices.get(user_id, {})
        channel = user_devices.get(device_id)
        if channel is not None and resume_token and channel.resume_token == resume_token:
            if channel.gone_task is not None:
                channel.gone_task.cancel()
                channel.gone_task = None
            old = channel.ws
            channel.ws = ws
            channel.locale = locale
            channel.session_id = session_id
            if old is not None and old is not ws:
                with contextlib.suppress(Exception):
                    await old.close(code=4409)
            return channel, channel.replay_after(last_seq)
        token = secrets.token_urlsafe(24)
        placed = await self.directory.place(user_id, device_id, resume_token, token, user_devices)
        channel = DeviceChannel(
            user_id, placed.device_id, locale, self.ctx.settings.ws_resume_buffer, session_id
        )
        replay: list[str] | None = None
        if resume_token and (placed.moved_from or placed.dead_from):
            channel.resume_token = resume_token  # the same token resumes it again
            channel.seq = last_seq
            replay = []
            handed = None
            meanwhile: list[dict[str, Any]] = []
            if placed.moved_from:
                handed, meanwhile = await self._take_over(
                    placed.moved_from, user_id, placed.device_id, last_seq
                )
            if handed is not None:
                channel.seq = max(last_seq, int(handed["seq"]))
                replay = [str(text) for text in handed["events"]]
            else:
                channel.resynced = True
            before = channel.seq
            for message in _not_handed(meanwhile, replay):  # numbered after, replayed
                await channel.send_event(message["type"], message["data"])
            replay.extend(channel.replay_after(before))
            log.info("device_moved", user_id=user_id, node=placed.moved_from or placed.dead_from)
        else:
            channel.resume_token = token
        channel.ws = ws
        user_devices = self.devices.setdefault(user_id, {})
        first = not user_devices
        user_devices[placed.device_id] = channel
        if first:
            self.ctx.bus.subscribe(f"user:{user_id}", self._deliver_local)
            await self._notify(self.on_user_online, user_id)
        return channel, replay

    async def _take_over(
        self, node_id: str, user_id: int, device_id: str, last_seq: int
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Ask the node a device moved from for what it buffered after ``last_seq`` (None when
        it does not answer: it died meanwhile, nothing to replay), and the events sent to the
        device while asking: the directory says it is here already, but its channel is not
        (a node that died just now is asked until the forward times out, seconds in which a
        call may end: without them the client never hears it)."""
        meanwhile: list[dict[str, Any]] = []
        key = (user_id, device_id)
        if not any(uid == user_id for uid, _ in self._arriving):
            self.ctx.bus.subscribe(f"user:{user_id}", self._deliver_arriving)
        self._arriving[key] = meanwhile
        try:
            handed = await forward.ask(
                self.ctx,
                node_id,
                HAND_OVER,
                {"user_id": user_id, "device_id": device_id, "last_seq": last_seq},
                # a node that does not answer at once has most likely died (its keepalive has
                # not lapsed yet): resume with nothing rather than keep the client waiting
                timeout_s=min(HAND_OVER_TIMEOUT_S, self.ctx.settings.forward_timeout_s),
            )
        except YuntongError:
            handed = None
        finally:
            del self._arriving[key]
            if not any(uid == user_id for uid, _ in self._arriving):
                self.ctx.bus.unsubscribe(f"user:{user_id}", self._deliver_arriving)
        return handed, meanwhile

    async def _deliver_arriving(self, message: dict[str, Any]) -> None:
        user_id, device, exclude = message["user_id"], message.get("device"), message.get("exclude")
        for (uid, device_id), meanwhile in self._arriving.items():
            if uid == user_id and device in (None, device_id) and exclude != device_id:
                meanwhile.append(message)

    async def _hand_over(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Another node resumed one of this node's devices: give it the buffer after the
        client's ``last_seq`` and forget the device here without telling anyone it went (its
        calls go on over there)."""
        user_id, device_id = int(payload["user_id"]), str(payload["device_id"])
        channel = self.devices.get(user_id, {}).get(device_id)
        if channel is None:
            return None
        if channel.gone_task is not None:
            channel.gone_task.cancel()
            channel.gone_task = None
        ws, channel.ws = channel.ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close(code=4409)
        self._forget(channel)
        return {"seq": channel.seq, "events": channel.replay_after(int(payload["last_seq"]))}

    def _forget(self, channel: DeviceChannel) -> bool:
        """Remove a channel from this node; whether its user has no device left here."""
        user_devices = self.devices.get(channel.user_id)
        if not user_devices or user_devices.get(channel.device_id) is not channel:
            return False
        del user_devices[channel.device_id]
        channel.gone_task = None
        if user_devices:
            return False
        del self.devices[channel.user_id]
        self.ctx.bus.unsubscribe(f"user:{channel.user_id}", self._deliver_local)
        return True

    def detach(self, channel: DeviceChannel, ws: WebSocket, *, goodbye: bool = False) -> None:
        """The socket closed: keep the channel for the grace period, then drop it.

        ``goodbye``: the client closed the socket itself (the app was closed): nothing will
        resume, so the device is dropped at once. The grace period is for sockets that drop."""
        if channel.ws is not ws:
            return
        channel.ws = None
        grace = 0.0 if goodbye and not self.closing else self.ctx.settings.reconnect_grace_s
        channel.gone_task = asyncio.create_task(self._expire(channel, grace))

    async def _expire(self, channel: DeviceChannel, grace: float) -> None:
        if grace > 0:  # a goodbye drops the device at once, also on a clock moved by hand
            await self.ctx.clock.sleep(grace)
        await self.drop(channel)

    async def drop(self, channel: DeviceChannel) -> None:
        """The device is gone from this node: tell the listeners, unless it moved to another
        node meanwhile (its entry in the directory is no longer this node's)."""
        user_devices = self.devices.get(channel.user_id)
        if not user_devices or user_devices.get(channel.device_id) is not channel:
            return
        last = self._forget(channel)
        if not await self.directory.release(channel.user_id, channel.device_id):
            return
        for listener in self.on_device_gone:
            await _safely(listener(channel.user_id, channel.device_id))
        if last and not self.devices.get(channel.user_id):
            await self._notify(self.on_user_offline, channel.user_id)

    async def disconnect_user(
        self,
        user_id: int,
        code: int,
        *,
        session_id: str | None = None,
        keep_session: str | None = None,
    ) -> None:
        """Close every socket of a user (account terminated), those of one login session
        (logged out, revoked), or all but one session's (password changed), and drop their
        devices at once: no grace, no resume."""
        for channel in list(self.devices.get(user_id, {}).values()):
            if session_id is not None and channel.session_id != session_id:
                continue
            if keep_session is not None and channel.session_id == keep_session:
                continue
            if channel.gone_task is not None:
                channel.gone_task.cancel()
            ws, channel.ws = channel.ws, None
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.close(code=code)
            await self.drop(channel)

    # -- heartbeats --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """The server has started taking sockets (silent ones are closed by the gateway's
        watchdog, ``realtime/gateway.py``)."""
        return self._running

    def start(self) -> None:
        self._running = True
        forward.serve(self.ctx, HAND_OVER, self._hand_over)
        if self.ctx.redis is not None:
            self._restorer = asyncio.create_task(self._keep_directory(), name="device-directory")

    def _held(self) -> list[tuple[int, str, str]]:
        return [
            (user_id, device_id, channel.resume_token)
            for user_id, user_devices in self.devices.items()
            for device_id, channel in user_devices.items()
        ]

    async def _keep_directory(self) -> None:
        """Every keepalive: this node's devices back in the directory if Redis lost them."""
        while True:
            try:
                await self.directory.restore(self._held)
            except Exception:
                log.exception("device_directory_restore_failed")
            await node_of(self.ctx).clock.sleep(self.ctx.settings.node_keepalive_s)

    # -- queries ---------------------------------------------------------------------------

    async def recover(self, *, at_start: bool = True) -> int:
        """The directory entries of dead nodes (and of this node's previous run) go."""
        return await do_forget_dead_devices(self.ctx, self.directory, at_start=at_start)

    def has_devices_here(self, user_id: int) -> bool:
        return bool(self.devices.get(user_id))

    async def online_among(self, user_ids: Sequence[int]) -> set[int]:
        """Those of ``user_ids`` with a device on some live node."""
        return await self.directory.online_among(user_ids)

    async def is_online(self, user_id: int) -> bool:
        return bool(await self.directory.online_among([user_id]))

    # -- delivery --------------------------------------------------------------------------

    async def send(
        self,
        user_id: int,
        type_: str,
        data: dict[str, Any],
        *,
        device: str | None = None,
        exclude: str | None = None,
    ) -> None:
        """Send an event to all of a user's devices, one device, or all but one."""
        await self.ctx.bus.publish(
            f"user:{user_id}",
            {
                "user_id": user_id,
                "type": type_,
                "data": data,
                "device": device,
                "exclude": exclude,
                "node": self.ctx.node_id,
            },
        )

    async def _deliver_local(self, message: dict[str, Any]) -> None:
        for learn in self.on_event_from.get(message["type"], ()):
            learn(message["data"], str(message.get("node", "")))
        user_devices = self.devices.get(message["user_id"], {})
        device, exclude = message.get("device"), message.get("exclude")
        targets = [
            ch
            for dev, ch in list(user_devices.items())
            if (device is None or dev == device) and dev != exclude
        ]
        for ch in targets:
            await ch.send_event(message["type"], message["data"])

    async def _notify(self, listeners: list[UserListener], user_id: int) -> None:
        for listener in listeners:
            await _safely(listener(user_id))

    async def close(self) -> None:
        self.closing = True
        if self._restorer is not None:
            self._restorer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restorer
        for user_devices in list(self.devices.values()):
            for channel in list(user_devices.values()):
                if channel.gone_task is not None:
                    channel.gone_task.cancel()
                if channel.ws is not None:
                    with contextlib.suppress(Exception):
                        await channel.ws.close(code=1001)
        self.devices.clear()


def _not_handed(meanwhile: list[dict[str, Any]], handed: list[str]) -> list[dict[str, Any]]:
    """The events sent to a moving device that its previous node did not hand over already
    (it still delivered those it got before it let the device go)."""
    seen: list[tuple[Any, Any]] = []
    for text in handed:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            message = json.loads(text)
            seen.append((message["type"], message.get("data")))
    fresh = []
    for message in meanwhile:
        key = (message["type"], message["data"])
        if key in seen:
            seen.remove(key)
        else:
            fresh.append(message)
    return fresh


async def _safely(awaitable: Awaitable[None]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("listener_failed")
