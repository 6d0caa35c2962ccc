"""Meeting invitations: the e-mail (zh-CN or en) and its calendar (RFC 5545, sent as iMIP).

The calendar text is written by hand: one VEVENT, a VTIMEZONE derived from zoneinfo,
text escaping and 75-octet line folding.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from email.message import EmailMessage
from typing import Final
from zoneinfo import ZoneInfo

from yuntong.core.i18n import DEFAULT_LOCALE, translate
from yuntong.core.mail import Alternative, build_message

PRODID: Final = "-//Yuntong//Meetings//EN"
ICS_FILENAME: Final = "invite.ics"
RECURRENCE_RULES: Final = {
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "weekdays": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
}
# how far a series without a count is covered when checking that a zone's yearly rule holds
OPEN_SERIES_YEARS: Final = 10
LINE_OCTETS: Final = 75
ICAL_DAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


ZH_WEEKDAYS: Final = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
# not calendar.day_name / month_name: those follow the process's LC_TIME
EN_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EN_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class InviteInfo:
    """What an invitation says about one meeting (or one recurring series)."""

    meeting_id: str
    number: str
    passcode: str | None
    title: str
    start_at: datetime  # aware
    duration_min: int
    time_zone: str  # IANA name, e.g. "Asia/Shanghai"
    recurrence: str | None  # "daily" | "weekly" | "weekdays"
    recurrence_count: int | None
    join_url: str
    host_name: str
    sequence: int = 0  # bumped on each change, so calendars replace the older copy
    cancelled: bool = False


def invitation_message(
    info: InviteInfo, *, to: str, locale: str, organizer_email: str, now: datetime
) -> EmailMessage:
    """The invitation (or cancellation) e-mail to the one address ``to`` (iMIP, RFC 6047).

    The calendar, with ``to`` as its only ATTENDEE, goes twice: inline as ``text/calendar``
    with the iTIP method next to the text, which is what mail clients offer accept and
    decline for; and attached as ``invite.ics`` for clients that only import files.
    ``organizer_email`` is the bare address the message is sent from.
    """
    key = "subject_cancelled" if info.cancelled else "subject"
    subject = translate(f"meeting.invite.{key}", locale, title=_one_line(info.title))
    ics = build_ics(info, organizer_email=organizer_email, attendees=[to], now=now, locale=locale)
    # the method in the MIME type must be the calendar's METHOD (RFC 6047)
    inline = Alternative("text/calendar", ics, {"method": _method(info), "charset": "UTF-8"})
    return build_message(
        to=[to],
        subject=subject,
        text=invitation_text(info, locale),
        alternatives=[inline],
        # not text/calendar: a second iTIP part could be acted on twice (Google sends it so too)
        attachments=[(ICS_FILENAME, "application/ics", ics)],
    )


def invitation_text(info: InviteInfo, locale: str) -> str:
    """The e-mail body: who invites, then the meeting's details."""
    intro = "intro_cancelled" if info.cancelled else "intro"
    lines = [
        translate(f"meeting.invite.{intro}", locale, host=info.host_name),
        "",
        translate("meeting.invite.title", locale, value=info.title),
        translate("meeting.invite.time", locale, value=local_start_text(info, locale)),
        translate("meeting.invite.duration", locale, minutes=info.duration_min),
    ]
    if info.recurrence is not None:
        lines.append(translate("meeting.invite.repeat", locale, value=_repeat_text(info, locale)))
    lines += _access_lines(info, locale)
    if not info.cancelled:
        lines += ["", translate("meeting.invite.calendar", locale, filename=ICS_FILENAME)]
    return "\n".join(lines) + "\n"


def local_start_text(info: InviteInfo, locale: str) -> str:
    """The start in the meeting's time zone, with the zone's name and UTC offset."""
    start = _local(info.start_at, ZoneInfo(info.time_zone))
    offset = _utc_offset_text(start)
    if locale == "zh-CN":
        day = f"{start.year}年{start.month}月{start.day}日 {ZH_WEEKDAYS[start.weekday()]}"
        return f"{day} {start:%H:%M}（{info.time_zone}，{offset}）"
    day = f"{EN_WEEKDAYS[start.weekday()]}, {start.day} {EN_MONTHS[start.month - 1]}"
    return f"{day} {start.year}, {start:%H:%M} ({info.time_zone}, {offset})"


def build_ics(
    info: InviteInfo,
    *,
    organizer_email: str,
    attendees: Sequence[str],
    now: datetime,
    locale: str = DEFAULT_LOCALE,
) -> bytes:
    """The iCalendar file: METHOD REQUEST (or CANCEL), a VTIMEZONE and one VEVENT.

    ``locale`` is the language of DESCRIPTION. Raises ValueError for naive datetimes, an
    unknown recurrence, a ``weekdays`` series starting on a weekend, or addresses and URLs
    holding control characters.
    """
    zone = ZoneInfo(info.time_zone)
    check_invite(info)
    start = _local(info.start_at, zone)
    # in UTC: aware arithmetic in a ZoneInfo zone adds wall-clock time, wrong across a DST change
    end = _local(info.start_at.astimezone(UTC) + timedelta(minutes=info.duration_min), zone)
    tzid = f"TZID={info.time_zone}"
    description = "\n".join(_access_lines(info, locale))
    event = [
        "BEGIN:VEVENT",
        f"UID:{_text(info.meeting_id)}@yuntong",
        f"DTSTAMP:{_utc_stamp(now)}",
        f"DTSTART;{tzid}:{_local_stamp(start)}",
        f"DTEND;{tzid}:{_local_stamp(end)}",
    ]
    if info.recurrence is not None:
        count = f";COUNT={info.recurrence_count}" if info.recurrence_count else ""
        event.append(f"RRULE:{RECURRENCE_RULES[info.recurrence]}{count}")
    event += [
        f"SUMMARY:{_text(info.title)}",
        f"DESCRIPTION:{_text(description)}",
        f"LOCATION:{_text(info.join_url)}",
        f"URL:{_uri(info.join_url)}",
        f'ORGANIZER;CN="{_param(info.host_name)}":{_mailto(organizer_email)}',
    ]
    rsvp = "" if info.cancelled else ";PARTSTAT=NEEDS-ACTION;RSVP=TRUE"
    event += [f"ATTENDEE;ROLE=REQ-PARTICIPANT{rsvp}:{_mailto(a)}" for a in attendees]
    event += [
        f"SEQUENCE:{info.sequence}",
        f"STATUS:{'CANCELLED' if info.cancelled else 'CONFIRMED'}",
        "END:VEVENT",
    ]
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        f"METHOD:{_method(info)}",
        *vtimezone(info.time_zone, start.year, _last_year(info, start)),
        *event,
        "END:VCALENDAR",
    ]
    return b"".join(_fold(line) for line in lines)


def check_invite(info: InviteInfo) -> None:
    """Raise ValueError when ``info`` cannot be written as a well-defined calendar event."""
    if info.start_at.utcoffset() is None:
        raise ValueError("start_at must be timezone-aware")
    if info.duration_min <= 0:
        raise ValueError("duration_min must be positive")
    if info.recurrence is None:
        if info.recurrence_count is not None:
            raise ValueError("recurrence_count needs a recurrence")
        return
    if info.recurrence not in RECURRENCE_RULES:
        raise ValueError(f"unknown recurrence: {info.recurrence!r}")
    if info.recurrence_count is not None and info.recurrence_count < 1:
        raise ValueError("recurrence_count must be at least 1")
    local_day = _local(info.start_at, ZoneInfo(info.time_zone)).weekday()
    if info.recurrence == "weekdays" and local_day >= 5:
        # RFC 5545 leaves a DTSTART outside its own RRULE undefined
        raise ValueError("a weekdays series must start on a weekday")


def _method(info: InviteInfo) -> str:
    return "CANCEL" if info.cancelled else "REQUEST"


def _access_lines(info: InviteInfo, locale: str) -> list[str]:
    lines = [
        translate("meeting.invite.join", locale, value=info.join_url),
        translate("meeting.invite.number", locale, value=info.number),
    ]
    if info.passcode:
        lines.append(translate("meeting.invite.passcode", locale, value=info.passcode))
    return lines


def _repeat_text(info: InviteInfo, locale: str) -> str:
    rule = translate(f"meeting.invite.repeat.{info.recurrence}", locale)
    if info.recurrence_count is None:
        return rule
    return translate("meeting.invite.repeat_count", locale, rule=rule, count=info.recurrence_count)


# --- VTIMEZONE -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Transition:
    """One change of UTC offset; ``onset`` shows the local wall time just before it."""

    onset: datetime  # in the fixed offset_from
    offset_from: timedelta
    offset_to: timedelta
    name: str
    daylight: bool

    def yearly_key(self) -> tuple[object, ...]:
        """What must be the same each year for one yearly RRULE to describe it."""
        onset = self.onset
        return (onset.month, onset.weekday(), onset.time(), *astuple(self)[1:])


def vtimezone(time_zone: str, first_year: int, last_year: int) -> list[str]:
    """The VTIMEZONE lines for ``time_zone`` covering ``first_year`` to ``last_year``.

    When each year's transitions follow one yearly rule (e.g. last Sunday of March), they
    are written once with an RRULE; otherwise every transition is written out. The year
    before ``first_year`` is included so that dates before its first transition are
    covered too. A zone without transitions (Asia/Shanghai) gets one STANDARD block.
    """
    zone = ZoneInfo(time_zone)
    years = range(first_year - 1, last_year + 1)
    transitions = _transitions(zone, years)
    blocks: list[list[str]]
    if not transitions:
        at = datetime(first_year, 1, 1, tzinfo=zone)
        offset = at.utcoffset() or timedelta(0)
        since = datetime(1970, 1, 1, tzinfo=timezone(offset))
        still = _Transition(since, offset, offset, at.tzname() or "", False)
        blocks = [_observance(still, None)]
    else:
        yearly = _yearly_rules(transitions, years)
        if yearly is not None:
            blocks = [_observance(t, rule) for t, rule in yearly]
        else:
            blocks = [_observance(t, None) for t in transitions]
    return [
        "BEGIN:VTIMEZONE",
        f"TZID:{time_zone}",
        *(line for block in blocks for line in block),
        "END:VTIMEZONE",
    ]


def _transitions(zone: tzinfo, years: range) -> list[_Transition]:
    """Every change of UTC offset whose local onset falls in ``years``, oldest first."""
    moment = datetime(years.start, 1, 1, tzinfo=UTC) - timedelta(days=2)
    stop = datetime(years.stop, 1, 1, tzinfo=UTC) + timedelta(days=2)
    found = []
    step = timedelta(days=1)
    while moment < stop:
        if moment.astimezone(zone).utcoffset() != (moment + step).astimezone(zone).utcoffset():
            found.append(_transition_within(zone, moment, moment + step))
        moment += step
    return [t for t in found if t.onset.year in years]


def _transition_within(zone: tzinfo, before: datetime, after: datetime) -> _Transition:
    old = before.astimezone(zone)
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == old.utcoffset():
            before = middle
        else:
            after = middle
    instant = after.replace(microsecond=0)  # offsets change on whole seconds
    new = instant.astimezone(zone)
    offset_from, offset_to = old.utcoffset() or timedelta(0), new.utcoffset() or timedelta(0)
    return _Transition(
        onset=instant.astimezone(timezone(offset_from)),
        offset_from=offset_from,
        offset_to=offset_to,
        name=new.tzname() or "",
        # summer time starts; tzdata may mark the winter as (negative) DST instead (Dublin)
        daylight=offset_to > offset_from and bool(old.dst() or new.dst()),
    )


def _yearly_rules(
    transitions: list[_Transition], years: range
) -> list[tuple[_Transition, str]] | None:
    """The first year's transitions with their yearly RRULEs, if every year repeats them."""
    by_year: dict[int, list[_Transition]] = {year: [] for year in years}
    for t in transitions:
        by_year[t.onset.year].append(t)
    first = by_year[years.start]
    if not first or any(len(found) != len(first) for found in by_year.values()):
        return None
    rules = []
    for index, t in enumerate(first):
        ordinal = _repeating_ordinal(t, [found[index] for found in by_year.values()])
        if ordinal is None:
            return None
        by_day = f"{ordinal}{ICAL_DAYS[t.onset.weekday()]}"
        rules.append((t, f"FREQ=YEARLY;BYMONTH={t.onset.month};BYDAY={by_day}"))
    return rules


def _repeating_ordinal(first: _Transition, each_year: list[_Transition]) -> int | None:
    """-1 (last) or n (n-th) weekday of the month, if every year's onset is that day."""
    day = first.onset.date()
    month_days = calendar.monthrange(day.year, day.month)[1]
    candidates = ([-1] if day.day + 7 > month_days else []) + [(day.day - 1) // 7 + 1]
    for ordinal in candidates:
        if all(
            t.yearly_key() == first.yearly_key() and t.onset.date() == _nth_weekday(t, ordinal)
            for t in each_year
        ):
            return ordinal
    return None


def _nth_weekday(t: _Transition, ordinal: int) -> date | None:
    """The ordinal-th (-1: last) day of the onset's weekday in the onset's month."""
    year, month = t.onset.year, t.onset.month
    days = [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    same = [d for d in days if d.weekday() == t.onset.weekday()]
    if ordinal > len(same):
        return None
    return same[ordinal - 1] if ordinal > 0 else same[-1]


def _observance(t: _Transition, rule: str | None) -> list[str]:
    kind = "DAYLIGHT" if t.daylight else "STANDARD"
    lines = [
        f"BEGIN:{kind}",
        f"DTSTART:{_local_stamp(t.onset)}",
        f"TZOFFSETFROM:{_offset(t.offset_from)}",
        f"TZOFFSETTO:{_offset(t.offset_to)}",
    ]
    if rule is not None:
        lines.append(f"RRULE:{rule}")
    if t.name:
        lines.append(f"TZNAME:{_text(t.name)}")
    return [*lines, f"END:{kind}"]


def _last_year(info: InviteInfo, start: datetime) -> int:
    """The (local) year of the last occurrence, or a horizon for a series without end."""
    if info.recurrence is None:
        return start.year + 1 if (start.month, start.day) == (12, 31) else start.year
    if info.recurrence_count is None:
        return start.year + OPEN_SERIES_YEARS
    # an upper bound is enough: weekdays take at most 7/5 days each, plus a weekend
    days_each = {"daily": 1, "weekly": 7, "weekdays": 2}[info.recurrence]
    return (start + timedelta(days=days_each * info.recurrence_count + 3)).year


# --- content lines -------------------------------------------------------------------------


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return moment.astimezone(zone)


def _local_stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def _utc_stamp(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _utc_offset_text(moment: datetime) -> str:
    offset = _offset(moment.utcoffset() or timedelta(0))
    return f"UTC{offset[:3]}:{offset[3:5]}"


def _offset(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    hours, rest = divmod(int(abs(offset).total_seconds()), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{seconds:02d}" if seconds else "")


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _controls_removed(value: str) -> str:
    return "".join(ch for ch in value if ch == "\t" or not (ord(ch) < 32 or ord(ch) == 127))


def _text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return _controls_removed(value.replace("\n", "\\n"))


def _param(value: str) -> str:
    """A quoted parameter value: it may hold neither DQUOTE nor control characters."""
    return _controls_removed(value.replace('"', "'").replace("\n", " "))


def _uri(value: str) -> str:
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in value):
        raise ValueError("a URI must not hold spaces or control characters")
    return value


def _mailto(address: str) -> str:
    if "@" not in address:
        raise ValueError("not an e-mail address")
    return "mailto:" + _uri(address)


def _fold(line: str) -> bytes:
    """One content line as CRLF-terminated physical lines of at most 75 octets.

    Breaks fall between characters, never inside a multi-byte UTF-8 sequence.
    """
    physical: list[bytes] = []
    current = b""
    for ch in line:
        encoded = ch.encode("utf-8")
        if len(current) + len(encoded) > LINE_OCTETS:
            physical.append(current)
            current = b" "
        current += encoded
    physical.append(current)
    return b"".join(part + b"\r\n" for part in physical)
