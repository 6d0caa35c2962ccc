"""The rules of do-not-disturb windows: a window belongs to the day it starts on, crosses
midnight when its end is not after its start, follows the official calendar's workdays (with
the make-up working days, 调休) and rest days (with public holidays) or chosen weekdays; the
switch, the pause, "until" and "next start"; and the form a schedule is checked in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from yuntong.core.errors import YuntongError
from yuntong.core.workdays import WorkCalendar
from yuntong.presence.dnd import decode, encode
from yuntong.presence.schedules import ScheduleForm, check_form, check_may_add, parse_time
from yuntong.presence.windows import DndState, Window, window_end

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()  # chinese-calendar: the State Council's schedules up to 2026


def at(text: str) -> datetime:
    """A Beijing-time moment, ``2024-02-02 22:30``."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def window(days: str, start: str, end: str, weekdays: tuple[int, ...] = ()) -> Window:
    return Window(days, frozenset(weekdays), parse_time(start, "start"), parse_time(end, "end"))


def on(state: DndState, moment: str) -> bool:
    return state.is_on(at(moment), TZ, CALENDAR.is_workday)


def schedule(*windows: Window) -> DndState:
    return DndState(windows=windows)


NIGHT_ON_WORKDAYS = schedule(window("workdays", "22:00", "07:30"))


def test_a_window_crossing_midnight_runs_from_the_evening_to_the_next_morning() -> None:
    every_night = schedule(window("every_day", "22:00", "07:30"))
    assert not on(every_night, "2024-03-05 21:59")
    assert on(every_night, "2024-03-05 22:00")
    assert on(every_night, "2024-03-06 00:00")
    assert on(every_night, "2024-03-06 07:29")
    assert not on(every_night, "2024-03-06 07:30")  # the end is not in the window
    assert not on(every_night, "2024-03-06 12:00")


def test_a_window_belongs_to_the_day_it_starts_on() -> None:
    # Friday 2024-03-08 is a workday: its night runs into Saturday morning
    assert on(NIGHT_ON_WORKDAYS, "2024-03-09 06:00")
    # Saturday is a rest day: no window starts on Saturday evening, nor runs into Sunday
    assert not on(NIGHT_ON_WORKDAYS, "2024-03-09 23:00")
    assert not on(NIGHT_ON_WORKDAYS, "2024-03-10 06:00")
    # Sunday evening is not a workday either, but Monday morning is Sunday night's: off
    assert not on(NIGHT_ON_WORKDAYS, "2024-03-11 06:00")
    assert on(NIGHT_ON_WORKDAYS, "2024-03-11 23:00")


def test_a_make_up_working_sunday_has_the_workdays_window() -> None:
    # 2024-02-04 was a Sunday worked for the Spring Festival (调休上班)
    assert on(NIGHT_ON_WORKDAYS, "2024-02-04 22:30")
    assert on(NIGHT_ON_WORKDAYS, "2024-02-05 07:00")
    rest_days = schedule(window("rest_days", "09:00", "18:00"))
    assert not on(rest_days, "2024-02-04 10:00")
    assert on(rest_days, "2024-02-03 10:00")  # the Saturday before stayed a rest day


def test_a_public_holiday_on_a_weekday_is_a_rest_day() -> None:
    # 2024-10-01, a Tuesday, National Day
    office = schedule(window("workdays", "09:00", "18:00"))
    assert not on(office, "2024-10-01 10:00")
    assert on(schedule(window("rest_days", "09:00", "18:00")), "2024-10-01 10:00")
    # and the make-up Saturday 2024-10-12 after it is a workday
    assert on(office, "2024-10-12 10:00")


def test_chosen_weekdays() -> None:
    mon_wed = schedule(window("weekdays", "12:00", "13:30", (1, 3)))
    assert on(mon_wed, "2024-03-04 12:15")  # Monday
    assert not on(mon_wed, "2024-03-05 12:15")  # Tuesday
    assert on(mon_wed, "2024-03-06 13:29")  # Wednesday
    assert not on(mon_wed, "2024-03-06 13:30")
    # a chosen-weekday night belongs to its start day: Sunday night runs into Monday
    sunday_night = schedule(window("weekdays", "23:00", "06:00", (7,)))
    assert on(sunday_night, "2024-03-11 05:00")  # Monday morning
    assert not on(sunday_night, "2024-03-10 05:00")  # Sunday morning: Saturday's night


def test_an_end_equal_to_the_start_is_24_hours() -> None:
    rest_days_all_day = schedule(window("rest_days", "00:00", "00:00"))
    assert on(rest_days_all_day, "2024-03-09 00:00")
    assert on(rest_days_all_day, "2024-03-10 23:59")
    assert not on(rest_days_all_day, "2024-03-11 00:00")


def test_until_is_the_end_of_windows_that_run_into_each_other() -> None:
    state = schedule(window("every_day", "22:00", "07:00"), window("every_day", "06:30", "09:00"))
    effective = state.evaluate(at("2024-03-05 23:00"), TZ, CALENDAR.is_workday)
    assert (effective.on, effective.reason) == (True, "schedule")
    assert effective.until == at("2024-03-06 09:00")
    end = window_end(state.windows, at("2024-03-06 10:00"), TZ, CALENDAR.is_workday)
    assert end is None


def test_off_says_when_the_next_window_starts() -> None:
    effective = NIGHT_ON_WORKDAYS.evaluate(at("2024-03-09 12:00"), TZ, CALENDAR.is_workday)
    assert not effective.on
    assert effective.next_start == at("2024-03-11 22:00")  # Monday; not the weekend


def test_the_switch_wins_over_everything() -> None:
    state = DndState(manual=True)
    effective = state.evaluate(at("2024-03-09 12:00"), TZ, CALENDAR.is_workday)
    assert (effective.on, effective.reason, effective.until) == (True, "manual", None)
    assert DndState().evaluate(at("2024-03-09 12:00"), TZ, CALENDAR.is_workday).on is False


def test_a_pause_holds_until_the_window_ends_and_the_next_window_applies() -> None:
    paused = DndState(windows=NIGHT_ON_WORKDAYS.windows, paused_until=at("2024-03-06 07:30"))
    assert not on(paused, "2024-03-05 23:00")
    effective = paused.evaluate(at("2024-03-05 23:00"), TZ, CALENDAR.is_workday)
    assert effective.paused_until == at("2024-03-06 07:30")
    assert effective.next_start == at("2024-03-06 22:00")
    assert on(paused, "2024-03-06 22:00")


def test_the_cached_form_keeps_the_whole_state() -> None:
    state = DndState(
        manual=False,
        windows=(
            window("weekdays", "22:00", "07:30", (1, 5, 7)),
            window("workdays", "12:00", "13:00"),
        ),
        paused_until=datetime(2024, 3, 5, 23, 30, tzinfo=UTC),
    )
    assert decode(encode(state)) == state
    assert encode(DndState()) == "0"
    assert decode(b"1") == DndState(manual=True)  # a node that cached the bare switch


def form(**changes: object) -> ScheduleForm:
    values: dict = {"days": "every_day", "start": "22:00", "end": "07:30"}
    values.update(changes)
    return ScheduleForm(**values)


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"start": "24:00"}, "dnd_schedule_time_invalid", "start"),
        ({"end": "7:30"}, "dnd_schedule_time_invalid", "end"),
        ({"end": "07:60"}, "dnd_schedule_time_invalid", "end"),
        ({"days": "weekdays"}, "dnd_schedule_weekdays_invalid", "weekdays"),
        ({"days": "weekdays", "weekdays": (0, 1)}, "dnd_schedule_weekdays_invalid", "weekdays"),
        ({"days": "weekdays", "weekdays": (8,)}, "dnd_schedule_weekdays_invalid", "weekdays"),
        ({"weekdays": (1,)}, "dnd_schedule_weekdays_invalid", "weekdays"),
        ({"days": "holidays"}, "validation_failed", "days"),
        ({"name": "x" * 41}, "validation_failed", "name"),
    ],
)
def test_a_wrong_schedule_is_refused_with_a_stable_code(
    changes: dict, code: str, field: str
) -> None:
    with pytest.raises(YuntongError) as refused:
        check_form(form(**changes))
    assert refused.value.code == code
    assert field in refused.value.fields
    assert refused.value.message("zh-CN") and refused.value.message("en")


def test_a_valid_schedule_is_kept_as_minutes_and_a_weekday_mask() -> None:
    values = check_form(form(days="weekdays", weekdays=(1, 7, 1), name=" Night "))
    assert values == {
        "name": "Night",
        "days": "weekdays",
        "weekdays": 0b1000001,
        "start_minute": 22 * 60,
        "end_minute": 7 * 60 + 30,
        "enabled": True,
    }


def test_at_most_ten_schedules() -> None:
    check_may_add(9)
    with pytest.raises(YuntongError) as refused:
        check_may_add(10)
    assert refused.value.code == "dnd_schedule_limit"
    assert "10" in refused.value.message("en") and "10" in refused.value.message("zh-CN")
