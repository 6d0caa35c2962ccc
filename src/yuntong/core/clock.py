"""The injected clock: timezone-aware UTC now, movable in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall clock. Tests use :class:`FrozenClock` to move time by hand."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("naive datetime refused")
        self._now = moment
