"""Orders and subscriptions: packages and value-added services, with day-based proration.

Rent is charged in advance: an order charges the rest of the current cycle, and each cycle
close charges the next cycle. Changing package mid-cycle credits the old package and charges
the new one for the days left; a cancellation takes effect at the end of the cycle. The order
document (products, prices, terms) is kept as part of the customer's agreement (VP 2).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts.service import Actor
from yuntong.billing import store
from yuntong.billing.accounts import account_for_actor, publish_changed
from yuntong.billing.catalog import (
    Catalog,
    business_tz,
    load_catalog,
    local_day,
    price_summary,
)
from yuntong.billing.credit import check_account_usable
from yuntong.billing.cycles import Cycle, cycle_of, prorate
from yuntong.billing.models import (
    BillingAccount,
    EntryKind,
    Order,
    Product,
    ProductKind,
    Subscription,
)
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError


def rent_entry(
    sub: Subscription,
    product: Product,
    catalog: Catalog,
    cycle: Cycle,
    moment: datetime,
    tz: Any,
    *,
    credit: bool = False,
) -> dict[str, Any] | None:
    """Rent for ``sub`` from ``moment``'s day to the end of ``cycle`` (a credit when ending)."""
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
        },
        "created_by": None,
        "idempotency_key": f"rent{'-back' if credit else ''}:{sub.id}:{cycle.label}",
    }


def _document(
    kind: str,
    account: BillingAccount,
    products: list[Product],
    catalog: Catalog,
    ctx: Context,
    entries: list[dict[str, Any]],
    ending: list[Product],
) -> dict[str, Any]:
    today = local_day(ctx, ctx.clock.now())
    return {
        "kind": kind,
        "account_id": account.id,
        "placed_at": ctx.clock.now().isoformat(),
        "products": [
            {
                "code": p.code,
                "kind": p.kind,
                "name_zh": p.name_zh,
                "name_en": p.name_en,
                "price": price_summary(catalog.price_on(p.id, today)),
            }
            for p in products
        ],
        "ending": [p.code for p in ending],
        "charges_fen": [e["amount_fen"] for e in entries],
        "terms": {
            "account_kind": account.kind,
            "credit_limit_fen": account.credit_limit_fen,
            "close_day": account.close_day,
            "due_workdays": ctx.settings.billing_due_workdays,
            "first_due_workdays": ctx.settings.billing_first_due_workdays,
            "late_fee_per_day": str(ctx.settings.billing_late_fee_per_day),
            "suspend_after_months": ctx.settings.billing_suspend_after_months,
            "terminate_after_months": ctx.settings.billing_terminate_after_months,
            "incident_min_hours": ctx.settings.billing_incident_min_hours,
            "timezone": ctx.settings.business_timezone,
        },
    }


async def _live_subscriptions(
    s: AsyncSession, account_id: int, now: datetime
) -> list[Subscription]:
    subs = (await store.subscriptions_for(s, [account_id])).get(account_id, [])
    return [x for x in subs if x.starts_at <= now and (x.ends_at is None or x.ends_at > now)]


async def do_place_order(
    ctx: Context,
    actor: Actor,
    account_id: int | None,
    product_codes: list[str],
    idempotency_key: str | None = None,
) -> Order:
    """Subscribe to products now. A package replaces the current one with proration; the
    first order of an account issues its first statement (due in N working days)."""
    from yuntong.billing.statements import do_issue_first_statement

    account = await account_for_actor(ctx, actor, account_id)
    await check_account_usable(ctx, account.id)
    if idempotency_key:
        async with ctx.db.session() as s:
            query = select(Order).where(Order.idempotency_key == idempotency_key)
            earlier = (await s.execute(query)).scalar_one_or_none()
        if earlier is not None:
            if earlier.account_id != account.id:
                raise YuntongError("idempotency_conflict")
            return earlier
    catalog = await load_catalog(ctx)
    products = [catalog.by_code(code) for code in dict.fromkeys(product_codes)]
    if not products or any(not p.active for p in products):
        raise YuntongError("product_not_found")
    today = local_day(ctx, ctx.clock.now())
    if any(catalog.price_on(p.id, today) is None for p in products):
        raise YuntongError("product_not_found")
    if sum(p.kind == ProductKind.PACKAGE for p in products) > 1:
        raise YuntongError("validation_failed", fields={"product_codes": "invalid"})
    now = ctx.clock.now()
    tz = business_tz(ctx)
    cycle = cycle_of(now, account.close_day, tz)
    async with ctx.db.session() as s:
        first = (
            await s.execute(select(Order.id).where(Order.account_id == account.id))
        ).first() is None
        live = await _live_subscriptions(s, account.id, now)
        held = {x.product_id for x in live}
        products = [p for p in products if p.id not in held]
        if not products:
            raise YuntongError("validation_failed", fields={"product_codes": "invalid"})
        entries: list[dict[str, Any]] = []
        ending: list[Product] = []
        if any(p.kind == ProductKind.PACKAGE for p in products):
            for old in live:
                old_product = catalog.products[old.product_id]
                if old_product.kind != ProductKind.PACKAGE:
                    continue
                old.ends_at = now
                ending.append(old_product)
                back = rent_entry(old, old_product, catalog, cycle, now, tz, credit=True)
                if back:
                    entries.append(back)
        kind = "change" if ending else "subscribe"
        order = Order(
            account_id=account.id,
            kind=kind,
            placed_by=actor.user_id,
            placed_at=now,
            document={},
            idempotency_key=idempotency_key,
        )
        s.add(order)
        await s.flush()
        for product in products:
            sub = Subscription(
                account_id=account.id, product_id=product.id, order_id=order.id, starts_at=now
            )
            s.add(sub)
            await s.flush()
            charge = rent_entry(sub, product, catalog, cycle, now, tz)
            if charge:
                entries.append(charge)
        await store.insert_entries(s, entries)
        order.document = _document(kind, account, products, catalog, ctx, entries, ending)
    await publish_changed(ctx, account.id)
    if first:
        await do_issue_first_statement(ctx, account.id, order)
    return order


async def do_cancel_product(
    ctx: Context, actor: Actor, account_id: int | None, product_code: str
) -> Order:
    """End a subscription at the end of the current cycle (no proration, no refund)."""
    account = await account_for_actor(ctx, actor, account_id)
    catalog = await load_catalog(ctx)
    product = catalog.by_code(product_code)
    now = ctx.clock.now()
    cycle = cycle_of(now, account.close_day, business_tz(ctx))
    async with ctx.db.session() as s:
        live = await _live_subscriptions(s, account.id, now)
        subs = [x for x in live if x.product_id == product.id]
        if not subs:
            raise YuntongError("product_not_found")
        for sub in subs:
            sub.ends_at = cycle.end
        order = Order(
            account_id=account.id,
            kind="cancel",
            placed_by=actor.user_id,
            placed_at=now,
            document=_document("cancel", account, [], catalog, ctx, [], [product]),
        )
        s.add(order)
    await publish_changed(ctx, account.id)
    return order


async def list_orders(ctx: Context, actor: Actor, account_id: int | None) -> list[Order]:
    account = await account_for_actor(ctx, actor, account_id)
    async with ctx.db.session() as s:
        query = select(Order).where(Order.account_id == account.id).order_by(Order.id.desc())
        return list((await s.execute(query)).scalars())


async def list_subscriptions(
    ctx: Context, actor: Actor, account_id: int | None
) -> list[tuple[Subscription, Product]]:
    account = await account_for_actor(ctx, actor, account_id)
    catalog = await load_catalog(ctx)
    async with ctx.db.session() as s:
        subs = (await store.subscriptions_for(s, [account.id])).get(account.id, [])
    return [(x, catalog.products[x.product_id]) for x in subs]


async def end_subscriptions_now(ctx: Context, s: AsyncSession, account_id: int) -> None:
    """End every live subscription now, returning the unused days' rent (termination)."""
    catalog = await load_catalog(ctx)
    now = ctx.clock.now()
    tz = business_tz(ctx)
    async with ctx.db.session() as read:
        account = await read.get(BillingAccount, account_id)
    assert account is not None
    cycle = cycle_of(now, account.close_day, tz)
    entries = []
    for sub in await _live_subscriptions(s, account_id, now):
        sub.ends_at = now
        back = rent_entry(
            sub, catalog.products[sub.product_id], catalog, cycle, now, tz, credit=True
        )
        if back:
            entries.append(back)
    await store.insert_entries(s, entries)
