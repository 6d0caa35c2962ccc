"""Service-interruption credits (CP 3.3, VP 13): the lost share of each cycle's rent, never more
than was charged, nothing for short interruptions. Calendar-month cycles; April 2026 has 30 days.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import unique
from tests.integration.billing.conftest import account_of, beijing, move_to, person, product
from yuntong.accounts.auth import Principal
from yuntong.billing import store
from yuntong.billing.models import (
    BillingAccount,
    EntryKind,
    LedgerEntry,
    Order,
    Product,
    Subscription,
)
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.sla.incidents import (
    do_apply_incident_credits,
    do_record_incident,
    list_incidents,
)

APRIL = (beijing(2026, 4, 1, 0), beijing(2026, 5, 1, 0))
MAY = (beijing(2026, 5, 1, 0), beijing(2026, 6, 1, 0))


# -- builder: products, subscriptions and the rent charged for them ---------------------------


@pytest.fixture
async def storage(ctx: Context, staff: Principal) -> Product:
    """An add-on at 20.00 yuan a month, priced in January."""
    return await product(ctx, staff, fee_fen=2_000, kind="addon")


@pytest.fixture
async def video(ctx: Context, staff: Principal, storage: Product) -> Product:
    """A package at 100.00 yuan a month, priced in January; the clock then moves to June."""
    made = await product(ctx, staff, fee_fen=10_000)
    move_to(ctx, beijing(2026, 6, 15))
    return made


async def subscriber(
    ctx: Context, to: Product, starts_at: datetime, ends_at: datetime | None = None
) -> tuple[BillingAccount, Subscription]:
    account = await account_of(ctx, await person(ctx))
    async with ctx.db.session() as s:
        order = Order(account_id=account.id, kind="subscribe", placed_at=starts_at, document={})
        s.add(order)
        await s.flush()
        sub = Subscription(
            account_id=account.id,
            product_id=to.id,
            order_id=order.id,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        s.add(sub)
    return account, sub


async def charge_rent(
    ctx: Context, sub: Subscription, to: Product, period: tuple[datetime, datetime], fen: int
) -> None:
    """A rent entry as the cycle close writes it (negative: rent given back on a change)."""
    async with ctx.db.session() as s:
        await store.add_entry(
            s,
            account_id=sub.account_id,
            kind=EntryKind.RENT,
            amount_fen=fen,
            occurred_at=period[0],
            posted_at=period[0],
            period_start=period[0],
            period_end=period[1],
            detail={"subscription_id": sub.id, "product_code": to.code},
            idempotency_key=unique("rent"),
        )


async def incident(
    ctx: Context, staff: Principal, starts_at: datetime, hours: float, *products: Product
) -> int:
    recorded = await do_record_incident(
        ctx,
        staff,
        "Media relay outage",
        starts_at,
        starts_at + timedelta(hours=hours),
        [p.code for p in products],
    )
    return recorded.id


async def credits(ctx: Context, account: BillingAccount) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(
        LedgerEntry.account_id == account.id, LedgerEntry.kind == EntryKind.CREDIT
    )
    async with ctx.db.session() as s:
        return list((await s.execute(query.order_by(LedgerEntry.id))).scalars())


# -- how much ----------------------------------------------------------------------------------


async def test_shorter_than_the_threshold_earns_nothing(
    ctx: Context, staff: Principal, video: Product
) -> None:
    account, sub = await subscriber(ctx, video, APRIL[0])
    await charge_rent(ctx, sub, video, APRIL, 10_000)
    outage = await incident(ctx, staff, beijing(2026, 4, 10, 8), 1.5, video)  # threshold: 2 h

    assert await do_apply_incident_credits(ctx, staff, outage) == 0
    assert await credits(ctx, account) == []
    [recorded] = await list_incidents(ctx, staff)
    assert recorded.credited_at == ctx.clock.now()  # applied, with nothing to credit


async def test_six_hours_of_a_30_day_cycle_credit_83_fen_once(
    ctx: Context, staff: Principal, video: Product
) -> None:
    account, sub = await subscriber(ctx, video, APRIL[0])
    await charge_rent(ctx, sub, video, APRIL, 10_000)
    outage = await incident(ctx, staff, beijing(2026, 4, 10, 8), 6, video)

    assert await do_apply_incident_credits(ctx, staff, outage) == 1
    [credit] = await credits(ctx, account)
    assert credit.amount_fen == -83  # 10000 × 6 / 720 = 83.33 → 83
    assert credit.detail["incident_id"] == outage
    assert credit.detail["hours"] == "6.00"
    assert credit.idempotency_key == f"incident:{outage}:{sub.id}:2026-04"
    async with ctx.db.session() as s:
        assert await store.balance(s, account.id) == 10_000 - 83

    assert await do_apply_incident_credits(ctx, staff, outage) == 0
    assert len(await credits(ctx, account)) == 1


async def test_a_credit_never_exceeds_the_rent_charged_for_the_cycle(
    ctx: Context, staff: Principal, video: Product
) -> None:
    # 40 days from 1 April: all of April (charged) and 10 days of May (not charged yet)
    whole, sub = await subscriber(ctx, video, APRIL[0])
    await charge_rent(ctx, sub, video, APRIL, 10_000)
    # started on 16 April, charged 15 of 30 days
    late, late_sub = await subscriber(ctx, video, beijing(2026, 4, 16, 0))
    await charge_rent(ctx, late_sub, video, (beijing(2026, 4, 16, 0), APRIL[1]), 5_000)
    outage = await incident(ctx, staff, APRIL[0], 40 * 24, video)

    assert await do_apply_incident_credits(ctx, staff, outage) == 2
    assert [(c.amount_fen, c.detail["cycle"]) for c in await credits(ctx, whole)] == [
        (-10_000, "2026-04")
    ]
    assert [c.amount_fen for c in await credits(ctx, late)] == [-5_000]


async def test_overlapping_incidents_together_never_exceed_the_rent(
    ctx: Context, staff: Principal, video: Product
) -> None:
    account, sub = await subscriber(ctx, video, APRIL[0])
    await charge_rent(ctx, sub, video, APRIL, 10_000)
    first = await incident(ctx, staff, APRIL[0], 20 * 24, video)  # 1–20 April
    second = await incident(ctx, staff, beijing(2026, 4, 11, 0), 20 * 24, video)  # 11–30 April

    assert await do_apply_incident_credits(ctx, staff, first) == 1
    assert await do_apply_incident_credits(ctx, staff, second) == 1
    # 10000 × 20/30 = 6667 each, but only 3333 of April's rent was left to give back
    assert [c.amount_fen for c in await credits(ctx, account)] == [-6_667, -3_333]


async def test_applications_at_once_credit_once_and_within_the_rent(
    ctx: Context, staff: Principal, video: Product
) -> None:
    account, sub = await subscriber(ctx, video, APRIL[0])
    await charge_rent(ctx, sub, video, APRIL, 10_000)
    first = await incident(ctx, staff, APRIL[0], 20 * 24, video)
    second = await incident(ctx, staff, beijing(2026, 4, 11, 0), 20 * 24, video)

    runs = [do_apply_incident_credits(ctx, staff, i) for i in (first, second, first, second)]
    assert sum(await asyncio.gather(*runs)) == 2
    assert sorted(c.amount_fen for c in await credits(ctx, account)) == [-6_667, -3_333]


async def test_a_changed_package_is_credited_on_its_net_rent(
    ctx: Context, staff: Principal, video: Product
) -> None:
    # on video 1–16 April: charged the month, then given back 15 days on the change
    account, sub = await subscriber(ctx, video, APRIL[0], beijing(2026, 4, 16, 0))
    await charge_rent(ctx, sub, video, APRIL, 10_000)
    await charge_rent(ctx, sub, video, (beijing(2026, 4, 16, 0), APRIL[1]), -5_000)
    outage = await incident(ctx, staff, beijing(2026, 4, 13, 0), 6 * 24, video)  # 13–19 April

    assert await do_apply_incident_credits(ctx, staff, outage) == 1
    [credit] = await credits(ctx, account)
    assert credit.amount_fen == -1_000  # 3 of its days (13, 14, 15 April): 10000 × 3/30
    assert credit.period_end == beijing(2026, 4, 16, 0)


# -- who ---------------------------------------------------------------------------------------


async def test_only_subscribers_of_the_product_during_the_outage_are_credited(
    ctx: Context, staff: Principal, video: Product, storage: Product
) -> None:
    affected, sub = await subscriber(ctx, video, APRIL[0])
    other, other_sub = await subscriber(ctx, storage, APRIL[0])
    gone, gone_sub = await subscriber(ctx, video, APRIL[0], beijing(2026, 4, 5, 0))
    later, later_sub = await subscriber(ctx, video, beijing(2026, 4, 20, 0))
    await charge_rent(ctx, sub, video, APRIL, 10_000)
    await charge_rent(ctx, other_sub, storage, APRIL, 2_000)
    await charge_rent(ctx, gone_sub, video, APRIL, 10_000)
    await charge_rent(ctx, later_sub, video, (beijing(2026, 4, 20, 0), APRIL[1]), 3_667)
    outage = await incident(ctx, staff, beijing(2026, 4, 10, 0), 72, video)

    assert await do_apply_incident_credits(ctx, staff, outage) == 1
    assert [c.amount_fen for c in await credits(ctx, affected)] == [-1_000]  # 3 of 30 days
    for account in (other, gone, later):
        assert await credits(ctx, account) == []


async def test_nothing_charged_means_nothing_credited(
    ctx: Context, staff: Principal, video: Product
) -> None:
    account, _sub = await subscriber(ctx, video, APRIL[0])
    outage = await incident(ctx, staff, beijing(2026, 5, 10, 0), 24, video)
    assert await do_apply_incident_credits(ctx, staff, outage) == 0
    assert await credits(ctx, account) == []


# -- recording ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts", "ends", "codes", "error"),
    [
        (beijing(2026, 4, 10), beijing(2026, 4, 10), None, "validation_failed"),
        (beijing(2026, 4, 10), beijing(2026, 4, 9), None, "validation_failed"),
        (beijing(2026, 6, 15), beijing(2026, 6, 16), None, "validation_failed"),  # not over
        (beijing(2026, 4, 10), beijing(2026, 4, 11), ["no-such-product"], "product_not_found"),
        (beijing(2026, 4, 10), beijing(2026, 4, 11), [], "validation_failed"),
    ],
)
async def test_recording_an_incident_checks_it(
    ctx: Context,
    staff: Principal,
    video: Product,
    starts: datetime,
    ends: datetime,
    codes: list[str] | None,
    error: str,
) -> None:
    with pytest.raises(YuntongError) as refused:
        await do_record_incident(
            ctx, staff, "Outage", starts, ends, [video.code] if codes is None else codes
        )
    assert refused.value.code == error
    assert await list_incidents(ctx, staff) == []


async def test_only_staff_record_and_credit_incidents(
    ctx: Context, staff: Principal, customer: Principal, video: Product
) -> None:
    with pytest.raises(YuntongError) as record:
        await incident(ctx, customer, beijing(2026, 4, 10, 8), 6, video)
    assert record.value.code == "forbidden"
    outage = await incident(ctx, staff, beijing(2026, 4, 10, 8), 6, video)
    with pytest.raises(YuntongError) as apply:
        await do_apply_incident_credits(ctx, customer, outage)
    assert apply.value.code == "forbidden"
    with pytest.raises(YuntongError) as missing:
        await do_apply_incident_credits(ctx, staff, outage + 1000)
    assert missing.value.code == "incident_not_found"
