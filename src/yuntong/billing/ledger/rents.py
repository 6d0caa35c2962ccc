"""Rent of subscriptions: charged in advance, with day-based proration.

Rent is charged in advance: an order charges the rest of the current cycle, and each cycle
close charges the next cycle (:func:`advance_rents`). Changing package mid-cycle credits the old
package and charges the new one for the days left.

Rent during a suspension for arrears (``YUNTONG_BILLING_RENT_DURING_ARREARS_SUSPENSION``,
default off): the contract charges rent during a suspension only when a competent authority
asks for it (VP 10, a lawful hold), so by default an account suspended for non-payment pays no
rent for the days it is suspended. Its rent is *paused* when it is suspended (the rest of the
cycle is returned, key ``rent-pause:<sub>:<cycle>:<n>``), *resumed* when the suspension ends
(the rest of the cycle is charged, ``rent-resume:…``), and a close does not charge the next
cycle in advance while it lasts. Whether a subscription's rent runs in a cycle is read from
its rent entries of that cycle: the last charge or return decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.billing import store
from yuntong.billing.catalog.catalog import (
    Catalog,
    business_tz,
    load_catalog,
)
from yuntong.billing.catalog.cycles import Cycle, cycle_of, prorate
from yuntong.billing.models import (
    BillingAccount,
    BillingState,
    EntryKind,
    LedgerEntry,
    Product,
    Statement,
    StatementKind,
    Subscription,
)
from yuntong.config import Settings
from yuntong.core.context import Context


def rent_entry(
    sub: Subscription,
    product: Product,
    catalog: Catalog,
    cycle: Cycle,
    moment: datetime,
    tz: Any,
    *,
    credit: bool = False,
    key: str | None = None,
    reason: str | None = None,
) -> dict[str, Any] | None:
    """Rent for ``sub`` from ``moment``'s day to the end of ``cycle`` (a credit when ending).
    ``key`` replaces the idempotency key (pauses and resumptions); ``reason`` is kept in the
    entry's detail (``suspended``, ``resumed``)."""
    day = max(moment.astimezone(tz).date(), cycle.first_day)
    price = catalog.price_on(product.id, day)
    if price is None or price.monthly_fee_fen == 0:
        return None
    amount = prorate(price.monthly_fee_fen, cycle, day, cycle.last_day + timedelta(days=1))
    if amount == 0:
        return None
    days_left = (cycle.last_day - day).days + 1
    return {
        "account_id": sub.account_id,
        "kind": EntryKind.RENT.value,
        "amount_fen": -amount if credit else amount,
        "occurred_at": moment,
        "posted_at": moment,
        "usage_id": None,
        "usage_type": None,
        "quantity_s": None,
        "billed_s": None,
        "allowance_s": 0,
        "price_id": price.id,
        "period_start": max(moment, cycle.start),
        "period_end": cycle.end,
        "reference": None,
        "detail": {
            "subscription_id": sub.id,
            "product_code": product.code,
            "days": days_left,
            "cycle_days": cycle.days,
            "monthly_fee_fen": price.monthly_fee_fen,
            "credit": credit,
            **({"reason": reason} if reason else {}),
        },
        "created_by": None,
        "idempotency_key": key or f"rent{'-back' if credit else ''}:{sub.id}:{cycle.label}",
    }


# -- rent during a suspension for arrears ------------------------------------------------------

RENT_CHARGES = ("rent", "rent-resume")  # key prefixes: the rent of the rest of the cycle runs
RENT_RETURNS = ("rent-back", "rent-pause")  # it does not


def rent_paused(settings: Settings, state: str) -> bool:
    """Whether an account in ``state`` pays no rent: suspended for arrears, unless the operator
    charges rent then (a lawful hold always pays rent, VP 10)."""
    return state == BillingState.SUSPENDED and not settings.billing_rent_during_arrears_suspension


def _key_parts(key: str | None) -> tuple[str, int, str] | None:
    """(prefix, subscription id, cycle) of a rent entry's key."""
    parts = (key or "").split(":")
    if len(parts) < 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


async def _rent_keys(
    s: AsyncSession, account_ids: Sequence[int], cycle: Cycle
) -> dict[int, list[str]]:
    """Per subscription, the prefixes of its rent entries for ``cycle``, oldest first."""
    query = (
        select(LedgerEntry.idempotency_key)
        .where(
            LedgerEntry.account_id.in_(list(account_ids)),
            LedgerEntry.kind == EntryKind.RENT,
            LedgerEntry.occurred_at >= cycle.start,
            LedgerEntry.occurred_at < cycle.end,
        )
        .order_by(LedgerEntry.id)
    )
    found: dict[int, list[str]] = {}
    for key in (await s.execute(query)).scalars():
        parts = _key_parts(key)
        if parts is not None and parts[2] == cycle.label:
            found.setdefault(parts[1], []).append(parts[0])
    return found


async def _closed_into(s: AsyncSession, account_id: int, cycle: Cycle) -> bool:
    """Whether the close that charges ``cycle``'s rent in advance ran for the account."""
    query = select(Statement.id).where(
        Statement.account_id == account_id,
        Statement.kind == StatementKind.CYCLE,
        Statement.period_end >= cycle.start,
    )
    return (await s.execute(query.limit(1))).first() is not None


def _runs(prefixes: Sequence[str]) -> bool:
    last = [p for p in prefixes if p in RENT_CHARGES or p in RENT_RETURNS]
    return bool(last) and last[-1] in RENT_CHARGES


async def settle_suspension_rent(ctx: Context, s: AsyncSession, account: BillingAccount) -> None:
    """Pause or resume the rent of ``account``'s live subscriptions for the rest of the current
    cycle, as its state now requires. Called in the transaction that changed the state."""
    if account.state not in (BillingState.ACTIVE, BillingState.SUSPENDED, BillingState.HELD):
        return  # termination ends the subscriptions and returns the unused rent itself
    now = ctx.clock.now()
    tz = business_tz(ctx)
    cycle = cycle_of(now, account.close_day, tz)
    live = await live_subscriptions(s, account.id, now)
    if not live:
        return
    catalog = await load_catalog(ctx)
    history = await _rent_keys(s, [account.id], cycle)
    wanted = not rent_paused(ctx.settings, account.state)
    rows = []
    closed: bool | None = None
    for sub in live:
        prefixes = history.get(sub.id, [])
        if _runs(prefixes) == wanted:
            continue
        if not prefixes:
            # nothing charged this cycle: if its close has not run yet, the close charges the
            # cycle in advance as the state then requires; if it has, the rent was paused
            closed = await _closed_into(s, account.id, cycle) if closed is None else closed
            if not closed:
                continue
        turn = sum(p in ("rent-pause", "rent-resume") for p in prefixes)
        prefix = "rent-resume" if wanted else "rent-pause"
        row = rent_entry(
            sub,
            catalog.products[sub.product_id],
            catalog,
            cycle,
            now,
            tz,
            credit=not wanted,
            key=f"{prefix}:{sub.id}:{cycle.label}:{turn}",
            reason="resumed" if wanted else "suspended",
        )
        if row:
            rows.append(row)
    await store.insert_entries(s, rows)


async def advance_rents(
    ctx: Context,
    s: AsyncSession,
    subs: Mapping[int, Sequence[Subscription]],
    cycle: Cycle,
    following: Cycle,
    catalog: Catalog,
) -> list[dict[str, Any]]:
    """At the close of ``cycle``: the rent of ``following``, charged in advance, for every
    subscription live at the end of ``cycle``; none for an account whose rent is paused. (A
    state change before the close charges nothing for ``following``, see
    :func:`settle_suspension_rent`: the state at the close decides.)"""
    tz = business_tz(ctx)
    query = select(BillingAccount.id, BillingAccount.state).where(BillingAccount.id.in_(list(subs)))
    paused = {a for a, state in (await s.execute(query)).all() if rent_paused(ctx.settings, state)}
    rents = []
    for account_id, account_subs in subs.items():
        if account_id in paused:
            continue
        for sub in account_subs:
            if sub.starts_at <= cycle.end and (sub.ends_at is None or sub.ends_at > cycle.end):
                product = catalog.products[sub.product_id]
                row = rent_entry(sub, product, catalog, following, following.start, tz)
                if row:
                    rents.append(row)
    return rents


def monthly_rent_fen(catalog: Catalog, products: Iterable[Product], day: date) -> int:
    """The full monthly fee of these products in force on ``day``."""
    prices = (catalog.price_on(p.id, day) for p in products)
    return sum(price.monthly_fee_fen for price in prices if price is not None)


def is_live(sub: Subscription, now: datetime) -> bool:
    """The subscription runs at ``now`` (it may be cancelled for a later cycle end)."""
    return sub.starts_at <= now and (sub.ends_at is None or sub.ends_at > now)


async def live_subscriptions(s: AsyncSession, account_id: int, now: datetime) -> list[Subscription]:
    subs = (await store.subscriptions_for(s, [account_id])).get(account_id, [])
    return [x for x in subs if is_live(x, now)]


async def end_subscriptions_now(ctx: Context, s: AsyncSession, account_id: int) -> None:
    """End every live subscription now, returning the unused days' rent (termination)."""
    catalog = await load_catalog(ctx)
    now = ctx.clock.now()
    tz = business_tz(ctx)
    async with ctx.db.session() as read:
        account = await read.get(BillingAccount, account_id)
    assert account is not None
    cycle = cycle_of(now, account.close_day, tz)
    history = await _rent_keys(s, [account_id], cycle)
    entries = []
    for sub in await live_subscriptions(s, account_id, now):
        sub.ends_at = now
        prefixes = history.get(sub.id, [])
        if prefixes and not _runs(prefixes):
            continue  # paused by a suspension (or returned already): nothing to return
        if not prefixes and await _closed_into(s, account_id, cycle):
            continue  # the close did not charge this cycle (rent paused): nothing to return
        # (no entry and no close yet: the close will charge it in advance; this returns it)
        back = rent_entry(
            sub, catalog.products[sub.product_id], catalog, cycle, now, tz, credit=True
        )
        if back:
            entries.append(back)
    await store.insert_entries(s, entries)
