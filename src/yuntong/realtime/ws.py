"""The WebSocket endpoint ``/ws``: the realtime gateway with the session-token authenticator.

Domains contribute handler tables (``calls.ws.HANDLERS``, ``presence.ws.HANDLERS``) and
greeters (``presence.ws.GREETERS``: what a socket is sent after ``hello``) through
:func:`install`; the loop itself (envelopes, errors, heartbeats) is ``realtime/gateway.py``, the
authentication, hello and resume ``realtime/auth.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, WebSocket
from prometheus_client import Counter

from yuntong.accounts import parties, sessions
from yuntong.core.context import Context
from yuntong.realtime.auth import SessionTokenAuthenticator
from yuntong.realtime.connection import Connection, HandlerTable, hub_of
from yuntong.realtime.gateway import Gateway

router = APIRouter()
WS_MESSAGES = Counter("yuntong_ws_messages_total", "Client messages by type and result", ["result"])
LOGGED_OUT_CODE = 4401

Greeter = Callable[[Connection], Awaitable[None]]
GREETERS: dict[str, Greeter] = {}  # by the event each sends, in the order installed


async def _greet(conn: Connection) -> None:
    """After ``hello``: what the domains send a new socket (the contacts' presence)."""
    for greet in GREETERS.values():
        await greet(conn)


GATEWAY: Gateway[Connection] = Gateway(
    "ws", SessionTokenAuthenticator(after_hello=_greet), messages=WS_MESSAGES
)


def install(*tables: HandlerTable, greeters: Mapping[str, Greeter] | None = None) -> None:
    GATEWAY.install(*tables)
    GREETERS.update(greeters or {})


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await GATEWAY.serve(websocket)


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
