"""Join tickets: who may open a meeting's socket, as whom. Passcode guessing is throttled
(:class:`~yuntong.meetings.service.PasscodeThrottles`), and a locked live room refuses
everyone but its host already here."""

from __future__ import annotations

import hmac
from datetime import datetime

from yuntong.accounts.auth import Principal
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.ids import new_id
from yuntong.core.throttle import client_key
from yuntong.meetings import service, store
from yuntong.meetings.live.room import Room
from yuntong.meetings.live.rooms import live_room
from yuntong.meetings.models import Meeting, MeetingStatus, Role


def is_locked(meeting: Meeting, room: Room | None) -> bool:
    """Whether the meeting's live room is locked: the room's own word on the node running it,
    the meeting's row (written as hosts lock it) on the others."""
    if room is not None:
        return room.locked
    return meeting.status == MeetingStatus.LIVE and meeting.room_locked


def check_may_enter(*, is_host: bool, removed: bool, locked: bool) -> None:
    """Past the passcode: someone removed from the meeting does not come back, and a locked
    live room lets in only its host."""
    if removed:
        raise YuntongError("meeting_removed")
    if locked and not is_host:
        raise YuntongError("meeting_locked")


def check_may_join(
    meeting: Meeting, now: datetime, *, is_host: bool, removed: bool, room: Room | None
) -> None:
    """What a signed-in host or invitee (who needs no passcode) must pass to join now: the
    checks :func:`do_issue_ticket` makes for them, in its order."""
    service.check_joinable(meeting, now)
    check_may_enter(is_host=is_host, removed=removed, locked=is_locked(meeting, room))


async def do_issue_ticket(
    ctx: Context,
    user: Principal | None,
    number: str,
    passcode: str | None,
    display_name: str | None,
    guest_key: str | None,
    client: str | None = None,
) -> tuple[str, Meeting, service.Ticket]:
    """A ticket to the meeting with ``number``: as the signed-in user, or as a guest.

    Guessing is throttled (:class:`PasscodeThrottles`) for whoever is neither the host nor
    invited: per meeting and ``client`` address, per client over all meetings (unknown
    numbers too), and per meeting, which then takes no passcode from anyone for a while.
    """
    now = ctx.clock.now()
    limits = service.passcode_throttles(ctx)
    client = client_key(client) if client else None
    async with ctx.db.session() as s:
        meeting = await store.open_meeting_by_number(s, number)
        if meeting is None:
            if client:  # an ended meeting's number counts as a miss, as an unknown one does
                await limits.client.check(client)
                await limits.client.hit(client)
            ended = await store.ended_meeting_by_number(s, number)
            raise YuntongError("meeting_ended" if ended else "meeting_not_found")
        is_host = user is not None and user.user_id == meeting.host_id
        invited = user is not None and await store.is_invited(s, meeting.id, user.user_id)
        removed = await store.was_removed(
            s, meeting.id, user.user_id if user else None, None if user else guest_key
        )
    service.check_joinable(meeting, now)
    settings = service.settings_of(meeting)
    if user is None and not settings.allow_guests:
        raise YuntongError("meeting_guests_not_allowed")
    if meeting.passcode and not (is_host or invited):
        # while locked even the right passcode is refused: it would tell guessers they won
        await limits.meeting.check(meeting.id, "meeting_passcode_locked")
        pair = f"{meeting.id}|{client}"
        if client:
            await limits.client.check(client)
            await limits.pair.check(pair)
        if not hmac.compare_digest((passcode or "").encode(), meeting.passcode.encode()):
            await limits.meeting.hit(meeting.id)
            if client:
                await limits.client.hit(client)
                await limits.pair.hit(pair)
            raise YuntongError("meeting_passcode_wrong")
        await limits.pair.clear(pair)
    elif client and not (is_host or invited):
        await limits.client.check(client)  # a held client must not find open meetings either
    locked = is_locked(meeting, live_room(ctx, meeting.id))
    check_may_enter(is_host=is_host, removed=removed, locked=locked)
    if user is None:
        name = (display_name or "").strip()
        if not name:
            raise YuntongError("validation_failed", fields={"display_name": "required"})
        role = Role.GUEST
    else:
        name = (display_name or "").strip() or user.display_name or user.username
        role = Role.HOST if is_host else Role.PARTICIPANT
    ticket = service.Ticket(
        meeting_id=meeting.id,
        participant_id=new_id(),
        user_id=user.user_id if user else None,
        role=role,
        name=name[:64],
        guest_key=None if user else (guest_key or None),
        expires=int(now.timestamp()) + ctx.settings.meeting_ticket_ttl_s,
    )
    return service.encode_ticket(ctx, ticket), meeting, ticket
