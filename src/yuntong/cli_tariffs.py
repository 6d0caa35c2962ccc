"""``yuntong tariffs``: import the price table and trunks' cost tables, look up what a call to
a number costs, and the margin report per trunk and category (docs/tariffs.md). Imports are
recorded under an operator (``--as``, default the first operator admin). It sits beside cli.py,
not in the tariffs package: it builds contexts (services), which imports it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from yuntong.accounts import directory
from yuntong.accounts.auth import Principal, principal_for
from yuntong.cli_run import command_settings, run_action
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import translate
from yuntong.core.money import format_yuan
from yuntong.numbers.directory import parse_dialled
from yuntong.tariffs import imports, margins
from yuntong.tariffs.imports import ImportedTable, TariffTableInvalid
from yuntong.tariffs.margins import MarginReport
from yuntong.tariffs.rating import OutsideRate, rate_of

T = TypeVar("T")
tariffs_app = typer.Typer(
    help="Outside-call tariffs: import prices and trunk costs, quote a number, margins.",
    no_args_is_help=True,
)
import_app = typer.Typer(help="Import a price table or a trunk's cost table (CSV).")
tariffs_app.add_typer(import_app, name="import")
console = Console()
errors = Console(stderr=True)

AsOperator = Annotated[
    str | None, typer.Option("--as", help="Operator username the import is recorded under.")
]
EffectiveFrom = Annotated[
    datetime | None,
    typer.Option(
        "--from", help="In force from (ISO time, e.g. 2027-01-01T00:00+08:00; default now)."
    ),
]
Note = Annotated[str, typer.Option(help="A note kept with the version.")]
File = Annotated[Path, typer.Argument(help="The CSV file (UTF-8, with its header line).")]


def _act(operator: str | None, action: Callable[[Context, Principal], Awaitable[T]]) -> T:
    """Run ``action`` as the operator; a faulty table's lines are printed before its refusal."""

    async def as_operator(ctx: Context) -> T:
        staff = principal_for(await directory.find_operator(ctx, operator), "", "cli")
        try:
            return await action(ctx, staff)
        except TariffTableInvalid as exc:
            locale = ctx.settings.default_locale
            for row in exc.rows[: imports.SHOWN_ERRORS]:
                errors.print(f"  line {row.line}: {row.code}: {row.message(locale)}")
            raise

    return run_action(command_settings(), as_operator)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise typer.BadParameter("give the time zone, e.g. 2027-01-01T00:00+08:00")
    return moment


def _done(table: ImportedTable) -> None:
    what = "Price table" if table.kind == "prices" else f"Cost table of {table.trunk}"
    console.print(
        f"{what}: version {table.table_id}, {table.rows} rows, "
        f"in force from {table.effective_from.isoformat()}"
    )


@import_app.command("prices")
def import_prices(
    file: File, effective_from: EffectiveFrom = None, note: Note = "", operator: AsOperator = None
) -> None:
    """Import a new version of the price table (all or nothing)."""
    text = file.read_text(encoding="utf-8-sig")
    start = _aware(effective_from)
    _done(
        _act(
            operator,
            lambda ctx, staff: imports.do_import_prices(
                ctx, staff, text, effective_from=start, note=note
            ),
        )
    )


@import_app.command("costs")
def import_costs(
    trunk: Annotated[str, typer.Argument(help="The trunk's name.")],
    file: File,
    effective_from: EffectiveFrom = None,
    note: Note = "",
    operator: AsOperator = None,
) -> None:
    """Import a new version of a trunk's cost table (all or nothing)."""
    text = file.read_text(encoding="utf-8-sig")
    start = _aware(effective_from)
    _done(
        _act(
            operator,
            lambda ctx, staff: imports.do_import_costs(
                ctx, staff, trunk, text, effective_from=start, note=note
            ),
        )
    )


@tariffs_app.command("quote")
def quote(
    number: Annotated[str, typer.Argument(help="The number (national, or +/00 form).")],
    trunk: Annotated[str, typer.Option(help="The trunk, for its cost.")] = "",
    home_area: Annotated[
        str | None, typer.Option("--home-area", help="The caller's area code (e.g. 010).")
    ] = None,
) -> None:
    """What a call to NUMBER costs a minute (and the trunk's cost)."""

    async def action(ctx: Context) -> tuple[str, OutsideRate]:
        e164 = parse_dialled(number)
        if e164 is None:
            raise YuntongError("tariff_destination_invalid")
        rate = await rate_of(ctx, trunk=trunk, destination=e164, home_area=home_area)
        if rate is None:
            raise YuntongError("tariff_no_rate")
        return e164, rate

    e164, rate = run_action(command_settings(), action)
    category = translate(f"tariffs.category.{rate.category}", "en")
    console.print(f"{e164}: {rate.name_en} / {rate.name_zh} ({category}), prefix {rate.prefix}")
    console.print(
        f"price {format_yuan(rate.price_per_minute_fen)} a minute, billed per {rate.increment_s} s"
    )
    if trunk:
        cost = rate.cost_per_minute_fen
        shown = "no cost row" if cost is None else f"{format_yuan(cost)} a minute"
        console.print(f"cost on {trunk}: {shown}")


@tariffs_app.command("margins")
def margins_report(
    first: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day (default: 29 days ago)."),
    ] = None,
    last: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (default: today)."),
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the report to this CSV file.")
    ] = None,
    operator: AsOperator = None,
) -> None:
    """Revenue, cost and margin of outside calls per trunk and category."""

    async def action(ctx: Context, staff: Principal) -> MarginReport:
        start, end = margins.period(
            ctx, first.date() if first else None, last.date() if last else None
        )
        return await margins.margin_report(ctx, staff, start, end)

    report = _act(operator, action)
    table = Table(
        "trunk",
        "category",
        "calls",
        "minutes",
        "revenue",
        "cost",
        "margin",
        "no cost",
        title=(f"Outside calls {report.start.isoformat()} – {report.end.isoformat()}"),
    )
    for line in [*report.lines, report.total]:
        table.add_row(
            line.trunk or "total",
            line.category,
            str(line.calls),
            line.billed_minutes,
            format_yuan(line.revenue_fen),
            format_yuan(line.cost_fen),
            format_yuan(line.margin_fen),
            str(line.calls_without_cost),
        )
    console.print(table)
    if csv_file is not None:
        csv_file.write_text(margins.margin_csv(report), encoding="utf-8")
        console.print(f"written to {csv_file}")
