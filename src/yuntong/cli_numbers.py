"""``yuntong numbers``: import blocks, list and search the inventory, hold, assign and release
numbers for customers, block and unblock, set the price tiers, and port numbers in and out
(携号转网; docs/numbers.md). Every
action is recorded under an operator (``--as``, default the first operator admin). It sits
beside cli.py, not in the numbers package: it builds contexts (services), which imports it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table

from yuntong.accounts import directory
from yuntong.accounts.auth import Principal, principal_for
from yuntong.cli_run import command_settings, run_action
from yuntong.core.context import Context
from yuntong.core.money import format_yuan
from yuntong.numbers import assignment, blocking, inventory, port_in, port_out, selection, tiers
from yuntong.numbers.models import NumberState, PortState
from yuntong.numbers.port_in import PortInForm, PortRequestView
from yuntong.numbers.selection import NumberQuery, NumberView

T = TypeVar("T")
numbers_app = typer.Typer(
    help="Phone numbers: import, search, hold, assign, release, block, tiers.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

AsOperator = Annotated[
    str | None, typer.Option("--as", help="Operator username the action is recorded under.")
]
ForUser = Annotated[str, typer.Option("--for", help="The customer's username.")]
Reason = Annotated[str, typer.Option("--reason", help="Why; kept in the number's trail.")]
Limit = Annotated[int, typer.Option(help="At most this many rows.")]


def _act(
    operator: str | None, action: Callable[[Context, Principal], Awaitable[T]], locale: str = ""
) -> T:
    """Run ``action`` as the operator on a fresh context; an error becomes a message, exit 1."""

    async def as_operator(ctx: Context) -> T:
        staff = principal_for(await directory.find_operator(ctx, operator), "", "cli")
        return await action(ctx, staff)

    return run_action(command_settings(), as_operator, locale)


def _table(views: list[NumberView]) -> None:
    number = Column("number", no_wrap=True, min_width=12)  # a number is never cut in two
    table = Table(number, "kind", "state", "attribution", "carrier", "pattern", "tier", "rent")
    for v in views:
        rent = "—" if v.monthly_rent_fen is None else format_yuan(v.monthly_rent_fen)
        table.add_row(
            v.national,
            v.kind,
            v.state,
            v.place("zh-CN") or "unknown",
            v.carrier,
            v.pattern or "—",
            v.tier or "—",
            rent,
        )
    console.print(table)
    console.print(f"{len(views)} numbers")


@numbers_app.command("import")
def import_block(
    carrier: Annotated[str, typer.Option(help="Carrier the block comes from.")],
    source_ref: Annotated[
        str, typer.Option("--source-ref", help="Allocation document (码号批文) or contract.")
    ],
    start: Annotated[str | None, typer.Option(help="First number of a range.")] = None,
    end: Annotated[str | None, typer.Option(help="Last number of a range.")] = None,
    file: Annotated[Path | None, typer.Option(help="A list: one number a line.")] = None,
    note: Annotated[str, typer.Option(help="A note kept with the block.")] = "",
    province: Annotated[str | None, typer.Option(help="Attribution for the block (zh).")] = None,
    city: Annotated[str | None, typer.Option(help="City for the block (zh).")] = None,
    province_en: Annotated[str | None, typer.Option("--province-en")] = None,
    city_en: Annotated[str | None, typer.Option("--city-en")] = None,
    operator: AsOperator = None,
) -> None:
    """Import a block (--start/--end, or --file) with its legitimate source."""
    if (start is None or end is None) == (file is None):
        errors.print("give --start and --end, or --file")
        raise typer.Exit(2)
    given = inventory.Attribution(province, city, province_en, city_en) if province else None
    source = inventory.BlockSource(carrier, source_ref, note, given)

    async def action(ctx: Context, staff: Principal) -> inventory.ImportResult:
        if file is not None:
            numbers = [n.strip() for n in file.read_text().splitlines() if n.strip()]
        else:
            assert start is not None and end is not None
            numbers = inventory.expand_range(start, end)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("Importing", total=len(numbers))

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return await inventory.do_import_block(ctx, staff, numbers, source, progress=advance)

    result = _act(operator, action)
    console.print(
        f"Block {result.block_id or '—'}: {result.imported} imported, "
        f"{result.skipped} already in the inventory, {len(result.invalid)} invalid."
    )
    for number, reason in result.invalid[:20]:
        console.print(f"  {number}: {reason}")


def _query(
    states: list[str],
    province: str | None,
    prefix: str | None,
    ends_with: str | None,
    contains: str | None,
    pattern: str | None,
    limit: int,
) -> NumberQuery:
    return NumberQuery(
        states=states,
        province=province,
        prefix=prefix,
        ends_with=ends_with,
        contains=contains,
        pattern=pattern,
        limit=limit,
    )


Province = Annotated[str | None, typer.Option(help="Province (zh or en, its beginning).")]
Prefix = Annotated[str | None, typer.Option(help="Numbers starting with these digits.")]
EndsWith = Annotated[str | None, typer.Option("--ends-with", help="Ending with these digits.")]
Contains = Annotated[str | None, typer.Option(help="Containing these digits.")]
Pattern = Annotated[str | None, typer.Option(help="Pattern class: AABB, ABCD, AAAA …")]


@numbers_app.command("list")
def list_numbers(
    state: Annotated[list[NumberState] | None, typer.Option(help="Only these states.")] = None,
    province: Province = None,
    prefix: Prefix = None,
    ends_with: EndsWith = None,
    contains: Contains = None,
    pattern: Pattern = None,
    limit: Limit = 100,
    operator: AsOperator = None,
) -> None:
    """Numbers in any state (staff view)."""
    states = [s.value for s in (state or list(NumberState))]
    query = _query(states, province, prefix, ends_with, contains, pattern, limit)
    _table(_act(operator, lambda ctx, staff: selection.list_numbers(ctx, staff, query)))


@numbers_app.command("search")
def search_numbers(
    province: Province = None,
    prefix: Prefix = None,
    ends_with: EndsWith = None,
    contains: Contains = None,
    pattern: Pattern = None,
    limit: Limit = 50,
    operator: AsOperator = None,
) -> None:
    """Available numbers, as customers search them."""
    query = _query([], province, prefix, ends_with, contains, pattern, limit)
    _table(_act(operator, lambda ctx, _staff: selection.search(ctx, query)))


async def _customer_id(ctx: Context, username: str) -> int:
    return (await directory.find_user_by_username(ctx, username)).id


@numbers_app.command("reserve")
def reserve(number: str, customer: ForUser, operator: AsOperator = None) -> None:
    """Hold a number for a customer."""

    async def action(ctx: Context, staff: Principal) -> NumberView:
        return await selection.do_reserve(ctx, staff, number, await _customer_id(ctx, customer))

    held = _act(operator, action)
    console.print(
        f"{held.e164} held for {customer} until {held.reserved_until:%Y-%m-%d %H:%M} UTC."
    )


@numbers_app.command("assign")
def assign(number: str, customer: ForUser, operator: AsOperator = None) -> None:
    """Assign a number to a customer (held by them, or available): its rent starts."""

    async def action(ctx: Context, staff: Principal) -> NumberView:
        return await assignment.do_assign(ctx, staff, number, await _customer_id(ctx, customer))

    done = _act(operator, action)
    rent = "—" if done.monthly_rent_fen is None else format_yuan(done.monthly_rent_fen)
    console.print(f"{done.e164} assigned to {customer} (tier {done.tier}, {rent} a month).")


@numbers_app.command("release")
def release(number: str, operator: AsOperator = None) -> None:
    """Release a number: quarantined, its rent ends with the cycle."""
    done = _act(operator, lambda ctx, staff: assignment.do_release(ctx, staff, number))
    console.print(f"{done.e164} quarantined until {done.quarantine_until:%Y-%m-%d} UTC.")


@numbers_app.command("block")
def block(number: str, reason: Reason, operator: AsOperator = None) -> None:
    """Take a number out of selection."""
    done = _act(operator, lambda ctx, staff: blocking.do_block(ctx, staff, number, reason))
    console.print(f"{done.e164} blocked.")


@numbers_app.command("unblock")
def unblock(number: str, reason: Reason, operator: AsOperator = None) -> None:
    """Offer a blocked number again."""
    done = _act(operator, lambda ctx, staff: blocking.do_unblock(ctx, staff, number, reason))
    console.print(f"{done.e164} available.")


@numbers_app.command("tier")
def set_tier(
    code: str,
    name_zh: Annotated[str, typer.Option("--name-zh")],
    name_en: Annotated[str, typer.Option("--name-en")],
    pattern: Annotated[list[str], typer.Option(help='Pattern class in the tier ("" plain).')],
    rent_fen: Annotated[int, typer.Option("--rent-fen", help="Monthly rent in fen.")],
    operator: AsOperator = None,
) -> None:
    """Create or change a price tier."""
    view = _act(
        operator,
        lambda ctx, staff: tiers.do_set_tier(
            ctx,
            staff,
            code,
            name_zh=name_zh,
            name_en=name_en,
            patterns=pattern,
            monthly_rent_fen=rent_fen,
        ),
    )
    rent = "—" if view.monthly_rent_fen is None else format_yuan(view.monthly_rent_fen)
    console.print(f"Tier {view.code}: {', '.join(view.patterns) or 'plain'} — {rent} a month.")


# -- porting (携号转网) ------------------------------------------------------------------------


def _port_table(views: list[PortRequestView]) -> None:
    table = Table(
        "id", "number", "customer", "from", "state", "checks", "porting date", "reason", "filed"
    )
    for v in views:
        table.add_row(
            str(v.id),
            v.e164,
            v.customer_username or str(v.customer_id),
            v.losing_carrier,
            v.state,
            "passed" if v.checks_passed else "—",
            str(v.porting_date or "—"),
            v.reason_text or v.reason or "—",
            f"{v.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)
    console.print(f"{len(views)} requests")


def _port_line(v: PortRequestView) -> None:
    why = f" ({v.reason_text or v.reason})" if v.reason else ""
    date_part = f", porting on {v.porting_date}" if v.porting_date else ""
    console.print(f"Request {v.id} ({v.ref}) for {v.e164}: {v.state}{date_part}{why}.")


@numbers_app.command("port-in")
def request_port_in(
    number: str,
    customer: ForUser,
    losing_carrier: Annotated[str, typer.Option("--losing-carrier", help="The number's carrier.")],
    document: Annotated[Path, typer.Option(help="The signed authorisation (PDF, JPEG, PNG).")],
    operator: AsOperator = None,
) -> None:
    """File a port-in request for a customer; the losing carrier's checks follow."""

    async def action(ctx: Context, staff: Principal) -> PortRequestView:
        form = PortInForm(
            number,
            losing_carrier,
            document.name,
            document.read_bytes(),
            await _customer_id(ctx, customer),
        )
        return await port_in.do_submit(ctx, staff, form)

    _port_line(_act(operator, action))


@numbers_app.command("port-requests")
def port_requests(
    state: Annotated[list[PortState] | None, typer.Option(help="Only these states.")] = None,
    operator: AsOperator = None,
) -> None:
    """The port-in requests, oldest first."""
    states = [s.value for s in state] if state else None
    _port_table(_act(operator, lambda ctx, staff: port_in.list_requests(ctx, staff, states)))


@numbers_app.command("approve")
def approve(
    request_id: int,
    porting_date: Annotated[
        str, typer.Option("--date", help="The porting date, YYYY-MM-DD (today or later).")
    ],
    operator: AsOperator = None,
) -> None:
    """Approve a port-in request whose checks passed."""
    try:
        day = date.fromisoformat(porting_date)
    except ValueError:
        errors.print("--date: YYYY-MM-DD")
        raise typer.Exit(2) from None
    _port_line(_act(operator, lambda ctx, staff: port_in.do_approve(ctx, staff, request_id, day)))


@numbers_app.command("reject")
def reject(request_id: int, reason: Reason, operator: AsOperator = None) -> None:
    """Reject an open port-in request."""
    _port_line(_act(operator, lambda ctx, staff: port_in.do_reject(ctx, staff, request_id, reason)))


@numbers_app.command("complete")
def complete(request_id: int, operator: AsOperator = None) -> None:
    """Complete an approved port-in on or after its date: the number is the customer's."""
    _port_line(_act(operator, lambda ctx, staff: port_in.do_complete(ctx, staff, request_id)))


@numbers_app.command("port-out-code")
def port_out_code(number: str, operator: AsOperator = None) -> None:
    """A port-out authorisation code for an assigned number (shown once)."""
    issued = _act(operator, lambda ctx, staff: port_out.do_issue_code(ctx, staff, number))
    console.print(
        f"{issued.number}: authorisation code {issued.code}, "
        f"valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC. It is not shown again."
    )


@numbers_app.command("port-out-present")
def port_out_present(
    number: str,
    code: str,
    gaining_carrier: Annotated[str, typer.Option("--gaining-carrier")] = "sandbox",
    operator: AsOperator = None,
) -> None:
    """The sandbox gaining carrier presents a code (development and tests)."""
    done = _act(
        operator, lambda ctx, _staff: port_out.sandbox_present(ctx, number, code, gaining_carrier)
    )
    console.print(f"{done.number} ported out to {done.gaining_carrier}.")
