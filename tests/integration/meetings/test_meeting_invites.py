"""Invitations by e-mail reach a real SMTP server, one message per address with the calendar
inline and attached; strangers cannot be invited; a failed send is a ``mail_failed``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.meetings.test_meeting_service import user
from tests.support import smtp
from tests.support.ical import invitation_parts, parse, payload
from tests.support.smtp import SmtpSink
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.meetings import service, store
from yuntong.meetings.service import MeetingInput

smtp_sink = smtp.smtp_sink  # the fixture, under its own name


@pytest.fixture
def settings_overrides(smtp_sink: SmtpSink) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_sink.port,
        "mail_from": "云通会议 <meetings@yuntong.example>",
    }


async def test_each_address_gets_its_own_message_with_an_inline_calendar_request(
    ctx: Context, smtp_sink: SmtpSink
) -> None:
    host = await user(ctx)
    meeting = await service.do_create(ctx, host, MeetingInput(title="季度评审"))
    sent = await service.do_invite(
        ctx, host, meeting, [], ["A@example.com", "a@example.com", "b@example.org"]
    )

    assert sent == {"users": 0, "emails": 2}
    messages = await smtp_sink.wait_for(2)
    assert smtp_sink.envelope_recipients == [["a@example.com"], ["b@example.org"]]
    for message, address in zip(messages, ["a@example.com", "b@example.org"], strict=True):
        assert message.get_all("To") == [address]
        parts = invitation_parts(message)
        assert parts.inline_calendar.get_param("method") == "REQUEST"
        assert str(parts.inline_calendar.get_param("charset")).lower() == "utf-8"
        assert parts.attachment.get_filename() == "invite.ics"
        assert payload(parts.attachment) == payload(parts.inline_calendar)
        vcalendar = parse(payload(parts.inline_calendar))
        assert vcalendar.one("METHOD").value == "REQUEST"
        event = vcalendar.child("VEVENT")
        assert [a.value for a in event.all("ATTENDEE")] == [f"mailto:{address}"]
        # the bare From address: clients match the organizer against the sender
        assert event.one("ORGANIZER").value == "mailto:meetings@yuntong.example"
        assert event.one("UID").value == f"{meeting.id}@yuntong"
        assert meeting.number in parts.text.get_content()


async def test_an_updated_meeting_is_sent_with_the_same_uid_and_a_higher_sequence(
    ctx: Context, smtp_sink: SmtpSink
) -> None:
    host = await user(ctx)
    meeting = await service.do_create(ctx, host, MeetingInput(title="周会"))
    await service.do_invite(ctx, host, meeting, [], ["li@example.com"])
    updated = await service.do_update(
        ctx, host, meeting.id, service.MeetingUpdate(title="周会（改期）")
    )
    await service.do_invite(ctx, host, updated, [], ["li@example.com"])

    first, second = await smtp_sink.wait_for(2)
    events = [
        parse(payload(invitation_parts(m).inline_calendar)).child("VEVENT") for m in (first, second)
    ]
    assert {e.one("UID").value for e in events} == {f"{meeting.id}@yuntong"}
    assert [e.one("SEQUENCE").value for e in events] == ["0", "1"]


async def test_a_refused_address_stops_the_sending_with_mail_failed(
    ctx: Context, smtp_sink: SmtpSink
) -> None:
    host = await user(ctx)
    meeting = await service.do_create(ctx, host, MeetingInput(title="季度评审"))
    smtp_sink.refused.add("b@example.org")

    with pytest.raises(YuntongError) as failed:
        await service.do_invite(
            ctx, host, meeting, [], ["a@example.com", "b@example.org", "c@example.net"]
        )

    assert failed.value.code == "mail_failed"
    assert failed.value.status == 502
    assert "1 of 3 sent" in failed.value.message("en")
    assert "example" not in failed.value.message("en")  # no addresses in the reason
    [delivered] = await smtp_sink.wait_for(1)
    assert delivered["To"] == "a@example.com"  # c@example.net was not tried after the failure
    assert smtp_sink.envelope_recipients == [["a@example.com"]]


async def test_strangers_and_malformed_addresses_are_refused(
    ctx: Context, smtp_sink: SmtpSink
) -> None:
    host, stranger = await user(ctx), await user(ctx)
    meeting = await service.do_create(ctx, host, MeetingInput(title="季度评审"))
    await service.do_invite(ctx, host, meeting, [], ["a@example.com"])

    with pytest.raises(YuntongError) as strangers:
        await service.do_invite(ctx, host, meeting, [stranger.user_id], [])
    assert strangers.value.fields == {"user_ids": "not_a_contact"}
    with pytest.raises(YuntongError) as nobody:
        await service.do_invite(ctx, host, meeting, [], ["  "])
    assert nobody.value.fields == {"emails": "required"}
    for address in ("not an address", "a\x01b@example.com", '"x"@example.com', "a@b"):
        with pytest.raises(YuntongError) as bad:  # refused before anything is written or sent
            await service.do_invite(ctx, host, meeting, [], ["c@example.com", address])
        assert bad.value.fields == {"emails": "invalid_email"}
    async with ctx.db.session() as s:
        invited = [i.email_index for i in await store.invitations(s, meeting.id)]
    assert invited == [ctx.cipher.email_index("a@example.com")]
