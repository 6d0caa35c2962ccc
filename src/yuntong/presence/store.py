"""Queries of do-not-disturb schedules and their pause (the manual switch is on the user's
row: accounts keeps it)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from yuntong.presence.models import DndPause, DndSchedule
from yuntong.presence.windows import Window, weekdays_of


async def windows_among(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, list[Window]]:
    """The enabled schedules of ``ids`` as windows (users without any are absent)."""
    wanted = set(ids)
    if not wanted:
        return {}
    query = select(
        DndSchedule.user_id,
        DndSchedule.days,
        DndSchedule.weekdays,
        DndSchedule.start_minute,
        DndSchedule.end_minute,
    ).where(DndSchedule.user_id.in_(wanted), DndSchedule.enabled.is_(True))
    found: dict[int, list[Window]] = {}
    for user_id, days, mask, start, end in await conn.execute(query.order_by(DndSchedule.id)):
        found.setdefault(user_id, []).append(Window(days, weekdays_of(mask), start, end))
    return found


async def pauses_among(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, datetime]:
    wanted = set(ids)
    if not wanted:
        return {}
    query = select(DndPause.user_id, DndPause.until).where(DndPause.user_id.in_(wanted))
    return {user_id: until for user_id, until in await conn.execute(query)}


async def schedules_of(s: AsyncSession, user_id: int) -> list[DndSchedule]:
    query = select(DndSchedule).where(DndSchedule.user_id == user_id).order_by(DndSchedule.id)
    return list((await s.execute(query)).scalars())


async def count_schedules(s: AsyncSession, user_id: int) -> int:
    query = select(func.count()).select_from(DndSchedule).where(DndSchedule.user_id == user_id)
    return int(await s.scalar(query) or 0)


async def get_schedule(s: AsyncSession, user_id: int, schedule_id: int) -> DndSchedule | None:
    row = await s.get(DndSchedule, schedule_id)
    return row if row is not None and row.user_id == user_id else None


async def set_pause(s: AsyncSession, user_id: int, until: datetime | None) -> None:
    """Pause the user's schedules until ``until`` (None: no pause)."""
    row = await s.get(DndPause, user_id)
    if until is None:
        if row is not None:
            await s.delete(row)
    elif row is None:
        s.add(DndPause(user_id=user_id, until=until))
    else:
        row.until = until
