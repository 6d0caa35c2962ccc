"""A first statement issued while the cycle closes (an order placed at the close, or on another
node than the one closing) never fails and never bills an entry twice: one of the two
statements takes the unbilled entries, the other whatever is left."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.integration.billing.conftest import account_of, beijing, move_to, product, rate, use
from yuntong.accounts.auth import Principal
from yuntong.billing.ledger import rating
from yuntong.billing.models import LedgerEntry, Statement, StatementLine
from yuntong.billing.orders import orders
from yuntong.billing.statements import statements
from yuntong.core.context import Context


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"billing_close_day": 1, "billing_rating_interval_s": 0}


@pytest.mark.parametrize("first_starts", [True, False])
async def test_a_first_statement_racing_the_cycle_close_bills_each_entry_once(
    ctx: Context, staff: Principal, customer: Principal, first_starts: bool
) -> None:
    """10 minutes of audio in November at 0.10 yuan a minute (1.00, no order yet: pay as you
    go), then on 1 December at 02:00 — as November's statements are issued — the customer
    orders a 58.00 package: 1.00 + 58.00 = 59.00 is billed once, over the two statements."""
    move_to(ctx, beijing(2026, 11, 5, 9))
    await product(ctx, staff, fee_fen=0, is_default=True, rates={"call.audio": rate("10", "60/60")})
    await use(ctx, customer, "call.audio", 600)
    await rating.do_rate_pending(ctx)
    package = await product(ctx, staff, fee_fen=5800)
    move_to(ctx, beijing(2026, 12, 1, 2))

    order = orders.do_place_order(ctx, customer, None, [package.code])
    close = statements.do_close_cycle(ctx, "2026-11")
    pair = (order, close) if first_starts else (close, order)
    results = await asyncio.gather(*pair, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results

    account = await account_of(ctx, customer)
    async with ctx.db.session() as s:
        billed = (
            await s.execute(
                select(StatementLine.entry_id, func.count())
                .join(Statement, Statement.id == StatementLine.statement_id)
                .where(Statement.account_id == account.id)
                .group_by(StatementLine.entry_id)
            )
        ).all()
        entries = (
            await s.execute(
                select(LedgerEntry.id, LedgerEntry.amount_fen).where(
                    LedgerEntry.account_id == account.id
                )
            )
        ).all()
        issued = (
            (await s.execute(select(Statement).where(Statement.account_id == account.id)))
            .scalars()
            .all()
        )
    assert all(n == 1 for _, n in billed)
    assert {e for e, _ in billed} == {e for e, _ in entries}  # none left out, none twice
    assert sum(a for _, a in entries) == 100 + 5800
    assert sum(st.total_due_fen for st in issued) >= 5900
    assert sum(st.charges_fen for st in issued) == 5900
