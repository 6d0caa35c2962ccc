"""What a realtime message handler gets: the attached session and its device channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from yuntong.accounts.auth import Principal
from yuntong.core.context import Context, Piece
from yuntong.realtime.hub import DeviceChannel, Hub


@dataclass
class Connection:
    ctx: Context
    principal: Principal
    channel: DeviceChannel

    @property
    def user_id(self) -> int:
        return self.principal.user_id

    @property
    def device_id(self) -> str:
        return self.channel.device_id


Handler = Callable[[Connection, Any], Awaitable[dict[str, Any] | None]]
HandlerTable = dict[str, tuple[type[BaseModel], Handler]]


HUB = Piece(
    "realtime.hub",
    "node-owned live state",
    Hub,
    "the device channels of the users connected to this node, with their resume buffers "
    "(who is online: shared state for issue 13)",
)


def hub_of(ctx: Context) -> Hub:
    return ctx.services.get(HUB)


async def forget_dead_devices(ctx: Context, *, at_start: bool = True) -> int:
    """A recovery (``cluster/recovery.py``): the online-device entries of dead nodes, and at
    start-up of this node's previous run, are deleted (they count as offline already)."""
    return await hub_of(ctx).recover(at_start=at_start)
