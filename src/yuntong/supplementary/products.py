"""Each supplementary service is an add-on product of the billing catalogue with a monthly fee:
what a user must have ordered before activating it (``service_not_ordered`` otherwise) — for
scheduled do-not-disturb, before adding or changing a schedule."""

from __future__ import annotations

from dataclasses import dataclass

from yuntong.accounts.roles import Actor
from yuntong.billing.catalog import catalog
from yuntong.billing.ledger.accounts import find_account_for_user
from yuntong.billing.ledger.rents import live_subscriptions
from yuntong.billing.models import ProductKind
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError


@dataclass(frozen=True)
class ServiceProduct:
    service: str  # clip | clir | forwarding | barring | waiting | dnd_schedule
    code: str  # the catalogue's product code
    name_zh: str
    name_en: str
    monthly_fee_fen: int  # the fee first set when the product is added to the catalogue


PRODUCTS: tuple[ServiceProduct, ...] = (
    ServiceProduct("clip", "vas_clip", "来电显示", "Caller ID display (CLIP)", 500),
    ServiceProduct("clir", "vas_clir", "主叫号码隐藏", "Caller ID restriction (CLIR)", 300),
    ServiceProduct("forwarding", "vas_forwarding", "呼叫转移", "Call forwarding", 500),
    ServiceProduct("barring", "vas_barring", "呼叫限制", "Call barring", 300),
    ServiceProduct("waiting", "vas_call_waiting", "呼叫等待", "Call waiting", 300),
    # do-not-disturb schedules (yuntong.presence.schedules); switching DND on and off is free
    ServiceProduct(
        "dnd_schedule", "vas_dnd_schedule", "定时免打扰", "Scheduled do-not-disturb", 200
    ),
)
BY_SERVICE = {p.service: p for p in PRODUCTS}


async def do_add_products(ctx: Context, actor: Actor) -> list[str]:
    """Add the services missing from the catalogue, priced from today (staff). Returns the
    codes added; running it again adds nothing."""
    known = await catalog.load_catalog(ctx)
    codes = {p.code for p in known.products.values()}
    added = []
    for item in PRODUCTS:
        if item.code in codes:
            continue
        product = await catalog.do_create_product(
            ctx,
            actor,
            code=item.code,
            kind=ProductKind.ADDON,
            name_zh=item.name_zh,
            name_en=item.name_en,
        )
        await catalog.do_set_price(
            ctx,
            actor,
            product.id,
            effective_on=catalog.local_day(ctx, ctx.clock.now()),
            monthly_fee_fen=item.monthly_fee_fen,
            allowances={},
            rates={},
        )
        added.append(item.code)
    return added


async def ordered_services(ctx: Context, user_id: int) -> set[str]:
    """The services the user's billing account subscribes to now."""
    known = await catalog.load_catalog(ctx)
    async with ctx.db.session() as s:
        account = await find_account_for_user(ctx, s, user_id)
        if account is None:
            return set()
        subscriptions = await live_subscriptions(s, account.id, ctx.clock.now())
    codes = {
        known.products[sub.product_id].code
        for sub in subscriptions
        if sub.product_id in known.products
    }
    return {p.service for p in PRODUCTS if p.code in codes}


async def check_ordered(ctx: Context, user_id: int, services: set[str]) -> None:
    """``service_not_ordered`` unless the user ordered every one of ``services``."""
    if not services:
        return
    missing = services - await ordered_services(ctx, user_id)
    if missing:
        raise YuntongError("service_not_ordered", service=",".join(sorted(missing)))
