"""The widget's socket ``/ws/support?ticket=<visitor token>``: the realtime gateway's loop with
the ticket authenticator (``realtime/auth.py``), the ticket being the visitor token the REST
API issued after checking the platform's signature. Its ``hello`` is the visitor's
conversation and messages; then it receives ``support.message`` and ``support.conversation``
events, and may send ``support.send``. Agents use ``/ws`` (their device channel) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ConfigDict, Field

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.realtime.auth import Admission, TicketAuthenticator, TicketSocket
from yuntong.realtime.gateway import Gateway
from yuntong.support import conversations, inboxes
from yuntong.support.delivery import visitor_sockets
from yuntong.support.identity import VisitorToken, check_token

router = APIRouter()
MAX_BODY = 4000


@dataclass
class VisitorConn:
    ctx: Context
    token: VisitorToken


class Send(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=MAX_BODY, pattern=r"^[^\x00]*$")
    client_id: str | None = Field(default=None, max_length=40, pattern=r"^[^\x00]*$")


async def _send(conn: VisitorConn, data: Send) -> dict[str, Any]:
    message = await conversations.do_visitor_message(
        conn.ctx, conn.token, data.body.strip() or data.body, data.client_id
    )
    return {"message": message}


async def _admit(ctx: Context, ticket: str, socket: TicketSocket) -> Admission[VisitorConn]:
    """A visitor token Yuntong issued, from a page on one of the inbox's origins (a browser
    always says which; a client that is no browser sends none)."""
    token = check_token(ctx, ticket)
    inbox = await inboxes.inbox_by_id(ctx, token.inbox_id)
    origin = socket.websocket.headers.get("origin")
    if origin is not None and origin not in inbox.origins:
        raise YuntongError("support_origin_refused")
    sockets = visitor_sockets(ctx)
    sockets.attach(token.visitor_id, socket)
    try:
        hello = await conversations.widget_state(ctx, token)
    except BaseException:
        sockets.detach(token.visitor_id, socket)
        raise
    return Admission(
        VisitorConn(ctx, token), hello, partial(sockets.detach, token.visitor_id, socket)
    )


GATEWAY: Gateway[VisitorConn] = Gateway("support", TicketAuthenticator(_admit))
GATEWAY.install({"support.send": (Send, _send)})


@router.websocket("/ws/support")
async def support_socket(websocket: WebSocket) -> None:
    await GATEWAY.serve(websocket)
