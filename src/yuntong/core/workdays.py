"""Chinese working days: public holidays and make-up working days, overridable by the operator.

The ``chinese-calendar`` package knows the State Council's schedule for the years it ships;
for later years (published each November) weekends are days off until the package or the
operator's overrides say otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import chinese_calendar

from yuntong.core.logging import get_logger

log = get_logger(__name__)
_warned_years: set[int] = set()


class WorkCalendar:
    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self.overrides = dict(overrides or {})

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in _warned_years:
                _warned_years.add(day.year)
                log.warning("workday_calendar_missing_year", year=day.year)
            return day.weekday() < 5

    def add_workdays(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
        if count < 0:
            raise ValueError("count must not be negative")
        day = start
        left = count
        while left:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day
