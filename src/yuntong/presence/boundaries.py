"""Presence pushed when a do-not-disturb window starts or ends. Windows start and end on whole
minutes, so each node looks once a minute, just after it turns, at the users online here who
have schedules, and pushes the presence of those whose do-not-disturb differs from a minute
before (:func:`yuntong.presence.service.do_push_dnd`). Nothing is remembered between looks:
both moments are judged on the state as it is now, so a change the user made meanwhile (pushed
when made) is not pushed twice. A user online on two nodes is pushed by both (the same status).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from yuntong.core.context import Context
from yuntong.core.logging import get_logger
from yuntong.presence.dnd import calendar_of, dnd_states
from yuntong.presence.service import do_push_dnd
from yuntong.realtime.connection import hub_of

log = get_logger(__name__)

BATCH = 1000  # users whose state one look reads at once
# looks just after the minute turns: a timer of the event loop may fire a little before the
# wall clock reaches its moment
MARGIN_S = 0.05


def seconds_to_next_minute(now: datetime) -> float:
    return 60.0 - now.second - now.microsecond / 1_000_000 + MARGIN_S


async def do_look(ctx: Context, before: datetime, now: datetime) -> list[int]:
    """Push the presence of the users online here whose do-not-disturb changed between
    ``before`` and ``now`` (a window started or ended, a pause ran out). Returns them."""
    users = list(hub_of(ctx).devices)
    calendar, states = calendar_of(ctx), dnd_states(ctx)
    changed = []
    for first in range(0, len(users), BATCH):
        found = await states.states_among(ctx, users[first : first + BATCH])
        changed += [
            user_id
            for user_id, state in found.items()
            if state.windows and calendar.is_on(state, before) != calendar.is_on(state, now)
        ]
    for user_id in changed:
        await do_push_dnd(ctx, user_id)
    return changed


async def _look_every_minute(ctx: Context) -> None:
    before = ctx.clock.now()
    while True:
        await ctx.clock.sleep(seconds_to_next_minute(ctx.clock.now()))
        now = ctx.clock.now()
        try:
            await do_look(ctx, before, now)
        except Exception:  # the next look compares with the same moment again
            log.exception("dnd_boundary_look_failed")
            continue
        before = now


def start_watching(ctx: Context) -> asyncio.Task[None]:
    return asyncio.create_task(_look_every_minute(ctx), name="dnd-boundaries")


async def stop_watching(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
