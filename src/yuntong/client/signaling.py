"""The client side of the realtime WebSocket (docs/protocol.md): envelopes, acks, heartbeats.

:meth:`Signaling.request` sends a message with an ``id`` and waits for the ``ack`` or
``error`` carrying it back in ``re``; every other server message lands in an event queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from yuntong.client.aio import cancel_all

VERSION = 1
CLOSED = "connection.closed"  # local pseudo-event once the socket is gone


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

    def __init__(self, server: str, token: str, device: str, *, url: str | None = None) -> None:
        self.url = url or ws_url(server, device)
        self.token = token
        self.device = device
        self.hello: dict[str, Any] = {}
        self.last_seq = 0
        self.closed = False
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._hello: asyncio.Future[dict[str, Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self, timeout: float = 10.0) -> dict[str, Any]:
        """Open the socket and return the server's ``hello`` data."""
        if self._ws is not None:
            raise RuntimeError("already connected")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            self._ws = await connect(self.url, additional_headers=headers, open_timeout=timeout)
        except InvalidHandshake as exc:  # e.g. HTTP 403 instead of the upgrade
            raise ConnectionError(f"WebSocket refused: {exc}") from exc
        self._hello = asyncio.get_running_loop().create_future()
        self._tasks.append(asyncio.create_task(self._read(self._ws), name="signaling-read"))
        self.hello = await asyncio.wait_for(asyncio.shield(self._hello), timeout)
        heartbeat = float(self.hello.get("heartbeat_s") or 20.0)
        self._tasks.append(asyncio.create_task(self._heartbeat(heartbeat), name="signaling-ping"))
        return self.hello

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
        await cancel_all(self._tasks)
        if self._ws is not None:
            await self._ws.close()
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
            self._closed(ConnectionError("signaling connection closed"))

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
        seq = message.get("seq")
        if isinstance(seq, int):
            self.last_seq = max(self.last_seq, seq)
        if type_ == "hello" and self._hello is not None and not self._hello.done():
            self._hello.set_result(data)
        if type_ != "pong":
            self._events.put_nowait(Event(type_, data, seq if isinstance(seq, int) else None))

    async def _heartbeat(self, interval: float) -> None:
        with contextlib.suppress(ConnectionError, ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
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
