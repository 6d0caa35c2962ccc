"""A meeting invitation goes through a real SMTP server with its .ics intact."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from pydantic import SecretStr

from tests.support import smtp
from tests.support.smtp import SmtpSink
from yuntong.core.mail import Mailer
from yuntong.meetings.invitations import InviteInfo, invitation_message

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


def unfolded(ics: bytes) -> list[str]:
    return ics.decode("utf-8").replace("\r\n ", "").split("\r\n")


async def test_zh_cn_invitation_arrives_with_its_calendar_file(smtp_sink: SmtpSink) -> None:
    message = invitation_message(
        INVITE,
        to=["li@example.com", "wang@example.com"],
        locale="zh-CN",
        organizer_email="zhang@example.com",
        now=datetime(2025, 6, 1, tzinfo=UTC),
    )

    assert await sink_mailer(smtp_sink).send(message) is True

    [received] = await smtp_sink.wait_for(1)
    assert received["Subject"] == "会议邀请：周会; 季度, 计划 第二行"
    assert smtp_sink.envelope_recipients == [["li@example.com", "wang@example.com"]]
    [part] = list(received.iter_attachments())
    assert isinstance(part, EmailMessage)
    assert part.get_filename() == "meeting.ics"
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST"
    ics = part.get_payload(decode=True)
    assert isinstance(ics, bytes)
    lines = unfolded(ics)
    assert "UID:mtg9c21@yuntong" in lines
    assert "METHOD:REQUEST" in lines
    assert "DTSTART;TZID=Asia/Shanghai:20250610T100000" in lines
    assert "SUMMARY:周会\\; 季度\\, 计划\\n第二行" in lines
    assert "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10" in lines
    body = received.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    assert "会议号：987654321" in body.get_content()
