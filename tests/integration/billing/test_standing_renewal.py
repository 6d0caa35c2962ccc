"""Rating renews the credit standings a server holds instead of dropping them (issue 20).

Before, every rating pass dropped the standing of every account it rated, so each caller's
next invite read its standing again on the call path (four statements); at 300 set-ups/s that
was most of the server's time. Now the rater's message renews them: the bus handler re-reads
them set-wise off the call path, and the next check reads nothing.

Limit 100.00; video 1.00/min at 60/60, 2 free minutes a month (worked out per test).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.integration.billing.conftest import account_of, beijing, move_to, product, rate, use
from tests.integration.billing.test_credit_check import collect, end_call, refusal
from yuntong.accounts.auth import Principal
from yuntong.billing.ledger import credit, rating
from yuntong.billing.ledger.accounts import ACCOUNT_CHANNEL, do_set_credit_limit
from yuntong.billing.orders import orders
from yuntong.core.context import Context


@contextmanager
def statements(ctx: Context) -> Iterator[list[str]]:
    """The SQL statements run on ``ctx``'s database while the block runs."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = ctx.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def customer_on_package(ctx: Context, staff: Principal, customer: Principal) -> int:
    move_to(ctx, beijing(2026, 11, 2, 9))
    package = await product(
        ctx,
        staff,
        fee_fen=0,
        allowances={"call.video": 120},
        rates={"call.video": rate("100", "60/60")},
    )
    await orders.do_place_order(ctx, customer, None, [package.code])
    await do_set_credit_limit(ctx, customer, None, 10_000)
    return (await account_of(ctx, customer)).id


async def test_the_check_after_a_rating_reads_nothing_and_sees_the_rated_amount(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """A 99-minute call (2 free, 97 × 1.00 = 97.00) is rated while the standing is held: the
    next check reads no database and refuses nothing (97.00 ≤ 100.00). A second call of 240 s
    ends (4 minutes, none free: 4.00 → 101.00 > 100.00): refused before and after its rating,
    and once rated the renewed balance is 101.00 with the call counted once."""
    account_id = await customer_on_package(ctx, staff, customer)
    assert await refusal(ctx, customer) is None  # the standing is read and held from here
    await use(ctx, customer, "call.video", 99 * 60)
    await rating.do_rate_pending(ctx)
    with statements(ctx) as seen:
        assert await refusal(ctx, customer) is None
        held = await credit.standing(ctx, account_id)
    assert seen == []
    assert held.balance_fen == 9_700
    assert held.allowance_used == {"2026-11": {"call.video": 120}}  # read ahead with it

    call_id = await end_call(ctx, customer, 240)
    assert await refusal(ctx, customer) == "credit_exhausted"
    await collect(ctx, customer, call_id, 240)
    await rating.do_rate_pending(ctx)
    with statements(ctx) as seen:
        assert await refusal(ctx, customer) == "credit_exhausted"
        held = await credit.standing(ctx, account_id)
    assert seen == []
    assert held.balance_fen == 10_100
    assert credit._standings(ctx).unrated.get(account_id) is None  # not counted twice


async def test_a_rating_by_another_process_renews_the_standing_held_here(
    ctx: Context, staff: Principal, customer: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another node rated 101 minutes for this account (2 free, 99.00): its message, as the
    change feed delivers it, makes this server re-read the balance (99.00), so a 120-s call
    more (2.00 → 101.00) is refused without a database read on the check."""
    account_id = await customer_on_package(ctx, staff, customer)
    assert await refusal(ctx, customer) is None
    await use(ctx, customer, "call.video", 101 * 60)

    async def elsewhere(*_args: Any, **_kwargs: Any) -> None:
        """Rated by another process: this process's bus is not told."""

    monkeypatch.setattr(rating, "publish_changed", elsewhere)
    await rating.do_rate_pending(ctx)
    monkeypatch.undo()
    assert (await credit.standing(ctx, account_id)).balance_fen == 0  # held, not told yet
    await ctx.bus.deliver(ACCOUNT_CHANNEL, {"account_ids": [account_id], "rated": True})
    assert (await credit.standing(ctx, account_id)).balance_fen == 9_900
    await end_call(ctx, customer, 120)
    with statements(ctx) as seen:
        assert await refusal(ctx, customer) == "credit_exhausted"
    assert seen == []


async def test_a_renewal_that_fails_drops_the_standing_and_the_next_check_reads_it(
    ctx: Context, staff: Principal, customer: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails during the renewal: the rater is not stopped, and the held standing
    (0.00 owed) is dropped rather than kept stale, so the next check reads 99.00."""
    account_id = await customer_on_package(ctx, staff, customer)
    assert await refusal(ctx, customer) is None
    await use(ctx, customer, "call.video", 101 * 60)

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError("database gone")

    monkeypatch.setattr(credit, "_read_standings", broken)
    # the OSError is logged and swallowed: the rating pass itself completes
    assert await rating.do_rate_pending(ctx) == 1
    monkeypatch.undo()
    assert account_id not in credit._standings(ctx).by_account
    assert (await credit.standing(ctx, account_id)).balance_fen == 9_900


async def test_a_read_that_overlaps_a_rating_is_used_once_not_kept(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """A check reads the standing (0.00) while the rater rates 101 minutes and renews: what it
    read before the rating must not be kept over the renewal, whichever finishes last."""
    account_id = await customer_on_package(ctx, staff, customer)
    await use(ctx, customer, "call.video", 101 * 60)
    cache = credit._standings(ctx)
    started = asyncio.Event()
    release = asyncio.Event()
    real = credit._read_standings

    async def slow(*args: Any, **kwargs: Any) -> Any:
        found = await real(*args, **kwargs)
        started.set()
        await release.wait()
        return found

    credit._read_standings = slow  # type: ignore[assignment]
    try:
        reader = asyncio.create_task(credit.standing(ctx, account_id))
        await started.wait()
    finally:
        credit._read_standings = real  # type: ignore[assignment]
    await rating.do_rate_pending(ctx)  # the standing is not held yet: nothing to renew
    release.set()
    assert (await reader).balance_fen == 0  # read before the rating: used by that check
    assert account_id not in cache.by_account  # ... and not kept
    assert (await credit.standing(ctx, account_id)).balance_fen == 9_900
