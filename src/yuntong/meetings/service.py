"""Meetings outside the room: create, schedule, update, join tickets, history, and the
meeting's state machine (:data:`TRANSITIONS`: scheduled → live → ended, a recurring meeting
live → scheduled for its next occurrence).

What happens while people are in a meeting (Janus, media, host controls) is in
:mod:`yuntong.meetings.live`; what needs both a meeting and its live room (ending it, its
settings, who may control it) in :mod:`yuntong.meetings.control`, and issuing join tickets
(a locked live room refuses them) in :mod:`yuntong.meetings.tickets`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import audit
from yuntong.accounts.auth import Principal
from yuntong.accounts.validation import is_email
from yuntong.cluster import nodes
from yuntong.contacts.service import visible_contact_ids
from yuntong.core.context import Context
from yuntong.core.crypto import normalise_email
from yuntong.core.errors import YuntongError
from yuntong.core.ids import new_id
from yuntong.core.mail import Mailer, MailError
from yuntong.core.throttle import Limit, Throttle, client_key, throttle
from yuntong.meetings import store
from yuntong.meetings.invitations import InviteInfo, invitation_message
from yuntong.meetings.models import Meeting, MeetingInvitation, MeetingStatus, Role
from yuntong.realtime.connection import hub_of

EARLY_JOIN = timedelta(minutes=30)
NUMBER_DIGITS = 9
Recurrence = Literal["daily", "weekly", "weekdays"]


class MeetingSettings(BaseModel):
    """What the host decides per meeting (docs/meetings.md)."""

    model_config = ConfigDict(extra="forbid")

    waiting_room: bool = Field(False, description="Participants wait in a lobby to be admitted")
    mute_on_entry: bool = Field(False, description="Participants join with the microphone muted")
    allow_guests: bool = Field(True, description="People without an account may join by name")
    max_participants: int = Field(50, ge=2, le=100, description="At most this many in the room")
    allow_screen_share: bool = Field(True, description="Participants may share their screen")
    allow_chat: bool = Field(True, description="The meeting has a chat")
    allow_recording: bool = Field(True, description="The host may record the meeting")
    ask_to_unmute: bool = Field(
        False, description="Muted participants raise a hand to be unmuted instead of unmuting"
    )
    auto_end_after_empty_s: int = Field(
        300, ge=10, le=24 * 3600, description="End the meeting once empty for this many seconds"
    )


class MeetingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="The meeting's title")
    kind: Literal["instant", "scheduled"] = Field(
        "instant", description="instant: starts now; scheduled: at start_at"
    )
    start_at: datetime | None = Field(
        None, description="When it starts (needed for scheduled; with a UTC offset)"
    )
    duration_min: int = Field(60, ge=5, le=24 * 60, description="Planned length, minutes")
    time_zone: str = Field(
        "Asia/Shanghai",
        max_length=64,
        description="IANA time zone of the start time and of the repeats (e.g. Asia/Shanghai)",
    )
    recurrence: Recurrence | None = Field(None, description="How it repeats (null: once)")
    recurrence_count: int | None = Field(
        None, ge=2, le=365, description="How many occurrences a repeating meeting has"
    )
    passcode: str | None = Field(
        None,
        pattern=r"^[0-9]{4,10}$",
        description="4–10 digits (omit: one is generated unless no_passcode)",
    )
    no_passcode: bool = Field(False, description="Anyone with the number may join")
    settings: MeetingSettings = Field(
        default_factory=MeetingSettings, description="What the host decides (defaults shown)"
    )


class MeetingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        None, min_length=1, max_length=200, description="New title (omit: unchanged)"
    )
    start_at: datetime | None = Field(None, description="New start (omit: unchanged)")
    duration_min: int | None = Field(
        None, ge=5, le=24 * 60, description="New planned length, minutes (omit: unchanged)"
    )
    time_zone: str | None = Field(
        None, max_length=64, description="New IANA time zone (omit: unchanged)"
    )
    settings: MeetingSettings | None = Field(
        None, description="New settings, all of them (omit: unchanged); a live room applies them"
    )


def settings_of(meeting: Meeting) -> MeetingSettings:
    return MeetingSettings.model_validate(meeting.settings)


# status -> statuses it may move to
TRANSITIONS: dict[MeetingStatus, frozenset[MeetingStatus]] = {
    MeetingStatus.SCHEDULED: frozenset({MeetingStatus.LIVE, MeetingStatus.ENDED}),
    MeetingStatus.LIVE: frozenset({MeetingStatus.SCHEDULED, MeetingStatus.ENDED}),
    MeetingStatus.ENDED: frozenset(),
}


def check_move(status: str, to: MeetingStatus) -> None:
    """Raise ``invalid_transition`` unless a meeting in ``status`` may move to ``to``."""
    if to not in TRANSITIONS[MeetingStatus(status)]:
        raise YuntongError("invalid_transition", state=status)


def move(meeting: Meeting, to: MeetingStatus) -> None:
    """The one way a meeting's status changes; illegal moves raise."""
    check_move(meeting.status, to)
    meeting.status = to


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise YuntongError("validation_failed", fields={"time_zone": "invalid"}) from exc


async def _new_number(ctx: Context) -> str:
    async with ctx.db.session() as s:
        for _ in range(20):
            number = str(
                secrets.randbelow(9 * 10 ** (NUMBER_DIGITS - 1)) + 10 ** (NUMBER_DIGITS - 1)
            )
            if not await store.number_in_use(s, number):
                return number
    raise YuntongError("internal_error")  # pragma: no cover (9⁹ numbers)


async def do_create(ctx: Context, host: Principal, data: MeetingInput) -> Meeting:
    now = ctx.clock.now()
    _zone(data.time_zone)
    if data.kind == "scheduled":
        if data.start_at is None or data.start_at.tzinfo is None:
            raise YuntongError("validation_failed", fields={"start_at": "required"})
        if data.start_at < now - timedelta(minutes=5):
            raise YuntongError("validation_failed", fields={"start_at": "in_the_past"})
    if data.recurrence is not None and data.kind != "scheduled":
        raise YuntongError("validation_failed", fields={"recurrence": "invalid"})
    passcode = None if data.no_passcode else data.passcode or f"{secrets.randbelow(10**6):06d}"
    meeting = Meeting(
        id=new_id(),
        number=await _new_number(ctx),
        passcode=passcode,
        title=data.title.strip(),
        host_id=host.user_id,
        organisation_id=host.organisation_id,
        kind=data.kind,
        status=MeetingStatus.SCHEDULED,
        start_at=data.start_at if data.kind == "scheduled" and data.start_at else now,
        duration_min=data.duration_min,
        time_zone=data.time_zone,
        recurrence=data.recurrence,
        recurrence_count=data.recurrence_count if data.recurrence else None,
        settings=data.settings.model_dump(),
        sequence=0,
        created_at=now,
    )
    async with ctx.db.session() as s:
        s.add(meeting)
    return meeting


async def get_meeting(ctx: Context, meeting_id: str) -> Meeting:
    async with ctx.db.session() as s:
        meeting = await s.get(Meeting, meeting_id)
    if meeting is None:
        raise YuntongError("meeting_not_found")
    return meeting


async def _check_visible(s: AsyncSession, meeting: Meeting | None, user_id: int) -> Meeting:
    """``meeting`` if ``user_id`` hosts it or is invited; else (and when there is none)
    ``meeting_not_found``."""
    if meeting is None or (
        meeting.host_id != user_id and not await store.is_invited(s, meeting.id, user_id)
    ):
        raise YuntongError("meeting_not_found")
    return meeting


async def visible_meeting(ctx: Context, user: Principal, meeting_id: str) -> Meeting:
    """The meeting if ``user`` hosts it or is invited; others get ``meeting_not_found``."""
    async with ctx.db.session() as s:
        return await _check_visible(s, await s.get(Meeting, meeting_id), user.user_id)


# What the host (the organiser; not a co-host) may do with a meeting outside its room. Each
# rule is a check_* function that the action runs and that control.meeting_flags runs to tell
# the viewer (the can_* flags of MeetingOut), so the page offers exactly what is accepted.


def check_hosts(meeting: Meeting, user_id: int) -> None:
    """Only the meeting's host: its history (attendance, chat, recordings) and role changes."""
    if meeting.host_id != user_id:
        raise YuntongError("meeting_forbidden")


def check_may_edit(meeting: Meeting, user_id: int) -> None:
    """The host changes a meeting that has not ended."""
    check_hosts(meeting, user_id)
    if meeting.status == MeetingStatus.ENDED:
        raise YuntongError("meeting_ended")


def check_may_invite(meeting: Meeting, user_id: int) -> None:
    """The host invites people to a meeting that has not ended."""
    check_may_edit(meeting, user_id)


def check_may_end_meeting(meeting: Meeting, user_id: int) -> None:
    """The host ends a meeting that has not ended: for everyone in its live room, or, before
    anyone is in it, cancels it (at any time before it starts)."""
    check_may_edit(meeting, user_id)


async def hosted_meeting(ctx: Context, user: Principal, meeting_id: str) -> Meeting:
    """The meeting if ``user`` hosts it; an invitee gets ``meeting_forbidden``."""
    meeting = await visible_meeting(ctx, user, meeting_id)
    check_hosts(meeting, user.user_id)
    return meeting


async def do_update(ctx: Context, user: Principal, meeting_id: str, data: MeetingUpdate) -> Meeting:
    async with ctx.db.session() as s:
        found = await s.get(Meeting, meeting_id, with_for_update=True)
        meeting = await _check_visible(s, found, user.user_id)
        check_may_edit(meeting, user.user_id)
        if data.title is not None:
            meeting.title = data.title.strip()
        if data.start_at is not None:
            if data.start_at.tzinfo is None:
                raise YuntongError("validation_failed", fields={"start_at": "invalid"})
            meeting.start_at = data.start_at
        if data.duration_min is not None:
            meeting.duration_min = data.duration_min
        if data.time_zone is not None:
            _zone(data.time_zone)
            meeting.time_zone = data.time_zone
        if data.settings is not None:
            meeting.settings = data.settings.model_dump()
        meeting.sequence += 1
    return meeting


async def list_meetings(ctx: Context, user: Principal, past: bool) -> list[Meeting]:
    async with ctx.db.session() as s:
        return list(await store.meetings_of(s, user.user_id, past=past, now=ctx.clock.now()))


def next_start(meeting: Meeting, after: datetime) -> datetime | None:
    """The next occurrence of a recurring meeting starting after ``after`` (None: no more)."""
    if meeting.recurrence is None:
        return None
    zone = _zone(meeting.time_zone)
    local = meeting.start_at.astimezone(zone)
    step = timedelta(days=1 if meeting.recurrence != "weekly" else 7)
    count = meeting.recurrence_count or 0
    occurrence, n = local, 1
    while True:
        occurrence = (occurrence.replace(tzinfo=None) + step).replace(tzinfo=zone)
        if meeting.recurrence == "weekdays" and occurrence.weekday() >= 5:
            continue
        n += 1
        if count and n > count:
            return None
        if occurrence > after:
            return occurrence


def join_url(ctx: Context, meeting: Meeting, with_passcode: bool = True) -> str:
    base = ctx.settings.public_url.rstrip("/")
    url = f"{base}/m/{meeting.number}"
    if with_passcode and meeting.passcode:
        url += f"?pwd={meeting.passcode}"
    return url


# --- join tickets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    """Who may open the meeting socket, as whom; signed with the service's secret key."""

    meeting_id: str
    participant_id: str
    user_id: int | None
    role: Role
    name: str
    guest_key: str | None
    expires: int


def _sign(ctx: Context, payload: bytes) -> str:
    key = ctx.settings.secret_key.get_secret_value().encode()
    digest = hmac.new(key, b"meeting-ticket:" + payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def encode_ticket(ctx: Context, ticket: Ticket) -> str:
    body = {
        "m": ticket.meeting_id,
        "p": ticket.participant_id,
        "u": ticket.user_id,
        "r": ticket.role.value,
        "n": ticket.name,
        "g": ticket.guest_key,
        "e": ticket.expires,
    }
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{encoded}.{_sign(ctx, payload)}"


def decode_ticket(ctx: Context, text: str) -> Ticket:
    """The ticket if its signature holds and it has not expired, else ``meeting_ticket_invalid``."""
    try:
        encoded, signature = text.split(".", 1)
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if not hmac.compare_digest(signature, _sign(ctx, payload)):
            raise ValueError("signature")
        body: dict[str, Any] = json.loads(payload)
        ticket = Ticket(
            meeting_id=str(body["m"]),
            participant_id=str(body["p"]),
            user_id=None if body["u"] is None else int(body["u"]),
            role=Role(body["r"]),
            name=str(body["n"]),
            guest_key=None if body["g"] is None else str(body["g"]),
            expires=int(body["e"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise YuntongError("meeting_ticket_invalid") from exc
    if ticket.expires < ctx.clock.now().timestamp():
        raise YuntongError("meeting_ticket_invalid")
    return ticket


@dataclass(frozen=True)
class PasscodeThrottles:
    """Wrong passcodes (and, per client, unknown meeting numbers); docs/operations.md."""

    pair: Throttle  # one meeting from one client: that client waits (rate_limited)
    meeting: Throttle  # one meeting from all clients: its passcode entry pauses for everyone
    client: Throttle  # one client, all meetings: that client waits (rate_limited)


def passcode_throttles(ctx: Context) -> PasscodeThrottles:
    settings = ctx.settings

    def limit(count: int) -> Limit:
        return Limit.locking(count, settings.meeting_passcode_lockout_minutes * 60)

    return PasscodeThrottles(
        pair=throttle(ctx, "meetings.passcode", limit(settings.meeting_passcode_max_failures)),
        meeting=throttle(
            ctx, "meetings.passcode_meeting", limit(settings.meeting_passcode_meeting_max_failures)
        ),
        client=throttle(
            ctx, "meetings.passcode_client", limit(settings.meeting_passcode_client_max_failures)
        ),
    )


async def link_has_ended(ctx: Context, number: str, client: str | None) -> bool:
    """Whether the join link ``/m/<number>`` leads only to an ended meeting (a number is
    reused by a new meeting once its meeting has ended: then the link leads to the new one).

    What a number held is guessable, so the page's question is throttled like a ticket
    request: a number without an open meeting counts as a miss for ``client``, and a client
    past its limit is told nothing (it sees the join form, whose request says it must wait)."""
    limits = passcode_throttles(ctx)
    key = client_key(client) if client else None
    if key is not None and await limits.client.wait(key):
        return False
    async with ctx.db.session() as s:
        if await store.open_meeting_by_number(s, number) is not None:
            return False
        if key is not None:
            await limits.client.hit(key)
        return await store.ended_meeting_by_number(s, number) is not None


def check_joinable(meeting: Meeting, now: datetime) -> None:
    if meeting.status == MeetingStatus.ENDED:
        raise YuntongError("meeting_ended")
    if meeting.kind == "scheduled" and now < meeting.start_at - EARLY_JOIN:
        raise YuntongError("meeting_not_started")


def check_may_end(role: Role, joined: bool) -> None:
    """Only the host, joined (not waiting in the lobby), ends the meeting from the room."""
    if role != Role.HOST or not joined:
        raise YuntongError("meeting_forbidden")


async def do_end_unstarted(ctx: Context, meeting_id: str) -> None:
    """The host cancels a meeting nobody has joined (a recurring one: all of it)."""
    async with ctx.db.session() as s:
        meeting = await s.get(Meeting, meeting_id, with_for_update=True)
        if meeting is None or meeting.status == MeetingStatus.ENDED:
            return
        move(meeting, MeetingStatus.ENDED)
        meeting.ended_at = ctx.clock.now()
        meeting.end_reason = "cancelled"
        meeting.sequence += 1


def _holds(ctx: Context, meeting: Meeting, fence: int | None) -> bool:
    """Whether this node still holds the meeting's owner lease under ``fence`` (None: not
    asked, as for a meeting no room runs)."""
    return fence is None or (meeting.node_id == ctx.node_id and meeting.owner_fence == fence)


async def do_mark_live(
    ctx: Context, meeting_id: str, janus_node: str, janus_room: int, fence: int
) -> None:
    """A live room was opened for the meeting on this node, under the owner lease ``fence``
    (again, if it was live already: a room reopened after its node stopped); refused with
    ``node_unreachable`` when another node has taken the lease meanwhile."""
    async with ctx.db.session() as s:
        meeting = await s.get(Meeting, meeting_id, with_for_update=True)
        if meeting is None:
            raise YuntongError("meeting_not_found")
        if not _holds(ctx, meeting, fence):
            raise YuntongError("node_unreachable", retry_after=1)
        if meeting.status != MeetingStatus.LIVE:
            move(meeting, MeetingStatus.LIVE)
            meeting.room_locked = False  # a new room starts unlocked
        else:  # taken over from a node that stopped: its open stays go on here
            await store.move_open_stays(s, meeting_id, ctx.node_id)
        meeting.janus_node = janus_node
        meeting.janus_room = janus_room
        meeting.started_at = ctx.clock.now()


async def do_mark_ended(
    ctx: Context, meeting_id: str, reason: str, fence: int | None = None
) -> bool:
    """The live room ended: the meeting has ended, or a recurring one waits for its next
    occurrence, and its owner lease is let go. A meeting that has ended already is left as it
    is; False when the room's lease ``fence`` is no longer the meeting's (another node runs
    it now: nothing is written)."""
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        meeting = await s.get(Meeting, meeting_id, with_for_update=True)
        if meeting is None or not _holds(ctx, meeting, fence):
            return False
        if meeting.status == MeetingStatus.ENDED:
            return True
        following = next_start(meeting, now)
        if following is not None:  # a recurring meeting waits for its next occurrence
            if meeting.status != MeetingStatus.SCHEDULED:
                move(meeting, MeetingStatus.SCHEDULED)
            meeting.start_at = following
        else:
            move(meeting, MeetingStatus.ENDED)
            meeting.ended_at = now
        meeting.end_reason = reason
        meeting.janus_room = None
        meeting.owner_until = None
    return True


async def do_set_room_locked(ctx: Context, meeting_id: str, locked: bool) -> None:
    """A host locked (or unlocked) the live room: kept by a node taking the meeting over."""
    async with ctx.db.session() as s:
        await store.set_room_locked(s, meeting_id, locked)


async def do_record_node(ctx: Context, meeting_id: str, janus_node: str) -> None:
    """A live meeting's media moved to another Janus node."""
    async with ctx.db.session() as s:
        await store.set_janus_node(s, meeting_id, janus_node)


async def do_reschedule_abandoned(ctx: Context, meeting_id: str) -> int:
    """A live meeting no node runs (its lease is free) waits for its participants again."""
    now = nodes.node_of(ctx).clock.now()
    async with ctx.db.session() as s:
        return await store.reschedule_live_meeting(s, meeting_id, ctx.node_id, now)


async def do_reschedule_interrupted(
    ctx: Context, *, at_start: bool = True, keep: Collection[str] = ()
) -> int:
    """Meetings a stopped node left live wait for their participants again (at start-up this
    node's previous run's, a dead node's and those without a node; in a sweep a dead node's
    only: ``cluster.nodes.recoverable``), once their owner lease has expired; not the
    meetings ``keep`` (their take-over is tried again at the next sweep)."""
    check_move(MeetingStatus.LIVE, MeetingStatus.SCHEDULED)
    async with ctx.db.session() as s:
        found = await store.live_meeting_owners(s)
    owners = await nodes.recoverable(ctx, found, at_start=at_start)
    if not owners:
        return 0
    now = nodes.node_of(ctx).clock.now()
    async with ctx.db.session() as s:
        return await store.reschedule_live_meetings(
            s, owners.nodes, owners.unowned, ctx.node_id, now, keep
        )


# --- invitations ----------------------------------------------------------------------------


async def do_invite(
    ctx: Context, host: Principal, meeting: Meeting, user_ids: list[int], emails: list[str]
) -> dict[str, int]:
    """Invite contacts (they see it at once and in their list) and e-mail addresses (.ics)."""
    check_may_invite(meeting, host.user_id)
    contacts = set(await visible_contact_ids(ctx, host.user_id))
    strangers = [uid for uid in user_ids if uid not in contacts]
    if strangers:
        raise YuntongError("validation_failed", fields={"user_ids": "not_a_contact"})
    addresses = sorted({normalise_email(e) for e in emails if e.strip()})
    if not user_ids and not addresses:  # an invitation to nobody
        raise YuntongError("validation_failed", fields={"emails": "required"})
    if not all(is_email(a) for a in addresses):
        raise YuntongError("validation_failed", fields={"emails": "invalid_email"})
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        known = {(i.user_id, i.email_index) for i in await store.invitations(s, meeting.id)}
        new_users = [u for u in dict.fromkeys(user_ids) if (u, None) not in known]
        for uid in new_users:
            s.add(MeetingInvitation(meeting_id=meeting.id, user_id=uid, created_at=now))
        for address in addresses:
            index = ctx.cipher.email_index(address)
            if (None, index) not in known:
                sealed = ctx.cipher.encrypt(address, context=_INVITEE_EMAIL)
                s.add(
                    MeetingInvitation(
                        meeting_id=meeting.id, email_enc=sealed, email_index=index, created_at=now
                    )
                )
    summary = {"id": meeting.id, "number": meeting.number, "title": meeting.title}
    for uid in new_users:
        data = {"meeting": summary, "from": host.display_name or host.username}
        await hub_of(ctx).send(uid, "meeting.invitation", data)
    mailed = 0
    if addresses and ctx.settings.smtp_host:
        mailed = await _mail_invitations(ctx, host, meeting, addresses, now)
    return {"users": len(new_users), "emails": mailed}


_INVITEE_EMAIL = store.INVITATION_PII_COLUMNS["email_enc"]
_REENCRYPT_BATCH = 200


async def count_invitation_addresses(ctx: Context) -> int:
    """Invitations holding an encrypted e-mail address: key rotation's progress total."""
    async with ctx.db.session() as s:
        return await store.count_invitations_with_email(s)


async def do_reencrypt_invitations(
    ctx: Context, on_progress: Callable[[int], None] | None = None
) -> int:
    """Re-encrypt invitees' addresses not under the active key; returns how many.

    In batches of committed transactions, so it can be interrupted and run again;
    ``on_progress(n)`` is told after each batch how many rows were looked at.
    """
    total, after = 0, 0
    while True:
        async with ctx.db.session() as s:
            rows = await store.invitations_with_email_after(s, after, _REENCRYPT_BATCH)
            for row in rows:
                total += ctx.cipher.reseal(row, store.INVITATION_PII_COLUMNS)
        if not rows:
            break
        after = rows[-1].id
        if on_progress is not None:
            on_progress(len(rows))
    if total:
        await audit.record(
            ctx,
            None,
            "keys.reencrypted",
            None,
            count=total,
            key=ctx.cipher.active,
            table="meeting_invitations",
        )
    return total


async def _mail_invitations(
    ctx: Context, host: Principal, meeting: Meeting, addresses: list[str], now: datetime
) -> int:
    """E-mail the invitation to each address in a message of its own; how many were sent.

    All messages are built before the first is sent. The first failure stops the rest and
    raises ``mail_failed``; sending again is safe, as the calendar entry's UID and SEQUENCE
    are the same, so calendars update the entry they already have.
    """
    info = InviteInfo(
        meeting_id=meeting.id,
        number=meeting.number,
        passcode=meeting.passcode,
        title=meeting.title,
        start_at=meeting.start_at,
        duration_min=meeting.duration_min,
        time_zone=meeting.time_zone,
        recurrence=meeting.recurrence,
        recurrence_count=meeting.recurrence_count,
        join_url=join_url(ctx, meeting),
        host_name=host.display_name or host.username,
        sequence=meeting.sequence,
    )
    mailer: Mailer = Mailer.from_settings(ctx.settings)
    # the ORGANIZER is the From address: clients may distrust a request its organizer did not send
    organizer = parseaddr(mailer.sender)[1]
    messages = [
        invitation_message(info, to=a, locale=host.locale, organizer_email=organizer, now=now)
        for a in addresses
    ]
    mailed = 0
    for message in messages:
        try:
            if await mailer.send(message):
                mailed += 1
        except MailError as exc:
            reason = f"{exc.reason} ({mailed} of {len(messages)} sent)"
            raise YuntongError("mail_failed", reason=reason) from exc
    return mailed
