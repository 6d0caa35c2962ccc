"""PostgreSQL rates set-wise in one SQL statement per batch (``billing/rating_sql.py``); SQLite
rates record by record in Python (``rating.rate_records``). Here the Python rater checks the
SQL one, entry by entry, over generated months: several close days, packages bought, changed
and cancelled in the middle of cycles, a price version starting mid-cycle, a corrected
version, a usage type no package prices, durations on the increment edges, records on the
cycle boundaries, and records stored out of time order and rated in small batches.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.integration.billing.conftest import (
    account_of,
    beijing,
    move_to,
    person,
    product,
    rate,
)
from yuntong.accounts.auth import Principal
from yuntong.billing import store
from yuntong.billing.catalog import catalog
from yuntong.billing.catalog.catalog import business_tz, load_catalog
from yuntong.billing.ledger import rating
from yuntong.billing.ledger.usage import UsageInput, do_record_usage
from yuntong.billing.models import (
    AllowanceUse,
    BillingAccount,
    EntryKind,
    LedgerEntry,
    UsageRecord,
)
from yuntong.billing.orders import orders
from yuntong.core.context import Context

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

EDGES = [0, 1, 5, 6, 7, 59, 60, 61, 119, 120, 121, 1799, 1800, 1801, 7200]


async def make_catalog(ctx: Context, staff: Principal) -> list[str]:
    move_to(ctx, beijing(2026, 10, 20, 9))
    await product(
        ctx,
        staff,
        fee_fen=0,
        is_default=True,
        rates={
            "call.audio": rate("15", "60/60"),
            "call.video": rate("30", "6/6", 10),
        },
    )
    basic = await product(
        ctx,
        staff,
        fee_fen=1900,
        allowances={"call.audio": 1800},
        rates={"call.audio": rate("9.5", "60/60"), "call.video": rate("18.75", "6/6", 3)},
    )
    # a new version from 22 November, announced with the required notice
    await catalog.do_set_price(
        ctx,
        staff,
        basic.id,
        effective_on=date(2026, 11, 22),
        monthly_fee_fen=2100,
        allowances={"call.audio": 600, "call.video": 300},
        rates={"call.audio": rate("9.5", "60/60", 3), "call.video": rate("18.75", "1/1")},
    )
    plus = await product(
        ctx,
        staff,
        fee_fen=3900,
        allowances={"call.audio": 7200, "call.video": 1800},
        rates={"call.audio": rate("5.55", "60/60", 5), "call.video": rate("9.99", "6/6", 10)},
    )
    wrong = (await load_catalog(ctx)).price_on(plus.id, date(2026, 10, 20))
    assert wrong is not None
    await rating.do_correct_price(
        ctx,
        staff,
        wrong.id,
        rates={"call.audio": rate("5.55", "60/60", 5), "call.video": rate("0.0999", "1/1", 1)},
        allowances={"call.audio": 3600, "call.video": 1800},
        note="录入错误",
    )
    return [basic.code, plus.code]


def moment(rng: random.Random, close_day: int) -> datetime:
    if rng.random() < 0.1:  # exactly on a cycle boundary (local midnight of the close day)
        return beijing(2026, 11, close_day, 0)
    start = beijing(2026, 10, 20, 0)
    return start + timedelta(seconds=rng.randrange(int(timedelta(days=50).total_seconds())))


async def store_usage(ctx: Context, rng: random.Random, who: Principal, close_day: int) -> None:
    kind = rng.choice(["call.audio", "call.audio", "call.video", "meeting.video"])
    seconds = rng.choice(EDGES) if rng.random() < 0.4 else rng.randrange(0, 4000)
    usage = UsageInput(
        source="test",
        source_id=f"{who.user_id}:{rng.random()}",
        user_id=who.user_id,
        usage_type=kind,
        quantity_s=seconds,
        started_at=moment(rng, close_day),
        other_party="ab***",
    )
    assert await do_record_usage(ctx, usage) is not None


async def customers(
    ctx: Context, rng: random.Random, packages: list[str]
) -> list[tuple[Principal, int]]:
    made = []
    for _ in range(10):
        who = await person(ctx)
        account = await account_of(ctx, who)
        close_day = rng.choice([1, 10, 25, 28])
        async with ctx.db.session() as s:
            await s.execute(
                update(BillingAccount)
                .where(BillingAccount.id == account.id)
                .values(close_day=close_day)
            )
        made.append((who, close_day))
    for who, _ in made:
        plan = rng.random()
        if plan < 0.2:
            continue  # pay as you go: the default package
        move_to(ctx, beijing(2026, 10, 20, 10) + timedelta(hours=rng.randrange(24 * 10)))
        first, then = rng.sample(packages, 2)
        await orders.do_place_order(ctx, who, None, [first])
        if plan < 0.6:  # a change in the middle of a cycle (a different allowance from then)
            move_to(ctx, beijing(2026, 11, 3, 10) + timedelta(hours=rng.randrange(24 * 20)))
            await orders.do_place_order(ctx, who, None, [then])
        elif plan < 0.75:
            move_to(ctx, beijing(2026, 11, 5, 10))
            live = await orders_of(ctx, who)
            await orders.do_cancel_product(ctx, who, None, live)
    return made


async def orders_of(ctx: Context, who: Principal) -> str:
    account = await account_of(ctx, who)
    async with ctx.db.session() as s:
        subs = (await store.subscriptions_for(s, [account.id]))[account.id]
    found = (await load_catalog(ctx)).products[subs[0].product_id]
    return found.code


async def expected_entries(
    ctx: Context,
) -> tuple[dict[int, dict[str, Any]], dict[tuple[int, str, datetime], int]]:
    """Every record rated in id order by the Python rater, from empty allowances; and the
    allowance used per (account, usage type, cycle start)."""
    cat = await load_catalog(ctx)
    tz = business_tz(ctx)
    async with ctx.db.session() as s:
        records = list((await s.execute(select(UsageRecord).order_by(UsageRecord.id))).scalars())
        ids = {r.account_id for r in records}
        close_day = dict(
            (await s.execute(select(BillingAccount.id, BillingAccount.close_day))).all()
        )
        subscriptions = await store.subscriptions_for(s, ids)
    cycles = rating.cycles_of(records, close_day, tz)
    entries = rating.rate_records(
        records, cycles, cat, subscriptions, rating.AllowanceLedger(), tz, ctx.clock.now()
    )
    used: dict[tuple[int, str, datetime], int] = {}
    for entry, cycle in zip(entries, cycles, strict=True):
        key = (entry["account_id"], entry["usage_type"], cycle.start)
        used[key] = used.get(key, 0) + entry["allowance_s"]
    return {e["usage_id"]: e for e in entries}, used


def comparable(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (
        entry["account_id"],
        entry["amount_fen"],
        entry["billed_s"],
        entry["allowance_s"],
        entry["price_id"],
        entry["quantity_s"],
        entry["occurred_at"],
        entry["detail"],
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_set_wise_rating_matches_the_python_rater_entry_by_entry(
    ctx: Context, staff: Principal, seed: int
) -> None:
    rng = random.Random(seed)
    packages = await make_catalog(ctx, staff)
    people = await customers(ctx, rng, packages)
    move_to(ctx, beijing(2026, 12, 20, 9))
    for _ in range(120):
        who, close_day = rng.choice(people)
        await store_usage(ctx, rng, who, close_day)
    # two passes in small batches: allowances carry across batches and passes
    first = await rating.do_rate_pending(ctx, batch=17)
    for _ in range(60):
        who, close_day = rng.choice(people)
        await store_usage(ctx, rng, who, close_day)
    second = await rating.do_rate_pending(ctx, batch=13)
    assert (first, second) == (120, 60)

    expected, used = await expected_entries(ctx)
    async with ctx.db.session() as s:
        query = select(LedgerEntry).where(LedgerEntry.kind == EntryKind.USAGE)
        rows = list((await s.execute(query)).scalars())
        totals = list((await s.execute(select(AllowanceUse))).scalars())
    got = {
        e.usage_id: {c.name: getattr(e, c.name) for c in LedgerEntry.__table__.columns}
        for e in rows
    }
    assert got.keys() == expected.keys()
    differing = [u for u in expected if comparable(got[u]) != comparable(expected[u])]
    assert differing == [], [(got[u], expected[u]) for u in differing[:3]]
    # the running allowance totals agree with the entries (a row for every group that has
    # an allowance; none missing where any was used)
    kept = {(t.account_id, t.usage_type, t.cycle_start): t.used_s for t in totals}
    assert all(used.get(key, 0) == seconds for key, seconds in kept.items())
    assert {key for key, seconds in used.items() if seconds > 0} <= kept.keys()
    # the generated month exercised what it is meant to
    assert any(e["allowance_s"] > 0 for e in expected.values())
    assert any(0 < e["allowance_s"] < e["billed_s"] for e in expected.values())
    assert any(e["price_id"] is not None and e["amount_fen"] == 0 for e in expected.values())
    assert any(e["detail"] == {} for e in expected.values())  # the unpriced usage type
    assert len({e["price_id"] for e in expected.values()}) >= 4
