"""Importing tariff tables (staff): the price table (prefix, category, names, price per minute,
increment) and a trunk's cost table (trunk, prefix, cost per minute), each a CSV file checked
row by row, with every error given with its line number and a stable code; all or nothing. An
import is a new version in force from its ``effective_from`` (now, or later: never in the
past, so a call already answered is never re-rated)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import insert

from yuntong.accounts import audit, roles
from yuntong.accounts.roles import Actor
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import translate
from yuntong.tariffs.models import Category, TableKind, TariffPrefix, TariffTable, TrunkCost
from yuntong.tariffs.rating import CHINA, MAX_PREFIX
from yuntong.tariffs.tables import publish_changed

PRICE_COLUMNS: Final = (
    "prefix",
    "category",
    "name_zh",
    "name_en",
    "price_per_minute_fen",
    "increment_s",
)
COST_COLUMNS: Final = ("trunk", "prefix", "cost_per_minute_fen")
MAX_ROWS: Final = 200_000
MAX_PER_MINUTE_FEN: Final = 1_000_000  # 10 000 yuan a minute: anything above is a typo
MAX_INCREMENT_S: Final = 3600
SHOWN_ERRORS: Final = 100  # row errors reported at most (the count is always given)
BATCH: Final = 5000
_PREFIX = re.compile(rf"^[1-9][0-9]{{0,{MAX_PREFIX - 1}}}$")
_DIGITS = re.compile(r"^[0-9]{1,9}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TRUNK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


@dataclass(frozen=True)
class RowError:
    line: int
    code: str  # tariffs.row.<code> in the strings catalogue
    column: str = ""

    def message(self, locale: str) -> str:
        return translate(f"tariffs.row.{self.code}", locale, column=self.column)


class TariffTableInvalid(YuntongError):
    """``tariff_table_invalid`` with the rows at fault (``rows`` in the error body)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("tariff_table_invalid", count=len(errors))
        self.rows = errors

    def to_dict(self, locale: str) -> dict[str, Any]:
        body = super().to_dict(locale)
        body["rows"] = [
            {"line": e.line, "code": e.code, "column": e.column, "message": e.message(locale)}
            for e in self.rows[:SHOWN_ERRORS]
        ]
        return body


@dataclass(frozen=True)
class ImportedTable:
    table_id: int
    kind: str
    trunk: str
    rows: int
    effective_from: datetime


def check_trunk(trunk: str) -> str:
    if not TRUNK.match(trunk):
        raise YuntongError("tariff_trunk_invalid")
    return trunk


def _records(text: str, columns: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-empty row after the header; the header checked."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip().lower() for h in header) != columns:
            raise TariffTableInvalid([RowError(1, "header", ",".join(columns))])
        for cells in reader:
            if any(c.strip() for c in cells):
                yield reader.line_num, [c.strip() for c in cells]
    except csv.Error:  # a NUL character, a field beyond the csv module's limit
        raise TariffTableInvalid([RowError(reader.line_num or 1, "unreadable")]) from None


def _whole(text: str, low: int, high: int) -> int | None:
    if not _DIGITS.match(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _price_row(line: int, cells: list[str], errors: list[RowError]) -> dict[str, Any] | None:
    prefix, category, name_zh, name_en, price, increment = cells
    found: list[RowError] = []
    if not _PREFIX.match(prefix):
        found.append(RowError(line, "prefix", "prefix"))
    if category not in set(Category):
        found.append(RowError(line, "category", "category"))
    elif _PREFIX.match(prefix) and (category == Category.INTERNATIONAL) == prefix.startswith(CHINA):
        found.append(RowError(line, "category_prefix", "category"))
    for column, name in (("name_zh", name_zh), ("name_en", name_en)):
        if not name or len(name) > 80 or _CONTROL.search(name):
            found.append(RowError(line, "name", column))
    per_minute = _whole(price, 0, MAX_PER_MINUTE_FEN)
    if per_minute is None:
        found.append(RowError(line, "amount", "price_per_minute_fen"))
    increment_s = 60 if increment == "" else _whole(increment, 1, MAX_INCREMENT_S)
    if increment_s is None:
        found.append(RowError(line, "increment", "increment_s"))
    errors.extend(found)
    if found:
        return None
    return {
        "prefix": prefix,
        "category": category,
        "name_zh": name_zh,
        "name_en": name_en,
        "price_per_minute_fen": per_minute,
        "increment_s": increment_s,
    }


def parse_prices(text: str) -> list[dict[str, Any]]:
    """The rows of a price table, or :class:`TariffTableInvalid` listing every fault."""
    rows: list[dict[str, Any]] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, bool], int] = {}
    for line, cells in _records(text, PRICE_COLUMNS):
        if len(cells) != len(PRICE_COLUMNS):
            errors.append(RowError(line, "columns"))
            continue
        row = _price_row(line, cells, errors)
        if row is None:
            continue
        key = (row["prefix"], row["category"] == Category.LOCAL)
        if key in seen:
            errors.append(RowError(line, "duplicate", "prefix"))
            continue
        seen[key] = line
        rows.append(row)
    return _checked(rows, errors)


def parse_costs(text: str, trunk: str) -> list[dict[str, Any]]:
    """The rows of ``trunk``'s cost table (every row must name it)."""
    rows: list[dict[str, Any]] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    for line, cells in _records(text, COST_COLUMNS):
        if len(cells) != len(COST_COLUMNS):
            errors.append(RowError(line, "columns"))
            continue
        named, prefix, cost = cells
        found = []
        if named != trunk:
            found.append(RowError(line, "trunk", "trunk"))
        if not _PREFIX.match(prefix):
            found.append(RowError(line, "prefix", "prefix"))
        elif prefix in seen:
            found.append(RowError(line, "duplicate", "prefix"))
        per_minute = _whole(cost, 0, MAX_PER_MINUTE_FEN)
        if per_minute is None:
            found.append(RowError(line, "amount", "cost_per_minute_fen"))
        errors.extend(found)
        if not found:
            seen.add(prefix)
            rows.append({"prefix": prefix, "cost_per_minute_fen": per_minute})
    return _checked(rows, errors)


def _checked(rows: list[dict[str, Any]], errors: list[RowError]) -> list[dict[str, Any]]:
    if not rows and not errors:
        errors.append(RowError(2, "empty"))
    if len(rows) + len(errors) > MAX_ROWS:
        raise YuntongError("tariff_table_too_large", limit=MAX_ROWS)
    if errors:
        raise TariffTableInvalid(errors)
    return rows


def check_effective_from(ctx: Context, effective_from: datetime | None) -> datetime:
    now = ctx.clock.now()
    if effective_from is None:
        return now
    if effective_from.tzinfo is None:
        raise YuntongError("tariff_effective_invalid")
    if effective_from < now:
        raise YuntongError("tariff_effective_invalid")
    return effective_from


async def do_import_prices(
    ctx: Context,
    actor: Actor,
    text: str,
    *,
    effective_from: datetime | None = None,
    note: str = "",
) -> ImportedTable:
    """A new version of the price table."""
    roles.check_staff(actor)
    start = check_effective_from(ctx, effective_from)
    rows = parse_prices(text)
    return await _store(ctx, actor, TableKind.PRICES, "", start, note, rows)


async def do_import_costs(
    ctx: Context,
    actor: Actor,
    trunk: str,
    text: str,
    *,
    effective_from: datetime | None = None,
    note: str = "",
) -> ImportedTable:
    """A new version of ``trunk``'s cost table."""
    roles.check_staff(actor)
    check_trunk(trunk)
    start = check_effective_from(ctx, effective_from)
    rows = parse_costs(text, trunk)
    return await _store(ctx, actor, TableKind.COSTS, trunk, start, note, rows)


async def _store(
    ctx: Context,
    actor: Actor,
    kind: TableKind,
    trunk: str,
    start: datetime,
    note: str,
    rows: list[dict[str, Any]],
) -> ImportedTable:
    table = TariffTable(
        kind=kind.value,
        trunk=trunk,
        effective_from=start,
        rows=len(rows),
        note=note[:200],
        imported_by=actor.user_id,
        imported_at=ctx.clock.now(),
    )
    model: Any = TariffPrefix if kind == TableKind.PRICES else TrunkCost
    async with ctx.db.session() as s:
        s.add(table)
        await s.flush()
        for i in range(0, len(rows), BATCH):
            batch = [{**r, "table_id": table.id} for r in rows[i : i + BATCH]]
            await s.execute(insert(model), batch)
        await audit.add(
            s,
            table.imported_at,
            actor.user_id,
            "tariffs.import",
            None,
            table_id=table.id,
            kind=kind.value,
            trunk=trunk,
            rows=len(rows),
            effective_from=start.isoformat(),
        )
    await publish_changed(ctx)
    return ImportedTable(table.id, kind.value, trunk, len(rows), start)
