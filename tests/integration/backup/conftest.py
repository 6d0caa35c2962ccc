"""Builders for the backup tests: a database of each backend of the test's own (a backup test
destroys it), data made through the services, every row read back, the CLI with the key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import Result

from tests.conftest import make_settings, own_database
from tests.integration.accounts.conftest import register, run_cli
from tests.integration.billing.conftest import beijing, move_to, person, product, rate
from tests.integration.billing.test_call_usage_collection import finished_call
from yuntong.backup.sealed import new_key
from yuntong.billing import worker
from yuntong.billing.orders import orders
from yuntong.billing.statements import statements
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.db import Database
from yuntong.core.migrate import upgrade
from yuntong.models import Base
from yuntong.numbers import port_documents
from yuntong.services import build_context

KEY = new_key()
RECORDING = b"\x1a\x45\xdf\xa3 a recorded meeting " * 5000
DOCUMENT = b"%PDF-1.4 an authorisation document"
Rows = dict[str, list[dict[str, Any]]]


def backup_settings(var_dir: Path, url: str, backups: Path, **more: Any) -> Any:
    # calendar-month cycles, as the billing tests use
    return make_settings(
        var_dir, url, backup_key=KEY, backup_dir=backups, billing_close_day=1, **more
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def own_ctx(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Context]:
    """A Context on a migrated database of the test's own, with a backup key and folder."""
    async with own_database(request.param, tmp_path) as url:
        upgrade(url)
        settings = backup_settings(tmp_path / "var", url, tmp_path / "backups")
        ctx = build_context(settings, clock=FrozenClock())
        yield ctx
        await ctx.db.dispose()


async def backup_cli(ctx: Context, *args: str, env: dict[str, str] | None = None) -> Result:
    """``yuntong backup ARGS`` on the test's database, with the key and folder set."""
    base = {"YUNTONG_BACKUP_KEY": KEY, "YUNTONG_BACKUP_DIR": str(ctx.settings.backup_dir)}
    return await run_cli(ctx, "backup", *args, env={**base, **(env or {})})


@dataclass
class Made:
    caller: int
    callee: int
    port_ref: str
    recording: Path


async def make_data(ctx: Context, calls: int = 30) -> Made:
    """Staff, customers (one with identity data), a package ordered, calls made and rated, a
    statement issued; a recording and a porting document on disk."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    staff = await person(ctx, "operator_admin")
    customer, callee = await person(ctx), await person(ctx)
    await register(ctx, 7)
    package = await product(ctx, staff, fee_fen=3000, rates={"call.audio": rate("10", "60/60")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    move_to(ctx, beijing(2026, 11, 20, 10))
    for n in range(calls):
        await finished_call(ctx, f"c{n:04d}", customer.user_id, callee.user_id, 30 + n)
    await worker.run_once(ctx)
    move_to(ctx, beijing(2026, 12, 1, 2))
    await statements.do_close_cycle(ctx, "2026-11")
    recording = ctx.settings.var_dir / "recordings" / "m1" / "r1" / "out" / "meeting.webm"
    recording.parent.mkdir(parents=True)
    recording.write_bytes(RECORDING)
    await port_documents.store_document(ctx, "P1", DOCUMENT)
    return Made(customer.user_id, callee.user_id, "P1", recording)


async def all_rows(url: str) -> Rows:
    """Every row of every table, in primary-key order."""
    db = Database(url, pool_size=2)
    found: Rows = {}
    try:
        async with db.session() as s:
            for table in Base.metadata.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                rows = await s.execute(select(table).order_by(*order))
                found[table.name] = [dict(r._mapping) for r in rows]
    finally:
        await db.dispose()
    return found


@dataclass
class Writer:
    """Calls finished one after another (what a busy server writes): ``started`` after the
    first ten, until ``stop``."""

    started: asyncio.Event
    stop: asyncio.Event
    written: list[str]


async def keep_writing(ctx: Context, caller: int, callee: int, writer: Writer) -> None:
    written = writer.written
    while not writer.stop.is_set():
        call_id = f"w{len(written):06d}"
        await finished_call(ctx, call_id, caller, callee, 10)
        written.append(call_id)
        if len(written) == 10:
            writer.started.set()


async def destroy(ctx: Context) -> None:
    """The database dropped (PostgreSQL: its schema; SQLite: the file deleted)."""
    if ctx.db.is_sqlite:
        await ctx.db.dispose()
        path = Path(ctx.settings.effective_database_url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    async with ctx.db.connection() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await ctx.db.dispose()
