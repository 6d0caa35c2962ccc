"""Orders: packages and value-added services subscribed and cancelled, and the order document.

An order charges the rest of the current cycle (:mod:`yuntong.billing.ledger.rents`); a
cancellation takes effect at the end of the cycle. The order document (products, prices,
terms) is kept as part of the customer's agreement (VP 2). The first order of an account
issues its first statement, so orders sit above statements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import audit
from yuntong.accounts.roles import Actor
from yuntong.billing import store
from yuntong.billing.catalog.catalog import (
    Catalog,
    business_tz,
    load_catalog,
    local_day,
    price_summary,
)
from yuntong.billing.catalog.cycles import cycle_of
from yuntong.billing.ledger.accounts import account_for_actor, publish_changed
from yuntong.billing.ledger.credit import check_account_usable
from yuntong.billing.ledger.rents import is_live, live_subscriptions, monthly_rent_fen, rent_entry
from yuntong.billing.models import (
    AccountKind,
    BillingAccount,
    Order,
    Product,
    ProductKind,
    Subscription,
)
from yuntong.billing.statements.statements import do_issue_first_statement
from yuntong.config import Settings
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import translate
from yuntong.core.money import format_yuan

# a phone number's rent (yuntong.numbers.tiers): it starts and ends with the number, never alone
NUMBER_RENT_PREFIX = "number."


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
            **service_terms(ctx.settings),
        },
    }


def service_terms(settings: Settings) -> dict[str, Any]:
    """The operator's billing terms every customer agrees to: stored in each order document
    (VP 2) and printed on the published price list."""
    return {
        "due_workdays": settings.billing_due_workdays,
        "first_due_workdays": settings.billing_first_due_workdays,
        "late_fee_per_day": str(settings.billing_late_fee_per_day),
        "suspend_after_months": settings.billing_suspend_after_months,
        "terminate_after_months": settings.billing_terminate_after_months,
        "incident_min_hours": settings.billing_incident_min_hours,
        # VP 10: rent is charged during a lawful hold; during a suspension for arrears only if
        "rent_during_arrears_suspension": settings.billing_rent_during_arrears_suspension,
        # a postpaid order whose monthly rent exceeds the credit limit: refuse, raise or allow
        "rent_over_credit_limit": settings.billing_rent_over_credit_limit,
        # a terminated account places no call, free ones included, unless allowed here
        "terminated_free_calls": settings.billing_terminated_free_calls,
        # payments settle the debt due first; a statement's charges before its late fees
        "payment_order": "due_first_charges_before_late_fees",
        "timezone": settings.business_timezone,
    }


def terms_text(settings: Settings, locale: str) -> list[str]:
    """The billing terms as sentences for the customer (the published price list)."""
    rate = f"{(settings.billing_late_fee_per_day * 100).normalize():f}%"
    arrears = "charged" if settings.billing_rent_during_arrears_suspension else "paused"
    terminated = "allowed" if settings.billing_terminated_free_calls else "refused"
    hours = f"{settings.billing_incident_min_hours:g}"
    return [
        translate(
            "terms.due",
            locale,
            days=settings.billing_due_workdays,
            first=settings.billing_first_due_workdays,
        ),
        translate(
            "terms.late_fee",
            locale,
            rate=rate,
            suspend=settings.billing_suspend_after_months,
            terminate=settings.billing_terminate_after_months,
        ),
        translate("terms.rent_hold", locale),
        translate(f"terms.rent_arrears.{arrears}", locale),
        translate(
            f"terms.credit.{settings.billing_rent_over_credit_limit}",
            locale,
            max=format_yuan(settings.billing_credit_limit_max_fen),
        ),
        translate("terms.payment_order", locale),
        translate(f"terms.terminated.{terminated}", locale),
        translate("terms.incident", locale, hours=hours),
    ]


async def _rent_within_credit_limit(
    ctx: Context, s: AsyncSession, account_id: int, rent_fen: int
) -> tuple[BillingAccount, dict[str, Any] | None]:
    """A postpaid account's monthly rent above its credit limit would exhaust the limit at the
    first charge of every cycle. ``YUNTONG_BILLING_RENT_OVER_CREDIT_LIMIT``: ``raise`` the
    limit by the rent, so that the room for usage the customer had stays (at most the maximum;
    refused if that is not above the rent), ``refuse`` the order (the customer chooses a higher
    limit first, VP 9), or ``allow`` it as it is. Returns the locked account and what the order
    document records."""
    row = await s.get(BillingAccount, account_id, with_for_update=True)
    assert row is not None
    if row.kind != AccountKind.POSTPAID or rent_fen <= row.credit_limit_fen:
        return row, None
    settings = ctx.settings
    mode = settings.billing_rent_over_credit_limit
    rule: dict[str, Any] = {"mode": mode, "rent_fen": rent_fen, "limit_fen": row.credit_limit_fen}
    if mode == "allow":
        return row, rule
    raised = min(settings.billing_credit_limit_max_fen, rent_fen + row.credit_limit_fen)
    if mode == "refuse" or raised <= rent_fen:
        raise YuntongError(
            "rent_over_credit_limit",
            rent=format_yuan(rent_fen),
            limit=format_yuan(row.credit_limit_fen),
        )
    row.credit_limit_fen = raised
    row.alert_level = 0
    return row, {**rule, "raised_to_fen": raised}


async def do_place_order(
    ctx: Context,
    actor: Actor,
    account_id: int | None,
    product_codes: list[str],
    idempotency_key: str | None = None,
) -> Order:
    """Subscribe to products now. A package replaces the current one with proration; the
    first order of an account issues its first statement (due in N working days)."""
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
        live = await live_subscriptions(s, account.id, now)
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
        kept = [
            catalog.products[x.product_id] for x in live if x.ends_at is None or x.ends_at > now
        ]
        rent_fen = monthly_rent_fen(catalog, [*kept, *products], today)
        locked, limit_rule = await _rent_within_credit_limit(ctx, s, account.id, rent_fen)
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
        order.document = _document(kind, locked, products, catalog, ctx, entries, ending)
        if limit_rule is not None:
            order.document["credit_limit_rule"] = limit_rule
    if limit_rule is not None and "raised_to_fen" in limit_rule:
        await audit.record(
            ctx,
            actor.user_id,
            "billing.credit_limit",
            None,
            account_id=account.id,
            fen=limit_rule["raised_to_fen"],
            reason="rent_over_credit_limit",
        )
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
    if product.code.startswith(NUMBER_RENT_PREFIX):
        raise YuntongError("number_rent_with_number")
    now = ctx.clock.now()
    cycle = cycle_of(now, account.close_day, business_tz(ctx))
    async with ctx.db.session() as s:
        live = await live_subscriptions(s, account.id, now)
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


def subscription_flags(sub: Subscription, now: datetime) -> dict[str, bool]:
    """What a subscription list shows and offers: ``live`` (it runs now, by the server's
    clock), ``can_cancel`` (live and not yet cancelled: :func:`do_cancel_product` takes it to the
    cycle's end; asked again it accepts the repeat and changes nothing, but does not offer it)."""
    live = is_live(sub, now)
    return {"live": live, "can_cancel": live and sub.ends_at is None}


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


async def check_rent_within_credit_limit(
    ctx: Context, actor: Actor, s: AsyncSession, account_id: int, rent_fen: int
) -> dict[str, Any] | None:
    """For rent ordered outside :func:`do_place_order` (a phone number's, in the caller's
    transaction): the same credit-limit rule for the account's whole monthly rent
    ``rent_fen``; a raised limit is audited. Returns what the order document records."""
    _account, rule = await _rent_within_credit_limit(ctx, s, account_id, rent_fen)
    if rule is not None and "raised_to_fen" in rule:
        await audit.add(
            s,
            ctx.clock.now(),
            actor.user_id,
            "billing.credit_limit",
            None,
            account_id=account_id,
            fen=rule["raised_to_fen"],
            reason="rent_over_credit_limit",
        )
    return rule
