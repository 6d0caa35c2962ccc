"""Outside-call tariffs on SQLite and PostgreSQL: imports (all or nothing), versions in force
when a call was answered, charging once per call with its ledger entry, and the margin report
computed by hand."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import unique
from tests.integration.tariffs.conftest import COSTS, PRICES, charge
from yuntong.accounts.auth import Principal
from yuntong.accounts.models import AuditEvent
from yuntong.billing.ledger.accounts import account_for_user, do_set_kind
from yuntong.billing.ledger.rating import do_rate_pending
from yuntong.billing.models import LedgerEntry, UsageRecord
from yuntong.billing.payments import payments
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.tariffs.charges import check_may_call_out, do_charge_outside_call
from yuntong.tariffs.imports import TariffTableInvalid, do_import_costs, do_import_prices
from yuntong.tariffs.margins import margin_csv, margin_report
from yuntong.tariffs.models import TariffTable
from yuntong.tariffs.rating import rate_of


async def test_an_import_is_rated_by_longest_prefix_with_the_trunks_cost(
    ctx: Context, staff: Principal
) -> None:
    prices = await do_import_prices(ctx, staff, PRICES)
    await do_import_costs(ctx, staff, "ct-bj", COSTS)
    assert prices.rows == 6
    async with ctx.db.session() as s:
        query = select(AuditEvent.actor_id, AuditEvent.detail).where(
            AuditEvent.action == "tariffs.import"
        )
        trail = (await s.execute(query.order_by(AuditEvent.id))).all()
    assert [(a, d["kind"], d["rows"]) for a, d in trail] == [
        (staff.user_id, "prices", 6),
        (staff.user_id, "costs", 3),
    ]
    beijing = await rate_of(ctx, trunk="ct-bj", destination="+861088886666", home_area="10")
    assert beijing is not None
    assert (beijing.category, beijing.prefix, beijing.price_per_minute_fen) == ("local", "86", 10)
    assert beijing.cost_per_minute_fen == 6
    mobile = await rate_of(ctx, trunk="ct-bj", destination="+8613912345678", home_area="10")
    assert mobile is not None and (mobile.category, mobile.prefix) == ("mobile", "861")
    assert mobile.cost_per_minute_fen == 5
    other_trunk = await rate_of(ctx, trunk="cu-sh", destination="+14155550100")
    assert other_trunk is not None and other_trunk.category == "international"
    assert other_trunk.cost_per_minute_fen is None  # that trunk has no cost table
    assert await rate_of(ctx, trunk="ct-bj", destination="+4930123456") is None
    assert await rate_of(ctx, trunk="ct-bj", destination="13912345678") is None


async def test_a_bad_file_imports_nothing(ctx: Context, staff: Principal) -> None:
    with pytest.raises(TariffTableInvalid) as caught:
        await do_import_prices(ctx, staff, PRICES + "86,mobile,x,x,abc,60\n")
    assert [(e.line, e.code) for e in caught.value.rows] == [(8, "amount")]
    async with ctx.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(TariffTable)) == 0
    with pytest.raises(YuntongError) as past:
        await do_import_prices(ctx, staff, PRICES, effective_from=ctx.clock.now() - timedelta(1))
    assert past.value.code == "tariff_effective_invalid"


async def test_customers_may_not_import(ctx: Context, customer: Principal) -> None:
    with pytest.raises(YuntongError) as caught:
        await do_import_prices(ctx, customer, PRICES)
    assert caught.value.code == "forbidden"


async def test_a_call_is_rated_by_the_table_in_force_when_it_was_answered(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    await do_import_prices(ctx, staff, PRICES)
    start = ctx.clock.now()
    dearer = PRICES.replace("861,mobile,国内手机,Mainland mobiles,12,60", "861,mobile,手机,M,30,6")
    await do_import_prices(ctx, staff, dearer, effective_from=start + timedelta(days=1))
    before = await rate_of(ctx, trunk="ct-bj", destination="+8613912345678")
    assert before is not None and before.price_per_minute_fen == 12
    ctx.clock.advance(days=2)  # type: ignore[attr-defined]
    after = await rate_of(ctx, trunk="ct-bj", destination="+8613912345678")
    assert after is not None and (after.price_per_minute_fen, after.increment_s) == (30, 6)
    # a call answered before the change, charged after it: the old price
    old = await charge(
        ctx, customer, "c-old", "+8613912345678", 61, answered=start + timedelta(hours=1)
    )
    assert (old.billed_s, old.price_fen) == (120, 24)


async def test_a_charge_is_written_once_to_the_ledger(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    await do_import_prices(ctx, staff, PRICES)
    await do_import_costs(ctx, staff, "ct-bj", COSTS)
    first = await charge(ctx, customer, "c-1", "+14155550100", 61.2, home_area="10")
    # 61.2 s → 62 s → 66 s in 6 s units: 80 × 66 / 60 = 88 fen; cost 40 × 66 / 60 = 44
    assert (first.seconds, first.billed_s, first.units) == (62, 66, 11)
    assert (first.price_fen, first.cost_fen, first.category) == (88, 44, "international")
    again = await charge(ctx, customer, "c-1", "+14155550100", 61.2, home_area="10")
    assert again.repeated and again.price_fen == 88 and again.entry_id == first.entry_id
    assert await do_rate_pending(ctx) == 0  # the package rater leaves it alone: it is rated
    async with ctx.db.session() as s:
        entries = (await s.execute(select(LedgerEntry))).scalars().all()
        usages = await s.scalar(select(func.count()).select_from(UsageRecord))
    assert usages == 1 and len(entries) == 1
    entry = entries[0]
    assert (entry.kind, entry.usage_type, entry.amount_fen, entry.billed_s) == (
        "usage",
        "call.outside",
        88,
        66,
    )
    assert entry.detail["prefix"] == "1" and entry.detail["trunk"] == "ct-bj"
    assert entry.detail["rate"]["increment"] == "6/6"


async def test_no_tariff_no_charge(ctx: Context, customer: Principal) -> None:
    with pytest.raises(YuntongError) as caught:
        await charge(ctx, customer, "c-2", "+8613912345678", 0)
    assert caught.value.code == "tariff_no_rate"


async def test_the_margin_report_by_hand(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    await do_import_prices(ctx, staff, PRICES)
    await do_import_costs(ctx, staff, "ct-bj", COSTS)
    # answered 2026-01-05 02:00 UTC, 10:00 in Shanghai

    async def call(call_id: str, trunk: str, to: str, seconds: int) -> None:
        await charge(ctx, customer, call_id, to, seconds, trunk=trunk, home_area="10")

    await call("m1", "ct-bj", "+8613912345678", 61)  # 2 min: 24 fen, cost 10
    await call("m2", "ct-bj", "+8613912345679", 30)  # 1 min: 12 fen, cost 5
    await call("l1", "ct-bj", "+861088886666", 0)  # answered, hung up: 0, cost 0
    await call("i1", "cu-sh", "+14155550100", 6)  # 6 s: 8 fen, no cost row
    report = await margin_report(ctx, staff, date(2026, 1, 5), date(2026, 1, 5))
    lines = {(x.trunk, x.category): x for x in report.lines}
    mobile = lines[("ct-bj", "mobile")]
    assert (mobile.calls, mobile.seconds, mobile.billed_s) == (2, 91, 180)
    assert (mobile.revenue_fen, mobile.cost_fen, mobile.margin_fen) == (36, 15, 21)
    local = lines[("ct-bj", "local")]
    assert (local.calls, local.revenue_fen, local.cost_fen) == (1, 0, 0)
    foreign = lines[("cu-sh", "international")]
    assert (foreign.revenue_fen, foreign.calls_without_cost) == (8, 1)
    total = report.total
    assert (total.calls, total.revenue_fen, total.cost_fen, total.margin_fen) == (4, 44, 15, 29)
    assert margin_csv(report).splitlines()[-1] == "total,,4,97,3.10,44,15,29,1"
    before = await margin_report(ctx, staff, date(2026, 1, 4), date(2026, 1, 4))
    assert before.lines == []


async def test_two_deliveries_at_once_charge_once(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    await do_import_prices(ctx, staff, PRICES)
    deliveries = [charge(ctx, customer, "twice", "+8613912345678", 59) for _ in range(3)]
    results = await asyncio.gather(*deliveries)
    assert [r.price_fen for r in results] == [12, 12, 12]
    assert sorted(r.repeated for r in results) == [False, True, True]
    async with ctx.db.session() as s:
        total = await s.scalar(select(func.sum(LedgerEntry.amount_fen)))
        count = await s.scalar(select(func.count()).select_from(LedgerEntry))
    assert (count, total) == (1, 12)


async def test_a_prepaid_customer_may_call_out_as_long_as_the_balance_pays(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Prepaid, 1.00 in hand. The US at 0.80 a minute by 6 s: 100 fen buy 75 s, down to the
    6 s grid: 72 s. Mobile at 0.12 by 60 s: 100 / 12 = 8.3 minutes, 8 whole: 480 s. A call of
    61 s to the US (66 s billed: 0.88) leaves 0.12: one mobile minute, or 9 s of the US, one
    6 s unit; after a mobile minute nothing is left."""
    await do_import_prices(ctx, staff, PRICES)
    account = await account_for_user(ctx, customer.user_id)
    await do_set_kind(ctx, staff, account.id, "prepaid")
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account.id, 100, "cash", key=unique("pay"))
    )
    abroad = await rate_of(ctx, trunk="ct-bj", destination="+14155550100")
    mobile = await rate_of(ctx, trunk="ct-bj", destination="+8613912345678")
    assert abroad is not None and mobile is not None
    assert await check_may_call_out(ctx, user_id=customer.user_id, rate=abroad) == 72
    assert await check_may_call_out(ctx, user_id=customer.user_id, rate=mobile) == 480
    answered = ctx.clock.now()
    await charge(ctx, customer, "pre-1", "+14155550100", 61, answered=answered)
    assert await check_may_call_out(ctx, user_id=customer.user_id, rate=mobile) == 60
    assert await check_may_call_out(ctx, user_id=customer.user_id, rate=abroad) == 6
    await charge(ctx, customer, "pre-2", "+8613912345678", 60, answered=answered)
    with pytest.raises(YuntongError) as caught:
        await check_may_call_out(ctx, user_id=customer.user_id, rate=abroad)
    assert caught.value.code == "balance_exhausted"


@pytest.mark.parametrize(
    ("call_id", "end_s", "naive"),
    [("x" * 41, 10, False), ("c-back", -1, False), ("c-naive", 10, True)],
)
async def test_malformed_charges_are_refused(
    ctx: Context, staff: Principal, customer: Principal, call_id: str, end_s: int, naive: bool
) -> None:
    await do_import_prices(ctx, staff, PRICES)
    answered = ctx.clock.now()
    ended = answered + timedelta(seconds=end_s)
    with pytest.raises(YuntongError) as caught:
        await do_charge_outside_call(
            ctx,
            call_id=call_id,
            user_id=customer.user_id,
            trunk="ct-bj",
            destination="+8613912345678",
            home_area=None,
            answered_at=answered,
            ended_at=ended.replace(tzinfo=None) if naive else ended,
        )
    assert caught.value.code == "malformed_usage"
