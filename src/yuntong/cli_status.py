"""``yuntong status``: the public status page from the terminal — components, incidents (open,
update, resolve), maintenance (schedule, cancel), the summary, and the subscribers' outbox sent
now (docs/status-page.md). Every change is recorded under an operator (``--as``, default the
first operator admin). It sits beside cli.py: it builds contexts (services), which imports sla."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from yuntong.accounts import directory
from yuntong.accounts.auth import Principal, principal_for
from yuntong.cli_run import command_settings, run_action
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.sla import status, subscriptions

T = TypeVar("T")
status_app = typer.Typer(
    help="The public status page: components, incidents, maintenance.", no_args_is_help=True
)
component_app = typer.Typer(help="Components shown on the page.", no_args_is_help=True)
incident_app = typer.Typer(help="Incidents and their updates.", no_args_is_help=True)
maintenance_app = typer.Typer(help="Scheduled maintenance.", no_args_is_help=True)
status_app.add_typer(component_app, name="component")
status_app.add_typer(incident_app, name="incident")
status_app.add_typer(maintenance_app, name="maintenance")
console = Console()

AsOperator = Annotated[
    str | None, typer.Option("--as", help="Operator username the change is recorded under.")
]
MessageZh = Annotated[str, typer.Option("--message-zh", help="What to say, in Chinese.")]
MessageEn = Annotated[str, typer.Option("--message-en", help="What to say, in English.")]
Impacts = Annotated[
    list[str] | None,
    typer.Option("--impact", help="KEY=degraded|partial_outage|major_outage (repeat)."),
]


def _act(operator: str | None, action: Callable[[Context, Principal], Awaitable[T]]) -> T:
    """Run ``action`` as the operator on a fresh context; an error becomes a message, exit 1."""

    async def as_operator(ctx: Context) -> T:
        staff = principal_for(await directory.find_operator(ctx, operator), "", "cli")
        return await action(ctx, staff)

    return run_action(command_settings(), as_operator)


async def _impacts(ctx: Context, given: list[str]) -> dict[int, str]:
    """``video=major_outage`` → ``{component id: impact}``."""
    found: dict[int, str] = {}
    for item in given:
        key, sep, impact = item.partition("=")
        if not sep:
            raise YuntongError("validation_failed", fields={"impact": "invalid"})
        found[(await status.component_by_key(ctx, key.strip())).id] = impact.strip()
    return found


def _moment(value: str, name: str) -> datetime:
    """An ISO time; without an offset it is in the business time zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{name}: not an ISO date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(command_settings().business_timezone))
    return moment


@component_app.command("add")
def component_add(
    key: Annotated[str, typer.Argument(help="Stable key, e.g. video-calls.")],
    name_zh: Annotated[str, typer.Option("--zh", help="Name in Chinese.")],
    name_en: Annotated[str, typer.Option("--en", help="Name in English.")],
    position: Annotated[int, typer.Option(help="Place on the page (smallest first).")] = 0,
    operator: AsOperator = None,
) -> None:
    """Add a component to the page."""
    c = _act(
        operator, lambda ctx, s: status.do_create_component(ctx, s, key, name_zh, name_en, position)
    )
    console.print(f"component {c.key} (id {c.id}) added")


@component_app.command("defaults")
def component_defaults(operator: AsOperator = None) -> None:
    """Add the usual components the page lacks (Web & API, Video calls, Meetings, Cloud phone,
    Support desk)."""
    added = _act(operator, status.do_add_default_components)
    console.print(f"{len(added)} components added: {', '.join(c.key for c in added) or 'none'}")


@component_app.command("set")
def component_set(
    key: Annotated[str, typer.Argument(help="The component's key.")],
    state: Annotated[str, typer.Argument(help="|".join(status.STATES))],
    operator: AsOperator = None,
) -> None:
    """Set a component's state by hand (incidents and maintenance are added on top)."""

    async def action(ctx: Context, staff: Principal) -> None:
        c = await status.component_by_key(ctx, key)
        await status.do_update_component(ctx, staff, c.id, state=state)

    _act(operator, action)
    console.print(f"component {key}: {state}")


@incident_app.command("open")
def incident_open(
    title_zh: Annotated[str, typer.Option("--title-zh", help="Title in Chinese.")],
    title_en: Annotated[str, typer.Option("--title-en", help="Title in English.")],
    message_zh: MessageZh,
    message_en: MessageEn,
    impact: Impacts = None,
    state: Annotated[str, typer.Option("--status", help="First status.")] = "investigating",
    operator: AsOperator = None,
) -> None:
    """Open an incident with its first update (subscribers are e-mailed)."""

    async def action(ctx: Context, staff: Principal) -> status.Timeline:
        return await status.do_open_incident(
            ctx,
            staff,
            title_zh=title_zh,
            title_en=title_en,
            impacts=await _impacts(ctx, impact or []),
            message_zh=message_zh,
            message_en=message_en,
            status=state,
        )

    t = _act(operator, action)
    console.print(f"incident {t.incident.id} opened: {t.incident.status}")


def _update(
    incident_id: int,
    state: str,
    message_zh: str,
    message_en: str,
    impact: list[str] | None,
    operator: str | None,
) -> None:
    async def action(ctx: Context, staff: Principal) -> status.Timeline:
        return await status.do_post_update(
            ctx,
            staff,
            incident_id,
            status=state,
            message_zh=message_zh,
            message_en=message_en,
            impacts=None if impact is None else await _impacts(ctx, impact),
        )

    t = _act(operator, action)
    console.print(f"incident {incident_id}: {t.incident.status}")


@incident_app.command("update")
def incident_update(
    incident_id: Annotated[int, typer.Argument(help="The incident's id.")],
    state: Annotated[str, typer.Option("--status", help="investigating|identified|monitoring")],
    message_zh: MessageZh,
    message_en: MessageEn,
    impact: Impacts = None,
    operator: AsOperator = None,
) -> None:
    """Post an update (without --impact the components' impact stays as it was)."""
    _update(incident_id, state, message_zh, message_en, impact, operator)


@incident_app.command("resolve")
def incident_resolve(
    incident_id: Annotated[int, typer.Argument(help="The incident's id.")],
    message_zh: MessageZh,
    message_en: MessageEn,
    operator: AsOperator = None,
) -> None:
    """Resolve an incident: its components are restored."""
    _update(incident_id, "resolved", message_zh, message_en, None, operator)


@maintenance_app.command("schedule")
def maintenance_schedule(
    title_zh: Annotated[str, typer.Option("--title-zh", help="Title in Chinese.")],
    title_en: Annotated[str, typer.Option("--title-en", help="Title in English.")],
    description_zh: Annotated[str, typer.Option("--description-zh", help="What, in Chinese.")],
    description_en: Annotated[str, typer.Option("--description-en", help="What, in English.")],
    start: Annotated[str, typer.Option(help="Start, ISO (business time zone unless given).")],
    end: Annotated[str, typer.Option(help="End, ISO (business time zone unless given).")],
    component: Annotated[list[str], typer.Option(help="A component's key (repeat).")],
    operator: AsOperator = None,
) -> None:
    """Announce a maintenance window (subscribers are e-mailed)."""
    starts_at, ends_at = _moment(start, "start"), _moment(end, "end")

    async def action(ctx: Context, staff: Principal) -> int:
        ids = [(await status.component_by_key(ctx, key)).id for key in component]
        m = await status.do_schedule_maintenance(
            ctx,
            staff,
            title_zh=title_zh,
            title_en=title_en,
            description_zh=description_zh,
            description_en=description_en,
            starts_at=starts_at,
            ends_at=ends_at,
            component_ids=ids,
        )
        return m.id

    console.print(f"maintenance {_act(operator, action)} scheduled")


@maintenance_app.command("cancel")
def maintenance_cancel(
    maintenance_id: Annotated[int, typer.Argument(help="The maintenance's id.")],
    operator: AsOperator = None,
) -> None:
    """Call off a maintenance window that has not ended."""
    _act(operator, lambda ctx, s: status.do_cancel_maintenance(ctx, s, maintenance_id))
    console.print(f"maintenance {maintenance_id} cancelled")


@status_app.command("list")
def list_status() -> None:
    """The page as it is now: components, open incidents, maintenance."""
    found = run_action(command_settings(), status.summary)
    console.print(f"overall: {found.state}")
    table = Table("key", "name", "state", "set by hand", "uptime 90 d")
    for v in found.components:
        c = v.component
        table.add_row(c.key, c.name_en, v.state, c.state, f"{v.uptime_pct}%")
    console.print(table)
    incidents = Table("incident", "title", "status", "since", "impact")
    for t in found.open_incidents:
        impact = ", ".join(f"{cid}={s}" for cid, s in t.impacts.items())
        since = t.incident.starts_at.isoformat(timespec="minutes")
        title = t.incident.title_en or t.incident.title
        incidents.add_row(str(t.incident.id), title, t.incident.status or "", since, impact)
    console.print(incidents)
    windows = Table("maintenance", "title", "state", "start", "end")
    for m, state in found.maintenance:
        start, end = (x.isoformat(timespec="minutes") for x in (m.starts_at, m.ends_at))
        windows.add_row(str(m.id), m.title_en, state, start, end)
    console.print(windows)


@status_app.command("mail")
def send_mail() -> None:
    """Send what the subscribers' outbox holds now (the worker does it on every pass)."""
    sent = run_action(command_settings(), subscriptions.do_send_pending)
    console.print(f"{sent} e-mails sent")
