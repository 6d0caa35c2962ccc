"""What people read of the tariffs: the price list in force (everyone), what a call to a number
would cost (a customer, from its own number's area code), and for staff the versions imported
and a trunk's costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from yuntong.accounts import roles
from yuntong.accounts.roles import Actor
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers.directory import numbers_of_user, parse_dialled
from yuntong.tariffs.models import Category, TableKind, TariffTable
from yuntong.tariffs.rating import OutsideRate, rate_of
from yuntong.tariffs.tables import PriceRow, cost_table, in_force, price_table, versions

CATEGORY_ORDER = {c.value: i for i, c in enumerate(Category)}


@dataclass(frozen=True)
class PriceList:
    table_id: int | None
    effective_from: datetime | None
    rows: list[PriceRow]
    next_effective_from: datetime | None  # a newer version already imported, from then on


@dataclass(frozen=True)
class Quote:
    destination: str
    rate: OutsideRate


@dataclass(frozen=True)
class TableView:
    id: int
    kind: str
    trunk: str
    effective_from: datetime
    rows: int
    note: str
    imported_at: datetime
    in_force: bool


async def price_list(ctx: Context) -> PriceList:
    """The price table in force now, by category then prefix."""
    now = ctx.clock.now()
    found = await versions(ctx)
    current = in_force(found, TableKind.PRICES, "", now)
    later = [v.effective_from for v in found if v.kind == TableKind.PRICES]
    upcoming = min((t for t in later if t > now), default=None)
    table = await price_table(ctx, now)
    if current is None or table is None:
        return PriceList(None, None, [], upcoming)
    rows = sorted(
        [*table.rows.values(), *table.local.values()],
        key=lambda r: (CATEGORY_ORDER.get(r.category, 9), r.prefix),
    )
    return PriceList(table.table_id, current.effective_from, rows, upcoming)


async def home_area_of(ctx: Context, user_id: int) -> str | None:
    """The customer's area code: its first number (calls present it) decides what is local."""
    own = await numbers_of_user(ctx, user_id)
    return own[0] if own else None


async def quote(ctx: Context, user_id: int, to: str, home_area: str | None = None) -> Quote:
    """What a call from ``user_id`` to ``to`` (national or international form) costs a minute;
    ``tariff_destination_invalid`` for no number, ``tariff_no_rate`` when none covers it."""
    e164 = parse_dialled(to)
    if e164 is None:
        raise YuntongError("tariff_destination_invalid")
    home = home_area if home_area is not None else await home_area_of(ctx, user_id)
    rate = await rate_of(ctx, trunk="", destination=e164, home_area=home)
    if rate is None:
        raise YuntongError("tariff_no_rate")
    return Quote(e164, rate)


async def table_versions(ctx: Context, actor: Actor) -> list[TableView]:
    """Every version imported, newest first, with the ones in force now marked."""
    roles.check_staff(actor)
    now = ctx.clock.now()
    found = await versions(ctx)
    current = {
        v.id
        for v in (in_force(found, TableKind(v.kind), v.trunk, now) for v in found)
        if v is not None
    }
    query = select(TariffTable).order_by(TariffTable.effective_from.desc(), TariffTable.id.desc())
    async with ctx.db.session() as s:
        tables = (await s.execute(query)).scalars().all()
    return [
        TableView(
            t.id, t.kind, t.trunk, t.effective_from, t.rows, t.note, t.imported_at, t.id in current
        )
        for t in tables
    ]


async def trunk_costs(ctx: Context, actor: Actor, trunk: str) -> dict[str, int]:
    """The cost rows of ``trunk``'s table in force now (prefix → fen a minute)."""
    roles.check_staff(actor)
    table = await cost_table(ctx, trunk, ctx.clock.now())
    return {} if table is None else dict(sorted(table.costs.items()))
