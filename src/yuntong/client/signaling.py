"""The client side of the realtime WebSocket (docs/protocol.md): envelopes, acks, heartbeats,
and reconnecting.

:meth:`Signaling.request` sends a message with an ``id`` and waits for the ``ack`` or
``error`` carrying it back in ``re``; every other server message lands in an event queue.

A socket that drops (the network, or the node behind the load balancer died or stopped) is
opened again with a jittered back-off (0.1 s doubling to 2 s) and resumed with the resume token
and the last ``seq`` seen, for at most ``resume_within_s`` (the server's grace period): the
events missed are replayed into the queue, and calls go on, on whichever node the load balancer
picks. Requests in flight when it dropped fail with ``ConnectionError``. A socket the server
closed for good (logged out 4401, terminated 4403, a bad request 4400), or a resume the server
no longer knows (``resumed: false``: the calls ended), ends the session: :data:`CLOSED`.

A node with too many sockets opening at once answers ``node_busy`` with ``retry_after`` (1–3 s,
jittered) and closes with 1013: the client comes back after exactly that long, when it connects
and when it resumes, instead of its own shorter back-off (which would only add to the storm).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from yuntong.client.aio import cancel_all

VERSION = 1
CLOSED = "connection.closed"  # local pseudo-event once the socket is gone
FINAL_CLOSE_CODES = frozenset({4400, 4401, 4403})  # refused or ended by the server: no retry
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0


class NodeBusy(ConnectionError):
    """The node shed the socket (admission control): come back after ``retry_after``."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"node busy: retry after {retry_after:g} s")
        self.retry_after = retry_after


class SignalingError(Exception):
    """The server answered a request with ``error``."""

    def __init__(self, code: str, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data or {}


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None


def ws_url(server: str, device: str, **params: str) -> str:
    """``http(s)://host[:port][/prefix]`` → ``ws(s)://host[:port][/prefix]/ws?device=…``."""
    parts = urlsplit(server)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    query = urlencode({"device": device, **params})
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", query, ""))


class Signaling:
    """One authenticated WebSocket session for one device."""

    def __init__(
        self,
        server: str,
        token: str,
        device: str,
        *,
        url: str | None = None,
        resume_within_s: float = 20.0,
    ) -> None:
        self.url = url or ws_url(server, device)
        self.token = token
        self.device = device
        self.hello: dict[str, Any] = {}
        self.last_seq = 0
        self.closed = False
        self.resume_within_s = resume_within_s  # 0: never reconnect
        self.resumes = 0  # times the session came back on a new socket
        self.shed = 0  # times a node answered node_busy and the client waited as told
        self._connecting = False
        self._closing = False
        self._resuming = False
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._hello: asyncio.Future[dict[str, Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self, timeout: float = 10.0) -> dict[str, Any]:
        """Open the socket and return the server's ``hello`` data; a node that sheds it
        (``node_busy``) is tried again after its ``retry_after``, within ``timeout``."""
        if self._ws is not None:
            raise RuntimeError("already connected")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._connecting = True
        try:
            while True:
                try:
                    self.hello = await self._open(self.url, max(0.5, deadline - loop.time()))
                    break
                except NodeBusy as busy:
                    if loop.time() + busy.retry_after >= deadline:
                        raise
                    self.shed += 1
                    await asyncio.sleep(busy.retry_after)
        finally:
            self._connecting = False
        heartbeat = float(self.hello.get("heartbeat_s") or 20.0)
        self._tasks.append(asyncio.create_task(self._heartbeat(heartbeat), name="signaling-ping"))
        return self.hello

    async def _open(self, url: str, timeout: float) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            ws = await connect(url, additional_headers=headers, open_timeout=timeout)
        except InvalidHandshake as exc:  # e.g. HTTP 403 instead of the upgrade
            raise ConnectionError(f"WebSocket refused: {exc}") from exc
        self._ws = ws
        self._hello = asyncio.get_running_loop().create_future()
        self._tasks.append(asyncio.create_task(self._read(ws), name="signaling-read"))
        try:
            return await asyncio.wait_for(asyncio.shield(self._hello), timeout)
        except BaseException:
            await ws.close()
            raise

    def _resume_url(self) -> str:
        parts = urlsplit(self.url)
        query = urlencode(
            {
                "device": self.hello.get("device_id") or self.device,
                "resume": str(self.hello.get("resume_token", "")),
                "last_seq": str(self.last_seq),
            }
        )
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    async def _resume(self) -> None:
        """Open the session again after a drop, and resume it; give up after
        ``resume_within_s`` (the session is closed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.resume_within_s
        delay = RETRY_FIRST_S
        wait = delay * random.uniform(0.5, 1.0)
        while not self._closing and loop.time() < deadline:
            await asyncio.sleep(wait)
            delay = min(delay * 2, RETRY_MAX_S)
            wait = delay * random.uniform(0.5, 1.0)
            try:
                hello = await self._open(self._resume_url(), max(0.5, deadline - loop.time()))
            except NodeBusy as busy:  # told when to come back: exactly then
                self.shed += 1
                wait = busy.retry_after
                continue
            except (OSError, TimeoutError, ConnectionError, InvalidHandshake):
                continue
            if not hello.get("resumed"):
                break  # the server let the session go meanwhile: its calls are over
            self.hello = hello
            self.resumes += 1
            self._resuming = False
            return
        self._resuming = False
        self._closed(ConnectionError("signaling connection lost"))

    async def send(self, type_: str, data: dict[str, Any] | None = None) -> None:
        """Fire and forget: no ``id``, so the server sends no ack."""
        await self._send({"v": VERSION, "type": type_, "data": data or {}})

    async def request(
        self, type_: str, data: dict[str, Any] | None = None, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send with an ``id``; return the ack's data or raise :class:`SignalingError`."""
        msg_id = f"c-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        try:
            await self._send({"v": VERSION, "type": type_, "id": msg_id, "data": data or {}})
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(msg_id, None)

    async def next_event(self) -> Event:
        """The next server event; :data:`CLOSED` once the connection is gone (repeatedly)."""
        event = await self._events.get()
        if event.type == CLOSED:
            self._events.put_nowait(event)
        return event

    async def close(self) -> None:
        self._closing = True
        ws = self._ws  # the reader, cancelled first, lets go of it
        await cancel_all(self._tasks)
        if ws is not None:
            await ws.close()
        self._closed(ConnectionError("closed by the client"))

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is None or self.closed:
            raise ConnectionError("not connected")
        try:
            await self._ws.send(json.dumps(message))
        except ConnectionClosed as exc:
            raise ConnectionError("signaling connection closed") from exc

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    self._dispatch(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            self._lost(ws)

    def _lost(self, ws: ClientConnection) -> None:
        """A socket closed: the session's, unless a newer one replaced it."""
        if self._ws is not ws:
            return
        self._ws = None
        lost = ConnectionError("signaling connection closed")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(lost)
        if self._resuming or self._connecting:  # the loop opening it tries again
            if self._hello is not None and not self._hello.done():
                self._hello.set_exception(lost)
            return
        resumable = (
            not self._closing
            and self.resume_within_s > 0
            and bool(self.hello.get("resume_token"))
            and ws.close_code not in FINAL_CLOSE_CODES
        )
        if resumable:
            self._resuming = True
            self._tasks.append(asyncio.create_task(self._resume(), name="signaling-resume"))
        else:
            self._closed(lost)

    def _dispatch(self, message: dict[str, Any]) -> None:
        type_ = str(message.get("type"))
        data = message.get("data") or {}
        future = self._pending.get(str(message.get("re")))
        if type_ in ("ack", "error") and future is not None and not future.done():
            if type_ == "ack":
                future.set_result(data)
            else:
                future.set_exception(
                    SignalingError(str(data.get("code")), str(data.get("message")), data)
                )
            return
        if type_ == "error" and message.get("re") is None and data.get("code") == "node_busy":
            if self._hello is not None and not self._hello.done():
                self._hello.set_exception(NodeBusy(float(data.get("retry_after") or 1)))
            return
        seq = message.get("seq")
        if isinstance(seq, int):
            self.last_seq = max(self.last_seq, seq)
        if type_ == "hello" and self._hello is not None and not self._hello.done():
            self._hello.set_result(data)
        if type_ != "pong":
            self._events.put_nowait(Event(type_, data, seq if isinstance(seq, int) else None))

    async def _heartbeat(self, interval: float) -> None:
        while not self.closed:
            await asyncio.sleep(interval)
            with contextlib.suppress(ConnectionError, ConnectionClosed):  # resuming meanwhile
                await self.send("ping")

    def _closed(self, exc: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(exc)
        if not self.closed:
            self.closed = True
            self._events.put_nowait(Event(CLOSED))
