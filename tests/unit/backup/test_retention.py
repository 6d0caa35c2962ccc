"""Retention: the newest backup of each of the last N days and M months, and always the
newest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from yuntong.backup.service import BackupView, to_keep

BEIJING = ZoneInfo("Asia/Shanghai")


def _made(name: str, at: datetime) -> BackupView:
    return BackupView(name, Path(name), at, "sqlite", "0020", 1, 1, 0, 1, None, None, "")


def test_keeps_the_newest_of_each_recent_day_and_month() -> None:
    views = [
        _made("oct-15", datetime(2026, 10, 15, 19, tzinfo=UTC)),
        _made("oct-31", datetime(2026, 10, 31, 19, tzinfo=UTC)),  # Nov 1 in Beijing
        _made("nov-29", datetime(2026, 11, 29, 19, tzinfo=UTC)),
        _made("nov-30-a", datetime(2026, 11, 30, 1, tzinfo=UTC)),
        _made("nov-30-b", datetime(2026, 11, 30, 5, tzinfo=UTC)),
        _made("dec-1", datetime(2026, 11, 30, 19, tzinfo=UTC)),  # Dec 1 in Beijing
    ]
    assert to_keep(views, 2, 0, BEIJING) == {"dec-1", "nov-30-b"}
    assert to_keep(views, 1, 3, BEIJING) == {"dec-1", "nov-30-b", "oct-15"}
    assert to_keep(views, 1, 2, BEIJING) == {"dec-1", "nov-30-b"}


def test_the_newest_is_always_kept() -> None:
    only = [_made("a", datetime(2026, 1, 1, tzinfo=UTC))]
    assert to_keep(only, 1, 0, BEIJING) == {"a"}
    assert to_keep([], 3, 3, BEIJING) == set()
