"""Malformed usage is refused whole; disputed amounts accrue no late fee; webhook replays."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import unique
from tests.integration.billing.conftest import account_of, beijing, move_to, person, product
from yuntong.accounts.auth import Principal
from yuntong.billing import store
from yuntong.billing.collections import dunning
from yuntong.billing.disputes import disputes
from yuntong.billing.ledger import rating
from yuntong.billing.ledger.usage import UsageInput, do_record_usage
from yuntong.billing.models import EntryKind, LedgerEntry, Payment, UsageRecord
from yuntong.billing.orders import orders
from yuntong.billing.payments import payments
from yuntong.billing.statements import view as views
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError

SECRET = "property-secret-0123456789"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"billing_close_day": 1, "payment_webhook_secret": SECRET}


async def usage_rows(ctx: Context) -> int:
    async with ctx.db.session() as s:
        return (await s.execute(select(func.count()).select_from(UsageRecord))).scalar_one()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"usage_type": "call.hologram"}, "unknown usage type"),
        ({"quantity_s": -5}, "quantity"),
        ({"quantity_s": 40 * 24 * 3600}, "quantity"),
        ({"started_at": datetime(2026, 11, 2, 12)}, "naive"),
        ({"source_id": ""}, "source"),
    ],
)
async def test_a_malformed_usage_record_is_refused_and_nothing_is_written(
    ctx: Context, customer: Principal, change: dict[str, Any], why: str
) -> None:
    fields: dict[str, Any] = {
        "source": "meeting",
        "source_id": unique("m"),
        "user_id": customer.user_id,
        "usage_type": "meeting.video",
        "quantity_s": 600,
        "started_at": datetime(2026, 11, 2, 4, tzinfo=UTC),
    }
    fields.update(change)
    with pytest.raises(YuntongError) as refused:
        await do_record_usage(ctx, UsageInput(**fields))
    assert refused.value.code == "malformed_usage"
    assert why in refused.value.message("en")
    assert await usage_rows(ctx) == 0
    assert await rating.do_rate_pending(ctx) == 0


async def test_the_same_usage_delivered_twice_is_stored_and_rated_once(
    ctx: Context, customer: Principal
) -> None:
    usage = UsageInput(
        "meeting", "mtg-1", customer.user_id, "meeting.video", 600, datetime.now(UTC)
    )
    assert await do_record_usage(ctx, usage) is not None
    assert await do_record_usage(ctx, usage) is None
    assert await rating.do_rate_pending(ctx) == 1
    assert await rating.do_rate_pending(ctx) == 0


async def test_a_disputed_amount_accrues_no_late_fee(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """1,000.00 due 10 Nov; 400.00 of it disputed on 5 Nov and still open on 15 Nov: the
    late fee counts only the undisputed 600.00 (1.80 a day)."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=100_000)
    await orders.do_place_order(ctx, customer, None, [package.code])
    account = await account_of(ctx, customer)
    first = (await views.list_statements(ctx, customer, None))[0]
    async with ctx.db.session() as s:
        [rent] = await store.statement_entries(s, first.id)
    move_to(ctx, beijing(2026, 11, 5, 9))
    await disputes.do_open_dispute(ctx, customer, rent.id, "未使用该套餐", 40_000)
    move_to(ctx, beijing(2026, 11, 15, 9))
    await dunning.do_review_account(ctx, account.id)
    async with ctx.db.session() as s:
        query = select(LedgerEntry.amount_fen).where(
            LedgerEntry.account_id == account.id, LedgerEntry.kind == EntryKind.LATE_FEE
        )
        fees = list((await s.execute(query)).scalars())
    assert fees == [180] * 5  # 11 … 15 November


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    amounts=st.lists(st.integers(1, 1_000_000), min_size=1, max_size=4),
    replays=st.integers(1, 4),
)
async def test_a_replayed_payment_webhook_is_applied_once(
    ctx: Context, amounts: list[int], replays: int
) -> None:
    customer = await person(ctx)
    account = await account_of(ctx, customer)
    now = ctx.clock.now()
    for n, amount in enumerate(amounts):
        raw = json.dumps(
            {
                "payment_id": f"{account.id}-{n}",
                "account_id": account.id,
                "amount": f"{amount / 100:.2f}",
                "currency": "CNY",
            }
        ).encode()
        for _ in range(replays):
            signature = payments.sign(SECRET, int(now.timestamp()), raw)
            await payments.do_receive_webhook(ctx, "wechat", signature, raw)
    async with ctx.db.session() as s:
        count = await s.execute(
            select(func.count()).select_from(Payment).where(Payment.account_id == account.id)
        )
        assert count.scalar_one() == len(amounts)
        assert await store.balance(s, account.id) == -sum(amounts)


async def test_a_record_committed_after_higher_ids_were_rated_is_rated_by_the_full_pass(
    ctx: Context, customer: Principal
) -> None:
    """Passes start after the highest id rated; a record whose insert committed late (a lower
    id) is picked up by the periodic full pass, and by every cycle close."""
    from datetime import timedelta

    account = await account_of(ctx, customer)
    start = datetime.now(UTC) - timedelta(hours=1)

    async def insert(record_id: int) -> None:
        async with ctx.db.session() as s:
            s.add(
                UsageRecord(
                    id=record_id,
                    source="meeting",
                    source_id=f"late-{record_id}",
                    account_id=account.id,
                    user_id=customer.user_id,
                    usage_type="meeting.video",
                    quantity_s=60,
                    started_at=start,
                    created_at=start,
                )
            )

    await insert(1000)
    assert await rating.do_rate_pending(ctx) == 1
    await insert(500)  # committed after 1000 was rated
    assert await rating.do_rate_pending(ctx) == 0
    assert await rating.do_rate_pending(ctx, full=True) == 1
    async with ctx.db.session() as s:
        query = select(func.count()).where(LedgerEntry.account_id == account.id)
        assert (await s.execute(query)).scalar_one() == 2


async def test_a_big_batch_is_rated_exactly_like_a_small_one(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """300 records (PostgreSQL copies batches this big into the ledger): every record gets
    its entry, amounts as computed one by one, and a second pass adds nothing."""
    from tests.integration.billing.conftest import rate, use
    from yuntong.billing.catalog.tariff import Rate, rate_usage

    move_to(ctx, beijing(2026, 11, 1, 9))
    spec = rate("12.5", "6/6", 2)
    package = await product(ctx, staff, fee_fen=0, rates={"call.audio": spec})
    await orders.do_place_order(ctx, customer, None, [package.code])
    durations = [(n * 37) % 900 + 1 for n in range(300)]
    for seconds in durations:
        await use(ctx, customer, "call.audio", seconds)
    assert await rating.do_rate_pending(ctx) == 300
    assert await rating.do_rate_pending(ctx, full=True) == 0
    account = await account_of(ctx, customer)
    async with ctx.db.session() as s:
        query = (
            select(LedgerEntry.amount_fen, LedgerEntry.detail)
            .where(LedgerEntry.account_id == account.id, LedgerEntry.kind == EntryKind.USAGE)
            .order_by(LedgerEntry.usage_id)
        )
        rows = (await s.execute(query)).all()
    expected = [rate_usage(d, Rate.parse(spec), 0).amount_fen for d in durations]
    assert [amount for amount, _detail in rows] == expected
    assert rows[0][1]["other_party"] == "zh***"
