"""Live delivery of the desk's events, after what they tell is written: to agents through
their device channels (``/ws``, the hub's bus channel ``user:<id>`` reaching whichever node
holds their sockets), to visitors through ``support.visitor:<id>``, which the node holding a
visitor's widget socket listens on. Pub/sub is at-most-once: a socket that was away reads the
conversation again when it comes back (the socket's hello, the REST history)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from yuntong.core.context import Context, Piece
from yuntong.realtime.auth import TicketSocket
from yuntong.realtime.connection import hub_of

VISITOR_CHANNEL = "support.visitor:{}"


class VisitorSockets:
    """The widget sockets this node holds, by visitor (several tabs each)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.sockets: dict[int, set[TicketSocket]] = {}

    def attach(self, visitor_id: int, socket: TicketSocket) -> None:
        held = self.sockets.setdefault(visitor_id, set())
        if not held:
            self.ctx.bus.subscribe(VISITOR_CHANNEL.format(visitor_id), self._deliver)
        held.add(socket)

    def detach(self, visitor_id: int, socket: TicketSocket) -> None:
        held = self.sockets.get(visitor_id)
        if held is None:
            return
        held.discard(socket)
        if not held:
            del self.sockets[visitor_id]
            self.ctx.bus.unsubscribe(VISITOR_CHANNEL.format(visitor_id), self._deliver)

    async def _deliver(self, message: dict[str, Any]) -> None:
        for socket in list(self.sockets.get(int(message["visitor_id"]), ())):
            await socket.send_event(str(message["type"]), message["data"])


VISITOR_SOCKETS = Piece(
    "support.visitor_sockets",
    "node-owned live state",
    VisitorSockets,
    "the desk widget sockets this node holds, by visitor, each listening on its bus channel",
)


def visitor_sockets(ctx: Context) -> VisitorSockets:
    return ctx.services.get(VISITOR_SOCKETS)


async def to_visitor(ctx: Context, visitor_id: int, type_: str, data: dict[str, Any]) -> None:
    await ctx.bus.publish(
        VISITOR_CHANNEL.format(visitor_id), {"visitor_id": visitor_id, "type": type_, "data": data}
    )


async def to_agents(
    ctx: Context, user_ids: Iterable[int], type_: str, data: dict[str, Any]
) -> None:
    hub = hub_of(ctx)
    for user_id in set(user_ids):
        await hub.send(user_id, type_, data)
