"""Price tiers of numbers (靓号): the operator puts pattern classes into tiers, and each tier is
a catalog product whose monthly fee is the rent of a number in it (docs/numbers.md).

A tier's product is inactive in the catalog: it is rented only with a number (never ordered on
its own, not on the general price list; /numbers shows the tiers). A pattern class belongs to at
most one tier; plain numbers (class ``""``) are rented in the
tier that lists ``""`` (usually "standard"). A number whose class is in no tier cannot be
assigned (``number_tier_unpriced``). The rent follows the catalog's price versions: a change
of a tier's rent is a new price version, with the notice the catalog requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from yuntong.accounts import audit, roles
from yuntong.accounts.roles import Actor
from yuntong.billing.catalog import catalog
from yuntong.billing.catalog.catalog import Catalog, load_catalog, local_day
from yuntong.billing.models import Product, ProductKind
from yuntong.billing.orders.orders import NUMBER_RENT_PREFIX
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers.models import NumberTier
from yuntong.numbers.patterns import PATTERNS, PLAIN

PRODUCT_PREFIX = NUMBER_RENT_PREFIX


@dataclass(frozen=True)
class TierView:
    code: str
    name_zh: str
    name_en: str
    patterns: list[str]
    product_code: str
    monthly_rent_fen: int | None  # None: no price in force today

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_zh


def _view(tier: NumberTier, products: Catalog, ctx: Context) -> TierView:
    price = products.price_on(tier.product_id, local_day(ctx, ctx.clock.now()))
    return TierView(
        code=tier.code,
        name_zh=tier.name_zh,
        name_en=tier.name_en,
        patterns=list(tier.patterns),
        product_code=products.products[tier.product_id].code,
        monthly_rent_fen=None if price is None else price.monthly_fee_fen,
    )


async def list_tiers(ctx: Context) -> list[TierView]:
    products = await load_catalog(ctx)
    async with ctx.db.session() as s:
        tiers = (await s.execute(select(NumberTier).order_by(NumberTier.id))).scalars().all()
    return [_view(t, products, ctx) for t in tiers]


async def tier_by_pattern(ctx: Context) -> dict[str, TierView]:
    """Each pattern class's tier."""
    return {pattern: tier for tier in await list_tiers(ctx) for pattern in tier.patterns}


def check_patterns(patterns: list[str]) -> list[str]:
    known = {PLAIN, *PATTERNS}
    if not patterns or any(p not in known for p in patterns):
        raise YuntongError("validation_failed", fields={"patterns": "invalid"})
    return list(dict.fromkeys(patterns))


def check_code(code: str) -> str:
    if not code or len(code) > 30 or not all(c.isalnum() or c in "-_" for c in code):
        raise YuntongError("validation_failed", fields={"code": "invalid"})
    return code.lower()


async def do_set_tier(
    ctx: Context,
    actor: Actor,
    code: str,
    *,
    name_zh: str,
    name_en: str,
    patterns: list[str],
    monthly_rent_fen: int,
) -> TierView:
    """Create a tier, or change its names, patterns and rent. A new tier's rent is in force
    today; a changed rent starts after the catalog's notice period (customers are told)."""
    roles.check_staff(actor)
    code = check_code(code)
    patterns = check_patterns(patterns)
    catalog.check_monthly_fee(monthly_rent_fen)
    others = {p: t.code for t in await list_tiers(ctx) if t.code != code for p in t.patterns}
    clash = [p for p in patterns if p in others]
    if clash:
        raise YuntongError("validation_failed", fields={"patterns": "taken"})
    async with ctx.db.session() as s:
        tier = (
            await s.execute(select(NumberTier).where(NumberTier.code == code))
        ).scalar_one_or_none()
    today = local_day(ctx, ctx.clock.now())
    if tier is None:
        product = await catalog.do_create_product(
            ctx,
            actor,
            code=PRODUCT_PREFIX + code,
            kind=ProductKind.ADDON,
            name_zh=f"号码月租（{name_zh}）",
            name_en=f"Number rent ({name_en})",
        )
        await _price(ctx, actor, product, monthly_rent_fen, today)
        async with ctx.db.session() as s:
            # rented only with a number: not orderable on its own, not on the general price list
            offered = await s.get(Product, product.id)
            assert offered is not None
            offered.active = False
            tier = NumberTier(
                code=code,
                name_zh=name_zh,
                name_en=name_en,
                patterns=patterns,
                product_id=product.id,
                created_by=actor.user_id,
                created_at=ctx.clock.now(),
            )
            s.add(tier)
        await catalog.publish_changed(ctx)
    else:
        async with ctx.db.session() as s:
            row = await s.get(NumberTier, tier.id)
            assert row is not None
            row.name_zh, row.name_en, row.patterns = name_zh, name_en, patterns
        products = await load_catalog(ctx)
        current = products.price_on(tier.product_id, today)
        if current is None or current.monthly_fee_fen != monthly_rent_fen:
            notice = 0 if current is None else ctx.settings.billing_price_notice_days
            product = products.products[tier.product_id]
            await _price(ctx, actor, product, monthly_rent_fen, today + timedelta(days=notice))
    await audit.record(
        ctx,
        actor.user_id,
        "numbers.tier",
        None,
        code=code,
        patterns=patterns,
        monthly_rent_fen=monthly_rent_fen,
    )
    views = {t.code: t for t in await list_tiers(ctx)}
    return views[code]


async def _price(ctx: Context, actor: Actor, product: Product, fen: int, day: date) -> None:
    await catalog.do_set_price(
        ctx, actor, product.id, effective_on=day, monthly_fee_fen=fen, allowances={}, rates={}
    )
