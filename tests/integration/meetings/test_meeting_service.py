"""Scheduling, tickets and their rules, on SQLite and PostgreSQL (no media here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import unique
from yuntong.accounts import registration
from yuntong.accounts.auth import Principal, principal_for
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.meetings import service, tickets
from yuntong.meetings.models import MeetingInvitation
from yuntong.meetings.service import MeetingInput, MeetingSettings, MeetingUpdate


async def user(ctx: Context) -> Principal:
    created = await registration.do_create_admin(
        ctx, unique("m"), "correct horse battery", "subscriber"
    )
    return principal_for(created, "", via="test")


def clock(ctx: Context) -> FrozenClock:
    assert isinstance(ctx.clock, FrozenClock)
    return ctx.clock


async def test_scheduled_meeting_opens_half_an_hour_early_and_checks_its_inputs(
    ctx: Context,
) -> None:
    host = await user(ctx)
    start = clock(ctx).now() + timedelta(hours=2)
    data = MeetingInput(title="评审", kind="scheduled", start_at=start, time_zone="Europe/Berlin")
    meeting = await service.do_create(ctx, host, data)
    assert len(meeting.number) == 9 and meeting.passcode is not None and len(meeting.passcode) == 6

    with pytest.raises(YuntongError) as early:
        await tickets.do_issue_ticket(ctx, host, meeting.number, None, None, None)
    assert early.value.code == "meeting_not_started"
    clock(ctx).advance(minutes=91)
    _, _, ticket = await tickets.do_issue_ticket(ctx, host, meeting.number, None, None, None)
    assert ticket.role == "host"  # the host needs no passcode

    for bad, field in [
        (MeetingInput(title="x", kind="scheduled"), "start_at"),
        (MeetingInput(title="x", kind="scheduled", start_at=start - timedelta(days=1)), "start_at"),
        (MeetingInput(title="x", time_zone="Mars/Olympus"), "time_zone"),
        (MeetingInput(title="x", recurrence="daily"), "recurrence"),
    ]:
        with pytest.raises(YuntongError) as refused:
            await service.do_create(ctx, host, bad)
        assert refused.value.code == "validation_failed" and list(refused.value.fields) == [field]


async def test_tickets_passcode_guests_invitations_and_tampering(ctx: Context) -> None:
    host, bob, carol = await user(ctx), await user(ctx), await user(ctx)
    meeting = await service.do_create(ctx, host, MeetingInput(title="周会"))
    with pytest.raises(YuntongError) as wrong:
        await tickets.do_issue_ticket(ctx, bob, meeting.number, "nope", None, None)
    assert wrong.value.code == "meeting_passcode_wrong"
    text, _, ticket = await tickets.do_issue_ticket(
        ctx, bob, meeting.number, meeting.passcode, None, None
    )
    assert (ticket.role, ticket.user_id, ticket.name) == (
        "participant",
        bob.user_id,
        bob.display_name,
    )
    assert service.decode_ticket(ctx, text) == ticket

    async with ctx.db.session() as s:  # an invited user needs no passcode
        s.add(
            MeetingInvitation(
                meeting_id=meeting.id, user_id=carol.user_id, created_at=clock(ctx).now()
            )
        )
    await tickets.do_issue_ticket(ctx, carol, meeting.number, None, None, None)

    with pytest.raises(YuntongError) as nameless:
        await tickets.do_issue_ticket(ctx, None, meeting.number, meeting.passcode, " ", None)
    assert nameless.value.code == "validation_failed"
    _, _, guest = await tickets.do_issue_ticket(
        ctx, None, meeting.number, meeting.passcode, "访客", "k1"
    )
    assert (guest.role, guest.user_id, guest.guest_key) == ("guest", None, "k1")

    body, signature = text.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    for bad in (forged, text + "x", "", "no-dot"):
        with pytest.raises(YuntongError) as invalid:
            service.decode_ticket(ctx, bad)
        assert invalid.value.code == "meeting_ticket_invalid"
    clock(ctx).advance(seconds=ctx.settings.meeting_ticket_ttl_s + 1)
    with pytest.raises(YuntongError):
        service.decode_ticket(ctx, text)


async def test_update_listing_and_cancel(ctx: Context) -> None:
    host, other = await user(ctx), await user(ctx)
    start = clock(ctx).now() + timedelta(days=1)
    meeting = await service.do_create(
        ctx, host, MeetingInput(title="a", kind="scheduled", start_at=start, no_passcode=True)
    )
    assert meeting.passcode is None
    changed = await service.do_update(
        ctx, host, meeting.id, MeetingUpdate(title="b", settings=MeetingSettings(waiting_room=True))
    )
    assert (changed.title, changed.sequence, changed.settings["waiting_room"]) == ("b", 1, True)
    with pytest.raises(YuntongError) as foreign:
        await service.do_update(ctx, other, meeting.id, MeetingUpdate(title="x"))
    assert (
        foreign.value.code == "meeting_not_found"
    )  # another user's meeting does not exist for them
    with pytest.raises(YuntongError):
        await service.visible_meeting(ctx, other, meeting.id)
    assert [m.id for m in await service.list_meetings(ctx, host, past=False)] == [meeting.id]

    await service.do_end_unstarted(ctx, meeting.id)
    assert [m.id for m in await service.list_meetings(ctx, host, past=True)] == [meeting.id]
    with pytest.raises(YuntongError) as gone:
        await tickets.do_issue_ticket(ctx, host, meeting.number, None, None, None)
    assert gone.value.code == "meeting_ended"  # its link says so until the number is reused


async def test_recurrence_next_start_keeps_local_time(ctx: Context) -> None:
    host = await user(ctx)
    friday = datetime(2026, 3, 27, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (winter time)
    clock(ctx).set(friday - timedelta(days=1))
    data = MeetingInput(
        title="stand-up",
        kind="scheduled",
        start_at=friday,
        time_zone="Europe/Berlin",
        recurrence="weekdays",
        recurrence_count=3,
    )
    meeting = await service.do_create(ctx, host, data)
    monday = service.next_start(meeting, friday)
    assert monday is not None and monday.weekday() == 0
    assert monday.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 summer time
    tuesday = service.next_start(meeting, monday)
    assert tuesday is not None and tuesday.weekday() == 1
    assert service.next_start(meeting, tuesday) is None  # three occurrences
