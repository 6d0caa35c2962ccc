"""The WebSocket gateway ``/ws``: authentication, hello/resume, heartbeats and dispatch.

Domains contribute handlers (``calls.ws.HANDLERS``, ``presence.ws.HANDLERS``) and greeters
(``presence.ws.GREETERS``: what a socket is sent after the greeting); a failing handler
answers with an error and never ends the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from yuntong.accounts import parties, sessions
from yuntong.accounts.auth import principal_from_token, token_from_request
from yuntong.core.context import Context, get_context
from yuntong.core.dbhealth import unavailable_error, unavailable_reason
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import pick_locale, request_locale
from yuntong.core.logging import get_logger
from yuntong.realtime.connection import Connection, HandlerTable, hub_of
from yuntong.realtime.protocol import EnvelopeError, encode, invalid_data, parse_envelope, reply

log = get_logger(__name__)
router = APIRouter()
DEVICE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
WS_SESSIONS = Gauge("yuntong_ws_sessions", "Attached WebSocket sessions")
WS_MESSAGES = Counter("yuntong_ws_messages_total", "Client messages by type and result", ["result"])
# close codes of a client that closed its socket itself (normal closure, going away: the app or
# the tab was closed, the user signed out): its device is gone at once, without a grace period
GOODBYE_CODES = frozenset({1000, 1001})
LOGGED_OUT_CODE = 4401


Greeter = Callable[[Connection], Awaitable[None]]

HANDLERS: HandlerTable = {}
GREETERS: dict[str, Greeter] = {}  # by the event each sends, in the order installed


def install(*tables: HandlerTable, greeters: Mapping[str, Greeter] | None = None) -> None:
    for table in tables:
        HANDLERS.update(table)
    GREETERS.update(greeters or {})


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    try:
        await _session(websocket)
    except Exception as exc:
        error = unavailable_error(exc)
        if error is None:
            raise
        # the database is down (signing in, greeting): say so and "try again later" (the
        # client reconnects and resumes), not a crash
        log.warning("ws_database_unavailable", reason=unavailable_reason(exc))
        with contextlib.suppress(Exception):
            if websocket.client_state == WebSocketState.CONNECTING:
                await websocket.accept()
            await websocket.send_text(
                encode(reply("error", None, error.to_dict(request_locale(websocket))))
            )
            await websocket.close(code=1013, reason="database_unavailable")


async def _session(websocket: WebSocket) -> None:
    ctx = get_context(websocket)
    found = token_from_request(websocket)
    principal = await principal_from_token(ctx, found[0], via=found[1]) if found else None
    device = websocket.query_params.get("device", "")
    if principal is None or (principal.via == "cookie" and not _same_origin(websocket)):
        await websocket.close(code=4401, reason="unauthenticated")
        return
    if not DEVICE_RE.match(device):
        await websocket.close(code=4400, reason="invalid device id")
        return
    await websocket.accept()
    locale = pick_locale(principal.locale or websocket.cookies.get("yt_locale"))
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
    conn = Connection(ctx, principal, channel)
    WS_SESSIONS.inc()
    goodbye = False
    try:
        await _greet(conn, replay)
        goodbye = await _serve(conn, websocket) in GOODBYE_CODES
    except WebSocketDisconnect:
        pass
    finally:
        WS_SESSIONS.dec()
        hub.detach(channel, websocket, goodbye=goodbye)


def watch_account_status(ctx: Context) -> None:
    """Sessions of a terminated account, and the sockets of a session that ended (logged out,
    revoked from the sessions list, or ended by a password change), are closed at once (their
    calls end with them)."""

    async def on_status(message: dict[str, Any]) -> None:
        if message.get("status") == "terminated":
            await hub_of(ctx).disconnect_user(int(message["user_id"]), code=4403)

    async def on_logout(message: dict[str, Any]) -> None:
        session, keep = message.get("session_id"), message.get("keep_session")
        await hub_of(ctx).disconnect_user(
            int(message["user_id"]),
            code=LOGGED_OUT_CODE,
            session_id=None if session is None else str(session),
            keep_session=None if keep is None else str(keep),
        )

    ctx.bus.subscribe(parties.STATUS_CHANNEL, on_status)
    ctx.bus.subscribe(sessions.LOGOUT_CHANNEL, on_logout)


def _same_origin(websocket: WebSocket) -> bool:
    """Cookie-authenticated sockets must come from our own pages (no cross-site hijacking)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    host = websocket.headers.get("host", "")
    public = websocket.app.state.ctx.settings.public_url.rstrip("/")
    return origin in {f"http://{host}", f"https://{host}"} or (bool(public) and origin == public)


async def _greet(conn: Connection, replay: list[str] | None) -> None:
    settings = conn.ctx.settings
    await conn.channel.send_raw(
        {
            "v": 1,
            "type": "hello",
            "data": {
                "connection_id": conn.channel.connection_id,
                "device_id": conn.device_id,
                "resume_token": conn.channel.resume_token,
                "heartbeat_s": settings.heartbeat_interval_s,
                "resumed": replay is not None,
                "last_seq": conn.channel.seq,
                "user": {
                    "user_id": conn.principal.user_id,
                    "username": conn.principal.username,
                    "display_name": conn.principal.display_name,
                },
            },
        }
    )
    for text in replay or ():
        await conn.channel.send_text(text)
    for greet in GREETERS.values():
        await greet(conn)


async def _serve(conn: Connection, websocket: WebSocket) -> int:
    """Read until the client leaves; returns the close code (the server's own when it closed
    the socket). Silent clients are closed by the hub's watchdog."""
    channel = conn.channel
    loop = asyncio.get_running_loop()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return int(message.get("code") or 1005)
        channel.heard_at = loop.time()
        raw = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        await _dispatch(conn, raw)


async def _dispatch(conn: Connection, raw: str | bytes) -> None:
    msg_id: str | None = None
    try:
        envelope = parse_envelope(raw, conn.ctx.settings.ws_max_message_bytes)
        msg_id = envelope.id
        if envelope.type == "ping":
            await conn.channel.send_raw(reply("pong", msg_id, {}))
            return
        entry = HANDLERS.get(envelope.type)
        if entry is None:
            raise YuntongError("unknown_message_type", type=envelope.type[:64])
        model, handler = entry
        try:
            data = model.model_validate(envelope.data)
        except ValidationError as exc:
            raise invalid_data(exc) from exc
        result = await handler(conn, data)
        WS_MESSAGES.labels("ok").inc()
        if msg_id is not None:
            await conn.channel.send_raw(reply("ack", msg_id, result or {}))
    except YuntongError as exc:
        WS_MESSAGES.labels(exc.code).inc()
        re = exc.re if isinstance(exc, EnvelopeError) else msg_id
        await conn.channel.send_raw(reply("error", re, exc.to_dict(conn.channel.locale)))
    except Exception as exc:
        err = unavailable_error(exc)  # a database outage is said so, and the socket stays
        if err is None:
            log.exception("ws_handler_failed")
            err = YuntongError("internal_error")
        WS_MESSAGES.labels(err.code).inc()
        await conn.channel.send_raw(reply("error", msg_id, err.to_dict(conn.channel.locale)))
