"""Group commit: concurrent writes share transactions, each is committed before it returns,
and one bad statement fails alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from yuntong.accounts import service as accounts
from yuntong.calls.models import CallRecord
from yuntong.core.context import Context
from yuntong.core.groupcommit import GroupCommitter


def record(call_id: str, user_id: int) -> dict[str, object]:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    return {
        "id": call_id,
        "caller_id": user_id,
        "callee_id": user_id,
        "media": "audio",
        "state": "ringing",
        "created_at": now,
    }


async def count(ctx: Context) -> int:
    async with ctx.db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(CallRecord)) or 0)


async def test_concurrent_writes_are_grouped_and_all_committed(ctx: Context) -> None:
    user = await accounts.do_create_admin(ctx, "gcone", "correct horse battery", "subscriber")
    writer = GroupCommitter(ctx.db)
    writer.start()
    await asyncio.gather(
        *(writer.execute(insert(CallRecord).values(**record(f"c{i}", user.id))) for i in range(200))
    )
    assert await count(ctx) == 200  # every write returned only once committed
    assert writer.statements == 200
    assert writer.batches < 200  # and they shared transactions
    await writer.stop()


async def test_a_failing_statement_fails_alone(ctx: Context) -> None:
    user = await accounts.do_create_admin(ctx, "gc2", "correct horse battery", "subscriber")
    writer = GroupCommitter(ctx.db)
    writer.start()
    good = [insert(CallRecord).values(**record(f"g{i}", user.id)) for i in range(20)]
    duplicate = insert(CallRecord).values(**record("g3", user.id))
    results = await asyncio.gather(
        *(writer.execute(s) for s in [*good[:10], duplicate, *good[10:]]), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1
    assert isinstance(failures[0], IntegrityError)
    assert await count(ctx) == 20
    await writer.stop()


async def test_without_start_each_write_is_its_own_transaction(ctx: Context) -> None:
    user = await accounts.do_create_admin(ctx, "gc3", "correct horse battery", "subscriber")
    writer = GroupCommitter(ctx.db)
    await writer.execute(insert(CallRecord).values(**record("solo", user.id)))
    assert await count(ctx) == 1
    with pytest.raises(IntegrityError):
        await writer.execute(insert(CallRecord).values(**record("solo", user.id)))
