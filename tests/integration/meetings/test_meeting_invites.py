"""Invitations by e-mail reach a real SMTP server with the .ics; strangers cannot be invited."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.meetings.test_meeting_service import user
from tests.support import smtp
from tests.support.smtp import SmtpSink
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.meetings import service, store
from yuntong.meetings.service import MeetingInput

smtp_sink = smtp.smtp_sink  # the fixture, under its own name


@pytest.fixture
def settings_overrides(smtp_sink: SmtpSink) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": smtp_sink.port}


async def test_email_invitation_carries_the_calendar_file(
    ctx: Context, smtp_sink: SmtpSink
) -> None:
    host, stranger = await user(ctx), await user(ctx)
    meeting = await service.do_create(ctx, host, MeetingInput(title="季度评审"))
    sent = await service.do_invite(
        ctx, host, meeting, [], ["A@example.com", "a@example.com", "b@example.org"]
    )
    assert sent == {"users": 0, "emails": 2}
    [message] = await smtp_sink.wait_for(1)
    assert sorted(message["To"].split(", ")) == ["a@example.com", "b@example.org"]
    [ics] = [part for part in message.iter_attachments() if part.get_filename() == "meeting.ics"]
    calendar = ics.get_content()
    assert f"UID:{meeting.id}@yuntong" in calendar and meeting.number in calendar.replace(
        "\r\n ", ""
    )

    with pytest.raises(YuntongError) as strangers:
        await service.do_invite(ctx, host, meeting, [stranger.user_id], [])
    assert strangers.value.fields == {"user_ids": "not_a_contact"}
    with pytest.raises(YuntongError) as bad:
        await service.do_invite(ctx, host, meeting, [], ["not an address"])
    assert bad.value.fields == {"emails": "invalid_email"}
    async with ctx.db.session() as s:
        assert sorted(i.email or "" for i in await store.invitations(s, meeting.id)) == [
            "a@example.com",
            "b@example.org",
        ]
