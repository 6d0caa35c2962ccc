"""Agents' presence on the desk: the status an agent chose (online, busy, away), kept in the
database so every node reads the same, and whether they have a socket on any node (the
realtime device directory, shared in Redis with several nodes). An agent without a socket is
offline whatever they chose; a new agent is away until they say otherwise."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from yuntong.core.context import Context
from yuntong.realtime.connection import hub_of
from yuntong.support.models import AgentPresence, AgentStatus

OFFLINE = "offline"


def effective(chosen: str | None, online: bool) -> str:
    """What an agent is: offline without a socket, else what they chose (away if never)."""
    if not online:
        return OFFLINE
    return chosen or AgentStatus.AWAY.value


async def chosen_statuses(ctx: Context, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    async with ctx.db.session() as s:
        rows = await s.execute(
            select(AgentPresence.user_id, AgentPresence.status).where(
                AgentPresence.user_id.in_(user_ids)
            )
        )
        return {int(user_id): str(status) for user_id, status in rows}


async def statuses_of(ctx: Context, user_ids: Sequence[int]) -> dict[int, str]:
    """Every agent's effective status (offline, online, busy, away)."""
    chosen = await chosen_statuses(ctx, user_ids)
    online = await hub_of(ctx).online_among(list(user_ids))
    return {u: effective(chosen.get(u), u in online) for u in user_ids}


async def write_status(ctx: Context, user_id: int, status: AgentStatus) -> None:
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        row = await s.get(AgentPresence, user_id)
        if row is None:
            s.add(AgentPresence(user_id=user_id, status=status.value, changed_at=now))
        else:
            row.status = status.value
            row.changed_at = now
