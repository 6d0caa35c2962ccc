"""Backup benchmark: ``yuntong backup`` create, verify and restore of a database holding
1,000,000 call records (issue 19: "the backup/restore time for a database with 1,000,000 call
records").

What it measures, per backend: the wall time and this process's CPU (with its children:
``pg_dump``, ``pg_restore``; not the PostgreSQL server's) of :func:`service.do_create` (the
online snapshot, its row counts, encryption, the manifest), :func:`service.do_verify` (the
backup restored into a scratch database, every table counted) and :func:`service.do_restore`
into a new empty database (then every table counted against the manifest); the database's size
and the backup's. The call records are written with plain bulk inserts (what months of calls
leave), between two users made through the accounts service.

Run from the repository root::

    uv run python bench/backup.py                     # 1,000,000 call records, both backends
    uv run python bench/backup.py --backend sqlite --calls 100000

Results go to bench/RESULTS.md (the section between the ``backup`` markers).
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import asyncpg  # noqa: E402
from results_file import write_section  # noqa: E402

from yuntong.accounts import registration  # noqa: E402
from yuntong.backup import service  # noqa: E402
from yuntong.backup.sealed import new_key  # noqa: E402
from yuntong.config import Settings  # noqa: E402
from yuntong.core.context import close_context  # noqa: E402
from yuntong.core.migrate import upgrade  # noqa: E402
from yuntong.services import build_context  # noqa: E402

T = TypeVar("T")
SECTION_START = "<!-- backup:start -->"
SECTION_END = "<!-- backup:end -->"
PG_DSN = os.environ.get("YUNTONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BATCH = 50_000
START = datetime(2026, 6, 1, tzinfo=UTC)


def _settings(var_dir: Path, url: str, backups: Path, key: str) -> Settings:
    return Settings(
        var_dir=var_dir,
        database_url=url,
        backup_key=key,
        backup_dir=backups,
        start_coturn=False,
        start_sip=False,
        start_janus=False,
        billing_rating_interval_s=0,
        gc_freeze_interval_s=0,
        database_pool_size=2,
    ).with_generated_secrets()


async def _pg_database() -> str:
    name = f"yt_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def _drop(url: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


def _call(n: int, caller: int, callee: int) -> tuple[Any, ...]:
    created = START + timedelta(seconds=n * 13)
    seconds = 20 + n % 600
    return (
        f"bench{n:09d}",
        caller if n % 2 else callee,
        callee if n % 2 else caller,
        "video" if n % 7 == 0 else "audio",
        "ended",
        "completed",
        "hangup",
        "web-1",
        created,
        created + timedelta(seconds=5),
        created + timedelta(seconds=5 + seconds),
        seconds,
        seconds * 1000,
        True,
    )


COLUMNS = [
    "id",
    "caller_id",
    "callee_id",
    "media",
    "state",
    "outcome",
    "end_reason",
    "caller_device",
    "created_at",
    "answered_at",
    "ended_at",
    "billable_seconds",
    "duration_ms",
    "callee_seen",
]


def _sqlite_value(v: Any) -> Any:
    return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v


def _seed_sqlite(path: Path, calls: int, caller: int, callee: int) -> None:
    conn = sqlite3.connect(path)
    marks = ", ".join("?" for _ in COLUMNS)
    sql = f"INSERT INTO call_records ({', '.join(COLUMNS)}) VALUES ({marks})"
    try:
        for at in range(0, calls, BATCH):
            rows = (
                tuple(_sqlite_value(v) for v in _call(n, caller, callee))
                for n in range(at, min(calls, at + BATCH))
            )
            with conn:
                conn.executemany(sql, rows)
    finally:
        conn.close()


async def _seed_pg(url: str, calls: int, caller: int, callee: int) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        records = (_call(n, caller, callee) for n in range(calls))
        await conn.copy_records_to_table("call_records", columns=COLUMNS, records=records)
        await conn.execute("ANALYZE call_records")
    finally:
        await conn.close()


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


async def _timed(action: Callable[[], Awaitable[T]]) -> tuple[T, float, float]:
    cpu, wall = _cpu(), time.perf_counter()
    result = await action()
    return result, round(time.perf_counter() - wall, 2), round(_cpu() - cpu, 2)


async def _database_bytes(url: str) -> int:
    if url.startswith("sqlite"):
        return os.stat(url.split("///", 1)[1]).st_size
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()


async def measure_backend(backend: str, calls: int, folder: Path) -> dict[str, Any]:
    key = new_key()
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'var' / 'yuntong.db'}"
        target = f"sqlite+aiosqlite:///{folder / 'restored' / 'yuntong.db'}"
        (folder / "var").mkdir()
        (folder / "restored").mkdir()
    else:
        url, target = await _pg_database(), await _pg_database()
    try:
        upgrade(url)
        ctx = build_context(_settings(folder / "var", url, folder / "backups", key))
        users = [
            await registration.do_create_admin(
                ctx, f"bench{i}", "correct horse battery", "subscriber"
            )
            for i in range(2)
        ]
        t = time.perf_counter()
        if backend == "sqlite":
            await ctx.db.dispose()
            _seed_sqlite(Path(url.split("///", 1)[1]), calls, users[0].id, users[1].id)
        else:
            await _seed_pg(url, calls, users[0].id, users[1].id)
        seed_s = round(time.perf_counter() - t, 1)
        db_bytes = await _database_bytes(url)
        print(f"{backend}: {calls:,} call records written in {seed_s} s", flush=True)

        made, create_s, create_cpu = await _timed(lambda: service.do_create(ctx))
        print(f"{backend}: backup {create_s} s", flush=True)
        checked, verify_s, verify_cpu = await _timed(lambda: service.do_verify(ctx, made.name))
        print(f"{backend}: verify {verify_s} s", flush=True)
        await close_context(ctx)

        target_settings = _settings(folder / "restored-var", target, folder / "backups", key)
        restore_ctx = build_context(target_settings)
        restored, restore_s, restore_cpu = await _timed(
            lambda: service.do_restore(restore_ctx, made.name)
        )
        print(f"{backend}: restore {restore_s} s", flush=True)
        await close_context(restore_ctx)
        assert restored.rows == made.rows and checked.rows == made.rows
        return {
            "calls": calls,
            "rows": made.rows,
            "seed_s": seed_s,
            "database_bytes": db_bytes,
            "backup_bytes": made.size_bytes,
            "create_s": create_s,
            "create_cpu_s": create_cpu,
            "verify_s": verify_s,
            "verify_cpu_s": verify_cpu,
            "restore_s": restore_s,
            "restore_cpu_s": restore_cpu,
            "tool": _tool(made.path),
        }
    finally:
        if backend == "postgres":
            await _drop(url)
            await _drop(target)


def _tool(path: Path) -> str:
    return str(json.loads((path / "manifest.json").read_text()).get("tool", ""))


def _machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    disk = (
        subprocess.run(
            ["df", "-T", tempfile.gettempdir()], capture_output=True, text=True, check=False
        )
        .stdout.splitlines()[-1]
        .split()[1]
    )
    python = sys.version.split()[0]
    return f"{len(os.sched_getaffinity(0))} CPUs ({cpu}), Python {python}, temp on {disk}"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def render(run: dict[str, Any]) -> str:
    lines = [
        SECTION_START,
        "## Backup and restore (issue 19): "
        f"{max(r['calls'] for r in run['backends'].values()):,} call records",
        "",
        f"Run {run['at']} — `{run['argv']}`. Machine: {run['machine']}; "
        f"load average at the start {run['load']}, at the end {run.get('load_end', '?')} (other "
        "work shared the machine: times are upper bounds).",
        "",
        "Each database holds the call records (written by bulk insert) and two users; the "
        "backup is `service.do_create` (online snapshot and its row counts, AES-256-GCM, the "
        "manifest), verify restores it into a scratch database and counts every table, restore "
        "goes into a new empty database and counts every table against the manifest. CPU is "
        "this process's and its children's (`pg_dump`, `pg_restore`), not the PostgreSQL "
        "server's.",
        "",
        "| backend | call records | database | backup | backup s (CPU) | verify s (CPU) "
        "| restore s (CPU) | tool |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for backend, r in run["backends"].items():
        lines.append(
            f"| {backend} | {r['calls']:,} | {_mb(r['database_bytes'])} | "
            f"{_mb(r['backup_bytes'])} | {r['create_s']} ({r['create_cpu_s']}) | "
            f"{r['verify_s']} ({r['verify_cpu_s']}) | {r['restore_s']} ({r['restore_cpu_s']}) | "
            f"{r['tool']} |"
        )
    if run.get("findings"):
        lines += ["", "### Findings", "", run["findings"].strip()]
    lines += ["", SECTION_END, ""]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    result: dict[str, Any] = {
        "at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "argv": " ".join(["python bench/backup.py", *sys.argv[1:]]),
        "machine": _machine(),
        "load": f"{os.getloadavg()[0]:.2f}",
        "backends": {},
    }
    for backend in backends:
        folder = Path(tempfile.mkdtemp(prefix=f"yt-bench-backup-{backend}-"))
        try:
            result["backends"][backend] = await measure_backend(backend, args.calls, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    result["load_end"] = f"{os.getloadavg()[0]:.2f}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--findings", help="a file of findings to add to the section")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.findings:
        results["findings"] = Path(args.findings).read_text()
    section = render(results)
    print(section)
    if not args.no_write:
        write_section(BENCH / "RESULTS.md", SECTION_START, SECTION_END, section)


if __name__ == "__main__":
    main()
