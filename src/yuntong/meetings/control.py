"""What needs both a meeting's record and its live room on this node: who may control the
meeting, ending it (live or not), changing its settings (the live room follows at once).
Routes call these; they decide nothing themselves."""

from __future__ import annotations

from typing import Any

from yuntong.accounts.auth import Principal
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.meetings import service
from yuntong.meetings.live.participant import ParticipantState
from yuntong.meetings.live.room import Room
from yuntong.meetings.live.rooms import live_room
from yuntong.meetings.models import Meeting, Role


def participants_now(ctx: Context, meeting_id: str) -> int:
    """How many are in the meeting's live room on this node (0: not live here)."""
    room = live_room(ctx, meeting_id)
    return len(room.joined()) if room else 0


async def check_may_control(ctx: Context, user: Principal, meeting_id: str) -> Room:
    """The live room of a meeting ``user`` hosts, or co-hosts right now; else
    ``meeting_forbidden`` (or ``meeting_not_joined`` while nobody is in it)."""
    meeting = await service.visible_meeting(ctx, user, meeting_id)
    room = live_room(ctx, meeting_id)
    if meeting.host_id != user.user_id and not (
        room is not None and room.may_control(user.user_id)
    ):
        raise YuntongError("meeting_forbidden")
    if room is None:
        raise YuntongError("meeting_not_joined")
    return room


async def participants(ctx: Context, user: Principal, meeting_id: str) -> list[dict[str, Any]]:
    """Who is in the room and in its lobby, for a host."""
    room = await check_may_control(ctx, user, meeting_id)
    present = (ParticipantState.WAITING, ParticipantState.JOINED)
    return [
        {**p.public(), "state": p.state.value}
        for p in room.participants.values()
        if p.state in present
    ]


async def do_end_meeting(ctx: Context, user: Principal, meeting_id: str) -> None:
    """The host ends the meeting: its live room on this node for everyone, else the meeting
    (one nobody is in: cancelled)."""
    meeting = await service.hosted_meeting(ctx, user, meeting_id)
    room = live_room(ctx, meeting_id)
    if room is not None:
        await room.end("host")
    else:
        service.check_joinable(meeting, ctx.clock.now())
        await service.do_end_unstarted(ctx, meeting_id)


async def do_update_meeting(
    ctx: Context, user: Principal, meeting_id: str, data: service.MeetingUpdate
) -> Meeting:
    """The host changes the meeting; new settings apply to its live room at once."""
    meeting = await service.do_update(ctx, user, meeting_id, data)
    room = live_room(ctx, meeting_id)
    if room is not None and data.settings is not None:
        await room.apply_settings(data.settings)
    return meeting


async def do_set_role(
    ctx: Context, user: Principal, meeting_id: str, participant_id: str, role: Role
) -> None:
    """Only the host (not a co-host) makes someone co-host, or a participant again."""
    await service.hosted_meeting(ctx, user, meeting_id)
    room = await check_may_control(ctx, user, meeting_id)
    await room.set_role(None, participant_id, role)
