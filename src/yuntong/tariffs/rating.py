"""Rating an outside call (a call leaving through a carrier trunk, issue 17): the destination's
longest matching prefix in the price table in force, its category ('local' when it is a fixed
line in the caller's own area code), the price and the trunk's cost, and the arithmetic of one
rated record: whole increments, one rounding (half-up) to the fen. docs/tariffs.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, TypeVar

from yuntong.core.context import Context
from yuntong.core.money import round_fen
from yuntong.tariffs.models import Category
from yuntong.tariffs.tables import CostTable, PriceRow, PriceTable, cost_table, price_table

CHINA: Final = "86"
MAX_PREFIX: Final = 16
_E164 = re.compile(r"^\+[1-9][0-9]{5,14}$")
V = TypeVar("V")


@dataclass(frozen=True)
class OutsideRate:
    category: str  # local | domestic | mobile | international | premium
    prefix: str  # the longest matching prefix (E.164 digits without '+')
    price_per_minute_fen: int
    cost_per_minute_fen: int | None  # the trunk's cost, None if the trunk has no cost row
    increment_s: int = 60
    name_zh: str = ""
    name_en: str = ""
    price_table_id: int = 0
    cost_table_id: int | None = None

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_zh


@dataclass(frozen=True)
class Charge:
    """One rated record: ``billed_s`` = ``units`` whole increments, amounts rounded once."""

    seconds: int
    billed_s: int
    units: int
    price_fen: int
    cost_fen: int | None


def destination_digits(destination: str) -> str | None:
    """``'+8613912345678'`` → ``'8613912345678'``; None when it is not E.164."""
    text = destination.strip()
    return text[1:] if _E164.match(text) else None


def area_code(digits: str) -> str | None:
    """The area code of a mainland fixed line (``'10'`` Beijing, ``'21'`` Shanghai, ``'755'``
    Shenzhen); None for other numbers (mobile 1xx, international)."""
    if not digits.startswith(CHINA):
        return None
    national = digits[len(CHINA) :]
    if national.startswith("10") or national.startswith("2"):
        return national[:2]
    if national[:1] and national[0] in "3456789":
        return national[:3]
    return None


def home_area_code(home_area: str | None) -> str | None:
    """A customer's area code as given ('010', '10', '+8610…' number) → '10'."""
    if not home_area:
        return None
    text = home_area.strip().lstrip("+")
    if len(text) > 4 and text.startswith(CHINA):  # a whole number: its area code
        return area_code(text)
    text = text.lstrip("0")
    return text if text.isdigit() else None


def longest(rows: dict[str, V], digits: str) -> tuple[str, V] | None:
    for length in range(min(len(digits), MAX_PREFIX), 0, -1):
        found = rows.get(digits[:length])
        if found is not None:
            return digits[:length], found
    return None


def match(table: PriceTable, digits: str, home_area: str | None) -> PriceRow | None:
    """The price row a destination is rated by, with its category as the call is rated.

    The longest non-local prefix names the destination; a fixed line ('domestic') in the
    caller's own area code is 'local', priced by the longest matching 'local' row (else at
    the domestic row's price). Premium, mobile and international rows are never local."""
    found = longest(table.rows, digits)
    area = area_code(digits)
    is_local = area is not None and area == home_area_code(home_area)
    if found is not None and found[1].category != Category.DOMESTIC:
        return found[1]
    if is_local:
        local = longest(table.local, digits)
        if local is not None:
            return local[1]
        if found is not None:
            row = found[1]
            return PriceRow(
                row.prefix,
                Category.LOCAL,
                row.name_zh,
                row.name_en,
                row.price_per_minute_fen,
                row.increment_s,
            )
    return None if found is None else found[1]


def trunk_cost(table: CostTable | None, digits: str) -> int | None:
    if table is None:
        return None
    found = longest(table.costs, digits)
    return None if found is None else found[1]


async def rate_of(
    ctx: Context,
    *,
    trunk: str,
    destination: str,
    home_area: str | None = None,
    at: datetime | None = None,
) -> OutsideRate | None:
    """The rate of a call to ``destination`` (E.164) through ``trunk`` by the tables in force
    at ``at`` (now); None when no tariff covers it (malformed, or no prefix matches): the call
    must be refused."""
    digits = destination_digits(destination)
    if digits is None:
        return None
    moment = at or ctx.clock.now()
    table = await price_table(ctx, moment)
    if table is None:
        return None
    row = match(table, digits, home_area)
    if row is None:
        return None
    costs = await cost_table(ctx, trunk, moment)
    return OutsideRate(
        category=row.category,
        prefix=row.prefix,
        price_per_minute_fen=row.price_per_minute_fen,
        cost_per_minute_fen=trunk_cost(costs, digits),
        increment_s=row.increment_s,
        name_zh=row.name_zh,
        name_en=row.name_en,
        price_table_id=table.table_id,
        cost_table_id=None if costs is None else costs.table_id,
    )


def billed_seconds(seconds: int, increment_s: int) -> int:
    """Whole increments, each started one counted: 61 s by 60 s → 120 s; by 6 s → 66 s."""
    return -(-max(seconds, 0) // increment_s) * increment_s


def amount_fen(per_minute_fen: int, billed_s: int) -> int:
    """The one rounding of a rated record: half-up to the fen."""
    return round_fen(Decimal(per_minute_fen) * billed_s / 60)


def charge_of(seconds: int, rate: OutsideRate) -> Charge:
    billed = billed_seconds(seconds, rate.increment_s)
    cost = rate.cost_per_minute_fen
    return Charge(
        seconds=seconds,
        billed_s=billed,
        units=billed // rate.increment_s,
        price_fen=amount_fen(rate.price_per_minute_fen, billed),
        cost_fen=None if cost is None else amount_fen(cost, billed),
    )
