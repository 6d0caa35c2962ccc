"""Mail reaches a real SMTP server intact, or is skipped when mail is off, or fails loudly."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.conftest import make_settings
from tests.support import smtp
from tests.support.server import free_port
from tests.support.smtp import SmtpSink
from yuntong.core.mail import Alternative, Mailer, MailError, build_message

smtp_sink = smtp.smtp_sink  # the fixture, under its own name (an import would trip F811)

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def mailer(tmp_path: Path, **overrides: Any) -> Mailer:
    settings = make_settings(
        tmp_path / "var", "sqlite+aiosqlite:///" + str(tmp_path / "x.db"), **overrides
    )
    return Mailer.from_settings(settings)


def sink_mailer(tmp_path: Path, sink: SmtpSink) -> Mailer:
    return mailer(tmp_path, smtp_host="127.0.0.1", smtp_port=sink.port)


def body_text(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


async def test_chinese_subject_and_body_arrive_intact(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    message = build_message(
        to=["customer@example.com"],
        subject="云通 2025年6月账单：应缴 ¥128.50",
        text="尊敬的客户：\n\n您本月的账单已生成，请于到期日前缴费。\n",
        html="<p>尊敬的客户：您本月的账单已生成。</p>",
    )

    assert await sink_mailer(tmp_path, smtp_sink).send(message) is True

    [received] = await smtp_sink.wait_for(1)
    assert received["Subject"] == "云通 2025年6月账单：应缴 ¥128.50"
    assert received["To"] == "customer@example.com"
    assert body_text(received) == "尊敬的客户：\n\n您本月的账单已生成，请于到期日前缴费。\n"
    assert body_text(received, "html") == "<p>尊敬的客户：您本月的账单已生成。</p>\n"


async def test_pdf_and_csv_attachments_arrive_byte_identical(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    csv = "日期,号码,时长\n2025-06-01,13800000000,61\n".encode()
    message = build_message(
        to=["customer@example.com"],
        subject="账单",
        text="附件为本月账单。",
        attachments=[
            ("statement-2025-06.pdf", "application/pdf", PDF),
            ("calls-2025-06.csv", "text/csv", csv),
        ],
    )

    await sink_mailer(tmp_path, smtp_sink).send(message)

    [received] = await smtp_sink.wait_for(1)
    files = {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in received.iter_attachments()
    }
    assert files == {
        "statement-2025-06.pdf": ("application/pdf", PDF),
        "calls-2025-06.csv": ("text/csv", csv),
    }
    assert body_text(received) == "附件为本月账单。\n"


async def test_an_alternative_follows_the_text_with_its_parameters_and_exact_bytes(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    calendar = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nSUMMARY:周会\r\nEND:VCALENDAR\r\n".encode()
    message = build_message(
        to=["customer@example.com"],
        subject="会议",
        text="正文",
        alternatives=[Alternative("text/calendar", calendar, {"method": "REQUEST"})],
        attachments=[("invite.ics", "application/ics", calendar)],
    )

    await sink_mailer(tmp_path, smtp_sink).send(message)

    [received] = await smtp_sink.wait_for(1)
    alternative, attachment = received.iter_parts()
    assert isinstance(alternative, EmailMessage) and isinstance(attachment, EmailMessage)
    text, inline = alternative.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [text.get_content_type(), inline.get_content_type()] == ["text/plain", "text/calendar"]
    assert inline.get_param("method") == "REQUEST"
    assert inline.get_payload(decode=True) == calendar  # CRLF kept
    assert attachment.get_param("name") == attachment.get_filename() == "invite.ics"
    assert body_text(received) == "正文\n"


async def test_from_date_and_message_id_are_filled_in(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    message = build_message(to=["a@example.com", "b@example.com"], subject="通知", text="内容")

    await mailer(
        tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_sink.port, mail_from="账单 <bill@yt.cn>"
    ).send(message)

    [received] = await smtp_sink.wait_for(1)
    assert received["From"].addresses[0].addr_spec == "bill@yt.cn"
    assert received["From"].addresses[0].display_name == "账单"
    assert parsedate_to_datetime(received["Date"]).tzinfo is not None
    assert received["Message-ID"].startswith("<")
    assert received["Message-ID"].endswith("@yt.cn>")
    assert smtp_sink.envelope_recipients == [["a@example.com", "b@example.com"]]


async def test_headers_the_caller_set_are_kept(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    message = build_message(to=["a@example.com"], subject="通知", text="内容")
    message["From"] = "support@yt.cn"
    message["Message-ID"] = "<statement-42@yt.cn>"

    await sink_mailer(tmp_path, smtp_sink).send(message)

    [received] = await smtp_sink.wait_for(1)
    assert received["From"] == "support@yt.cn"
    assert received["Message-ID"] == "<statement-42@yt.cn>"


async def test_without_smtp_host_nothing_is_sent_and_only_a_count_is_logged(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    message = build_message(to=["a@example.com", "b@example.com"], subject="通知", text="内容")

    with capture_logs() as logs:
        sent = await mailer(tmp_path, smtp_host="").send(message)

    assert sent is False
    assert logs == [{"event": "mail_skipped", "recipients": 2, "log_level": "info"}]
    with pytest.raises(TimeoutError):
        await smtp_sink.wait_for(1, timeout=0.3)


async def test_refused_connection_raises_mail_error(tmp_path: Path) -> None:
    message = build_message(to=["a@example.com"], subject="通知", text="内容")
    closed = mailer(tmp_path, smtp_host="127.0.0.1", smtp_port=free_port())

    with pytest.raises(MailError) as raised:
        await closed.send(message)

    assert "ConnectionRefused" in raised.value.reason
    assert "a@example.com" not in raised.value.reason
