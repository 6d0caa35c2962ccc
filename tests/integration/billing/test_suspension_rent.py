"""Rent while an account is suspended for arrears (issue 14, item 19a): the contract charges
rent during a suspension only at a competent authority's request (VP 10), so by default a
suspension for non-payment pauses the rent for the days it lasts;
``billing_rent_during_arrears_suspension`` charges it. Hand-computed, on SQLite and PostgreSQL.

A package of 31.00 yuan a month on calendar-month cycles: 1.00 a day in December and January.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.billing.conftest import account_of, beijing, move_to, person, product
from yuntong.accounts.auth import Principal
from yuntong.billing import store
from yuntong.billing.collections import lifecycle
from yuntong.billing.collections.dunning import do_review_account
from yuntong.billing.models import EntryKind, LedgerEntry
from yuntong.billing.orders.orders import do_place_order
from yuntong.billing.payments import payments
from yuntong.billing.statements.statements import do_close_cycle
from yuntong.core.context import Context

FEE = 3100


@pytest.fixture(params=[False, True], ids=["no-rent", "rent"])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"billing_close_day": 1, "billing_rent_during_arrears_suspension": request.param}


async def rent_fen(ctx: Context, account_id: int, since: datetime, until: datetime) -> int:
    """The rent entries (charges and returns) that occurred in [since, until)."""
    query = select(LedgerEntry.amount_fen).where(
        LedgerEntry.account_id == account_id,
        LedgerEntry.kind == EntryKind.RENT,
        LedgerEntry.occurred_at >= since,
        LedgerEntry.occurred_at < until,
    )
    async with ctx.db.session() as s:
        return sum((await s.execute(query)).scalars())


async def subscribed(ctx: Context, staff: Principal, at: datetime) -> tuple[Principal, int]:
    move_to(ctx, at)
    package = await product(ctx, staff, fee_fen=FEE)
    customer = await person(ctx)
    await do_place_order(ctx, customer, None, [package.code])
    return customer, (await account_of(ctx, customer)).id


async def test_rent_during_suspensions_follows_the_setting(ctx: Context) -> None:
    charged = ctx.settings.billing_rent_during_arrears_suspension
    staff = await person(ctx, "operator_admin")
    customer, account_id = await subscribed(ctx, staff, beijing(2026, 12, 1))
    december, january, february = (
        beijing(2026, 12, 1, 0),
        beijing(2027, 1, 1, 0),
        beijing(2027, 2, 1, 0),
    )
    assert await rent_fen(ctx, account_id, december, january) == 3100

    move_to(ctx, beijing(2026, 12, 11))  # suspended 11-20 Dec: 10 days
    await lifecycle.do_confirm_suspension(ctx, staff, account_id)
    move_to(ctx, beijing(2026, 12, 21))
    await lifecycle.do_release(ctx, staff, account_id, "paid")
    move_to(ctx, beijing(2026, 12, 25))  # suspended again from 25 Dec, over the close
    await lifecycle.do_confirm_suspension(ctx, staff, account_id)
    # 3100 − 21 days (11-31) + 11 days (21-31) − 7 days (25-31): days 1-10 and 21-24
    assert await rent_fen(ctx, account_id, december, january) == (3100 if charged else 1400)

    move_to(ctx, beijing(2027, 1, 1, 2))
    assert (await do_close_cycle(ctx, "2026-12")).issued == 1
    assert await rent_fen(ctx, account_id, january, february) == (3100 if charged else 0)

    move_to(ctx, beijing(2027, 1, 11))  # lifted: 11-31 Jan charged
    await lifecycle.do_release(ctx, staff, account_id, "paid")
    assert await rent_fen(ctx, account_id, january, february) == (3100 if charged else 2100)

    move_to(ctx, beijing(2027, 1, 15))  # a lawful hold always pays rent (VP 10)
    await lifecycle.do_hold(ctx, staff, account_id, "court order")
    move_to(ctx, beijing(2027, 1, 20))
    await lifecycle.do_release(ctx, staff, account_id, "order lifted")
    assert await rent_fen(ctx, account_id, january, february) == (3100 if charged else 2100)

    # suspended on 26 Jan, then terminated: the paused days are not returned twice
    move_to(ctx, beijing(2027, 1, 26))
    await lifecycle.do_confirm_suspension(ctx, staff, account_id)
    move_to(ctx, beijing(2027, 1, 28))
    await lifecycle.do_request_termination(ctx, customer, None)
    # charged: 3100 − 4 days returned on termination (28-31); not: 11-25 Jan = 15 days
    assert await rent_fen(ctx, account_id, january, february) == (2700 if charged else 1500)


async def test_the_daily_run_suspension_and_payment_pause_and_resume_the_rent(
    ctx: Context,
) -> None:
    charged = ctx.settings.billing_rent_during_arrears_suspension
    staff = await person(ctx, "operator_admin")
    _, account_id = await subscribed(ctx, staff, beijing(2026, 11, 1))  # first statement: 31.00
    move_to(ctx, beijing(2026, 12, 1, 2))
    await do_close_cycle(ctx, "2026-11")  # December in advance: 31.00, unpaid
    december, january = beijing(2026, 12, 1, 0), beijing(2027, 1, 1, 0)

    move_to(ctx, beijing(2026, 12, 11, 2))  # first statement due 10 Nov: over a month overdue
    assert (await do_review_account(ctx, account_id)).changed_to == "suspended"
    assert await rent_fen(ctx, account_id, december, january) == (3100 if charged else 1000)

    move_to(ctx, beijing(2026, 12, 21, 10))  # paid in full: lifted, 21-31 Dec charged again
    await do_review_account(ctx, account_id)  # late fees to date, so that all can be paid
    async with ctx.db.session() as s:
        owed = await store.balance(s, account_id)
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account_id, owed, "bank_transfer", key="all")
    )
    assert (await do_review_account(ctx, account_id)).state == "active"
    # not charged: days 1-10 and 21-31 = 21 days
    assert await rent_fen(ctx, account_id, december, january) == (3100 if charged else 2100)
