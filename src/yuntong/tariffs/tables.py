"""The tariff tables as the rater reads them: which version is in force at a moment, and each
version's rows, kept in memory (a per-node cache). A version's rows never change once
imported, so they are kept as long as there is room; the list of versions is dropped on the
durable ``tariffs.changed`` topic an import publishes after committing."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select

from yuntong.core.context import Context, Piece
from yuntong.tariffs.models import Category, TableKind, TariffPrefix, TariffTable, TrunkCost

CHANGED: Final = "tariffs.changed"  # durable bus topic, after an import
MAX_TABLES: Final = 16  # versions' rows kept in memory at once


@dataclass(frozen=True)
class Version:
    id: int
    kind: str
    trunk: str
    effective_from: datetime


@dataclass(frozen=True)
class PriceRow:
    prefix: str
    category: str
    name_zh: str
    name_en: str
    price_per_minute_fen: int
    increment_s: int


@dataclass(frozen=True)
class PriceTable:
    """One price version: rows by prefix, the 'local' rows apart."""

    table_id: int
    rows: dict[str, PriceRow]
    local: dict[str, PriceRow]


@dataclass(frozen=True)
class CostTable:
    table_id: int
    costs: dict[str, int]  # prefix → cost per minute, fen


@dataclass
class TariffCache:
    versions: list[Version] | None = None
    contents: OrderedDict[int, PriceTable | CostTable] = field(default_factory=OrderedDict)
    generation: int = 0  # bumped by every drop: a list read before it is not kept

    async def on_changed(self, _message: dict[str, Any]) -> None:
        self.generation += 1
        self.versions = None


def _subscribed(ctx: Context) -> TariffCache:
    cache = TariffCache()
    ctx.bus.subscribe(CHANGED, cache.on_changed)
    return cache


TABLES = Piece(
    "tariffs.tables",
    "per-node cache",
    _subscribed,
    "tariff versions (dropped on tariffs.changed) and the rows of recently used versions",
)


async def publish_changed(ctx: Context) -> None:
    """Tell every node (and process) that a version was imported: call after committing."""
    await ctx.bus.publish(CHANGED, {})


async def versions(ctx: Context) -> list[Version]:
    """Every version of every table, oldest effective first."""
    cache = ctx.services.get(TABLES)
    if cache.versions is not None:
        return cache.versions
    generation = cache.generation
    query = select(
        TariffTable.id, TariffTable.kind, TariffTable.trunk, TariffTable.effective_from
    ).order_by(TariffTable.effective_from, TariffTable.id)
    async with ctx.db.connection() as conn:
        found = [Version(*row) for row in (await conn.execute(query)).all()]
    if generation == cache.generation:
        cache.versions = found
    return found


def in_force(found: list[Version], kind: TableKind, trunk: str, at: datetime) -> Version | None:
    """The version of (kind, trunk) in force at ``at``: the latest effective by then."""
    best = None
    for version in found:
        if version.kind == kind and version.trunk == trunk and version.effective_from <= at:
            best = version  # the list is in (effective_from, id) order
    return best


async def price_table(ctx: Context, at: datetime) -> PriceTable | None:
    version = in_force(await versions(ctx), TableKind.PRICES, "", at)
    if version is None:
        return None
    table = await _contents(ctx, version.id, _load_prices)
    assert isinstance(table, PriceTable)
    return table


async def cost_table(ctx: Context, trunk: str, at: datetime) -> CostTable | None:
    version = in_force(await versions(ctx), TableKind.COSTS, trunk, at)
    if version is None:
        return None
    table = await _contents(ctx, version.id, _load_costs)
    assert isinstance(table, CostTable)
    return table


async def _contents(
    ctx: Context, table_id: int, load: Callable[[Context, int], Awaitable[PriceTable | CostTable]]
) -> PriceTable | CostTable:
    cache = ctx.services.get(TABLES)
    found = cache.contents.get(table_id)
    if found is not None:
        cache.contents.move_to_end(table_id)
        return found
    table = await load(ctx, table_id)
    cache.contents[table_id] = table
    while len(cache.contents) > MAX_TABLES:
        cache.contents.popitem(last=False)
    return table


async def _load_prices(ctx: Context, table_id: int) -> PriceTable:
    query = select(TariffPrefix).where(TariffPrefix.table_id == table_id)
    rows: dict[str, PriceRow] = {}
    local: dict[str, PriceRow] = {}
    async with ctx.db.session() as s:
        for r in (await s.execute(query)).scalars():
            row = PriceRow(
                r.prefix, r.category, r.name_zh, r.name_en, r.price_per_minute_fen, r.increment_s
            )
            (local if r.category == Category.LOCAL else rows)[r.prefix] = row
    return PriceTable(table_id, rows, local)


async def _load_costs(ctx: Context, table_id: int) -> CostTable:
    query = select(TrunkCost.prefix, TrunkCost.cost_per_minute_fen).where(
        TrunkCost.table_id == table_id
    )
    async with ctx.db.connection() as conn:
        costs = {p: c for p, c in (await conn.execute(query)).all()}
    return CostTable(table_id, costs)
