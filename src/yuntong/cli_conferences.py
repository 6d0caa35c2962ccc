"""``yuntong conferences``: a user's conference calls and a conference's legs with their billed
seconds and payers (docs/conferences.md), for support and billing questions. Read-only: the
controls act on a live bridge, which the serving nodes hold (the page or the REST API)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table

from yuntong.accounts import directory
from yuntong.cli_run import command_settings, run_action
from yuntong.conferences import service
from yuntong.conferences.models import Conference, ConferenceLeg
from yuntong.core.context import Context

T = TypeVar("T")
conferences_app = typer.Typer(
    help="Conference calls: a user's conferences, a conference's legs.", no_args_is_help=True
)
console = Console()


def _run(action: Callable[[Context], Awaitable[T]]) -> T:
    return run_action(command_settings(), action)


@conferences_app.command("list")
def conferences_list(username: str) -> None:
    """The conference calls a user organises, newest first."""

    async def action(ctx: Context) -> list[Conference]:
        user = await directory.find_user_by_username(ctx, username)
        return await service.conferences_of(ctx, user.id)

    table = Table("id", "title", "dial-in", "state", "locked", "opened")
    for c in _run(action):
        table.add_row(
            c.id,
            c.title,
            f"{c.dial_in}*PIN",
            c.state,
            "yes" if c.locked else "no",
            c.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@conferences_app.command("legs")
def conferences_legs(conference_id: str) -> None:
    """A conference's legs: who, how, when, billed seconds and who pays."""

    async def action(ctx: Context) -> tuple[Conference, list[ConferenceLeg]]:
        conference = await service.get_conference(ctx, conference_id)
        return conference, await service.legs_of(ctx, conference.id)

    conference, legs = _run(action)
    table = Table(
        "leg", "kind", "who", "joined", "left", "billed s", "payer", title=conference.title
    )
    for leg in legs:
        table.add_row(
            leg.id,
            leg.kind,
            leg.display,
            leg.joined_at.isoformat(timespec="seconds"),
            leg.left_at.isoformat(timespec="seconds") if leg.left_at else "in the call",
            str(leg.billable_seconds),
            str(leg.payer_id) if leg.payer_id is not None else "-",
        )
    console.print(table)
