"""``yuntong services dnd``: a user's do-not-disturb — its state, the switch, and the schedules
(quiet hours) — changed as the user would change them (docs/supplementary-services.md,
"Do-not-disturb schedules"). It sits beside cli.py: it builds contexts (services), which
imports it. A change reaches running servers at once with Redis, else within the change feed's
poll (about a second)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from yuntong.accounts import directory
from yuntong.cli_run import command_settings, run_action
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.presence import schedules
from yuntong.presence.schedules import DndView, ScheduleForm, ScheduleView
from yuntong.presence.windows import DAYS

T = TypeVar("T")
dnd_app = typer.Typer(
    help="A user's do-not-disturb: state, switch, schedules (quiet hours).", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)

Days = Annotated[
    str, typer.Option("--days", help=f"{' | '.join(DAYS)} (workdays: official calendar, 调休)")
]
Weekdays = Annotated[
    str, typer.Option("--weekdays", help="with --days weekdays: 1 Monday … 7 Sunday, e.g. 1,3,5")
]
Start = Annotated[str, typer.Option("--from", help="HH:MM, the operator's time zone")]
End = Annotated[str, typer.Option("--to", help="HH:MM; at or before --from: the next day")]
Name = Annotated[str, typer.Option("--name", help="a label")]


def _run(action: Callable[[Context], Awaitable[T]]) -> T:
    """Run ``action`` on a fresh context; a YuntongError becomes a message and exit 1."""
    return run_action(command_settings(), action)


def _weekdays(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise YuntongError("dnd_schedule_weekdays_invalid") from None


def _moment(value: datetime | None, tz: str) -> str:
    return "-" if value is None else value.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M")


def _print(view: DndView) -> None:
    e = view.effective
    state = "on" if e.on else "off"
    if e.reason == "schedule":
        state += f" (schedule, until {_moment(e.until, view.timezone)})"
    elif e.reason == "manual":
        state += " (switched on)"
    elif e.paused_until is not None:
        state += f" (paused until {_moment(e.paused_until, view.timezone)})"
    if not e.on and e.next_start is not None:
        state += f"; next window {_moment(e.next_start, view.timezone)}"
    console.print(f"do-not-disturb: {state}")
    console.print(f"switch: {'on' if view.manual else 'off'}; times in {view.timezone}")
    if not view.ordered:
        console.print("schedules: not ordered (product vas_dnd_schedule); the switch is free")
    _table(view.schedules)


def _table(found: list[ScheduleView]) -> None:
    table = Table("id", "name", "days", "from", "to", "enabled")
    for s in found:
        days = ",".join(map(str, s.weekdays)) if s.days == "weekdays" else s.days
        end = s.end + (" (+1 day)" if s.overnight else "")
        table.add_row(str(s.id), s.name, days, s.start, end, "yes" if s.enabled else "no")
    console.print(table)


async def _user_id(ctx: Context, username: str) -> int:
    return (await directory.find_user_by_username(ctx, username)).id


@dnd_app.command("show")
def dnd_show(username: str) -> None:
    """The user's do-not-disturb now (on or off, why, until when) and schedules."""

    async def action(ctx: Context) -> DndView:
        return await schedules.dnd_view(ctx, await _user_id(ctx, username))

    _print(_run(action))


@dnd_app.command("switch")
def dnd_switch(username: str, state: Annotated[str, typer.Argument(help="on | off")]) -> None:
    """Switch do-not-disturb on, or off (inside a window: until the window ends)."""
    if state not in ("on", "off"):
        raise typer.BadParameter("on or off")

    async def action(ctx: Context) -> DndView:
        user_id = await _user_id(ctx, username)
        await schedules.do_switch(ctx, user_id, state == "on")
        return await schedules.dnd_view(ctx, user_id)

    _print(_run(action))


@dnd_app.command("add")
def dnd_add(
    username: str,
    days: Days,
    start: Start,
    end: End,
    weekdays: Weekdays = "",
    name: Name = "",
    disabled: Annotated[bool, typer.Option("--disabled", help="Keep it, not applied.")] = False,
) -> None:
    """Add a schedule (at most 10 per user)."""

    async def action(ctx: Context) -> DndView:
        user_id = await _user_id(ctx, username)
        form = ScheduleForm(days, start, end, _weekdays(weekdays), name, not disabled)
        await schedules.do_create_schedule(ctx, user_id, form)
        return await schedules.dnd_view(ctx, user_id)

    _print(_run(action))


@dnd_app.command("set")
def dnd_set(
    username: str,
    schedule_id: int,
    days: Annotated[str | None, typer.Option("--days", help=f"{' | '.join(DAYS)}")] = None,
    start: Annotated[str | None, typer.Option("--from", help="HH:MM")] = None,
    end: Annotated[str | None, typer.Option("--to", help="HH:MM")] = None,
    weekdays: Annotated[str | None, typer.Option("--weekdays", help="e.g. 1,3,5")] = None,
    name: Annotated[str | None, typer.Option("--name", help="a label")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Apply it, or keep it aside.")
    ] = None,
) -> None:
    """Change a schedule: the options given replace what it had."""

    async def action(ctx: Context) -> DndView:
        user_id = await _user_id(ctx, username)
        found = {s.id: s for s in await schedules.list_schedules(ctx, user_id)}
        if schedule_id not in found:
            raise YuntongError("dnd_schedule_not_found")
        old = found[schedule_id]
        new_days = old.days if days is None else days
        form = ScheduleForm(
            days=new_days,
            start=old.start if start is None else start,
            end=old.end if end is None else end,
            weekdays=(
                _weekdays(weekdays)
                if weekdays is not None
                else (tuple(old.weekdays) if new_days == "weekdays" else ())
            ),
            name=old.name if name is None else name,
            enabled=old.enabled if enabled is None else enabled,
        )
        await schedules.do_update_schedule(ctx, user_id, schedule_id, form)
        return await schedules.dnd_view(ctx, user_id)

    _print(_run(action))


@dnd_app.command("remove")
def dnd_remove(username: str, schedule_id: int) -> None:
    """Delete a schedule."""

    async def action(ctx: Context) -> DndView:
        user_id = await _user_id(ctx, username)
        await schedules.do_delete_schedule(ctx, user_id, schedule_id)
        return await schedules.dnd_view(ctx, user_id)

    _print(_run(action))
