"""Chinese working days: public holidays and make-up working days, updatable by the operator.

Where a day's status comes from, first match wins:

1. ``YUNTONG_WORKDAY_OVERRIDES`` (single days, ``{"2027-02-06": true}``);
2. a year's schedule the operator imported (``yuntong holidays import``), kept as
   ``<holidays dir>/<year>.json`` (``YUNTONG_HOLIDAYS_DIR``, default ``var/holidays``);
3. the ``chinese-calendar`` package, for the years it ships (up to 2026 in 1.11);
4. a schedule shipped with Yuntong (``yuntong/core/holidays/<year>.json``), which may be
   ``provisional``: for 2027 only the statutory holidays certain in advance, without the days
   the State Council's notice moves or the make-up working days it sets;
5. weekends only, logged once per year as ``workday_calendar_missing_year``.

A year whose best source is provisional or missing is reported by :func:`schedule_warnings`
(``/readyz`` and the billing desk) from :data:`WARN_DAYS` days before it starts.

A schedule file is JSON::

    {"year": 2027, "provisional": false, "source": "国办发明电〔2026〕…",
     "holidays": {"2027-01-01": "元旦", ...},      # days off
     "workdays": {"2027-02-20": "春节调休上班"}}    # weekend days that are working days
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

import chinese_calendar

from yuntong.core.i18n import strings, translate
from yuntong.core.logging import get_logger

log = get_logger(__name__)
_warned_years: set[int] = set()
PACKAGED_DIR: Final = Path(__file__).with_name("holidays")
WARN_DAYS: Final = 60

STRINGS = strings(
    "workdays",
    {
        "workdays.warning.missing": (
            "{year} 年的法定节假日安排尚未导入：工作日暂按周末计算。"
            "请在国务院办公厅公布后用 `yuntong holidays import` 导入。",
            "No holiday schedule for {year}: working days count weekends only. Import the "
            "State Council's schedule with `yuntong holidays import` once it is published.",
        ),
        "workdays.warning.provisional": (
            "{year} 年的法定节假日安排为临时数据（仅含法定节日，不含调休）。"
            "请在国务院办公厅公布后用 `yuntong holidays import` 导入正式安排。",
            "The {year} holiday schedule is provisional (statutory holidays only, no moved "
            "days or make-up working days). Import the State Council's official schedule with "
            "`yuntong holidays import`.",
        ),
    },
)


class YearStatus(StrEnum):
    OFFICIAL = "official"
    PROVISIONAL = "provisional"
    MISSING = "missing"


@dataclass(frozen=True)
class YearSchedule:
    """One year's holidays and make-up working days, from a file."""

    year: int
    provisional: bool
    holidays: dict[date, str] = field(default_factory=dict)
    workdays: dict[date, str] = field(default_factory=dict)
    source: str = ""
    origin: str = "package"  # "package" (shipped) or "operator" (imported)

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def to_json(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "provisional": self.provisional,
            "source": self.source,
            "holidays": {d.isoformat(): n for d, n in sorted(self.holidays.items())},
            "workdays": {d.isoformat(): n for d, n in sorted(self.workdays.items())},
        }


def parse_schedule(data: Any, origin: str = "operator") -> YearSchedule:
    """A schedule from its JSON form; ``ValueError`` says what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError("a schedule is a JSON object")
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise ValueError("year: a year between 2000 and 2100")
    provisional = data.get("provisional", False)
    if not isinstance(provisional, bool):
        raise ValueError("provisional: true or false")
    source = data.get("source", "")
    if not isinstance(source, str):
        raise ValueError("source: text")

    def days(name: str) -> dict[date, str]:
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            raise ValueError(f'{name}: an object of "YYYY-MM-DD": "name"')
        out: dict[date, str] = {}
        for key, label in raw.items():
            try:
                day = date.fromisoformat(key)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: {key!r} is not a YYYY-MM-DD date") from None
            if day.year != year:
                raise ValueError(f"{name}: {key} is not in {year}")
            out[day] = str(label)
        return out

    holidays, workdays = days("holidays"), days("workdays")
    if not holidays:
        raise ValueError("holidays: at least one day off")
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise ValueError(f"{both[0].isoformat()} is both a holiday and a working day")
    return YearSchedule(year, provisional, holidays, workdays, source, origin)


def load_schedule_file(path: Path, origin: str = "operator") -> YearSchedule:
    with path.open("rb") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None
    schedule = parse_schedule(data, origin)
    if path.stem.isdigit() and int(path.stem) != schedule.year:
        raise ValueError(f"{path.name} holds the schedule of {schedule.year}")
    return schedule


def load_schedules(directory: Path, origin: str) -> dict[int, YearSchedule]:
    """Every ``<year>.json`` in ``directory``; a broken file is logged and skipped."""
    found: dict[int, YearSchedule] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        try:
            schedule = load_schedule_file(path, origin)
        except (OSError, ValueError) as exc:
            log.error("holiday_schedule_unreadable", file=str(path), error=str(exc))
            continue
        found[schedule.year] = schedule
    return found


def import_schedule(source: Path, directory: Path) -> tuple[YearSchedule, Path]:
    """Check ``source`` and install it as the operator's schedule of its year."""
    schedule = load_schedule_file(source)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{schedule.year}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(schedule.to_json(), ensure_ascii=False, indent=2) + "\n", "utf-8")
    os.replace(tmp, target)
    return schedule, target


def package_knows(year: int) -> bool:
    """Whether the installed ``chinese-calendar`` has the State Council's schedule of ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


class HolidaySettings(Protocol):
    @property
    def workday_overrides(self) -> dict[date, bool]: ...
    @property
    def holidays_path(self) -> Path: ...


class WorkCalendar:
    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        operator_dir: Path | None = None,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.packaged = load_schedules(PACKAGED_DIR, "package")
        self.imported = {} if operator_dir is None else load_schedules(operator_dir, "operator")

    @classmethod
    def from_settings(cls, settings: HolidaySettings) -> WorkCalendar:
        return cls(settings.workday_overrides, settings.holidays_path)

    def schedule(self, year: int) -> YearSchedule | None:
        """The file schedule in force for ``year`` (imported, else shipped), if any."""
        return self.imported.get(year) or self.packaged.get(year)

    def status(self, year: int) -> YearStatus:
        imported = self.imported.get(year)
        if imported is not None:
            return YearStatus.PROVISIONAL if imported.provisional else YearStatus.OFFICIAL
        if package_knows(year):
            return YearStatus.OFFICIAL
        shipped = self.packaged.get(year)
        if shipped is not None:
            return YearStatus.PROVISIONAL if shipped.provisional else YearStatus.OFFICIAL
        return YearStatus.MISSING

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        imported = self.imported.get(day.year)
        if imported is not None:
            return imported.is_workday(day)
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            pass
        shipped = self.packaged.get(day.year)
        if shipped is not None:
            return shipped.is_workday(day)
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

    def warnings(self, today: date, locale: str = "en") -> list[dict[str, Any]]:
        """A warning for this year and, from ``WARN_DAYS`` days before it, next year, when
        their holiday schedule is provisional or missing."""
        years = sorted({today.year, (today + timedelta(days=WARN_DAYS)).year})
        found = []
        for year in years:
            status = self.status(year)
            if status == YearStatus.OFFICIAL:
                continue
            found.append(
                {
                    "code": f"holiday_schedule_{status}",
                    "year": year,
                    "message": translate(f"workdays.warning.{status}", locale, year=year),
                }
            )
        return found
