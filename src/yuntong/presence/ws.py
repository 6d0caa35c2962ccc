"""Presence on the ``/ws`` gateway: the ``presence.set`` handler and the snapshot a socket gets
after its greeting."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from yuntong.presence import service
from yuntong.realtime.connection import Connection, HandlerTable


class PresenceSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["online", "dnd"]


async def handle_set(conn: Connection, data: PresenceSet) -> dict[str, Any]:
    return {"status": await service.do_set_dnd(conn.ctx, conn.user_id, data.status == "dnd")}


async def send_snapshot(conn: Connection) -> None:
    """After the greeting (and the replay of a resume): everyone in the user's address book
    who has not blocked the user, with their presence."""
    await conn.channel.send_event(
        "presence.snapshot", {"contacts": await service.snapshot(conn.ctx, conn.user_id)}
    )


HANDLERS: HandlerTable = {"presence.set": (PresenceSet, handle_set)}
GREETERS = {"presence.snapshot": send_snapshot}
