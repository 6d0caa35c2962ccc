"""Backups made, verified, listed, pruned and restored (``yuntong backup``; docs/backup.md).

``do_create`` takes the database online (see ``database.py``), the data folders and, in an
archive of their own, the secrets; each sealed with the backup key, all named in a manifest.
``do_verify`` restores the database into a scratch database and compares every table's rows
and every file's checksum with the manifest. ``do_restore`` goes only into an empty database
where no node runs (or, with ``replace``, over one nothing uses: what was there is set aside
on SQLite, dropped on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from yuntong import __version__
from yuntong.accounts.roles import Actor, check_staff
from yuntong.backup import database, folders
from yuntong.backup.database import SQLITE, Contents, TargetState
from yuntong.backup.manifest import (
    MANIFEST,
    PARTIAL,
    PREFIX,
    VERIFIED,
    Manifest,
    Part,
    folder_name,
    load_manifest,
    read_manifest,
    write_private,
)
from yuntong.backup.sealed import BackupKey, SealedReader, SealedWriter, check_sealed
from yuntong.config import SECRETS_FILE, Settings, secrets_in_use, secrets_text
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.files import private_dir

log = get_logger(__name__)

DATABASE_FILE = "database.ytb"
FILES_FILE = "files.ytb"
SECRETS_ARCHIVE = "secrets.ytb"
CONFIG_FOLDER = "config"
# what verify finds wrong with a backup itself (kept in its verify.json); a wrong key or a
# missing tool says nothing about the backup
BACKUP_FAULTS = frozenset({"backup_tampered", "backup_incomplete", "backup_rows_differ"})
STALE_PARTIAL = timedelta(days=1)
ZLIB_LEVEL = 1  # call records shrink several times even at the fastest level

# (phase, done, total): phases "database", "files", "secrets", "verify", "restore"
Progress = Callable[[str, int, int | None], None]


def _quiet(phase: str, done: int, total: int | None) -> None:
    return None


@dataclass(frozen=True)
class BackupView:
    """A backup as the operator sees it (``yuntong backup list``, the staff page)."""

    name: str
    path: Path
    created_at: datetime
    backend: str
    schema_revision: str
    tables: int
    rows: int
    files: int
    size_bytes: int
    verified_at: datetime | None
    verified_ok: bool | None
    problem: str


@dataclass(frozen=True)
class VerifyResult:
    name: str
    ok: bool
    tables: int
    rows: int
    files: int
    seconds: float
    problem: str = ""


@dataclass(frozen=True)
class RestoreResult:
    name: str
    tables: int
    rows: int
    files: int
    secrets: bool
    set_aside: list[str] = field(default_factory=list)
    seconds: float = 0.0


def backup_root(settings: Settings, folder: Path | None = None) -> Path:
    """The backup folder: ``folder`` if given, else ``backup_dir`` (``backup_dir_missing``)."""
    root = folder or settings.backup_dir
    if root is None:
        raise YuntongError("backup_dir_missing")
    return private_dir(root.resolve())


# -- create --------------------------------------------------------------------------------


def _seal_file(source: Path, target: Path, key: BackupKey, on: Progress, *, compress: bool) -> Part:
    """Seal a file (a SQLite snapshot compressed first: zlib, fast level; a pg_dump archive
    is compressed already)."""
    writer = SealedWriter(target, key)
    total, done = source.stat().st_size, 0
    packer = zlib.compressobj(ZLIB_LEVEL) if compress else None
    with source.open("rb") as fh:
        while block := fh.read(1 << 20):
            writer.write(packer.compress(block) if packer else block)
            done += len(block)
            on("database", done, total)
    if packer:
        writer.write(packer.flush())
    writer.close()
    part = _part(target, writer)
    part.compression = "zlib" if compress else ""
    return part


def _part(target: Path, writer: SealedWriter, members: dict[str, str] | None = None) -> Part:
    return Part(
        target.name,
        writer.sealed.hexdigest(),
        writer.sealed_bytes,
        writer.plain.hexdigest(),
        writer.plain_bytes,
        members or {},
    )


async def _seal_database(
    settings: Settings, key: BackupKey, into: Path, on: Progress
) -> tuple[Part, str, str]:
    url = settings.effective_database_url
    with tempfile.TemporaryDirectory(dir=into) as scratch:
        plain = Path(scratch) / "database"
        on("database", 0, None)
        if database.backend_of(url) == SQLITE:
            tool = await asyncio.to_thread(
                database.sqlite_snapshot, database.sqlite_file(url), plain
            )
            contents = await asyncio.to_thread(database.sqlite_contents, plain)
        else:
            contents, tool = await database.pg_dump(url, plain)
        part = await asyncio.to_thread(
            _seal_file, plain, into / DATABASE_FILE, key, on, compress=contents.compressible
        )
    part.tables = contents.tables
    return part, contents.revision, tool


def _seal_folders(settings: Settings, key: BackupKey, into: Path, on: Progress) -> Part:
    roots = folders.data_folders(settings)
    total = folders.count_files(roots)
    on("files", 0, total)
    writer = SealedWriter(into / FILES_FILE, key)
    members = folders.pack_folders(roots, writer, lambda done: on("files", done, total))
    writer.close()
    return _part(into / FILES_FILE, writer, members)


def _secret_files(settings: Settings) -> dict[str, bytes]:
    """The secrets in use as a secrets file, and the configuration file (``YUNTONG_CONFIG``),
    which may hold more (SMTP, payment webhook, porting carrier)."""
    entries = {SECRETS_FILE: secrets_text(secrets_in_use(settings)).encode()}
    config = os.environ.get("YUNTONG_CONFIG")
    if config and Path(config).is_file():
        entries[f"{CONFIG_FOLDER}/{Path(config).name}"] = Path(config).read_bytes()
    return entries


def _seal_secrets(settings: Settings, key: BackupKey, into: Path) -> Part:
    writer = SealedWriter(into / SECRETS_ARCHIVE, key)
    members = folders.pack_bytes(_secret_files(settings), writer)
    writer.close()
    return _part(into / SECRETS_ARCHIVE, writer, members)


def _new_folder(root: Path, at: datetime) -> tuple[str, Path]:
    base = folder_name(at)
    for n in range(1, 100):
        name = base if n == 1 else f"{base}-{n}"
        if (root / name).exists():
            continue
        try:
            (root / (name + PARTIAL)).mkdir(mode=0o700)
        except FileExistsError:
            continue
        return name, root / (name + PARTIAL)
    raise YuntongError("backup_dir_missing")


async def do_create(
    ctx: Context, folder: Path | None = None, on_progress: Progress = _quiet
) -> BackupView:
    """Back up the database (online), the data folders and the secrets into a new backup."""
    key = BackupKey.from_settings(ctx.settings)
    root = backup_root(ctx.settings, folder)
    started, clock = ctx.clock.now(), time.monotonic()
    name, partial = _new_folder(root, started)
    try:
        db_part, revision, tool = await _seal_database(ctx.settings, key, partial, on_progress)
        files_part = await asyncio.to_thread(_seal_folders, ctx.settings, key, partial, on_progress)
        on_progress("secrets", 0, 1)
        secrets_part = await asyncio.to_thread(_seal_secrets, ctx.settings, key, partial)
        on_progress("secrets", 1, 1)
        manifest = Manifest(
            created_at=started,
            yuntong_version=__version__,
            backend=database.backend_of(ctx.settings.effective_database_url),
            schema_revision=revision,
            key_id=key.id_hex,
            database=db_part,
            files=files_part,
            secrets=secrets_part,
            tool=tool,
            seconds=round(time.monotonic() - clock, 3),
        )
        write_private(partial / MANIFEST, manifest.to_json(key))
        partial.rename(root / name)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("backup_created", name=name, rows=manifest.rows, seconds=manifest.seconds)
    return _view(root / name)


# -- list and retention --------------------------------------------------------------------


def _verified(path: Path) -> tuple[datetime | None, bool | None, str]:
    try:
        data = json.loads((path / VERIFIED).read_text())
        return datetime.fromisoformat(data["at"]), bool(data["ok"]), str(data.get("problem", ""))
    except (OSError, ValueError, KeyError):
        return None, None, ""


def _view(path: Path) -> BackupView:
    data = read_manifest(path)
    manifest = Manifest.from_dict(data)
    at, ok, problem = _verified(path)
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return BackupView(
        path.name,
        path,
        manifest.created_at,
        manifest.backend,
        manifest.schema_revision,
        len(manifest.database.tables),
        manifest.rows,
        len(manifest.files.members),
        size,
        at,
        ok,
        problem,
    )


def list_backups(settings: Settings, folder: Path | None = None) -> list[BackupView]:
    """The backups in the backup folder, newest first (manifests read, not checked: no key)."""
    root = backup_root(settings, folder)
    views: list[BackupView] = []
    for path in root.iterdir():
        if path.is_dir() and path.name.startswith(PREFIX) and (path / MANIFEST).is_file():
            try:
                views.append(_view(path))
            except (YuntongError, ValueError, TypeError, KeyError):
                log.warning("backup_manifest_unreadable", name=path.name)
    return sorted(views, key=lambda v: (v.created_at, v.name), reverse=True)


def to_keep(views: list[BackupView], daily: int, monthly: int, tz: ZoneInfo) -> set[str]:
    """The backups retention keeps: the newest of each of the ``daily`` newest days and of the
    ``monthly`` newest months (in the business time zone), and always the newest."""
    newest_of_day: dict[str, str] = {}
    newest_of_month: dict[str, str] = {}
    for view in sorted(views, key=lambda v: (v.created_at, v.name), reverse=True):
        local = view.created_at.astimezone(tz)
        newest_of_day.setdefault(f"{local:%Y-%m-%d}", view.name)
        newest_of_month.setdefault(f"{local:%Y-%m}", view.name)
    kept = set(list(newest_of_day.values())[:daily])
    kept |= set(list(newest_of_month.values())[:monthly])
    if views:
        kept.add(max(views, key=lambda v: (v.created_at, v.name)).name)
    return kept


def do_prune(settings: Settings, folder: Path | None = None) -> list[str]:
    """Delete the backups retention does not keep (``backup_keep_daily``,
    ``backup_keep_monthly``) and backups cut short over a day ago; returns their names."""
    root = backup_root(settings, folder)
    views = list_backups(settings, root)
    tz = ZoneInfo(settings.business_timezone)
    kept = to_keep(views, settings.backup_keep_daily, settings.backup_keep_monthly, tz)
    removed = [v.name for v in views if v.name not in kept]
    for name in removed:
        shutil.rmtree(root / name)
    now = time.time()
    for path in root.glob(f"{PREFIX}*{PARTIAL}"):
        if now - path.stat().st_mtime > STALE_PARTIAL.total_seconds():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    if removed:
        log.info("backups_pruned", removed=removed)
    return removed


def find(settings: Settings, name: str, folder: Path | None = None) -> Path:
    """A backup by name, or the newest with ``latest``."""
    root = backup_root(settings, folder)
    if name == "latest":
        views = list_backups(settings, root)
        if not views:
            raise YuntongError("backup_not_found", name=name)
        return views[0].path
    path = root / name
    if not name.startswith(PREFIX) or "/" in name or not (path / MANIFEST).is_file():
        raise YuntongError("backup_not_found", name=name)
    return path


# -- verify --------------------------------------------------------------------------------


def _open_checked(path: Path, key: BackupKey) -> Manifest:
    manifest = load_manifest(path, key)
    for part in (manifest.database, manifest.files, manifest.secrets):
        check_sealed(path / part.file, key, part.sha256)
    return manifest


def _unseal_to(source: Path, key: BackupKey, target: Path, part: Part, on: Progress) -> None:
    """Decrypt a sealed file into a new owner-only file, checking its plain checksum."""
    reader = SealedReader(source, key)
    unpacker = zlib.decompressobj() if part.compression == "zlib" else None
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    done = 0
    with os.fdopen(fd, "wb") as fh:
        while block := reader.read(1 << 20):
            done += len(block)
            fh.write(unpacker.decompress(block) if unpacker else block)
            on("restore", done, part.plain_bytes)
        if unpacker:
            fh.write(unpacker.flush())
    if reader.plain.hexdigest() != part.plain_sha256:
        raise YuntongError("backup_tampered", file=source.name)


def check_rows(expected: dict[str, int], found: Contents) -> None:
    """Every table of the manifest there, with as many rows (``backup_rows_differ``)."""
    for table in sorted(set(expected) | set(found.tables)):
        if expected.get(table) != found.tables.get(table):
            raise YuntongError(
                "backup_rows_differ",
                table=table,
                expected=expected.get(table, "—"),
                found=found.tables.get(table, "—"),
            )


def _check_members(reader: SealedReader, part: Part) -> None:
    sums, _ = folders.read_members(reader)
    if sums != part.members:
        wrong = sorted(set(sums) ^ set(part.members)) or [
            n for n in sorted(sums) if sums[n] != part.members[n]
        ]
        raise YuntongError("backup_tampered", file=wrong[0] if wrong else part.file)


async def _scratch_contents(
    settings: Settings, manifest: Manifest, path: Path, key: BackupKey, on: Progress
) -> Contents:
    url = settings.effective_database_url
    if manifest.backend != database.backend_of(url):
        raise YuntongError(
            "backup_backend_mismatch", backup=manifest.backend, target=database.backend_of(url)
        )
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".scratch-") as scratch:
        plain = Path(scratch) / "database"
        db = manifest.database
        await asyncio.to_thread(_unseal_to, path / db.file, key, plain, db, on)
        if manifest.backend == SQLITE:
            return await asyncio.to_thread(database.sqlite_contents, plain)
        return await database.pg_scratch_contents(url, plain, f"yt_verify_{uuid.uuid4().hex[:12]}")


async def do_verify(
    ctx: Context, name: str = "latest", folder: Path | None = None, on_progress: Progress = _quiet
) -> VerifyResult:
    """Restore the backup into a scratch database and compare every table's rows, the schema
    revision and every file's checksum with its manifest; the outcome is kept with the backup
    (its ``verify.json``) unless the key or a tool was at fault."""
    key = BackupKey.from_settings(ctx.settings)
    path = find(ctx.settings, name, folder)
    clock = time.monotonic()
    try:
        manifest = _open_checked(path, key)
        contents = await _scratch_contents(ctx.settings, manifest, path, key, on_progress)
        check_rows(manifest.database.tables, contents)
        if contents.revision != manifest.schema_revision:
            raise YuntongError("backup_tampered", file=manifest.database.file)
        for part in (manifest.files, manifest.secrets):
            on_progress("verify", 0, len(part.members))
            await asyncio.to_thread(_check_members, SealedReader(path / part.file, key), part)
            on_progress("verify", len(part.members), len(part.members))
    except YuntongError as exc:
        if exc.code in BACKUP_FAULTS:
            _record(ctx, path, ok=False, problem=exc.code)
            log.warning("backup_verify_failed", name=path.name, problem=exc.code)
        raise
    _record(ctx, path, ok=True, problem="")
    seconds = round(time.monotonic() - clock, 3)
    log.info("backup_verified", name=path.name, seconds=seconds)
    return VerifyResult(
        path.name,
        True,
        len(manifest.database.tables),
        manifest.rows,
        len(manifest.files.members),
        seconds,
    )


def _record(ctx: Context, path: Path, *, ok: bool, problem: str) -> None:
    body = {"at": ctx.clock.now().isoformat(), "ok": ok, "problem": problem}
    write_private(path / VERIFIED, json.dumps(body) + "\n")


# -- restore -------------------------------------------------------------------------------


async def _target_state(ctx: Context) -> TargetState:
    url = ctx.settings.effective_database_url
    now, dead_after = ctx.clock.now(), ctx.settings.node_dead_after_s
    if database.backend_of(url) == SQLITE:
        return await asyncio.to_thread(
            database.sqlite_target, database.sqlite_file(url), now, dead_after
        )
    return await database.pg_target(url, now, dead_after)


def check_may_restore(state: TargetState, replace: bool) -> None:
    """Restore only where nothing runs: no node heard lately, no other session on the
    database; and into an empty database unless ``replace`` is asked for."""
    if state.live_nodes:
        raise YuntongError("backup_restore_live", nodes=", ".join(state.live_nodes))
    if state.sessions:
        raise YuntongError("backup_restore_in_use", sessions=state.sessions)
    if state.tables and not replace:
        raise YuntongError("backup_restore_not_empty", tables=len(state.tables))


def _occupied(settings: Settings) -> list[Path]:
    return [r for r in folders.data_folders(settings).values() if r.is_dir() and any(r.iterdir())]


def _set_aside(path: Path, stamp: str) -> Path:
    aside = path.with_name(f"{path.name}.before-restore-{stamp}")
    path.rename(aside)
    return aside


async def _restore_database(
    ctx: Context,
    manifest: Manifest,
    path: Path,
    key: BackupKey,
    *,
    replace: bool,
    stamp: str,
    on: Progress,
) -> list[Path]:
    url = ctx.settings.effective_database_url
    db = manifest.database
    aside: list[Path] = []
    await ctx.db.dispose()  # this process holds nothing open on it meanwhile
    if manifest.backend == SQLITE:
        target = database.sqlite_file(url)
        incoming = target.with_name(f"{target.name}.restoring")
        incoming.unlink(missing_ok=True)
        try:
            await asyncio.to_thread(_unseal_to, path / db.file, key, incoming, db, on)
        except BaseException:
            incoming.unlink(missing_ok=True)
            raise
        if target.exists() and target.stat().st_size:
            moved = target.with_name(f"{target.name}.before-restore-{stamp}")
            await asyncio.to_thread(database.sqlite_set_aside, target, moved)
            aside.append(moved)
        database.sqlite_put_in_place(incoming, target)
        found = await asyncio.to_thread(database.sqlite_contents, target)
    else:
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".scratch-") as scratch:
            plain = Path(scratch) / "database"
            await asyncio.to_thread(_unseal_to, path / db.file, key, plain, db, on)
            if replace:
                await database.pg_empty(url)
            await database.pg_restore(url, plain)
        conn = await database.pg_connect(url)
        try:
            found = await database.pg_contents(conn)
        finally:
            await conn.close()
    check_rows(db.tables, found)
    return aside


def _restore_files(
    settings: Settings, path: Path, key: BackupKey, manifest: Manifest, with_secrets: bool
) -> None:
    roots = folders.data_folders(settings)
    for root in roots.values():
        private_dir(root)
    sums, _ = folders.read_members(
        SealedReader(path / manifest.files.file, key), folders.restore_path(roots)
    )
    if sums != manifest.files.members:
        raise YuntongError("backup_tampered", file=manifest.files.file)
    if not with_secrets:
        return
    sums, kept = folders.read_members(SealedReader(path / manifest.secrets.file, key))
    if sums != manifest.secrets.members:
        raise YuntongError("backup_tampered", file=manifest.secrets.file)
    for member, data in kept.items():
        if member == SECRETS_FILE:
            target = private_dir(settings.var_dir) / SECRETS_FILE
        else:  # the configuration file: put beside, for the operator to put in place
            target = private_dir(settings.var_dir / "restored-config") / Path(member).name
        write_private(target, data.decode())


async def do_restore(
    ctx: Context,
    name: str,
    folder: Path | None = None,
    *,
    replace: bool = False,
    with_secrets: bool = False,
    on_progress: Progress = _quiet,
) -> RestoreResult:
    """Restore a backup into the configured database and data folders (and, ``with_secrets``,
    the secrets file). Refused while a node runs on the database or another session uses it;
    refused over data (tables, data files) unless ``replace``: then the SQLite file and the
    folders are set aside (``….before-restore-<time>``) and the PostgreSQL schema is dropped.
    A secrets file there (the CLI generates one where none was) is always set aside. Every
    table's rows are counted against the manifest after."""
    key = BackupKey.from_settings(ctx.settings)
    path = find(ctx.settings, name, folder)
    clock = time.monotonic()
    manifest = _open_checked(path, key)
    url = ctx.settings.effective_database_url
    if manifest.backend != database.backend_of(url):
        raise YuntongError(
            "backup_backend_mismatch", backup=manifest.backend, target=database.backend_of(url)
        )
    state = await _target_state(ctx)
    check_may_restore(state, replace)
    occupied = _occupied(ctx.settings)
    if occupied and not replace:
        raise YuntongError("backup_restore_files_exist", folder=str(occupied[0]))
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    aside = await _restore_database(
        ctx, manifest, path, key, replace=bool(state.tables), stamp=stamp, on=on_progress
    )
    aside += [_set_aside(p, stamp) for p in occupied]
    secrets_file = ctx.settings.var_dir / SECRETS_FILE
    if with_secrets and secrets_file.exists():  # even a fresh one: the CLI generated it
        aside.append(_set_aside(secrets_file, stamp))
    on_progress("files", 0, len(manifest.files.members))
    await asyncio.to_thread(_restore_files, ctx.settings, path, key, manifest, with_secrets)
    on_progress("files", len(manifest.files.members), len(manifest.files.members))
    seconds = round(time.monotonic() - clock, 3)
    log.info("backup_restored", name=path.name, rows=manifest.rows, seconds=seconds)
    return RestoreResult(
        path.name,
        len(manifest.database.tables),
        manifest.rows,
        len(manifest.files.members),
        with_secrets,
        [str(p) for p in aside],
        seconds,
    )


# -- for staff -----------------------------------------------------------------------------

RECENT = 14


async def recent_backups(ctx: Context, actor: Actor) -> list[BackupView]:
    """The newest backups with their verification, for operator staff (read-only; empty when
    no backup folder is set)."""
    check_staff(actor)
    if ctx.settings.backup_dir is None:
        return []
    views = await asyncio.to_thread(list_backups, ctx.settings)
    return views[:RECENT]
