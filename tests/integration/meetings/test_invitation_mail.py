"""A meeting invitation goes through a real SMTP server with its calendar intact."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr

from tests.support import smtp
from tests.support.ical import invitation_parts, parse, payload
from tests.support.smtp import SmtpSink
from yuntong.core.mail import Mailer
from yuntong.meetings.invitations import InviteInfo, build_ics, invitation_message

smtp_sink = smtp.smtp_sink  # the fixture, under its own name

INVITE = InviteInfo(
    meeting_id="mtg9c21",
    number="987654321",
    passcode="246810",
    title="周会; 季度, 计划\n第二行",
    start_at=datetime(2025, 6, 10, 2, 0, tzinfo=UTC),
    duration_min=45,
    time_zone="Asia/Shanghai",
    recurrence="weekdays",
    recurrence_count=10,
    join_url="https://yuntong.example/m/987654321?pwd=246810",
    host_name="张三",
)


def sink_mailer(sink: SmtpSink) -> Mailer:
    return Mailer(
        host="127.0.0.1",
        port=sink.port,
        username="",
        password=SecretStr(""),
        starttls=False,
        sender="云通会议 <meetings@yuntong.example>",
    )


async def test_zh_cn_invitation_arrives_with_its_calendar_inline_and_attached_intact(
    smtp_sink: SmtpSink,
) -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    message = invitation_message(
        INVITE, to="li@example.com", locale="zh-CN", organizer_email="zhang@example.com", now=now
    )

    assert await sink_mailer(smtp_sink).send(message) is True

    [received] = await smtp_sink.wait_for(1)
    assert received["Subject"] == "会议邀请：周会; 季度, 计划 第二行"
    assert received["To"] == "li@example.com"
    assert smtp_sink.envelope_recipients == [["li@example.com"]]
    parts = invitation_parts(received)
    assert parts.inline_calendar.get_param("method") == "REQUEST"
    assert parts.attachment.get_filename() == "invite.ics"
    # byte for byte, CRLF line ends and folding included, in both places
    expected = build_ics(
        INVITE,
        organizer_email="zhang@example.com",
        attendees=["li@example.com"],
        now=now,
        locale="zh-CN",
    )
    assert payload(parts.inline_calendar) == expected
    assert payload(parts.attachment) == expected
    vcalendar = parse(expected)
    assert vcalendar.one("METHOD").value == "REQUEST"
    event = vcalendar.child("VEVENT")
    assert event.one("UID").value == "mtg9c21@yuntong"
    assert event.one("DTSTART").value == "20250610T100000"
    assert event.one("RRULE").value == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10"
    assert [a.value for a in event.all("ATTENDEE")] == ["mailto:li@example.com"]
    assert "会议号：987654321" in parts.text.get_content()
