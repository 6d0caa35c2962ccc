"""What needs both a meeting's record and its live room on this node: who may control the
meeting, ending it (live or not), changing its settings (the live room follows at once), and
what a viewer may do with a meeting now (:func:`meeting_flags`, from the checks the actions
run). Routes call these; they decide nothing themselves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from yuntong.accounts.auth import Principal
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError, allows
from yuntong.meetings import service, store, tickets
from yuntong.meetings.live import policy
from yuntong.meetings.live.participant import Participant, ParticipantState
from yuntong.meetings.live.room import Room
from yuntong.meetings.live.rooms import live_room
from yuntong.meetings.models import Meeting, Role


def participants_now(ctx: Context, meeting_id: str) -> int:
    """How many are in the meeting's live room on this node (0: not live here)."""
    room = live_room(ctx, meeting_id)
    return len(room.joined()) if room else 0


def _flags(
    ctx: Context, meeting: Meeting, user_id: int, now: datetime, removed: bool
) -> dict[str, bool]:
    room = live_room(ctx, meeting.id)
    hosting = meeting.host_id == user_id
    return {
        "can_join": allows(
            lambda: tickets.check_may_join(
                meeting, now, is_host=hosting, removed=removed, room=room
            )
        ),
        "can_edit": allows(lambda: service.check_may_edit(meeting, user_id)),
        "can_invite": allows(lambda: service.check_may_invite(meeting, user_id)),
        "can_end": allows(lambda: service.check_may_end_meeting(meeting, user_id)),
        "can_see_history": allows(lambda: service.check_hosts(meeting, user_id)),
    }


async def meeting_flags(
    ctx: Context, user: Principal, meetings: Sequence[Meeting]
) -> dict[str, dict[str, bool]]:
    """Per meeting (by id), what ``user`` (its host or an invitee) may do with it now: join
    (a ticket), edit, invite, end (or cancel), see its history — the checks those routes run."""
    async with ctx.db.session() as s:
        removed = await store.removed_from(s, [m.id for m in meetings], user.user_id)
    now = ctx.clock.now()
    return {m.id: _flags(ctx, m, user.user_id, now, m.id in removed) for m in meetings}


async def _controlled(ctx: Context, user: Principal, meeting_id: str) -> tuple[Meeting, Room]:
    meeting = await service.visible_meeting(ctx, user, meeting_id)
    room = live_room(ctx, meeting_id)
    if meeting.host_id != user.user_id and not (
        room is not None and room.may_control(user.user_id)
    ):
        raise YuntongError("meeting_forbidden")
    if room is None:
        raise YuntongError("meeting_not_joined")
    return meeting, room


async def check_may_control(ctx: Context, user: Principal, meeting_id: str) -> Room:
    """The live room of a meeting ``user`` hosts, or co-hosts right now; else
    ``meeting_forbidden`` (or ``meeting_not_joined`` while nobody is in it)."""
    _, room = await _controlled(ctx, user, meeting_id)
    return room


def check_may_set_roles(meeting: Meeting, user: Principal) -> None:
    """Through the API only the meeting's host (not a co-host) changes roles."""
    service.check_hosts(meeting, user.user_id)


def _target_flags(meeting: Meeting, user: Principal, target: Participant) -> dict[str, bool]:
    """What ``user`` may do to ``target`` through the API: the room's policy with actor None
    (the routes act so), role changes only as the meeting's host (:func:`do_set_role`)."""
    flags = policy.target_flags(None, target)
    if not allows(lambda: check_may_set_roles(meeting, user)):
        flags.update(can_make_cohost=False, can_make_participant=False)
    return flags


async def participants(ctx: Context, user: Principal, meeting_id: str) -> list[dict[str, Any]]:
    """Who is in the room and in its lobby, for a host or co-host, each with what the caller
    may do to it through the API now (``can_mute``, ``can_remove``, ``can_make_cohost``,
    ``can_make_participant``)."""
    meeting, room = await _controlled(ctx, user, meeting_id)
    present = (ParticipantState.WAITING, ParticipantState.JOINED)
    return [
        {**p.public(), "state": p.state.value, **_target_flags(meeting, user, p)}
        for p in room.participants.values()
        if p.state in present
    ]


async def do_end_meeting(ctx: Context, user: Principal, meeting_id: str) -> None:
    """The host ends the meeting: its live room on this node for everyone, else the meeting
    (one nobody is in: cancelled)."""
    meeting = await service.visible_meeting(ctx, user, meeting_id)
    service.check_may_end_meeting(meeting, user.user_id)
    room = live_room(ctx, meeting_id)
    if room is not None:
        await room.end("host")
    else:
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
    meeting, room = await _controlled(ctx, user, meeting_id)
    check_may_set_roles(meeting, user)
    await room.set_role(None, participant_id, role)
