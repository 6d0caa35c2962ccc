"""The database in a backup: a consistent snapshot taken online, row counts per table from that
same snapshot, and the way back into a database.

SQLite: its backup API copies the file in one step, inside one read transaction (WAL: writers
go on meanwhile), so the copy is one moment of the database. PostgreSQL: ``pg_dump`` in its
custom format on a snapshot exported by a REPEATABLE READ transaction that counts the rows of
the same snapshot; ``pg_restore`` brings it back in one transaction. Both tools must be at
least the server's major version.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from shutil import which
from typing import Any

import asyncpg
from sqlalchemy import make_url

from yuntong.core.errors import YuntongError

NODES = "nodes"
SQLITE = "sqlite"
POSTGRESQL = "postgresql"


@dataclass
class Contents:
    """What a database holds: each table's rows, and its Alembic revision."""

    tables: dict[str, int]
    revision: str
    compressible: bool = False  # a SQLite file (pg_dump's custom format is compressed already)


@dataclass
class TargetState:
    """A database a backup may be restored into: its tables, the nodes heard in it lately, and
    (PostgreSQL) the other sessions connected to it."""

    exists: bool
    tables: list[str] = field(default_factory=list)
    live_nodes: list[str] = field(default_factory=list)
    sessions: int = 0


def backend_of(url: str) -> str:
    return SQLITE if make_url(url).get_backend_name() == SQLITE else POSTGRESQL


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _since(now: datetime, dead_after_s: float) -> datetime:
    return now - timedelta(seconds=dead_after_s)


# -- SQLite --------------------------------------------------------------------------------


def sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise YuntongError("backup_unsupported_database")
    return Path(database)


def sqlite_snapshot(source: Path, target: Path) -> str:
    """Copy the database at ``source`` to ``target`` in one step; returns SQLite's version."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # pages=-1: all at once, one read transaction, one moment
    finally:
        dst.close()
        src.close()
    return f"sqlite {sqlite3.sqlite_version}"


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return sorted(str(r[0]) for r in rows)


def sqlite_contents(path: Path) -> Contents:
    conn = sqlite3.connect(path)
    try:
        tables = {
            t: int(conn.execute(f"SELECT count(*) FROM {_quoted(t)}").fetchone()[0])  # noqa: S608
            for t in _sqlite_tables(conn)
        }
        revision = ""
        if "alembic_version" in tables:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = str(row[0]) if row else ""
    finally:
        conn.close()
    return Contents(tables, revision, compressible=True)


def sqlite_target(path: Path, now: datetime, dead_after_s: float) -> TargetState:
    if not path.exists() or path.stat().st_size == 0:
        return TargetState(exists=path.exists())
    conn = sqlite3.connect(path, timeout=30)
    try:
        tables = _sqlite_tables(conn)
        live: list[str] = []
        if NODES in tables:
            since = _since(now, dead_after_s)
            rows = conn.execute("SELECT id, last_seen_at FROM nodes WHERE stopped_at IS NULL")
            live = [str(i) for i, seen in rows if _aware(seen) >= since]
    finally:
        conn.close()
    return TargetState(True, tables, sorted(live))


def _aware(stored: Any) -> datetime:
    moment = stored if isinstance(stored, datetime) else datetime.fromisoformat(str(stored))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored naive, in UTC


def sqlite_put_in_place(restored: Path, target: Path) -> None:
    """Move the restored file onto the target, after its WAL (none may be left: nothing runs)."""
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    restored.replace(target)


def sqlite_set_aside(target: Path, aside: Path) -> None:
    """Keep the database being replaced: checkpoint its WAL into it, then rename it."""
    conn = sqlite3.connect(target, timeout=30)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    target.replace(aside)
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)


# -- PostgreSQL ----------------------------------------------------------------------------


def pg_params(url: str, database: str | None = None) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "host": parsed.host or "localhost",
        "port": parsed.port or 5432,
        "user": parsed.username,
        "password": parsed.password,
        "database": database or parsed.database,
    }


def pg_env(url: str, database: str | None = None) -> dict[str, str]:
    """libpq's environment for the tools: the password never on a command line."""
    params = pg_params(url, database)
    env = {"PGHOST": str(params["host"]), "PGPORT": str(params["port"])}
    env["PGDATABASE"] = str(params["database"])
    env["PGAPPNAME"] = "yuntong-backup"
    if params["user"]:
        env["PGUSER"] = str(params["user"])
    if params["password"]:
        env["PGPASSWORD"] = str(params["password"])
    return env


async def pg_connect(url: str, database: str | None = None) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(**pg_params(url, database))
    except (OSError, asyncpg.PostgresError) as exc:
        raise YuntongError("backup_database_unreachable", reason=str(exc)) from None


def tool_version(tool: str) -> tuple[str, int]:
    """The tool's ``--version`` line and major version; ``backup_tool_missing`` without it."""
    path = which(tool)
    if path is None:
        raise YuntongError("backup_tool_missing", tool=tool)
    line = subprocess.run(  # noqa: S603
        [path, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    found = re.search(r"\)\s+(\d+)", line)
    return line, int(found.group(1)) if found else 0


async def check_tool(conn: asyncpg.Connection, tool: str) -> str:
    """The tool's version line, if it is at least the server's major version."""
    line, major = tool_version(tool)
    server = int(await conn.fetchval("SHOW server_version_num")) // 10000
    if major < server:
        raise YuntongError("backup_tool_too_old", tool=tool, version=major, server=server)
    return line


async def _pg_tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    return [str(r[0]) for r in rows]


async def pg_contents(conn: asyncpg.Connection) -> Contents:
    tables: dict[str, int] = {}
    for name in await _pg_tables(conn):
        tables[name] = int(await conn.fetchval(f"SELECT count(*) FROM {_quoted(name)}"))  # noqa: S608
    revision = ""
    if "alembic_version" in tables:
        revision = str(await conn.fetchval("SELECT version_num FROM alembic_version") or "")
    return Contents(tables, revision)


async def _run_tool(argv: list[str], env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        message = err.decode(errors="replace").strip().splitlines()[-3:]
        raise YuntongError("backup_tool_failed", tool=Path(argv[0]).name, reason=" ".join(message))


async def pg_dump(url: str, target: Path) -> tuple[Contents, str]:
    """Dump the database into ``target`` (custom format) and count its rows, both on one
    exported snapshot; returns the counts and pg_dump's version."""
    conn = await pg_connect(url)
    try:
        tool = await check_tool(conn, "pg_dump")
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = str(await conn.fetchval("SELECT pg_export_snapshot()"))
            contents = await pg_contents(conn)
            argv = [str(which("pg_dump")), "--format=custom", "--no-owner", "--no-privileges"]
            argv += [f"--snapshot={snapshot}", f"--file={target}"]
            await _run_tool(argv, pg_env(url))
    finally:
        await conn.close()
    return contents, tool


async def pg_restore(url: str, dump: Path, database: str | None = None) -> None:
    """Restore the dump into the (empty) database, in one transaction."""
    conn = await pg_connect(url, database)
    try:
        await check_tool(conn, "pg_restore")
    finally:
        await conn.close()
    params = pg_params(url, database)
    argv = [str(which("pg_restore")), "--no-owner", "--no-privileges", "--exit-on-error"]
    argv += ["--single-transaction", f"--dbname={params['database']}", str(dump)]
    await _run_tool(argv, pg_env(url, database))


async def pg_target(url: str, now: datetime, dead_after_s: float) -> TargetState:
    conn = await pg_connect(url)
    try:
        tables = await _pg_tables(conn)
        live: list[str] = []
        if NODES in tables:
            rows = await conn.fetch(
                "SELECT id FROM nodes WHERE stopped_at IS NULL AND last_seen_at >= $1",
                _since(now, dead_after_s),
            )
            live = sorted(str(r[0]) for r in rows)
        sessions = int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
        )
    finally:
        await conn.close()
    return TargetState(True, tables, live, sessions)


async def pg_empty(url: str) -> None:
    """Drop everything in the public schema (a restore over a database nothing uses)."""
    conn = await pg_connect(url)
    try:
        async with conn.transaction():
            await conn.execute("DROP SCHEMA public CASCADE")
            await conn.execute("CREATE SCHEMA public")
            await conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
    finally:
        await conn.close()


async def pg_scratch_contents(url: str, dump: Path, name: str) -> Contents:
    """Restore the dump into a new database ``name`` on the same server, count its rows, and
    drop it again."""
    admin = await pg_connect(url, "postgres")
    try:
        try:
            await admin.execute(f"CREATE DATABASE {_quoted(name)}")
        except asyncpg.PostgresError as exc:
            raise YuntongError("backup_scratch_refused", reason=str(exc)) from None
        try:
            await pg_restore(url, dump, name)
            conn = await pg_connect(url, name)
            try:
                return await pg_contents(conn)
            finally:
                await conn.close()
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
    except asyncpg.PostgresError as exc:
        raise YuntongError("backup_database_unreachable", reason=str(exc)) from None
    finally:
        await admin.close()
