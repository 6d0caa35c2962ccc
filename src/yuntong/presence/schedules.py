"""Do-not-disturb schedules ("quiet hours"), the switch and its pause: the checks, the changes
(``do_*``) and what a user is shown of their state (issue 16; docs/supplementary-services.md,
"Do-not-disturb schedules").

Every change is written, noted in the cache every node reads (:mod:`yuntong.presence.dnd`) and
announced on the durable ``presence.dnd`` topic, on which the nodes holding the user's devices
push the new presence (:mod:`yuntong.presence.service`). Switching do-not-disturb off inside a
window pauses the schedules until that window ends; switching it on, or any change of the
schedules, ends the pause. Schedules are a paid supplementary service (``vas_dnd_schedule``):
adding or changing one needs it ordered; the switch, and deleting a schedule, are free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from yuntong.accounts import directory
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError, allows
from yuntong.presence import store
from yuntong.presence.dnd import calendar_of, dnd_states, states_from_database
from yuntong.presence.models import DndSchedule
from yuntong.presence.windows import (
    DAYS,
    DndState,
    Effective,
    weekday_mask,
    weekdays_of,
)
from yuntong.supplementary import products

CHANGED = "presence.dnd"  # durable bus topic {"user_id"}, after any change of a user's DND
MAX_SCHEDULES = 10
SERVICE = "dnd_schedule"  # the product that must be ordered (yuntong.supplementary.products)
NAME_MAX = 40
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True)
class ScheduleForm:
    """A schedule as a user gives it: times as ``HH:MM`` in the operator's time zone."""

    days: str
    start: str
    end: str
    weekdays: tuple[int, ...] = ()
    name: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class ScheduleView:
    id: int
    name: str
    days: str
    weekdays: list[int]
    start: str
    end: str
    enabled: bool
    overnight: bool  # ends on the next day
    whole_day: bool  # start equal to end: 24 hours


@dataclass(frozen=True)
class DndView:
    """A user's do-not-disturb as they are shown it: on or off, why, until when, the switch,
    the schedules, and what they may do."""

    effective: Effective
    manual: bool
    schedules: list[ScheduleView]
    ordered: bool  # scheduled DND (vas_dnd_schedule) ordered: schedules may be added, changed
    can_add: bool
    max_schedules: int
    timezone: str


# -- checks --------------------------------------------------------------------------------


def parse_time(text: str, field: str) -> int:
    """``HH:MM`` (00:00–23:59) as minutes after midnight."""
    found = _TIME.fullmatch(text.strip())
    if found is None:
        raise YuntongError("dnd_schedule_time_invalid", fields={field: "invalid"})
    return int(found[1]) * 60 + int(found[2])


def format_time(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def check_form(form: ScheduleForm) -> dict[str, Any]:
    """The columns of a valid schedule; ``dnd_schedule_*`` or ``validation_failed`` else."""
    if form.days not in DAYS:
        raise YuntongError("validation_failed", fields={"days": "invalid"})
    weekdays = set(form.weekdays)
    if form.days == "weekdays":
        if not weekdays or not weekdays <= set(range(1, 8)):
            raise YuntongError("dnd_schedule_weekdays_invalid", fields={"weekdays": "weekdays"})
    elif weekdays:
        raise YuntongError("dnd_schedule_weekdays_invalid", fields={"weekdays": "weekdays"})
    name = form.name.strip()
    if len(name) > NAME_MAX:
        raise YuntongError("validation_failed", fields={"name": "too_long"})
    start, end = parse_time(form.start, "start"), parse_time(form.end, "end")
    return {
        "name": name,
        "days": form.days,
        "weekdays": weekday_mask(weekdays),
        "start_minute": start,
        "end_minute": end,
        "enabled": form.enabled,
    }


async def check_ordered(ctx: Context, user_id: int) -> None:
    """Schedules are a paid service (``service_not_ordered`` unless ordered); the switch is
    free."""
    await products.check_ordered(ctx, user_id, {SERVICE})


def check_may_add(count: int) -> None:
    if count >= MAX_SCHEDULES:
        raise YuntongError("dnd_schedule_limit", max=MAX_SCHEDULES)


# -- views ---------------------------------------------------------------------------------


def view_of(row: DndSchedule) -> ScheduleView:
    return ScheduleView(
        id=row.id,
        name=row.name,
        days=row.days,
        weekdays=sorted(weekdays_of(row.weekdays)),
        start=format_time(row.start_minute),
        end=format_time(row.end_minute),
        enabled=row.enabled,
        overnight=row.end_minute <= row.start_minute,
        whole_day=row.end_minute == row.start_minute,
    )


async def list_schedules(ctx: Context, user_id: int) -> list[ScheduleView]:
    async with ctx.db.session() as s:
        return [view_of(row) for row in await store.schedules_of(s, user_id)]


async def state_of(ctx: Context, user_id: int) -> DndState:
    """The user's state as the cache holds it (read from the database on a miss)."""
    return (await dnd_states(ctx).states_among(ctx, [user_id]))[user_id]


async def effective_of(ctx: Context, user_id: int) -> Effective:
    return calendar_of(ctx).evaluate(await state_of(ctx, user_id), ctx.clock.now())


async def dnd_view(ctx: Context, user_id: int) -> DndView:
    state = (await states_from_database(ctx, [user_id]))[user_id]
    schedules = await list_schedules(ctx, user_id)
    ordered = SERVICE in await products.ordered_services(ctx, user_id)
    return DndView(
        effective=calendar_of(ctx).evaluate(state, ctx.clock.now()),
        manual=state.manual,
        schedules=schedules,
        ordered=ordered,
        can_add=ordered and allows(lambda: check_may_add(len(schedules))),
        max_schedules=MAX_SCHEDULES,
        timezone=ctx.settings.business_timezone,
    )


def effective_data(effective: Effective) -> dict[str, Any]:
    """The state as the ``presence.dnd`` event carries it (ISO 8601 moments)."""

    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "on": effective.on,
        "reason": effective.reason,
        "until": moment(effective.until),
        "paused_until": moment(effective.paused_until),
        "next_start": moment(effective.next_start),
    }


# -- changes -------------------------------------------------------------------------------


async def do_changed(ctx: Context, user_id: int) -> DndState:
    """After a committed change: the state read back, noted for every node, and announced."""
    state = (await states_from_database(ctx, [user_id]))[user_id]
    await dnd_states(ctx).note(user_id, state)
    await ctx.bus.publish(CHANGED, {"user_id": user_id})
    return state


async def do_create_schedule(ctx: Context, user_id: int, form: ScheduleForm) -> ScheduleView:
    """Add a schedule (at most :data:`MAX_SCHEDULES`); a pause of the schedules ends."""
    values = check_form(form)
    await check_ordered(ctx, user_id)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        check_may_add(await store.count_schedules(s, user_id))
        row = DndSchedule(user_id=user_id, created_at=now, updated_at=now, **values)
        s.add(row)
        await store.set_pause(s, user_id, None)
        await s.flush()
        view = view_of(row)
    await do_changed(ctx, user_id)
    return view


async def do_update_schedule(
    ctx: Context, user_id: int, schedule_id: int, form: ScheduleForm
) -> ScheduleView:
    """Replace one of the user's schedules; a pause of the schedules ends."""
    values = check_form(form)
    async with ctx.db.session() as s:
        row = await store.get_schedule(s, user_id, schedule_id)
        if row is None:
            raise YuntongError("dnd_schedule_not_found")
        await check_ordered(ctx, user_id)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = ctx.clock.now()
        await store.set_pause(s, user_id, None)
        view = view_of(row)
    await do_changed(ctx, user_id)
    return view


async def do_delete_schedule(ctx: Context, user_id: int, schedule_id: int) -> None:
    async with ctx.db.session() as s:
        row = await store.get_schedule(s, user_id, schedule_id)
        if row is None:
            raise YuntongError("dnd_schedule_not_found")
        await s.delete(row)
        await store.set_pause(s, user_id, None)
    await do_changed(ctx, user_id)


async def do_switch(ctx: Context, user_id: int, on: bool) -> Effective:
    """Switch do-not-disturb on (until switched off) or off — inside a window, off until the
    window ends (the schedules paused), after which they apply again."""
    now = ctx.clock.now()
    before = (await states_from_database(ctx, [user_id]))[user_id]
    pause = None
    if not on:
        scheduled = calendar_of(ctx).evaluate(DndState(windows=before.windows), now)
        pause = scheduled.until
    await directory.do_update_profile(ctx, user_id, dnd=on)
    async with ctx.db.session() as s:
        await store.set_pause(s, user_id, pause)
    state = await do_changed(ctx, user_id)
    return calendar_of(ctx).evaluate(state, now)
