"""The catalog: packages and value-added services, their price versions, the price list.

A price change is a new version with a future effective date, announced to the customers it
affects; past charges keep the version they were rated with. A correction of a version
already in force (a tariff error) is a version that ``corrects`` it and triggers re-rating.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yuntong.accounts import roles
from yuntong.accounts.roles import Actor
from yuntong.billing.catalog.tariff import PACKAGE_USAGE_TYPES, Rate
from yuntong.billing.models import (
    BillingAccount,
    Product,
    ProductKind,
    ProductPrice,
    Subscription,
)
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.money import format_yuan
from yuntong.notifications.notices import do_notify

CATALOG_CHANNEL = "billing.catalog"


@dataclass
class Catalog:
    """A snapshot of every product and price version, read once and shared until changed."""

    products: dict[int, Product] = field(default_factory=dict)
    prices: dict[int, list[ProductPrice]] = field(default_factory=dict)  # by product, in order
    by_id: dict[int, ProductPrice] = field(default_factory=dict)
    _rates: dict[tuple[int, str], Rate | None] = field(default_factory=dict)

    def rate(self, price: ProductPrice, usage_type: str) -> Rate | None:
        """``price``'s rate for ``usage_type``, parsed once per snapshot."""
        key = (price.id, usage_type)
        if key not in self._rates:
            spec = price.rates.get(usage_type)
            self._rates[key] = Rate.parse(spec) if spec else None
        return self._rates[key]

    @property
    def default_package(self) -> Product | None:
        return next((p for p in self.products.values() if p.is_default and p.active), None)

    def by_code(self, code: str) -> Product:
        for product in self.products.values():
            if product.code == code:
                return product
        raise YuntongError("product_not_found")

    def price_on(self, product_id: int, day: date) -> ProductPrice | None:
        """The version in force on ``day``: latest effective date, latest correction of it."""
        best: ProductPrice | None = None
        for price in self.prices.get(product_id, ()):
            if price.effective_on > day:
                continue
            if best is None or (price.effective_on, price.id) > (best.effective_on, best.id):
                best = price
        return best

    def next_price(self, product_id: int, day: date) -> ProductPrice | None:
        later = [p for p in self.prices.get(product_id, ()) if p.effective_on > day]
        return min(later, key=lambda p: (p.effective_on, -p.id)) if later else None


def business_tz(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.settings.business_timezone)


def local_day(ctx: Context, moment: datetime) -> date:
    return moment.astimezone(business_tz(ctx)).date()


@dataclass
class CatalogCache:
    catalog: Catalog | None = None
    generation: int = 0  # bumped by every drop


def _subscribed(ctx: Context) -> CatalogCache:
    async def _dropped(_message: dict[str, Any]) -> None:
        _drop(ctx)

    ctx.bus.subscribe(CATALOG_CHANNEL, _dropped)
    return CatalogCache()


CATALOG = Piece(
    "billing.catalog",
    "per-node cache",
    _subscribed,
    "products and their price versions (dropped on billing.catalog)",
)


async def load_catalog(ctx: Context) -> Catalog:
    cache = ctx.services.get(CATALOG)
    if cache.catalog is not None:
        return cache.catalog
    generation = cache.generation
    catalog = Catalog()
    async with ctx.db.session() as s:
        for product in (await s.execute(select(Product))).scalars():
            catalog.products[product.id] = product
        query = select(ProductPrice).order_by(ProductPrice.effective_on, ProductPrice.id)
        for price in (await s.execute(query)).scalars():
            catalog.prices.setdefault(price.product_id, []).append(price)
            catalog.by_id[price.id] = price
    if cache.generation == generation:  # not dropped while it was read
        cache.catalog = catalog
    return catalog


def _drop(ctx: Context) -> None:
    cache = ctx.services.get(CATALOG)
    cache.generation += 1
    cache.catalog = None


async def _changed(ctx: Context) -> None:
    _drop(ctx)
    await ctx.bus.publish(CATALOG_CHANNEL, {})


# -- validation --------------------------------------------------------------------------------


def check_rates(rates: Mapping[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for usage_type, spec in rates.items():
        if usage_type not in PACKAGE_USAGE_TYPES:
            raise YuntongError("invalid_rate", reason=f"unknown usage type {usage_type!r}")
        if not isinstance(spec, Mapping):
            raise YuntongError("invalid_rate", reason=f"{usage_type}: not an object")
        try:
            checked[usage_type] = Rate.parse(spec).to_spec()
        except ValueError as exc:
            raise YuntongError("invalid_rate", reason=f"{usage_type}: {exc}") from exc
    return checked


def check_allowances(allowances: Mapping[str, Any]) -> dict[str, int]:
    checked: dict[str, int] = {}
    for usage_type, seconds in allowances.items():
        if usage_type not in PACKAGE_USAGE_TYPES:
            raise YuntongError("invalid_rate", reason=f"unknown usage type {usage_type!r}")
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise YuntongError("invalid_rate", reason=f"{usage_type}: allowance must be seconds")
        if not 0 <= seconds <= 10_000_000 * 60:
            raise YuntongError("invalid_rate", reason=f"{usage_type}: allowance out of range")
        checked[usage_type] = seconds
    return checked


def check_monthly_fee(fen: int) -> None:
    if not 0 <= fen <= 100_000_000:
        raise YuntongError("invalid_amount", reason="monthly fee out of range")


# -- changes -----------------------------------------------------------------------------------


async def do_create_product(
    ctx: Context,
    actor: Actor,
    *,
    code: str,
    kind: str,
    name_zh: str,
    name_en: str,
    description_zh: str = "",
    description_en: str = "",
    is_default: bool = False,
) -> Product:
    roles.check_staff(actor)
    if kind not in set(ProductKind):
        raise YuntongError("validation_failed", fields={"kind": "invalid"})
    if is_default and kind != ProductKind.PACKAGE:
        raise YuntongError("validation_failed", fields={"is_default": "invalid"})
    product = Product(
        code=code,
        kind=kind,
        name_zh=name_zh,
        name_en=name_en,
        description_zh=description_zh,
        description_en=description_en,
        is_default=is_default,
        active=True,
        created_at=ctx.clock.now(),
    )
    try:
        async with ctx.db.session() as s:
            if is_default:
                for other in (await s.execute(select(Product).where(Product.is_default))).scalars():
                    other.is_default = False
            s.add(product)
    except IntegrityError as exc:
        raise YuntongError("product_code_taken") from exc
    await _changed(ctx)
    return product


async def do_set_price(
    ctx: Context,
    actor: Actor,
    product_id: int,
    *,
    effective_on: date,
    monthly_fee_fen: int,
    allowances: Mapping[str, Any],
    rates: Mapping[str, Any],
    note: str = "",
) -> ProductPrice:
    """Schedule a price version. The first price of a product may start today; a change to a
    product already priced needs ``billing_price_notice_days`` of notice and is announced."""
    roles.check_staff(actor)
    catalog = await load_catalog(ctx)
    if product_id not in catalog.products:
        raise YuntongError("product_not_found")
    check_monthly_fee(monthly_fee_fen)
    checked_rates = check_rates(rates)
    checked_allowances = check_allowances(allowances)
    today = local_day(ctx, ctx.clock.now())
    first = not catalog.prices.get(product_id)
    earliest = today if first else today + timedelta(days=ctx.settings.billing_price_notice_days)
    if effective_on < earliest:
        raise YuntongError("price_change_too_soon", days=ctx.settings.billing_price_notice_days)
    price = ProductPrice(
        product_id=product_id,
        effective_on=effective_on,
        monthly_fee_fen=monthly_fee_fen,
        allowances=checked_allowances,
        rates=checked_rates,
        note=note,
        created_by=actor.user_id,
        created_at=ctx.clock.now(),
        announced_at=None if first else ctx.clock.now(),
    )
    try:
        async with ctx.db.session() as s:
            s.add(price)
    except IntegrityError as exc:
        raise YuntongError("price_change_too_soon", days=0) from exc
    await _changed(ctx)
    if not first:
        await do_announce_price(ctx, catalog.products[product_id], price)
    return price


def check_correction(
    ctx: Context,
    actor: Actor,
    catalog: Catalog,
    price_id: int,
    *,
    rates: Mapping[str, Any],
    allowances: Mapping[str, Any] | None = None,
    note: str,
) -> ProductPrice:
    """The corrected version of a version already in force (a tariff error), not saved yet:
    ``rating.do_correct_price`` saves it and re-rates what the wrong one rated, together."""
    roles.check_staff(actor)
    wrong = catalog.by_id.get(price_id)
    if wrong is None:
        raise YuntongError("product_not_found")
    later = [p.id for p in catalog.by_id.values() if p.corrects_id == wrong.id]
    if later:
        raise YuntongError("price_already_corrected", correction_id=max(later))
    return ProductPrice(
        product_id=wrong.product_id,
        effective_on=wrong.effective_on,
        monthly_fee_fen=wrong.monthly_fee_fen,
        allowances=check_allowances(allowances if allowances is not None else wrong.allowances),
        rates=check_rates(rates),
        note=note,
        corrects_id=wrong.id,
        created_by=actor.user_id,
        created_at=ctx.clock.now(),
    )


async def publish_changed(ctx: Context) -> None:
    """After a commit that changed the catalogue outside this module (a correction)."""
    await _changed(ctx)


# -- reading -----------------------------------------------------------------------------------


def package_at(
    catalog: Catalog, subscriptions: list[Subscription], moment: datetime
) -> Product | None:
    """The package an account is on at ``moment``; the default package when it has none."""
    for sub in subscriptions:
        product = catalog.products.get(sub.product_id)
        if product is None or product.kind != ProductKind.PACKAGE:
            continue
        if sub.starts_at <= moment and (sub.ends_at is None or moment < sub.ends_at):
            return product
    return catalog.default_package


@dataclass(frozen=True)
class Tariff:
    price: ProductPrice | None
    rate: Rate | None
    allowance_s: int


def tariff_for(
    catalog: Catalog,
    subscriptions: list[Subscription],
    usage_type: str,
    moment: datetime,
    tz: ZoneInfo,
) -> Tariff:
    """The price version, rate and cycle allowance that apply to ``usage_type`` at ``moment``."""
    product = package_at(catalog, subscriptions, moment)
    if product is None:
        return Tariff(None, None, 0)
    price = catalog.price_on(product.id, moment.astimezone(tz).date())
    if price is None:
        return Tariff(None, None, 0)
    return Tariff(price, catalog.rate(price, usage_type), int(price.allowances.get(usage_type, 0)))


def product_name(product: Product, locale: str) -> str:
    return product.name_zh if locale == "zh-CN" else product.name_en


def price_summary(price: ProductPrice | None) -> dict[str, Any] | None:
    if price is None:
        return None
    return {
        "id": price.id,
        "effective_on": price.effective_on.isoformat(),
        "monthly_fee_fen": price.monthly_fee_fen,
        "allowances": price.allowances,
        "rates": price.rates,
        "note": price.note,
        "corrects_id": price.corrects_id,
    }


async def price_list(ctx: Context, *, include_inactive: bool = False) -> list[dict[str, Any]]:
    """The published price list (UA 四.1): each product's current and next price."""
    catalog = await load_catalog(ctx)
    today = local_day(ctx, ctx.clock.now())
    listing = []
    for product in sorted(catalog.products.values(), key=lambda p: (p.kind, p.code)):
        if not product.active and not include_inactive:
            continue
        current = catalog.price_on(product.id, today)
        upcoming = catalog.next_price(product.id, today)
        if current is None and upcoming is None and not include_inactive:
            continue
        listing.append(
            {
                "id": product.id,
                "code": product.code,
                "kind": product.kind,
                "name_zh": product.name_zh,
                "name_en": product.name_en,
                "description_zh": product.description_zh,
                "description_en": product.description_en,
                "is_default": product.is_default,
                "active": product.active,
                "current": price_summary(current),
                "next": price_summary(upcoming),
            }
        )
    return listing


async def do_announce_price(ctx: Context, product: Product, price: ProductPrice) -> int:
    """Tell every account on ``product`` (all accounts, for the default package) in advance."""
    async with ctx.db.session() as s:
        if product.is_default:
            query = select(BillingAccount.id)
        else:
            query = select(Subscription.account_id).where(
                Subscription.product_id == product.id, Subscription.ends_at.is_(None)
            )
        account_ids = sorted(set((await s.execute(query)).scalars()))
    for account_id in account_ids:
        await do_notify(
            ctx,
            account_id,
            "price_change",
            f"{price.id}:{account_id}",
            product=f"{product.name_zh} / {product.name_en}",
            effective_on=price.effective_on.isoformat(),
            fee=format_yuan(price.monthly_fee_fen),
            note=price.note,
        )
    return len(account_ids)
