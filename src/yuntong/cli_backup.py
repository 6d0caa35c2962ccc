"""``yuntong backup``: make, verify, list, prune and restore encrypted backups of the database,
the data folders and the secrets (docs/backup.md). It sits beside cli.py, not in the backup
package: it builds contexts (services), which imports the package."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from yuntong.backup import service
from yuntong.backup.sealed import new_key
from yuntong.cli_run import command_settings, fail, run_action
from yuntong.config import Settings
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError

T = TypeVar("T")
backup_app = typer.Typer(
    help="Backups: create, verify, list, prune, restore (encrypted; docs/backup.md).",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

Folder = Annotated[
    Path | None,
    typer.Option("--folder", help="The backup folder (default: YUNTONG_BACKUP_DIR)."),
]
Name = Annotated[str, typer.Argument(help="A backup's name (`yuntong backup list`) or latest.")]
PHASES = {
    "database": "Database",
    "files": "Data files",
    "secrets": "Secrets",
    "verify": "Checking files",
    "restore": "Decrypting",
}


_fail = fail

_settings = command_settings


def _run(action: Callable[[Context], Awaitable[T]]) -> T:
    return run_action(_settings(), action)


def _plain(action: Callable[[Settings], T]) -> T:
    settings = _settings()
    try:
        return action(settings)
    except YuntongError as exc:
        raise _fail(exc, settings) from None


@contextmanager
def _progress() -> Iterator[service.Progress]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=False) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(phase: str, done: int, total: int | None) -> None:
            if total == 0:  # nothing to do there: shown as done
                done = total = 1
            if phase not in tasks:
                tasks[phase] = progress.add_task(PHASES.get(phase, phase), total=total)
            progress.update(tasks[phase], completed=done, total=total)

        yield advance


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    for unit, scale in (("KB", 1e3), ("MB", 1e6)):
        if n < scale * 1000:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 1e9:,.1f} GB"


@backup_app.command("key")
def key() -> None:
    """Print a new backup key. Set it as YUNTONG_BACKUP_KEY where backups are made and
    restored, and keep a copy apart from this machine: without it no backup can be read."""
    console.print(new_key())


@backup_app.command("create")
def create(folder: Folder = None) -> None:
    """Back up the database (online, while servers run), the data folders (recordings, porting
    documents, holiday schedules) and, in an archive of their own, the secrets; encrypted with
    the backup key. Then delete what retention does not keep."""

    async def action(ctx: Context) -> tuple[service.BackupView, list[str]]:
        with _progress() as on:
            made = await service.do_create(ctx, folder, on)
        return made, await asyncio.to_thread(service.do_prune, ctx.settings, folder)

    made, pruned = _run(action)
    console.print(
        f"backup {made.name}: {made.tables} tables, {made.rows:,} rows, {made.files} files, "
        f"{_size(made.size_bytes)} in {made.path}"
    )
    if pruned:
        console.print(f"deleted by retention: {', '.join(pruned)}")


@backup_app.command("verify")
def verify(name: Name = "latest", folder: Folder = None) -> None:
    """Restore a backup into a scratch database (a temporary SQLite file, or a PostgreSQL
    database created and dropped) and compare every table's rows and every file's checksum
    with its manifest."""

    async def action(ctx: Context) -> service.VerifyResult:
        with _progress() as on:
            return await service.do_verify(ctx, name, folder, on)

    result = _run(action)
    console.print(
        f"backup {result.name} verified: {result.tables} tables and {result.rows:,} rows as "
        f"listed, {result.files} files with their checksums ({result.seconds:.1f} s)"
    )


@backup_app.command("list")
def list_command(folder: Folder = None) -> None:
    """The backups in the backup folder, newest first, with their last verification."""
    views = _plain(lambda settings: service.list_backups(settings, folder))
    table = Table(
        "name", "created (UTC)", "database", "schema", "rows", "files", "size", "verified"
    )
    for v in views:
        if v.verified_ok is None:
            verified = "not verified"
        elif v.verified_ok:
            verified = f"ok {v.verified_at:%Y-%m-%d %H:%M}"
        else:
            verified = f"[red]FAILED[/red] {v.problem}"
        table.add_row(
            v.name,
            f"{v.created_at:%Y-%m-%d %H:%M:%S}",
            v.backend,
            v.schema_revision,
            f"{v.rows:,}",
            str(v.files),
            _size(v.size_bytes),
            verified,
        )
    console.print(table)
    console.print(f"{len(views)} backups")


@backup_app.command("prune")
def prune(folder: Folder = None) -> None:
    """Delete the backups retention does not keep (YUNTONG_BACKUP_KEEP_DAILY newest days,
    YUNTONG_BACKUP_KEEP_MONTHLY newest months)."""
    removed = _plain(lambda settings: service.do_prune(settings, folder))
    console.print(f"deleted: {', '.join(removed)}" if removed else "nothing to delete")


@backup_app.command("restore")
def restore(
    name: Name,
    folder: Folder = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Restore over existing data (no node may run): the SQLite file, the data "
            "folders and the secrets file are set aside, a PostgreSQL schema is dropped.",
        ),
    ] = False,
    with_secrets: Annotated[
        bool,
        typer.Option("--secrets", help="Also restore the secrets file (var/secrets.toml)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --replace.")] = False,
) -> None:
    """Restore a backup into the configured database (empty, or with --replace) and data
    folders. Refused while any node runs on the database."""
    if replace and not yes:
        typer.confirm("Replace the data that is there (PostgreSQL: dropped)?", abort=True)

    async def action(ctx: Context) -> service.RestoreResult:
        with _progress() as on:
            return await service.do_restore(
                ctx, name, folder, replace=replace, with_secrets=with_secrets, on_progress=on
            )

    result = _run(action)
    console.print(
        f"restored {result.name}: {result.tables} tables, {result.rows:,} rows (counted), "
        f"{result.files} files{', the secrets' if result.secrets else ''} "
        f"({result.seconds:.1f} s)"
    )
    for path in result.set_aside:
        console.print(f"set aside: {path}")
