"""Group commit: concurrent writes share transactions, each is committed before it returns,
and one bad statement fails alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from yuntong.accounts import registration
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


async def count(ctx: Context, prefix: str) -> int:
    """Records this test wrote (servers of earlier tests may share the database)."""
    stmt = select(func.count()).where(CallRecord.id.startswith(prefix))
    async with ctx.db.session() as s:
        return int(await s.scalar(stmt) or 0)


async def test_concurrent_writes_are_grouped_and_all_committed(ctx: Context) -> None:
    user = await registration.do_create_admin(ctx, "gcone", "correct horse battery", "subscriber")
    writer = GroupCommitter(ctx.db)
    writer.start()
    await asyncio.gather(
        *(
            writer.execute(insert(CallRecord).values(**record(f"gc1-{i}", user.id)))
            for i in range(200)
        )
    )
    assert await count(ctx, "gc1-") == 200  # every write returned only once committed
    assert writer.statements == 200
    assert writer.batches < 200  # and they shared transactions
    await writer.stop()


async def test_a_failing_statement_fails_alone(ctx: Context) -> None:
    user = await registration.do_create_admin(ctx, "gc2", "correct horse battery", "subscriber")
    writer = GroupCommitter(ctx.db)
    writer.start()
    good = [insert(CallRecord).values(**record(f"gc2-{i}", user.id)) for i in range(20)]
    duplicate = insert(CallRecord).values(**record("gc2-3", user.id))
    results = await asyncio.gather(
        *(writer.execute(s) for s in [*good[:10], duplicate, *good[10:]]), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1
    assert isinstance(failures[0], IntegrityError)
    assert await count(ctx, "gc2-") == 20
    await writer.stop()


async def test_without_start_each_write_is_its_own_transaction(ctx: Context) -> None:
    user = await registration.do_create_admin(ctx, "gc3", "correct horse battery", "subscriber")
    writer = GroupCommitter(ctx.db)
    await writer.execute(insert(CallRecord).values(**record("gc3-solo", user.id)))
    assert await count(ctx, "gc3-solo") == 1
    with pytest.raises(IntegrityError):
        await writer.execute(insert(CallRecord).values(**record("gc3-solo", user.id)))


async def test_writes_of_one_statement_go_as_one_executemany(ctx: Context) -> None:
    """The hot path's shape: statements built once, rows as parameters, mixed key sets."""
    user = await registration.do_create_admin(ctx, "gc4", "correct horse battery", "subscriber")
    insert_stmt = insert(CallRecord)
    update_stmt = update(CallRecord).where(CallRecord.id == bindparam("record_id"))
    writer = GroupCommitter(ctx.db)
    writer.start()
    rows = [record(f"gc4-{i}", user.id) for i in range(100)]
    for row in rows[::2]:
        row["end_reason"] = "hangup"  # a second parameter set for the same statement
    await asyncio.gather(*(writer.execute(insert_stmt, row) for row in rows))
    await asyncio.gather(
        *(
            writer.execute(update_stmt, {"record_id": f"gc4-{i}", "state": "ended"})
            for i in range(0, 100, 4)
        )
    )
    await writer.stop()
    assert writer.statements == 125
    assert writer.batches <= 4
    async with ctx.db.session() as s:
        ended = await s.scalar(
            select(func.count()).where(
                CallRecord.id.startswith("gc4-"), CallRecord.state == "ended"
            )
        )
        hung_up = await s.scalar(
            select(func.count()).where(
                CallRecord.id.startswith("gc4-"), CallRecord.end_reason == "hangup"
            )
        )
    assert (ended, hung_up) == (25, 50)


async def test_a_failing_row_of_an_executemany_fails_alone(ctx: Context) -> None:
    user = await registration.do_create_admin(ctx, "gc5", "correct horse battery", "subscriber")
    insert_stmt = insert(CallRecord)
    writer = GroupCommitter(ctx.db)
    writer.start()
    rows = [record(f"gc5-{i}", user.id) for i in range(20)]
    results = await asyncio.gather(
        *(writer.execute(insert_stmt, row) for row in [*rows[:10], rows[3], *rows[10:]]),
        return_exceptions=True,
    )
    await writer.stop()
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1
    assert isinstance(failures[0], IntegrityError)
    assert await count(ctx, "gc5-") == 20
