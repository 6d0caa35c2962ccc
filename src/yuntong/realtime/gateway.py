"""The one WebSocket loop of ``/ws`` and ``/ws/meeting`` (docs/protocol.md, docs/meetings.md).

An endpoint is a :class:`Gateway`: an authenticator (``realtime/auth.py``: session token or
meeting ticket) that accepts the socket and opens a session, the handler tables its domains
registered, and optionally a lane function. For every socket the gateway

- greets it (the session's ``hello``), then reads envelopes (``realtime/protocol.py``);
- answers an envelope it cannot take with ``error`` carrying ``re`` when the id can be read,
  answers ``ping`` with ``pong``, and dispatches the rest through the handler table: the data
  is validated against the handler's model, and the handler's result is the ``ack``;
- never ends the connection for a failing handler (``error``, ``internal_error``), and answers
  a database outage with ``database_unavailable`` (the socket stays; a socket that opens during
  one gets the error and is closed with 1013);
- runs the messages inline in arrival order, or, with a lane function, in lanes
  (:class:`Lanes`: ordered within a lane, lanes side by side, a bounded number in flight);
- admits at most ``ws_max_opening`` sockets being signed in and greeted at once: one more is
  sent ``node_busy`` with a jittered ``retry_after`` (1–3 s) and closed with 1013 (try again
  later), so that a reconnect storm spreads out instead of starving the sockets already open;
- closes a socket silent for 2.5 heartbeats (``heartbeat timeout``), on the injected clock, with
  the endpoint's code: 4408 on ``/ws``; 4008 on ``/ws/meeting``, where 4400-4499 tell the
  client not to reconnect (its refusals: removed, ended, ...).

Resume is the session's: a ``/ws`` session is a device channel of the hub with its buffer of
numbered events; the meeting socket keeps its participant by ticket instead (docs/meetings.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, Generic, TypeAlias, TypeVar

from fastapi import WebSocket, WebSocketDisconnect
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError
from starlette.websockets import WebSocketState

from yuntong.core.context import Context, get_context
from yuntong.core.dbhealth import unavailable_error, unavailable_reason
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import request_locale
from yuntong.core.logging import get_logger
from yuntong.realtime.auth import Authenticator, Session
from yuntong.realtime.protocol import (
    Envelope,
    EnvelopeError,
    encode,
    invalid_data,
    parse_envelope,
    reply,
)

log = get_logger(__name__)
SHED = Counter(
    "yuntong_ws_shed_total",
    "Sockets told to come back later (node_busy) as too many were opening at once",
    ["endpoint"],
)
C = TypeVar("C")
Handler: TypeAlias = Callable[[C, Any], Awaitable[dict[str, Any] | None]]
HandlerTable: TypeAlias = dict[str, tuple[type[BaseModel], Handler[C]]]
LaneOf = Callable[[Envelope], str | None]
"""Which lane a message runs in: messages of one lane keep their order; ``None``: its own."""

# close codes of a client that closed its socket itself (normal closure, going away: the app or
# the tab was closed, the user signed out): its device is gone at once, without a grace period
GOODBYE_CODES = frozenset({1000, 1001})
HEARTBEAT_TIMEOUT_CODE = 4408
SILENCE_HEARTBEATS = 2.5  # a socket silent this many heartbeats is closed
MAX_IN_FLIGHT = 16
DRAIN_S = 10.0


class Gateway(Generic[C]):
    """One WebSocket endpoint: ``await gateway.serve(websocket)`` from its route."""

    def __init__(
        self,
        name: str,
        authenticator: Authenticator[C],
        *,
        lane_of: LaneOf | None = None,
        messages: Counter | None = None,
        silent_close_code: int = HEARTBEAT_TIMEOUT_CODE,
    ) -> None:
        self.name = name  # in log events: <name>_handler_failed, <name>_database_unavailable
        self.authenticator = authenticator
        self.lane_of = lane_of
        self.messages = messages  # client messages by result ("ok" or the error code)
        self.silent_close_code = silent_close_code  # closes a socket gone silent
        self.handlers: HandlerTable[C] = {}
        self.opening = 0  # sockets being signed in and greeted now (admission control)

    def install(self, *tables: HandlerTable[C]) -> None:
        """Register the handler tables of the domains this endpoint serves."""
        for table in tables:
            self.handlers.update(table)

    async def serve(self, websocket: WebSocket) -> None:
        ctx = get_context(websocket)
        if self.opening >= ctx.settings.ws_max_opening:
            await self._shed(websocket)
            return
        try:
            await self._serve(ctx, websocket)
        except Exception as exc:
            error = unavailable_error(exc)
            if error is None:
                raise
            # the database is down (signing in, greeting): say so and "try again later" (the
            # client reconnects and resumes), not a crash
            log.warning(f"{self.name}_database_unavailable", reason=unavailable_reason(exc))
            with contextlib.suppress(Exception):
                if websocket.client_state == WebSocketState.CONNECTING:
                    await websocket.accept()
                await websocket.send_text(
                    encode(reply("error", None, error.to_dict(request_locale(websocket))))
                )
                await websocket.close(code=1013, reason="database_unavailable")

    async def _shed(self, websocket: WebSocket) -> None:
        """Too many sockets opening at once: "try again in a moment", with a jittered hint so
        the retries spread out."""
        SHED.labels(self.name).inc()
        seconds = random.randint(1, 3)
        error = YuntongError("node_busy", seconds=seconds, retry_after=seconds)
        with contextlib.suppress(Exception):
            await websocket.accept()
            await websocket.send_text(
                encode(reply("error", None, error.to_dict(request_locale(websocket))))
            )
            await websocket.close(code=1013, reason="node_busy")

    async def _serve(self, ctx: Context, websocket: WebSocket) -> None:
        self.opening += 1  # until greeted: what admission control counts
        try:
            session = await self.authenticator.open(ctx, websocket)
        except BaseException:
            self.opening -= 1
            raise
        if session is None:
            self.opening -= 1
            return
        lanes = Lanes() if self.lane_of is not None else None
        watchdog = Watchdog(ctx, session, self.silent_close_code)
        code = 1006
        greeting = True
        try:
            await session.greet()
            greeting = False
            self.opening -= 1
            code = await self._read(ctx, websocket, session, watchdog, lanes)
        except WebSocketDisconnect:
            pass
        finally:
            if greeting:
                self.opening -= 1
            watchdog.cancel()
            session.stop()
            if lanes is not None:
                await lanes.drain(DRAIN_S)
            await session.finish(code in GOODBYE_CODES)

    async def _read(
        self,
        ctx: Context,
        websocket: WebSocket,
        session: Session[C],
        watchdog: Watchdog,
        lanes: Lanes | None,
    ) -> int:
        """Read until the client leaves; returns the close code (the server's own when it closed
        the socket)."""
        max_bytes = ctx.settings.ws_max_message_bytes
        while not session.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return int(message.get("code") or 1005)
            watchdog.heard()
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            try:
                envelope = parse_envelope(raw, max_bytes)
            except EnvelopeError as exc:
                self._count(exc.code)
                await session.send_raw(reply("error", exc.re, exc.to_dict(session.locale)))
                continue
            if lanes is None or self.lane_of is None:
                await self._dispatch(session, envelope)
            else:
                await lanes.run(self.lane_of(envelope), self._dispatch(session, envelope))
        return 1006

    async def _dispatch(self, session: Session[C], envelope: Envelope) -> None:
        msg_id = envelope.id
        try:
            if envelope.type == "ping":
                await session.send_raw(reply("pong", msg_id, {}))
                return
            entry = self.handlers.get(envelope.type)
            if entry is None:
                raise YuntongError("unknown_message_type", type=envelope.type[:64])
            model, handler = entry
            try:
                data = model.model_validate(envelope.data)
            except ValidationError as exc:
                raise invalid_data(exc) from exc
            result = await handler(session.conn, data)
            self._count("ok")
            if msg_id is not None:
                await session.send_raw(reply("ack", msg_id, result or {}))
        except YuntongError as exc:
            self._count(exc.code)
            await session.send_raw(reply("error", msg_id, exc.to_dict(session.locale)))
        except Exception as exc:
            err = unavailable_error(exc)  # a database outage is said so, and the socket stays
            if err is None:
                log.exception(f"{self.name}_handler_failed")
                err = YuntongError("internal_error")
            self._count(err.code)
            await session.send_raw(reply("error", msg_id, err.to_dict(session.locale)))

    def _count(self, result: str) -> None:
        if self.messages is not None:
            self.messages.labels(result).inc()


class Watchdog:
    """Closes a session silent for 2.5 heartbeats with ``code``. One sleeping task per socket
    that wakes about once per silence period; a message only notes the time."""

    def __init__(self, ctx: Context, session: Session[Any], code: int) -> None:
        self.code = code
        self.clock = ctx.clock
        self.silence = timedelta(seconds=SILENCE_HEARTBEATS * ctx.settings.heartbeat_interval_s)
        self.heard_at = self.clock.now()
        self.session = session
        self._task = asyncio.create_task(self._watch())

    def heard(self) -> None:
        self.heard_at = self.clock.now()

    async def _watch(self) -> None:
        while True:
            left = (self.heard_at + self.silence - self.clock.now()).total_seconds()
            if left <= 0:
                await self.session.close(self.code, "heartbeat timeout")
                return
            await self.clock.sleep(left)

    def cancel(self) -> None:
        self._task.cancel()


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
