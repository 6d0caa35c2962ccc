"""Invitation .ics files read back by an independent RFC 5545 reader; the e-mail around them."""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from tests.support.ical import (
    Component,
    invitation_parts,
    parse,
    payload,
    physical_lines,
    unescape,
)
from yuntong.meetings.invitations import InviteInfo, build_ics, invitation_message

NOW = datetime(2025, 6, 1, 8, 30, 15, tzinfo=UTC)
TITLE = "周会; 季度, 计划\n第二行"
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def invite(**changes: object) -> InviteInfo:
    info = InviteInfo(
        meeting_id="mtg7f3a",
        number="123456789",
        passcode="654321",
        title="周会",
        start_at=datetime(2025, 6, 10, 2, 0, tzinfo=UTC),  # 10:00 in Shanghai
        duration_min=60,
        time_zone="Asia/Shanghai",
        recurrence=None,
        recurrence_count=None,
        join_url="https://yuntong.example/m/123456789?pwd=654321",
        host_name="张三",
    )
    return replace(info, **changes)  # type: ignore[arg-type]


def ics_for(info: InviteInfo, attendees: tuple[str, ...] = ("li@example.com",)) -> bytes:
    return build_ics(info, organizer_email="zhang@example.com", attendees=attendees, now=NOW)


# --- resolving local times with the file's own VTIMEZONE ------------------------------------


def offset(value: str) -> timedelta:
    sign = -1 if value[0] == "-" else 1
    return sign * timedelta(hours=int(value[1:3]), minutes=int(value[3:5]))


def local(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%S")


def onsets(observance: Component, until: datetime) -> list[datetime]:
    start = local(observance.one("DTSTART").value)
    rules = observance.all("RRULE")
    if not rules:
        return [start]
    rule = dict(part.split("=") for part in rules[0].value.split(";"))
    assert rule["FREQ"] == "YEARLY"
    month, ordinal, weekday = int(rule["BYMONTH"]), int(rule["BYDAY"][:-2]), rule["BYDAY"][-2:]
    found = []
    for year in range(start.year, until.year + 1):
        days = [
            day
            for day in range(1, calendar.monthrange(year, month)[1] + 1)
            if DAYS[calendar.weekday(year, month, day)] == weekday
        ]
        day = days[ordinal - 1] if ordinal > 0 else days[ordinal]
        found.append(datetime.combine(datetime(year, month, day).date(), start.time()))
    return found


def to_utc(vcalendar: Component, tzid: str, wall: datetime) -> datetime:
    """Resolve a local time with the file's own VTIMEZONE (the latest onset at or before it)."""
    [zone] = [
        z for z in vcalendar.children if z.name == "VTIMEZONE" and z.one("TZID").value == tzid
    ]
    candidates = [
        (onset, offset(obs.one("TZOFFSETTO").value))
        for obs in zone.children
        for onset in onsets(obs, wall)
        if onset <= wall
    ]
    assert candidates, f"no observance covers {wall}"
    _, in_force = max(candidates)
    return (wall - in_force).replace(tzinfo=UTC)


def event_start(vcalendar: Component) -> datetime:
    prop = vcalendar.child("VEVENT").one("DTSTART")
    return to_utc(vcalendar, prop.params["TZID"], local(prop.value))


# --- the calendar file ----------------------------------------------------------------------


def test_every_line_ends_in_crlf_and_folds_within_75_octets_between_characters() -> None:
    title = "云通季度规划视频会议🎥" * 20 + "x" * 150
    ics = ics_for(invite(title=title))

    lines = physical_lines(ics)
    assert any(line.startswith(b" ") for line in lines)  # long lines were folded
    assert unescape(parse(ics).child("VEVENT").one("SUMMARY").value) == title


def test_title_with_semicolon_comma_backslash_and_newline_round_trips() -> None:
    title = TITLE + "\\结束"
    event = parse(ics_for(invite(title=title))).child("VEVENT")

    assert unescape(event.one("SUMMARY").value) == title
    assert "\n" not in event.one("SUMMARY").value


def test_calendar_is_a_request_for_one_event_with_uid_organizer_and_attendees() -> None:
    vcalendar = parse(ics_for(invite(), attendees=("li@example.com", "wang@example.com")))

    assert vcalendar.one("PRODID").value == "-//Yuntong//Meetings//EN"
    assert vcalendar.one("VERSION").value == "2.0"
    assert vcalendar.one("METHOD").value == "REQUEST"
    event = vcalendar.child("VEVENT")
    assert event.one("UID").value == "mtg7f3a@yuntong"
    assert event.one("DTSTAMP").value == "20250601T083015Z"
    assert event.one("SEQUENCE").value == "0"
    assert event.one("STATUS").value == "CONFIRMED"
    organizer = event.one("ORGANIZER")
    assert organizer.value == "mailto:zhang@example.com"
    assert organizer.params["CN"] == '"张三"'
    attendees = event.all("ATTENDEE")
    assert [a.value for a in attendees] == ["mailto:li@example.com", "mailto:wang@example.com"]
    assert all(a.params["RSVP"] == "TRUE" for a in attendees)
    assert not event.all("RRULE")


def test_description_and_location_carry_the_join_link_number_and_passcode() -> None:
    event = parse(ics_for(invite())).child("VEVENT")

    description = unescape(event.one("DESCRIPTION").value)
    assert "https://yuntong.example/m/123456789?pwd=654321" in description
    assert "123456789" in description
    assert "654321" in description
    assert unescape(event.one("LOCATION").value) == "https://yuntong.example/m/123456789?pwd=654321"
    assert event.one("URL").value == "https://yuntong.example/m/123456789?pwd=654321"


def test_shanghai_start_is_written_in_local_time_with_a_standard_only_zone() -> None:
    vcalendar = parse(ics_for(invite()))

    event = vcalendar.child("VEVENT")
    assert event.one("DTSTART").params == {"TZID": "Asia/Shanghai"}
    assert event.one("DTSTART").value == "20250610T100000"
    assert event.one("DTEND").value == "20250610T110000"
    zone = vcalendar.child("VTIMEZONE")
    assert [c.name for c in zone.children] == ["STANDARD"]
    assert zone.child("STANDARD").one("TZOFFSETTO").value == "+0800"
    assert event_start(vcalendar) == datetime(2025, 6, 10, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start_utc", "wall"),
    [
        (datetime(2025, 1, 15, 8, 0, tzinfo=UTC), "20250115T090000"),  # before March: CET
        (datetime(2025, 7, 15, 7, 0, tzinfo=UTC), "20250715T090000"),  # CEST
        (datetime(2025, 10, 27, 8, 0, tzinfo=UTC), "20251027T090000"),  # the day after: CET
    ],
)
def test_berlin_start_is_local_time_that_the_files_own_zone_resolves_back(
    start_utc: datetime, wall: str
) -> None:
    vcalendar = parse(ics_for(invite(start_at=start_utc, time_zone="Europe/Berlin")))

    assert vcalendar.child("VEVENT").one("DTSTART").value == wall
    assert {c.name for c in vcalendar.child("VTIMEZONE").children} == {"STANDARD", "DAYLIGHT"}
    assert event_start(vcalendar) == start_utc


def test_a_berlin_meeting_across_the_spring_change_ends_at_summer_wall_time() -> None:
    start = datetime(2025, 3, 30, 1, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # CET
    event = parse(ics_for(invite(start_at=start, duration_min=90, time_zone="Europe/Berlin")))
    event = event.child("VEVENT")

    assert event.one("DTSTART").value == "20250330T013000"
    assert event.one("DTEND").value == "20250330T040000"  # 90 minutes later, now CEST


def test_a_weekly_berlin_series_keeps_its_wall_time_across_the_change() -> None:
    start = datetime(2025, 3, 24, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    info = invite(start_at=start, time_zone="Europe/Berlin", recurrence="weekly")
    vcalendar = parse(ics_for(info))

    first = local(vcalendar.child("VEVENT").one("DTSTART").value)
    second = first + timedelta(days=7)
    assert to_utc(vcalendar, "Europe/Berlin", first) == datetime(2025, 3, 24, 8, tzinfo=UTC)
    assert to_utc(vcalendar, "Europe/Berlin", second) == datetime(2025, 3, 31, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time_zone", "wall"),
    [
        ("America/New_York", datetime(2026, 3, 9, 9, 0)),  # the day after the change
        ("Australia/Sydney", datetime(2026, 1, 20, 9, 0)),  # southern summer
        ("Australia/Sydney", datetime(2026, 7, 20, 9, 0)),
        ("America/Mexico_City", datetime(2025, 6, 2, 9, 0)),  # no DST since 2022
        ("Africa/Casablanca", datetime(2025, 3, 3, 9, 0)),  # Ramadan: no yearly rule
        ("Africa/Casablanca", datetime(2025, 4, 14, 9, 0)),
        ("Europe/Dublin", datetime(2025, 12, 1, 9, 0)),  # tzdata's negative DST
    ],
)
def test_the_files_zone_agrees_with_the_tz_database(time_zone: str, wall: datetime) -> None:
    start = wall.replace(tzinfo=ZoneInfo(time_zone))
    vcalendar = parse(ics_for(invite(start_at=start, time_zone=time_zone)))

    assert vcalendar.child("VEVENT").one("DTSTART").value == wall.strftime("%Y%m%dT%H%M%S")
    assert event_start(vcalendar) == start.astimezone(UTC)


@pytest.mark.parametrize(
    ("recurrence", "count", "expected"),
    [
        ("daily", None, {"FREQ": "DAILY"}),
        ("daily", 5, {"FREQ": "DAILY", "COUNT": "5"}),
        ("weekly", 12, {"FREQ": "WEEKLY", "COUNT": "12"}),
        ("weekdays", 10, {"FREQ": "WEEKLY", "BYDAY": "MO,TU,WE,TH,FR", "COUNT": "10"}),
    ],
)
def test_recurrence_becomes_an_rrule(
    recurrence: str, count: int | None, expected: dict[str, str]
) -> None:
    info = invite(recurrence=recurrence, recurrence_count=count)
    [rrule] = parse(ics_for(info)).child("VEVENT").all("RRULE")

    assert dict(part.split("=") for part in rrule.value.split(";")) == expected


def test_a_cancelled_meeting_is_a_cancel_with_a_higher_sequence() -> None:
    vcalendar = parse(ics_for(invite(cancelled=True, sequence=3)))

    assert vcalendar.one("METHOD").value == "CANCEL"
    event = vcalendar.child("VEVENT")
    assert event.one("UID").value == "mtg7f3a@yuntong"
    assert event.one("STATUS").value == "CANCELLED"
    assert event.one("SEQUENCE").value == "3"


@pytest.mark.parametrize(
    ("changes", "attendees"),
    [
        ({"start_at": datetime(2025, 6, 10, 10, 0)}, ("li@example.com",)),  # naive
        ({"recurrence": "monthly"}, ("li@example.com",)),
        ({"recurrence_count": 3}, ("li@example.com",)),  # a count without a recurrence
        ({"recurrence": "weekdays", "start_at": datetime(2025, 6, 14, 2, tzinfo=UTC)}, ()),  # Sat
        ({}, ("li@example.com\r\nATTENDEE:mailto:x@example.com",)),  # injected line
    ],
)
def test_what_cannot_be_a_well_defined_event_is_refused(
    changes: dict[str, object], attendees: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        ics_for(invite(**changes), attendees=attendees)


# --- the e-mail -----------------------------------------------------------------------------


def mail(info: InviteInfo, locale: str, to: str = "li@example.com") -> EmailMessage:
    return invitation_message(
        info, to=to, locale=locale, organizer_email="zhang@example.com", now=NOW
    )


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    text = part.get_content()
    assert isinstance(text, str)
    return text


def inline_ics(message: EmailMessage) -> bytes:
    return payload(invitation_parts(message).inline_calendar)


def test_zh_cn_invitation_lists_the_meeting_in_its_own_time_zone() -> None:
    message = mail(invite(title=TITLE, recurrence="weekly", recurrence_count=4), "zh-CN")

    assert message["Subject"] == "会议邀请：周会; 季度, 计划 第二行"
    text = body(message)
    assert "张三 邀请您参加云通视频会议。" in text
    assert f"主题：{TITLE}" in text
    assert "时间：2025年6月10日 星期二 10:00（Asia/Shanghai，UTC+08:00）" in text
    assert "时长：60 分钟" in text
    assert "重复：每周，共 4 次" in text
    assert "入会链接：https://yuntong.example/m/123456789?pwd=654321" in text
    assert "会议号：123456789" in text
    assert "密码：654321" in text
    assert "附件 invite.ics 可添加到日历。" in text


def test_en_invitation_for_a_berlin_meeting_without_passcode() -> None:
    start = datetime(2025, 7, 1, 15, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    message = mail(
        invite(title="Quarterly plan", start_at=start, time_zone="Europe/Berlin", passcode=None),
        "en",
    )

    assert message["Subject"] == "Invitation: Quarterly plan"
    text = body(message)
    assert "Time: Tuesday, 1 July 2025, 15:30 (Europe/Berlin, UTC+02:00)" in text
    assert "Duration: 60 min" in text
    assert "Meeting number: 123456789" in text
    assert "Passcode" not in text
    assert "Add the attached invite.ics to your calendar." in text
    description = parse(inline_ics(message)).child("VEVENT").one("DESCRIPTION")
    assert "Passcode" not in unescape(description.value)


@pytest.mark.parametrize(("cancelled", "method"), [(False, "REQUEST"), (True, "CANCEL")])
def test_the_calendar_is_inline_with_its_method_next_to_the_text(
    cancelled: bool, method: str
) -> None:
    message = mail(invite(cancelled=cancelled, sequence=2), "zh-CN")

    inline = invitation_parts(message).inline_calendar
    assert inline.get_content_type() == "text/calendar"
    assert inline.get_param("method") == method
    assert str(inline.get_param("charset")).lower() == "utf-8"
    event = parse(inline_ics(message))
    assert event.one("METHOD").value == method
    assert event.child("VEVENT").one("UID").value == "mtg7f3a@yuntong"
    assert event.child("VEVENT").one("SEQUENCE").value == "2"
    if cancelled:
        assert message["Subject"] == "会议已取消：周会"
        assert "invite.ics" not in body(message)


def test_the_same_calendar_is_attached_as_invite_ics() -> None:
    message = mail(invite(), "zh-CN")

    attachment = invitation_parts(message).attachment
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_param("name") == "invite.ics"
    assert payload(attachment) == inline_ics(message)


def test_an_invitation_is_addressed_to_its_one_recipient_as_the_only_attendee() -> None:
    message = mail(invite(), "zh-CN", to="wang@example.com")

    assert message.get_all("To") == ["wang@example.com"]
    assert "Cc" not in message and "Bcc" not in message
    event = parse(inline_ics(message)).child("VEVENT")
    [attendee] = event.all("ATTENDEE")
    assert attendee.value == "mailto:wang@example.com"
    assert attendee.params["RSVP"] == "TRUE"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert event.one("ORGANIZER").value == "mailto:zhang@example.com"
