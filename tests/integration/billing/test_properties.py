"""Properties of rating and closing over generated months of usage (hypothesis, real databases).

Each example uses a fresh customer, so examples never see each other's rows.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.integration.billing.conftest import (
    account_of,
    beijing,
    move_to,
    person,
    product,
    rate,
    use,
)
from yuntong.accounts.auth import Principal
from yuntong.billing import store
from yuntong.billing.ledger import rating
from yuntong.billing.models import EntryKind, LedgerEntry, Statement
from yuntong.billing.orders import orders
from yuntong.billing.payments import payments
from yuntong.billing.statements import statements
from yuntong.core.context import Context
from yuntong.notifications import notices

usages = st.lists(
    st.tuples(
        st.sampled_from(["call.audio", "call.video"]),
        st.integers(0, 7200),  # seconds
        st.integers(2, 29),  # day of November
    ),
    max_size=12,
)
payments_made = st.lists(st.integers(1, 20_000), max_size=3)


async def ledger_count(ctx: Context, account_id: int) -> int:
    async with ctx.db.session() as s:
        query = select(func.count()).where(LedgerEntry.account_id == account_id)
        return (await s.execute(query)).scalar_one()


async def month(
    ctx: Context,
    staff: Principal,
    rows: list[tuple[str, int, int]],
    paid: list[int],
) -> dict[str, Any]:
    customer = await person(ctx)
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(
        ctx,
        staff,
        fee_fen=3900,
        allowances={"call.video": 300},
        rates={"call.video": rate("15", "6/6", 3), "call.audio": rate("9.5", "60/60")},
    )
    await orders.do_place_order(ctx, customer, None, [package.code])
    account = await account_of(ctx, customer)
    for usage_type, seconds, day in rows:
        await use(ctx, customer, usage_type, seconds, beijing(2026, 11, day, 12))
    for i, amount in enumerate(paid):
        move_to(ctx, beijing(2026, 11, 20 + i, 9))
        payment = payments.PaymentIn(account.id, amount, "cash", key=f"{account.id}:{i}")
        await payments.do_record_payment(ctx, staff, payment)
        await payments.do_record_payment(ctx, staff, payment)  # delivered twice
    # two raters at once: the unique keys and the claimed rows keep it to one rating each
    await asyncio.gather(rating.do_rate_pending(ctx), rating.do_rate_pending(ctx))
    return {"customer": customer, "account": account}


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=usages, paid=payments_made)
async def test_every_usage_is_rated_once_and_statements_add_up(
    ctx: Context, staff: Principal, rows: list[tuple[str, int, int]], paid: list[int]
) -> None:
    made = await month(ctx, staff, rows, paid)
    account = made["account"]
    async with ctx.db.session() as s:
        usage = await s.execute(
            select(LedgerEntry.usage_id, func.count())
            .where(LedgerEntry.account_id == account.id, LedgerEntry.kind == EntryKind.USAGE)
            .group_by(LedgerEntry.usage_id)
        )
        counts = [n for _id, n in usage.all()]
    assert len(counts) == len(rows) and all(n == 1 for n in counts)
    async with ctx.db.session() as s:
        free = await s.execute(
            select(func.coalesce(func.sum(LedgerEntry.allowance_s), 0)).where(
                LedgerEntry.account_id == account.id, LedgerEntry.usage_type == "call.video"
            )
        )
        granted = free.scalar_one()
    video_seconds = sum(sec for kind, sec, _day in rows if kind == "call.video")
    assert granted <= 300  # the allowance is never granted twice
    if video_seconds >= 300:
        assert granted == 300
    async with ctx.db.session() as s:
        paid_entries = await s.execute(
            select(func.count()).where(
                LedgerEntry.account_id == account.id, LedgerEntry.kind == EntryKind.PAYMENT
            )
        )
        assert paid_entries.scalar_one() == len(paid)

    move_to(ctx, beijing(2026, 12, 1, 3))
    await statements.do_close_cycle(ctx, "2026-11")
    before = await ledger_count(ctx, account.id)
    again = await statements.do_close_cycle(ctx, "2026-11")
    assert again.issued == 0
    assert await ledger_count(ctx, account.id) == before
    await notices.do_deliver_pending(ctx)
    await notices.do_deliver_pending(ctx)
    assert await ledger_count(ctx, account.id) == before

    async with ctx.db.session() as s:
        issued = await store.statements_of(s, account.id)
        balance = await store.balance(s, account.id)
        for st_ in issued:
            lines = await store.statement_entries(s, st_.id)
            assert st_.total_due_fen == st_.previous_balance_fen + sum(e.amount_fen for e in lines)
            assert st_.charges_fen + st_.payments_fen == sum(e.amount_fen for e in lines)
        unbilled = await store.unbilled_entries(s, account.id)
    last: Statement = issued[-1]
    # what is owed is the last statement's total plus whatever is not billed yet
    assert balance == last.total_due_fen + sum(e.amount_fen for e in unbilled)
