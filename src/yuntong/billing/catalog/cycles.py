"""Billing cycles in the business time zone, and day-based proration.

A cycle is named ``YYYY-MM`` after the month its last day falls in. With the default close
day 25, cycle ``2026-11`` runs from 25 October 00:00 to 25 November 00:00 (Asia/Shanghai),
so its statement reaches the customer before the end of November (CP 3.2). Close day 1 gives
calendar months.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from yuntong.core.money import round_fen

CYCLE_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Cycle:
    label: str
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    first_day: date  # business-zone dates
    last_day: date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _end_day(year: int, month: int, close_day: int) -> date:
    """The first day after the cycle named (year, month)."""
    if close_day == 1:
        return add_months(date(year, month, 1), 1)
    return date(year, month, close_day)


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The start of ``day`` in ``tz``, as UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@lru_cache(maxsize=1024)  # a pure function of its arguments; credit control asks per invite
def cycle_named(label: str, close_day: int, tz: ZoneInfo) -> Cycle:
    match = CYCLE_RE.match(label)
    if match is None:
        raise ValueError("cycle must look like YYYY-MM")
    end_day = _end_day(int(match[1]), int(match[2]), close_day)
    start_day = add_months(end_day, -1)
    return Cycle(
        label=label,
        start=midnight(start_day, tz),
        end=midnight(end_day, tz),
        first_day=start_day,
        last_day=end_day - timedelta(days=1),
    )


def cycle_of(moment: datetime, close_day: int, tz: ZoneInfo) -> Cycle:
    """The cycle ``moment`` (aware) falls in."""
    local = moment.astimezone(tz).date()
    candidate = local if close_day == 1 or local.day < close_day else add_months(local, 1)
    return cycle_named(f"{candidate:%Y-%m}", close_day, tz)


def next_cycle(cycle: Cycle, close_day: int, tz: ZoneInfo) -> Cycle:
    return cycle_of(cycle.end, close_day, tz)


def prorate(monthly_fen: int, cycle: Cycle, from_day: date, to_day: date) -> int:
    """``monthly_fen`` × days in ``[from_day, to_day)`` / days in the cycle, rounded once."""
    end = min(to_day, cycle.last_day + timedelta(days=1))
    days = max(0, (end - max(from_day, cycle.first_day)).days)
    if days >= cycle.days:
        return monthly_fen
    return round_fen(Decimal(monthly_fen) * days / cycle.days)
