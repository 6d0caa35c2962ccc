"""Finished calls become usage records in one pass: the caller's account pays (opened for a
caller who never had one), each call once, however often the worker passes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select

from tests.integration.billing.conftest import account_of, beijing, move_to, person
from yuntong.billing.ledger.usage import do_collect_call_usage
from yuntong.billing.models import BillingAccount, UsageRecord
from yuntong.calls.models import CallRecord
from yuntong.core.context import Context


async def finished_call(ctx: Context, call_id: str, caller: int, callee: int, seconds: int) -> None:
    ended = ctx.clock.now() - timedelta(minutes=1)
    async with ctx.db.session() as s:
        s.add(
            CallRecord(
                id=call_id,
                caller_id=caller,
                callee_id=callee,
                media="audio",
                state="ended",
                outcome="completed",
                end_reason="hangup",
                created_at=ended - timedelta(seconds=seconds + 5),
                answered_at=ended - timedelta(seconds=seconds),
                ended_at=ended,
                billable_seconds=seconds,
                duration_ms=seconds * 1000,
            )
        )


async def test_every_finished_call_is_one_usage_record_of_its_callers_account(
    ctx: Context,
) -> None:
    move_to(ctx, beijing(2026, 11, 10))
    known, newcomer, callee = await person(ctx), await person(ctx), await person(ctx)
    known_account = await account_of(ctx, known)  # opened before; the newcomer has none yet
    await finished_call(ctx, "c-known-1", known.user_id, callee.user_id, 61)
    await finished_call(ctx, "c-known-2", known.user_id, callee.user_id, 5)
    await finished_call(ctx, "c-newcomer", newcomer.user_id, callee.user_id, 30)
    await finished_call(ctx, "c-free", newcomer.user_id, callee.user_id, 0)  # not billable

    assert await do_collect_call_usage(ctx) == 3
    assert await do_collect_call_usage(ctx) == 0  # a second pass adds nothing

    async with ctx.db.session() as s:
        usage = {
            u.source_id: (u.account_id, u.user_id, u.quantity_s, u.usage_type)
            for u in (await s.execute(select(UsageRecord))).scalars()
        }
        opened = (
            await s.execute(
                select(BillingAccount).where(BillingAccount.user_id == newcomer.user_id)
            )
        ).scalar_one()
    assert usage == {
        "c-known-1": (known_account.id, known.user_id, 61, "call.audio"),
        "c-known-2": (known_account.id, known.user_id, 5, "call.audio"),
        "c-newcomer": (opened.id, newcomer.user_id, 30, "call.audio"),
    }


async def test_more_calls_than_a_page_within_the_margin_are_all_collected(ctx: Context) -> None:
    """2,500 calls ended in the same 20 seconds (300 set-ups/s for a few seconds do that): more
    than a page (2,000) inside the 60-s margin the collector looks back. Every one becomes a
    usage record, in this pass or the next — not only the first page, again and again (the
    signaling benchmark found 270 of 4,000 calls billed)."""
    move_to(ctx, beijing(2026, 11, 10))
    caller, callee = await person(ctx), await person(ctx)
    ended = ctx.clock.now() - timedelta(seconds=30)
    rows = [
        {
            "id": f"burst-{i:05d}",
            "caller_id": caller.user_id,
            "callee_id": callee.user_id,
            "media": "audio",
            "state": "ended",
            "outcome": "completed",
            "end_reason": "hangup",
            "created_at": ended - timedelta(seconds=2),
            "answered_at": ended - timedelta(seconds=1),
            "ended_at": ended + timedelta(milliseconds=8 * i),
            "billable_seconds": 1,
            "duration_ms": 1000,
        }
        for i in range(2_500)
    ]
    async with ctx.db.session() as s:
        await s.execute(insert(CallRecord), rows)
    first = await do_collect_call_usage(ctx)
    later = await do_collect_call_usage(ctx)
    async with ctx.db.session() as s:
        stored = await s.scalar(select(func.count(UsageRecord.id)))
    assert stored == 2_500
    assert first + later == 2_500
    assert await do_collect_call_usage(ctx) == 0
