"""Chinese working days past the years ``chinese-calendar`` ships: the schedule shipped with
Yuntong (2027, provisional), the operator's imported schedules, and the warnings."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yuntong.core.workdays import WorkCalendar, YearStatus, import_schedule, package_knows

OFFICIAL_2027: dict[str, Any] = {
    "year": 2027,
    "provisional": False,
    "source": "test schedule",
    "holidays": {"2027-01-01": "元旦", "2027-02-05": "春节", "2027-02-08": "春节"},
    "workdays": {"2027-02-20": "春节调休上班"},
}


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def test_2027_new_year_is_a_day_off_without_any_operator_data() -> None:
    assert not package_knows(2027)  # chinesecalendar 1.11 (newest on PyPI) stops at 2026
    calendar = WorkCalendar()
    assert not calendar.is_workday(date(2027, 1, 1))  # a Friday: 元旦
    assert not calendar.is_workday(date(2027, 2, 8))  # a Monday: 春节 (lunar 1/3)
    assert not calendar.is_workday(date(2027, 4, 5))  # a Monday: 清明
    assert not calendar.is_workday(date(2027, 6, 9))  # a Wednesday: 端午
    assert not calendar.is_workday(date(2027, 9, 15))  # a Wednesday: 中秋
    assert calendar.is_workday(date(2027, 1, 4))  # an ordinary Monday
    # a statement issued on Wed 30 Dec 2026 and due in 2 working days: Thu 31 Dec, then
    # Mon 4 Jan (1 Jan is New Year's Day, 2-3 Jan a weekend)
    assert calendar.add_workdays(date(2026, 12, 30), 2) == date(2027, 1, 4)
    assert calendar.status(2027) == YearStatus.PROVISIONAL
    assert calendar.status(2026) == YearStatus.OFFICIAL
    assert calendar.status(2028) == YearStatus.MISSING


def test_the_operators_schedule_replaces_the_shipped_one(tmp_path: Path) -> None:
    source = write(tmp_path / "notice.json", OFFICIAL_2027)
    schedule, installed = import_schedule(source, tmp_path / "holidays")
    assert installed == tmp_path / "holidays" / "2027.json"
    assert (schedule.year, schedule.provisional) == (2027, False)

    calendar = WorkCalendar(operator_dir=tmp_path / "holidays")
    assert calendar.status(2027) == YearStatus.OFFICIAL
    assert calendar.is_workday(date(2027, 2, 20))  # a Saturday made a working day
    assert not calendar.is_workday(date(2027, 2, 5))
    assert calendar.is_workday(date(2027, 4, 5))  # not in the operator's file: a plain Monday
    # single-day overrides still come first
    overridden = WorkCalendar({date(2027, 2, 20): False}, tmp_path / "holidays")
    assert not overridden.is_workday(date(2027, 2, 20))


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"year": "2027"}, "year"),
        ({"holidays": {"2028-01-01": "元旦"}}, "not in 2027"),
        ({"holidays": {"1 Jan": "元旦"}}, "YYYY-MM-DD"),
        ({"holidays": {}}, "at least one"),
        ({"workdays": {"2027-01-01": "?"}}, "both a holiday and a working day"),
        ({"provisional": "no"}, "provisional"),
    ],
)
def test_a_broken_schedule_is_refused_and_nothing_installed(
    tmp_path: Path, change: dict[str, Any], complaint: str
) -> None:
    source = write(tmp_path / "notice.json", {**OFFICIAL_2027, **change})
    with pytest.raises(ValueError, match=complaint):
        import_schedule(source, tmp_path / "holidays")
    assert not (tmp_path / "holidays" / "2027.json").exists()


def test_warnings_start_60_days_before_a_year_without_an_official_schedule(
    tmp_path: Path,
) -> None:
    calendar = WorkCalendar()
    assert calendar.warnings(date(2026, 11, 1)) == []  # 60 days later is still 2026
    [warning] = calendar.warnings(date(2026, 11, 2))  # 60 days later is 1 Jan 2027
    assert (warning["code"], warning["year"]) == ("holiday_schedule_provisional", 2027)
    assert "yuntong holidays import" in warning["message"]
    assert "临时" in calendar.warnings(date(2026, 11, 2), "zh-CN")[0]["message"]
    assert [(w["code"], w["year"]) for w in calendar.warnings(date(2027, 11, 2))] == [
        ("holiday_schedule_provisional", 2027),
        ("holiday_schedule_missing", 2028),
    ]
    import_schedule(write(tmp_path / "n.json", OFFICIAL_2027), tmp_path / "holidays")
    assert WorkCalendar(operator_dir=tmp_path / "holidays").warnings(date(2026, 12, 6)) == []
