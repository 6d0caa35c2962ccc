"""How a socket of the realtime gateway is authenticated: one small interface, two ways.

An :class:`Authenticator` turns an incoming WebSocket into an accepted :class:`Session` (or
refuses it and returns ``None``, the socket closed). The gateway (``realtime/gateway.py``) then
runs the same loop over every session.

- :class:`SessionTokenAuthenticator` (``/ws``): the login session's token (``yt_session``
  cookie from our own origin, or ``Authorization: Bearer``) and a device id; refused before the
  upgrade (4401, 4400). The session is the user's device channel in the hub, with its resume
  buffer (``resume`` + ``last_seq``).
- :class:`TicketAuthenticator` (``/ws/meeting``): a meeting ticket, checked by the function the
  meetings domain hands it (so ``realtime`` never imports ``meetings``); refused after the
  upgrade with an ``error`` and 4400 + (HTTP status − 400), or 1013 (try again later) for an
  error with a retry hint (``node_unreachable``: the node running the meeting did not answer).

A database outage while authenticating is not refused here: the gateway answers it the same on
both sockets (``database_unavailable``, close 1013).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from fastapi import WebSocket
from prometheus_client import Gauge

from yuntong.accounts.auth import principal_from_token, token_from_request
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import pick_locale
from yuntong.realtime.connection import Connection, hub_of
from yuntong.realtime.hub import Hub
from yuntong.realtime.protocol import encode, event, reply

C = TypeVar("C")
C_co = TypeVar("C_co", covariant=True)
DEVICE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
WS_SESSIONS = Gauge("yuntong_ws_sessions", "Attached WebSocket sessions")


class Session(ABC, Generic[C_co]):
    """One accepted, authenticated socket as the gateway drives it."""

    @property
    @abstractmethod
    def conn(self) -> C_co:
        """What the handlers of this socket's table are given."""

    @property
    @abstractmethod
    def locale(self) -> str:
        """The language of this socket's error messages."""

    @abstractmethod
    async def send_raw(self, message: dict[str, Any]) -> None:
        """Send a reply (``ack``, ``error``, ``pong``): not numbered, never buffered."""

    @abstractmethod
    async def greet(self) -> None:
        """Send ``hello`` (and whatever follows it on this socket)."""

    @abstractmethod
    async def close(self, code: int, reason: str) -> None:
        """Close the socket from the server's side (the heartbeat watchdog)."""

    @property
    def closed(self) -> bool:
        """The server closed the socket already: read no more of it."""
        return False

    def stop(self) -> None:
        """Reading has stopped; what was received is drained next."""

    @abstractmethod
    async def finish(self, goodbye: bool) -> None:
        """The socket is gone. ``goodbye``: the client closed it itself (1000, 1001)."""


class Authenticator(Protocol[C_co]):
    async def open(self, ctx: Context, websocket: WebSocket) -> Session[C_co] | None:
        """Authenticate and accept ``websocket``; ``None`` when refused (and closed)."""
        ...


# -- session token (/ws) ---------------------------------------------------------------------


class DeviceSession(Session[Connection]):
    """A ``/ws`` socket: the user's device channel in the hub (numbered events, resume)."""

    def __init__(
        self,
        websocket: WebSocket,
        hub: Hub,
        conn: Connection,
        replay: list[str] | None,
        after_hello: Callable[[Connection], Awaitable[None]],
    ) -> None:
        self.websocket = websocket
        self.hub = hub
        self._conn = conn
        self.replay = replay
        self.after_hello = after_hello

    @property
    def conn(self) -> Connection:
        return self._conn

    @property
    def locale(self) -> str:
        return self._conn.channel.locale

    async def send_raw(self, message: dict[str, Any]) -> None:
        await self._conn.channel.send_raw(message)

    async def greet(self) -> None:
        conn = self._conn
        await conn.channel.send_raw(
            {
                "v": 1,
                "type": "hello",
                "data": {
                    "connection_id": conn.channel.connection_id,
                    "device_id": conn.device_id,
                    "resume_token": conn.channel.resume_token,
                    "heartbeat_s": conn.ctx.settings.heartbeat_interval_s,
                    "resumed": self.replay is not None,
                    "resync": conn.channel.resynced,
                    "last_seq": conn.channel.seq,
                    "user": {
                        "user_id": conn.principal.user_id,
                        "username": conn.principal.username,
                        "display_name": conn.principal.display_name,
                    },
                },
            }
        )
        for text in self.replay or ():
            await conn.channel.send_text(text)
        await self.after_hello(conn)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.close(code=code, reason=reason)

    async def finish(self, goodbye: bool) -> None:
        WS_SESSIONS.dec()
        self.hub.detach(self._conn.channel, self.websocket, goodbye=goodbye)


class SessionTokenAuthenticator:
    """``/ws``: a login session's token and a device id; ``after_hello`` sends what follows
    ``hello`` (the presence snapshot)."""

    def __init__(self, after_hello: Callable[[Connection], Awaitable[None]]) -> None:
        self.after_hello = after_hello

    async def open(self, ctx: Context, websocket: WebSocket) -> DeviceSession | None:
        found = token_from_request(websocket)
        principal = await principal_from_token(ctx, found[0], via=found[1]) if found else None
        device = websocket.query_params.get("device", "")
        if principal is None or (principal.via == "cookie" and not _same_origin(websocket)):
            await websocket.close(code=4401, reason="unauthenticated")
            return None
        if not DEVICE_RE.match(device):
            await websocket.close(code=4400, reason="invalid device id")
            return None
        await websocket.accept()
        # the page's language (what it sends, else the language switch's cookie), else the
        # account's: an account in zh-CN on a page switched to English reads English errors
        locale = pick_locale(
            websocket.query_params.get("locale")
            or websocket.cookies.get("yt_locale")
            or principal.locale
        )
        hub = hub_of(ctx)
        try:
            last_seq = int(websocket.query_params.get("last_seq", "0"))
        except ValueError:
            last_seq = 0
        channel, replay = await hub.attach(
            principal.user_id,
            device,
            websocket,
            locale,
            resume_token=websocket.query_params.get("resume"),
            last_seq=last_seq,
            session_id=principal.session_id,
        )
        WS_SESSIONS.inc()
        conn = Connection(ctx, principal, channel)
        return DeviceSession(websocket, hub, conn, replay, self.after_hello)


def _same_origin(websocket: WebSocket) -> bool:
    """Cookie-authenticated sockets must come from our own pages (no cross-site hijacking)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    host = websocket.headers.get("host", "")
    public = websocket.app.state.ctx.settings.public_url.rstrip("/")
    return origin in {f"http://{host}", f"https://{host}"} or (bool(public) and origin == public)


# -- meeting ticket (/ws/meeting) ------------------------------------------------------------


class TicketSocket:
    """A ticket socket as its domain reaches it: numbered events, one writer at a time."""

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


@dataclass
class Admission(Generic[C]):
    """What the domain's ticket check gives back: the handlers' ``conn``, the ``hello`` data,
    and what to do when the socket is gone."""

    conn: C
    hello: dict[str, Any]
    lost: Callable[[], None]


Admit = Callable[[Context, str, TicketSocket], Awaitable[Admission[C]]]


class TicketSession(Session[C]):
    def __init__(self, socket: TicketSocket, admission: Admission[C]) -> None:
        self.socket = socket
        self.admission = admission

    @property
    def conn(self) -> C:
        return self.admission.conn

    @property
    def locale(self) -> str:
        return self.socket.locale

    async def send_raw(self, message: dict[str, Any]) -> None:
        await self.socket.send_raw(message)

    async def greet(self) -> None:
        await self.socket.send_raw({"v": 1, "type": "hello", "data": self.admission.hello})

    async def close(self, code: int, reason: str) -> None:
        await self.socket.close(code, reason)

    @property
    def closed(self) -> bool:
        return self.socket.closed

    def stop(self) -> None:
        self.socket.closed = True

    async def finish(self, goodbye: bool) -> None:
        self.admission.lost()


class TicketAuthenticator(Generic[C]):
    """``/ws/meeting?ticket=…[&locale=…]``: ``admit`` (handed by the domain) checks the ticket
    and attaches the socket; a :class:`YuntongError` refuses it."""

    def __init__(self, admit: Admit[C]) -> None:
        self.admit = admit

    async def open(self, ctx: Context, websocket: WebSocket) -> TicketSession[C] | None:
        locale = pick_locale(
            websocket.query_params.get("locale") or websocket.cookies.get("yt_locale")
        )
        await websocket.accept()
        socket = TicketSocket(websocket, locale)
        try:
            admission = await self.admit(ctx, websocket.query_params.get("ticket", ""), socket)
        except YuntongError as err:
            await socket.send_raw(reply("error", None, err.to_dict(locale)))
            if err.retry_after is not None or err.status >= 500:
                # 4400-4499 are final; a busy node or a server-side failure (no healthy media
                # server, an unreachable database) is not: try again later with the same ticket
                await socket.close(1013, err.code)
                return None
            await socket.close(
                4400 + min(err.status - 400, 99) if err.status >= 400 else 4400, err.code
            )
            return None
        return TicketSession(socket, admission)
