"""``yuntong holidays``: show the holiday schedules working days are counted with, and import
the State Council's schedule of a new year (see :mod:`yuntong.core.workdays`)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from yuntong.config import load_settings
from yuntong.core.clock import Clock
from yuntong.core.workdays import (
    WorkCalendar,
    YearStatus,
    import_schedule,
    package_knows,
)

holidays_app = typer.Typer(
    help="Chinese public holidays and make-up working days (due dates count working days).",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


def _source(calendar: WorkCalendar, year: int) -> str:
    if year in calendar.imported:
        return f"imported ({calendar.imported[year].source or 'no source given'})"
    if package_knows(year):
        return "chinese-calendar package"
    if year in calendar.packaged:
        return "shipped with Yuntong"
    return "none: weekends only"


@holidays_app.command("show")
def show(
    year: Annotated[
        int | None, typer.Argument(help="One year's days off and working days.")
    ] = None,
) -> None:
    """Where each year's schedule comes from; with a year, its days that are not plain weekdays
    or weekends."""
    settings = load_settings()
    calendar = WorkCalendar.from_settings(settings)
    today = Clock().now().astimezone(ZoneInfo(settings.business_timezone)).date()
    if year is None:
        table = Table("year", "status", "source")
        for shown in range(today.year - 1, today.year + 2):
            table.add_row(str(shown), calendar.status(shown), _source(calendar, shown))
        console.print(table)
        console.print(f"Operator schedules: {settings.holidays_path}")
        for warning in calendar.warnings(today):
            errors.print(f"[yellow]warning[/yellow]: {warning['message']}")
        return
    in_force = calendar.imported.get(year)
    if in_force is None and not package_knows(year):
        in_force = calendar.packaged.get(year)
    status = calendar.status(year)
    console.print(f"{year}: {status} — {_source(calendar, year)}")
    table = Table("day", "weekday", "status", "name")
    day = date(year, 1, 1)
    while day.year == year:
        working = calendar.is_workday(day)
        if working != (day.weekday() < 5):
            name = ""
            if in_force is not None:
                name = in_force.holidays.get(day) or in_force.workdays.get(day) or ""
            table.add_row(
                day.isoformat(), day.strftime("%a"), "working day" if working else "day off", name
            )
        day += timedelta(days=1)
    console.print(table)
    if status == YearStatus.PROVISIONAL:
        errors.print(
            "[yellow]provisional[/yellow]: statutory holidays only; the State Council's notice "
            "moves days and sets make-up working days. Import it when it is published."
        )


@holidays_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A schedule file (JSON, see docs/operations.md).")],
) -> None:
    """Install a year's schedule (the State Council's notice) for due dates to count with; it
    replaces the schedule of that year shipped with Yuntong or imported before."""
    settings = load_settings()
    try:
        schedule, target = import_schedule(file, settings.holidays_path)
    except (OSError, ValueError) as exc:
        errors.print(f"[red]not imported[/red]: {exc}")
        raise typer.Exit(1) from None
    kind = "provisional" if schedule.provisional else "official"
    console.print(
        f"{schedule.year}: {len(schedule.holidays)} days off and {len(schedule.workdays)} "
        f"make-up working days imported as {kind} into {target}; due dates computed from now "
        "on count with it."
    )
