"""``yuntong sip``: a number's SIP phone account (make or rotate its password, shown once;
remove it), the calls through the SIP edge, and whether this machine's Kamailio runs and what
it has registered (docs/sip.md). Actions are recorded under an operator (``--as``, default the
first operator admin). The command is a process of its own: it reaches Kamailio's JSON-RPC
FIFO only on the machine that runs it, as the same user, with the same var dir."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Column, Table

from yuntong.accounts import directory
from yuntong.accounts.auth import Principal, principal_for
from yuntong.cli_run import command_settings, run_action
from yuntong.core.context import Context
from yuntong.sip import credentials, edge, records
from yuntong.sip.credentials import IssuedCredential
from yuntong.sip.models import SipCall, SipCredential

T = TypeVar("T")
sip_app = typer.Typer(
    help="SIP phones: a number's password, the edge's registrations, SIP calls.",
    no_args_is_help=True,
)
console = Console(highlight=False)

AsOperator = Annotated[
    str | None, typer.Option("--as", help="Operator username the action is recorded under.")
]
Number = Annotated[str, typer.Argument(help="The number, E.164 or national.")]


def _act(
    operator: str | None, action: Callable[[Context, Principal], Awaitable[T]], locale: str = ""
) -> T:
    """Run ``action`` as the operator on a fresh context that speaks to this machine's
    Kamailio when one runs with the same var dir; an error becomes a message, exit 1."""

    async def as_operator(ctx: Context) -> T:
        edge.attach_running_edge(ctx)
        staff = principal_for(await directory.find_operator(ctx, operator), "", "cli")
        return await action(ctx, staff)

    return run_action(command_settings(), as_operator, locale)


def _show_once(issued: IssuedCredential) -> None:
    console.print(f"{issued.number}: SIP password made. It is shown only this once.")
    for name, value in (
        ("username", issued.username),
        ("password", issued.password),
        ("domain", issued.domain),
        ("registrar", issued.registrar),
        ("transports", ", ".join(issued.transports)),
    ):
        console.print(f"{name:<12}{value}", markup=False, soft_wrap=True)


@sip_app.command("credentials")
def issue(
    number: Number,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Make a new password (the old one stops at once).")
    ] = False,
    operator: AsOperator = None,
) -> None:
    """Make a number's SIP password (shown once); --rotate makes a new one."""

    async def action(ctx: Context, staff: Principal) -> IssuedCredential | SipCredential:
        found = await credentials.credential_of(ctx, staff, number)
        if found is not None and not rotate:
            return found
        return await credentials.do_issue(ctx, staff, number)

    done = _act(operator, action)
    if isinstance(done, SipCredential):
        console.print(
            f"+{done.username} has a SIP account (password made {done.rotated_at:%Y-%m-%d %H:%M}"
            " UTC); its password is not shown again. --rotate makes a new one (the old one"
            " stops working at once)."
        )
        raise typer.Exit(1)
    _show_once(done)


@sip_app.command("revoke")
def revoke(number: Number, operator: AsOperator = None) -> None:
    """Remove a number's SIP account: its phones can no longer register or call."""
    _act(operator, lambda ctx, staff: credentials.do_revoke(ctx, staff, number))
    console.print(f"{number}: SIP account removed; its phones can no longer register or call.")


def _calls_table(calls: list[SipCall]) -> None:
    time = Column("time (UTC)", no_wrap=True)
    table = Table(time, "direction", "from", "to", "outcome", "code", "duration", "pdd")
    for c in calls:
        caller = c.calling_number or "unknown"
        outcome = c.outcome or c.state
        if c.outcome == "answered" and c.ended_at is None:
            outcome = "in call"
        table.add_row(
            f"{c.created_at:%Y-%m-%d %H:%M:%S}",
            c.direction,
            f"{caller} (withheld)" if c.withheld else caller,
            c.called_number or "unknown",
            outcome,
            "—" if c.final_code is None else str(c.final_code),
            f"{c.billable_seconds} s" if c.ended_at else "—",
            "—" if c.pdd_ms is None else f"{c.pdd_ms} ms",
        )
    console.print(table)
    console.print(f"{len(calls)} calls")


@sip_app.command("calls")
def calls(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    customer: Annotated[
        str | None, typer.Option("--for", help="Only this user's calls (their username).")
    ] = None,
    operator: AsOperator = None,
) -> None:
    """The newest calls through the SIP edge (every user's, or one's with --for)."""

    async def action(ctx: Context, _staff: Principal) -> list[SipCall]:
        user_id = None
        if customer is not None:
            user_id = (await directory.find_user_by_username(ctx, customer)).id
        return await records.calls_of(ctx, user_id, limit)

    _calls_table(_act(operator, action))


def _registrations(contacts: list[str] | None) -> None:
    if contacts is None:
        console.print("  registered phones: unknown (no Kamailio answers here)")
    elif not contacts:
        console.print("  no phone registered now")
    else:
        console.print(f"  phones registered now: {len(contacts)}")
        for contact in contacts:
            console.print(f"    {contact}", soft_wrap=True)


@sip_app.command("status")
def status(
    number: Annotated[
        str | None, typer.Argument(help="Also this number's account and registered phones.")
    ] = None,
    operator: AsOperator = None,
) -> None:
    """Whether Kamailio (the SIP edge) runs on this machine, and a number's registrations."""
    settings = command_settings()
    pid = edge.running_edge_pid(settings.var_dir)
    if pid is None:
        console.print(
            f"Kamailio (the SIP edge) is not running on this machine with var dir "
            f"{settings.var_dir}."
        )
    else:
        tls = f", tls :{settings.sip_tls_port}" if settings.sip_tls_port else ""
        console.print(
            f"Kamailio (the SIP edge) is running: pid {pid}, SIP on "
            f"{settings.sip_host}:{settings.sip_port} (udp, tcp{tls})."
        )
    if number is not None:

        async def action(
            ctx: Context, staff: Principal
        ) -> tuple[SipCredential | None, list[str] | None]:
            found = await credentials.credential_of(ctx, staff, number)
            if found is None:
                return None, None
            return found, await edge.contacts_of(ctx, found.username)

        found, contacts = _act(operator, action)
        if found is None:
            console.print(f"{number}: no SIP account.")
        else:
            console.print(
                f"+{found.username}: SIP account, password made "
                f"{found.rotated_at:%Y-%m-%d %H:%M} UTC."
            )
            _registrations(contacts)
    if pid is None:
        raise typer.Exit(1)
