"""The rules of do-not-disturb windows ("quiet hours"): on which days a schedule applies, when
its window starts and ends, and whether a user is not to be disturbed at a moment — from the
manual switch, the schedules and a pause. Pure functions of the moment, the operator's time
zone and the working-day calendar (:mod:`yuntong.core.workdays`); no database, no cache.

A window belongs to the day it starts on: a workdays schedule of 22:00–07:30 runs from a
working day's evening to the next morning, whatever that next day is. An end at or before the
start is on the next day; an end equal to the start makes a window of 24 hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

DAYS = ("every_day", "workdays", "rest_days", "weekdays")
# how far ahead a window's end (windows running into each other) and the next start are looked
# for: a week and a day covers every weekly pattern
LOOK_AHEAD_DAYS = 8

IsWorkday = Callable[[date], bool]
Reason = Literal["manual", "schedule"]


@dataclass(frozen=True)
class Window:
    """One enabled schedule: its days and its local start and end (minutes after midnight)."""

    days: str
    weekdays: frozenset[int]  # ISO weekdays 1–7, for days == "weekdays"
    start: int
    end: int

    def applies_on(self, day: date, is_workday: IsWorkday) -> bool:
        """Whether the window starts on ``day``."""
        if self.days == "every_day":
            return True
        if self.days == "workdays":
            return is_workday(day)
        if self.days == "rest_days":
            return not is_workday(day)
        return day.isoweekday() in self.weekdays

    def span_on(self, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
        """The window that starts on ``day``, as moments."""
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return _local(day, self.start, tz), _local(end_day, self.end, tz)


def _local(day: date, minute: int, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)


def weekday_mask(weekdays: Iterable[int]) -> int:
    return sum(1 << (d - 1) for d in set(weekdays))


def weekdays_of(mask: int) -> frozenset[int]:
    return frozenset(d for d in range(1, 8) if mask & (1 << (d - 1)))


def _spans(
    windows: Sequence[Window], first: date, days: int, tz: tzinfo, is_workday: IsWorkday
) -> Iterator[tuple[datetime, datetime]]:
    """The windows that start on ``first`` and the ``days - 1`` days after, in start order."""
    for offset in range(days):
        day = first + timedelta(days=offset)
        yield from sorted(w.span_on(day, tz) for w in windows if w.applies_on(day, is_workday))


def is_within(windows: Sequence[Window], now: datetime, tz: tzinfo, is_workday: IsWorkday) -> bool:
    """Whether ``now`` falls in a window (one that started today or yesterday, local time):
    the cheap check every call set-up makes."""
    if not windows:
        return False
    today = now.astimezone(tz).date()
    return any(
        start <= now < end
        for start, end in _spans(windows, today - timedelta(days=1), 2, tz, is_workday)
    )


def window_end(
    windows: Sequence[Window], now: datetime, tz: tzinfo, is_workday: IsWorkday
) -> datetime | None:
    """When the window ``now`` falls in ends — carried on through windows that overlap or
    follow it without a gap (at most :data:`LOOK_AHEAD_DAYS` ahead); None outside windows."""
    if not windows:
        return None
    today = now.astimezone(tz).date()
    end: datetime | None = None
    for start, stop in _spans(
        windows, today - timedelta(days=1), LOOK_AHEAD_DAYS + 1, tz, is_workday
    ):
        if end is None:
            if start <= now < stop:
                end = stop
        elif start <= end:
            end = max(end, stop)
        else:
            break
    return end


def next_start(
    windows: Sequence[Window], after: datetime, tz: tzinfo, is_workday: IsWorkday
) -> datetime | None:
    """The first window start later than ``after`` (within :data:`LOOK_AHEAD_DAYS`)."""
    if not windows:
        return None
    today = after.astimezone(tz).date()
    starts = [
        start
        for start, _ in _spans(windows, today, LOOK_AHEAD_DAYS, tz, is_workday)
        if start > after
    ]
    return min(starts, default=None)


@dataclass(frozen=True)
class Effective:
    """Whether the user is not to be disturbed now, why, and until when."""

    on: bool
    reason: Reason | None = None
    until: datetime | None = None  # the scheduled window's end (reason = schedule)
    paused_until: datetime | None = None  # schedules paused by the user until then
    next_start: datetime | None = None  # not on now: when the next window starts


OFF = Effective(False)


@dataclass(frozen=True)
class DndState:
    """What decides a user's do-not-disturb: the manual switch, the enabled schedules' windows,
    and a pause of the schedules (switched off inside a window, until its end)."""

    manual: bool = False
    windows: tuple[Window, ...] = ()
    paused_until: datetime | None = None

    def _paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now

    def is_on(self, now: datetime, tz: tzinfo, is_workday: IsWorkday) -> bool:
        if self.manual:
            return True
        if not self.windows or self._paused(now):
            return False
        return is_within(self.windows, now, tz, is_workday)

    def evaluate(self, now: datetime, tz: tzinfo, is_workday: IsWorkday) -> Effective:
        """The state at ``now``; its moments in UTC."""
        paused = self.paused_until if self._paused(now) else None
        if self.manual:
            return Effective(True, "manual", paused_until=_utc(paused))
        if not self.windows:
            return OFF
        if paused is None:
            end = window_end(self.windows, now, tz, is_workday)
            if end is not None:
                return Effective(True, "schedule", until=_utc(end))
        # a window starting exactly when the pause ends starts then
        after = now if paused is None else paused - timedelta(microseconds=1)
        following = next_start(self.windows, after, tz, is_workday)
        return Effective(False, paused_until=_utc(paused), next_start=_utc(following))


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
