"""The ``yuntong`` command: serve, database upgrades, operator accounts, user review, PII keys.

Staff actions taken here (approve, reject, status) are audited under an operator account:
the one named with ``--as USERNAME``, or else the first active operator admin.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table

from yuntong import __version__, strings
from yuntong.accounts import directory, registration
from yuntong.accounts import identity as accounts_identity
from yuntong.accounts import status as accounts_status
from yuntong.accounts.auth import Principal, principal_for
from yuntong.accounts.models import AccountStatus, Role
from yuntong.app import create_app
from yuntong.billing import worker
from yuntong.billing.collections import dunning
from yuntong.billing.statements import statements
from yuntong.cli_backup import backup_app
from yuntong.cli_conferences import conferences_app
from yuntong.cli_dnd import dnd_app
from yuntong.cli_numbers import numbers_app
from yuntong.cli_run import command_settings, run_action
from yuntong.cli_security import security_app
from yuntong.cli_sip import sip_app
from yuntong.cli_status import status_app
from yuntong.cli_tariffs import tariffs_app
from yuntong.cluster import nodes
from yuntong.config import Settings, load_settings, rotate_pii_key
from yuntong.core.context import Context
from yuntong.core.crypto import PiiCipher
from yuntong.core.errors import YuntongError
from yuntong.core.logging import configure_logging
from yuntong.core.migrate import upgrade
from yuntong.core.workdays_cli import holidays_app
from yuntong.meetings import service as meetings
from yuntong.sla import completion
from yuntong.supplementary import products as supplementary_products
from yuntong.supplementary import profile as supplementary_profile

T = TypeVar("T")

app = typer.Typer(
    help="Yuntong 云通 — real-time communication control plane.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
admin_app = typer.Typer(help="Operator staff accounts.", no_args_is_help=True)
user_app = typer.Typer(help="Review and enforcement of user accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys that encrypt identity data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(user_app, name="user")
billing_app = typer.Typer(help="Billing: rating, cycle close, daily jobs.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(billing_app, name="billing")
app.add_typer(holidays_app, name="holidays")
app.add_typer(numbers_app, name="numbers")
app.add_typer(backup_app, name="backup")
app.add_typer(security_app, name="security")
app.add_typer(status_app, name="status")
app.add_typer(tariffs_app, name="tariffs")

console = Console()
errors = Console(stderr=True)


def _print_version(wanted: bool) -> None:
    if wanted:
        console.print(f"yuntong {__version__}")
        raise typer.Exit()


@app.callback()
def _install_strings(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    # every command, with or without a context, reads the one string catalogue
    strings.install()


AsOperator = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Operator username the action is recorded under (default: first operator admin).",
    ),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; recorded and shown to the user.")]


_settings = command_settings

_run = run_action


async def _operator(ctx: Context, username: str | None) -> Principal:
    try:
        user = await directory.find_operator(ctx, username)
    except YuntongError as exc:
        if username is None and exc.code == "user_not_found":
            errors.print("No operator admin exists yet: run `yuntong admin create` first.")
        raise
    return principal_for(user, session_id="", via="cli")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (YUNTONG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (YUNTONG_PORT).")] = None,
) -> None:
    """Migrate the database, create the first operator admin if none exists, and serve."""
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_json)
    upgrade(settings.effective_database_url, cipher=PiiCipher.from_settings(settings))
    created = _run(settings, registration.do_bootstrap_operator_admin)
    url = settings.public_url or f"http://{settings.host}:{settings.port}/"
    console.print(f"Yuntong {__version__} — open [bold]{url}[/bold]  (API docs: {url}docs)")
    if created:
        username, password = created
        console.print(
            Panel(
                f"URL:      {url}\nUsername: {username}\nPassword: {password}\n\n"
                "This password is shown only once. Sign in and change it.",
                title="First operator admin created",
            )
        )
    run_server(settings)


def run_server(settings: Settings) -> None:
    """Serve the app with uvicorn (also used by the tests' server processes)."""
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # request lines can carry personal data in query strings (look-ups by phone)
        access_log=False,
        ws_max_size=settings.ws_max_message_bytes * 2,
        ws_per_message_deflate=settings.ws_compression,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest version."""
    settings = _settings()
    # the key ring: some migrations move personal data into ciphertext (0005: e-mail addresses)
    upgrade(settings.effective_database_url, cipher=PiiCipher.from_settings(settings))
    console.print("Database is up to date.")


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="New account's username.")],
    role: Annotated[
        str, typer.Option(help="operator_admin or support_agent.")
    ] = Role.OPERATOR_ADMIN.value,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an active operator staff account."""
    if role not in (Role.OPERATOR_ADMIN, Role.SUPPORT_AGENT):
        errors.print("role must be operator_admin or support_agent")
        raise typer.Exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings()
    user = _run(settings, lambda ctx: registration.do_create_admin(ctx, username, password, role))
    console.print(f"Created {user.role} [bold]{user.username}[/bold] (id {user.id}).")


@user_app.command("list")
def user_list(
    status: Annotated[
        AccountStatus | None, typer.Option(help="Only accounts in this status.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
    operator: AsOperator = None,
) -> None:
    """List accounts; identity data is masked."""

    async def action(ctx: Context) -> list[tuple[Any, accounts_identity.IdentityView]]:
        actor = await _operator(ctx, operator)
        return await accounts_identity.list_users_masked(ctx, actor, status=status, limit=limit)

    rows = _run(_settings(), action)
    # a masked phone number is read whole, also on an 80-column terminal
    phone = Column("phone", no_wrap=True, min_width=len("+86138****0001"))
    table = Table("id", "username", "display name", "role", "status", "org", "name", phone)
    for user, identity in rows:
        table.add_row(
            str(user.id),
            user.username,
            user.display_name,
            user.role,
            user.status,
            str(user.organisation_id or ""),
            identity.full_name,
            identity.phone or "",
        )
    console.print(table)


def _staff_action(
    operator: str | None, username: str, act: Callable[[Context, Principal, int], Awaitable[Any]]
) -> Any:
    async def action(ctx: Context) -> Any:
        actor = await _operator(ctx, operator)
        user = await directory.find_user_by_username(ctx, username)
        return await act(ctx, actor, user.id)

    return _run(_settings(), action)


@user_app.command("approve")
def user_approve(username: str, operator: AsOperator = None) -> None:
    """Approve a pending (or rejected) registration."""
    user = _staff_action(operator, username, accounts_status.do_approve)
    console.print(f"{user.username}: {user.status}")


@user_app.command("reject")
def user_reject(username: str, reason: ReasonOption, operator: AsOperator = None) -> None:
    """Reject a pending registration."""
    user = _staff_action(
        operator,
        username,
        lambda ctx, actor, uid: accounts_status.do_reject(ctx, actor, uid, reason),
    )
    console.print(f"{user.username}: {user.status} ({reason})")


@user_app.command("status")
def user_status(
    username: str,
    status: Annotated[
        AccountStatus, typer.Argument(help="active, warned, limited, suspended, terminated")
    ],
    reason: ReasonOption,
    operator: AsOperator = None,
) -> None:
    """Move an account along the enforcement ladder."""
    user = _staff_action(
        operator,
        username,
        lambda ctx, actor, uid: accounts_status.do_set_status(ctx, actor, uid, status, reason),
    )
    console.print(f"{user.username}: {user.status} ({reason})")


@keys_app.command("rotate")
def keys_rotate(
    reencrypt_only: Annotated[
        bool,
        typer.Option(
            "--reencrypt-only", help="No new key; finish re-encrypting under the active key."
        ),
    ] = False,
) -> None:
    """Add a new identity-data key, make it active and re-encrypt everything under it."""
    if not reencrypt_only:
        kid = rotate_pii_key(_settings().var_dir)
        settings = _settings()
        if settings.pii_active_key != kid:
            errors.print(
                "The PII keys come from the environment or a config file, not var/secrets.toml: "
                f"add key {kid} there and make it active, then run with --reencrypt-only."
            )
            raise typer.Exit(1)
    else:
        settings = _settings()

    async def action(ctx: Context) -> int:
        total = await accounts_identity.count_pii_rows(
            ctx
        ) + await meetings.count_invitation_addresses(ctx)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"Re-encrypting under {ctx.cipher.active}", total=total)
            count = await accounts_identity.do_reencrypt_pii(
                ctx, lambda n: progress.advance(task, n)
            )
            # invitees' e-mail addresses
            return count + await meetings.do_reencrypt_invitations(
                ctx, lambda n: progress.advance(task, n)
            )

    count = _run(settings, action)
    console.print(f"{count} values re-encrypted under key {settings.pii_active_key}.")


@billing_app.command("close")
def billing_close(
    cycle: Annotated[str, typer.Option("--cycle", help="The cycle to close, YYYY-MM.")],
) -> None:
    """Close a billing cycle: statements for every account (running it again changes nothing)."""

    settings = _settings()

    async def action(ctx: Context) -> statements.CloseResult:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"Closing {cycle}", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return await statements.do_close_cycle(ctx, cycle, advance)

    result = _run(settings, action)
    console.print(
        f"{cycle}: {result.issued} statements issued, {result.already} already closed, "
        f"{result.empty} with nothing to bill, {result.not_due} not due yet."
    )


@billing_app.command("rate")
def billing_rate() -> None:
    """Rate every finished call and usage record not rated yet."""

    count = _run(_settings(), worker.run_once)
    console.print(f"{count} usage records rated.")


@billing_app.command("worker")
def billing_worker(
    pid_file: Annotated[
        Path | None, typer.Option("--pid-file", help="Write this process's id here.")
    ] = None,
    parent: Annotated[
        int | None, typer.Option(help="End when the process with this id (the server) ends.")
    ] = None,
) -> None:
    """Run the billing worker until stopped: rate new usage every
    YUNTONG_BILLING_RATING_INTERVAL_S, the daily jobs, pending e-mail. `yuntong serve` starts
    one itself (YUNTONG_BILLING_WORKER_PROCESS); run it by hand only where no server does."""

    settings = nodes.as_node(load_settings(), "billing-worker")
    configure_logging(settings.log_level, settings.log_json)
    worker.die_with_parent(parent)
    if pid_file is not None:
        pid_file.write_text(f"{os.getpid()}\n")
    try:
        _run(settings, worker.run_process)
    finally:
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)


@billing_app.command("daily")
def billing_daily() -> None:
    """Run the daily billing jobs now: close every ended cycle not closed yet, late fees,
    reminders, suspensions, pending e-mail (failed e-mails are retried and counted). Under the
    daily run's lease, like the servers' workers: while one of them runs it, this waits for
    that run to end."""

    async def action(ctx: Context) -> dunning.DailyResult:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("Reviewing accounts", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return await worker.do_daily_run_now(ctx, advance)

    result = _run(_settings(), action)
    console.print(
        f"{result.day}: {result.closed} statements issued by closing ended cycles; "
        f"{result.reviewed} accounts reviewed, {result.suspended} suspended, "
        f"{result.terminated} terminated, {result.lifted} restored; "
        f"late fees {result.late_fees_fen / 100:.2f} yuan; {result.mailed} e-mails sent."
    )
    if result.alerts:
        errors.print(
            f"{result.alerts} days' completion rate (NER) fell below the contract: "
            "`yuntong completion` shows them."
        )
    if result.mail_failed:
        errors.print(
            f"{result.mail_failed} notice e-mails failed and are retried on the next runs "
            "(log event notice_mail_failed gives each one's error)."
        )


@app.command("nodes")
def nodes_list() -> None:
    """List the nodes (servers and their billing workers) the database remembers, newest
    first, and which of them are alive (heard in Redis or the database within
    YUNTONG_NODE_DEAD_AFTER_S)."""

    found = _run(_settings(), nodes.list_nodes)
    table = Table("node", "role", "host", "pid", "version", "started (UTC)", "last seen", "state")
    for node in found:
        state = "alive" if node.alive else "stopped" if node.stopped_at else "dead"
        table.add_row(
            node.id,
            node.role,
            node.host,
            str(node.pid),
            node.version,
            f"{node.started_at:%Y-%m-%d %H:%M:%S}",
            f"{node.last_seen_at:%Y-%m-%d %H:%M:%S}",
            state,
        )
    console.print(table)


@app.command(
    "call",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def call(ctx: typer.Context) -> None:
    """Place a call from the terminal (see `yuntong call --help`)."""
    # the client is optional and heavy (aiortc): import it only when asked for
    module = importlib.import_module("yuntong.client.cli")
    command = module.call_command
    if isinstance(command, click.Command):
        command.main(args=list(ctx.args), prog_name="yuntong call", standalone_mode=True)
    else:
        result = command(list(ctx.args))
        if isinstance(result, int) and result:
            raise typer.Exit(result)


@app.command(
    "meeting",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def meeting(ctx: typer.Context) -> None:
    """Create or join a video meeting from the terminal (see `yuntong meeting --help`)."""
    module = importlib.import_module("yuntong.client.meeting_cli")
    result = module.meeting_command(list(ctx.args))
    if isinstance(result, int) and result:
        raise typer.Exit(result)


def _completion_table(title: str, label: str, rows: list[tuple[str, completion.Tally]]) -> Table:
    counts = ("attempts", "answered", "effective", "network failures", "ASR %", "NER %")
    table = Table(
        Column(label, no_wrap=True),
        *[Column(name, justify="right", no_wrap=True) for name in counts],
        "failures by cause",
        title=title,
    )
    for name, tally in rows:
        reasons = ", ".join(
            f"{cause} {completion.cause_name(cause)} {count}"
            for cause, count in sorted(tally.failures.items())
        )
        table.add_row(
            name,
            str(tally.attempts),
            str(tally.answered),
            str(tally.effective),
            str(tally.network_failures),
            tally.asr or "—",
            tally.ner or "—",
            reasons,
        )
    return table


@app.command("completion")
def completion_rate(
    first: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day (default: today).")] = None,
    customer: Annotated[
        int | None,
        typer.Option("--customer", min=1, max=2**31 - 1, help="One customer's billing account id."),
    ] = None,
    number: Annotated[str | None, typer.Option("--number", help="One calling number.")] = None,
    operator: AsOperator = None,
) -> None:
    """The completion rate (CP 2.1): ASR (E.411) and NER (E.425) per business day, with each
    network failure's cause, then per customer and per number (docs/completion-rate.md)."""

    def day(text: str | None, option: str) -> date | None:
        try:
            return None if text is None else date.fromisoformat(text)
        except ValueError:
            raise typer.BadParameter(f"{option} takes a day as YYYY-MM-DD") from None

    first_day, last_day = day(first, "--from"), day(last, "--to")

    async def action(ctx: Context) -> completion.Report:
        actor = await _operator(ctx, operator)
        return await completion.report_for(ctx, actor, customer, number, first_day, last_day)

    report = _run(_settings(), action)
    days = [(d.isoformat(), t) for d, t in report.days]
    days.append(("total", report.total))
    console.print(_completion_table(f"{report.first} – {report.last}", "day", days))
    contracted = completion.percent(report.contracted_bp, 10_000)
    below = [d for d, t in report.days if t.below(report.contracted_bp)]
    console.print(f"Contracted NER {contracted} %; days below it: {len(below)}")
    if report.customers:
        rows = [(f"{a} {report.names.get(a, '')}", t) for a, t in report.customers]
        console.print(_completion_table("customers (worst NER first)", "account", rows))
    if report.numbers:
        console.print(_completion_table("numbers (worst NER first)", "number", report.numbers))


# -- supplementary services (yuntong.supplementary) ---------------------------------------------

services_app = typer.Typer(
    help="Users' supplementary services: caller ID, forwarding, barring, call waiting, "
    "do-not-disturb.",
    no_args_is_help=True,
)
app.add_typer(services_app, name="services")
app.add_typer(conferences_app, name="conferences")
services_app.add_typer(dnd_app, name="dnd")  # do-not-disturb and its schedules (cli_dnd.py)
app.add_typer(sip_app, name="sip")  # SIP phones: credentials, calls, the edge (cli_sip.py)


@services_app.command("show")
def services_show(username: str) -> None:
    """A user's supplementary services, and which of them the user ordered."""

    async def action(ctx: Context) -> tuple[dict[str, Any], set[str]]:
        user = await directory.find_user_by_username(ctx, username)
        profile = await supplementary_profile.profile_of(ctx, user.id)
        return profile.public(), await supplementary_products.ordered_services(ctx, user.id)

    shown, ordered = _run(_settings(), action)
    table = Table("setting", Column("value", no_wrap=True))
    for name, value in shown.items():
        table.add_row(name, ", ".join(value) if isinstance(value, list) else str(value))
    console.print(table)
    console.print(f"ordered: {', '.join(sorted(ordered)) or '-'}")


@services_app.command("set")
def services_set(
    username: str,
    changes: Annotated[
        list[str], typer.Argument(help="name=value: clip=on cfu=13912345678 cfu=off ...")
    ],
    pin: Annotated[str | None, typer.Option(help="The user's barring PIN.")] = None,
) -> None:
    """Change a user's services as the user would: only services ordered, barring with the PIN."""

    async def action(ctx: Context) -> dict[str, Any]:
        user = await directory.find_user_by_username(ctx, username)
        parsed = supplementary_profile.parse_assignments(changes)
        done = await supplementary_profile.do_set_services(ctx, user.id, parsed, pin)
        return done.public()

    shown = _run(_settings(), action)
    console.print(", ".join(f"{k}={v}" for k, v in shown.items() if k in set(_names(changes))))


def _names(changes: list[str]) -> list[str]:
    return [text.partition("=")[0].strip() for text in changes]


@services_app.command("products")
def services_products(operator: AsOperator = None) -> None:
    """Add the services to the catalogue as add-on products priced from today (once)."""

    async def action(ctx: Context) -> list[str]:
        actor = await _operator(ctx, operator)
        return await supplementary_products.do_add_products(ctx, actor)

    added = _run(_settings(), action)
    console.print(f"added: {', '.join(added)}" if added else "all services are in the catalogue")


if __name__ == "__main__":  # pragma: no cover
    app()
