"""Queries of the meetings tables."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from yuntong.meetings.models import (
    Meeting,
    MeetingAttendance,
    MeetingChatMessage,
    MeetingInvitation,
    MeetingRecording,
    MeetingStatus,
)

# Encrypted columns of invitations and the AES-GCM associated data each is bound to.
INVITATION_PII_COLUMNS: dict[str, str] = {"email_enc": "meeting_invitation:email"}


async def open_meeting_by_number(s: AsyncSession, number: str) -> Meeting | None:
    """The meeting with this number that has not ended (numbers are unique among those)."""
    found = await s.scalars(
        select(Meeting)
        .where(Meeting.number == number, Meeting.status != MeetingStatus.ENDED)
        .order_by(Meeting.created_at.desc())
        .limit(1)
    )
    return found.first()


async def ended_meeting_by_number(s: AsyncSession, number: str) -> Meeting | None:
    """The latest ended meeting that had this number (its link now says it has ended)."""
    found = await s.scalars(
        select(Meeting)
        .where(Meeting.number == number, Meeting.status == MeetingStatus.ENDED)
        .order_by(Meeting.created_at.desc())
        .limit(1)
    )
    return found.first()


async def number_in_use(s: AsyncSession, number: str) -> bool:
    return await open_meeting_by_number(s, number) is not None


async def meetings_of(
    s: AsyncSession, user_id: int, *, past: bool, now: datetime, limit: int = 200
) -> Sequence[Meeting]:
    """Meetings the user hosts or is invited to; past = ended, else not ended."""
    invited = select(MeetingInvitation.meeting_id).where(MeetingInvitation.user_id == user_id)
    query = select(Meeting).where(or_(Meeting.host_id == user_id, Meeting.id.in_(invited)))
    if past:
        query = query.where(Meeting.status == MeetingStatus.ENDED).order_by(Meeting.start_at.desc())
    else:
        query = query.where(Meeting.status != MeetingStatus.ENDED).order_by(Meeting.start_at)
    return (await s.scalars(query.limit(limit))).all()


async def is_invited(s: AsyncSession, meeting_id: str, user_id: int) -> bool:
    found = await s.scalar(
        select(MeetingInvitation.id).where(
            MeetingInvitation.meeting_id == meeting_id, MeetingInvitation.user_id == user_id
        )
    )
    return found is not None


async def was_removed(
    s: AsyncSession, meeting_id: str, user_id: int | None, guest_key: str | None
) -> bool:
    keys = []
    if user_id is not None:
        keys.append(MeetingAttendance.user_id == user_id)
    if guest_key:
        keys.append(MeetingAttendance.guest_key == guest_key)
    if not keys:
        return False
    found = await s.scalar(
        select(MeetingAttendance.id).where(
            MeetingAttendance.meeting_id == meeting_id,
            MeetingAttendance.removed.is_(True),
            or_(*keys),
        )
    )
    return found is not None


async def removed_of(s: AsyncSession, meeting_id: str) -> list[tuple[int | None, str | None]]:
    """Who was removed from a meeting (user id, guest key): a room opened for it again keeps
    them out, as new tickets do (:func:`was_removed`)."""
    rows = await s.execute(
        select(MeetingAttendance.user_id, MeetingAttendance.guest_key).where(
            MeetingAttendance.meeting_id == meeting_id, MeetingAttendance.removed.is_(True)
        )
    )
    return [(user_id, guest_key) for user_id, guest_key in rows]


async def removed_from(s: AsyncSession, meeting_ids: Sequence[str], user_id: int) -> set[str]:
    """Which of ``meeting_ids`` the signed-in ``user_id`` was removed from (one query)."""
    if not meeting_ids:
        return set()
    rows = await s.scalars(
        select(MeetingAttendance.meeting_id)
        .where(
            MeetingAttendance.meeting_id.in_(meeting_ids),
            MeetingAttendance.user_id == user_id,
            MeetingAttendance.removed.is_(True),
        )
        .distinct()
    )
    return set(rows)


async def attendance(s: AsyncSession, meeting_id: str) -> Sequence[MeetingAttendance]:
    return (
        await s.scalars(
            select(MeetingAttendance)
            .where(MeetingAttendance.meeting_id == meeting_id)
            .order_by(MeetingAttendance.joined_at, MeetingAttendance.id)
        )
    ).all()


async def chat(s: AsyncSession, meeting_id: str) -> Sequence[MeetingChatMessage]:
    return (
        await s.scalars(
            select(MeetingChatMessage)
            .where(MeetingChatMessage.meeting_id == meeting_id)
            .order_by(MeetingChatMessage.at, MeetingChatMessage.id)
        )
    ).all()


async def recordings(s: AsyncSession, meeting_id: str) -> Sequence[MeetingRecording]:
    return (
        await s.scalars(
            select(MeetingRecording)
            .where(MeetingRecording.meeting_id == meeting_id)
            .order_by(MeetingRecording.started_at)
        )
    ).all()


async def invitations(s: AsyncSession, meeting_id: str) -> Sequence[MeetingInvitation]:
    return (
        await s.scalars(
            select(MeetingInvitation)
            .where(MeetingInvitation.meeting_id == meeting_id)
            .order_by(MeetingInvitation.id)
        )
    ).all()


async def invitations_with_email_after(
    s: AsyncSession, after_id: int, limit: int
) -> Sequence[MeetingInvitation]:
    """Invitations by e-mail address in id order, for key rotation."""
    query = select(MeetingInvitation).where(
        MeetingInvitation.id > after_id, MeetingInvitation.email_enc.is_not(None)
    )
    return (await s.scalars(query.order_by(MeetingInvitation.id).limit(limit))).all()


async def count_invitations_with_email(s: AsyncSession) -> int:
    query = select(func.count()).where(MeetingInvitation.email_enc.is_not(None))
    return int((await s.execute(query)).scalar_one())


async def set_janus_node(s: AsyncSession, meeting_id: str, node: str) -> None:
    """The Janus node a live meeting has moved to."""
    await s.execute(update(Meeting).where(Meeting.id == meeting_id).values(janus_node=node))


async def set_room_locked(s: AsyncSession, meeting_id: str, locked: bool) -> None:
    await s.execute(update(Meeting).where(Meeting.id == meeting_id).values(room_locked=locked))


def _owned(column: Mapped[str | None], nodes: Collection[str], unowned: bool) -> Any:
    """Rows of ``nodes`` (and, if ``unowned``, rows without a node)."""
    owned = column.in_(list(nodes))
    return or_(owned, column.is_(None)) if unowned else owned


async def live_meeting_owners(s: AsyncSession) -> set[str | None]:
    """The nodes running live meetings (None: meetings live from before node ids)."""
    found = await s.execute(
        select(Meeting.node_id).where(Meeting.status == MeetingStatus.LIVE).distinct()
    )
    return set(found.scalars())


async def reschedule_live_meetings(
    s: AsyncSession,
    nodes: Collection[str],
    unowned: bool,
    me: str,
    now: datetime,
    keep: Collection[str] = (),
) -> int:
    """Meetings left live by the processes of ``nodes`` wait for their participants again
    (once their owner lease is free for ``me``), other than the meetings ``keep``."""
    done = await s.execute(
        update(Meeting)
        .where(
            Meeting.status == MeetingStatus.LIVE,
            _owned(Meeting.node_id, nodes, unowned),
            _lease_free(me, now),
            Meeting.id.not_in(list(keep)),
        )
        .values(status=MeetingStatus.SCHEDULED, janus_room=None, owner_until=None)
    )
    return int(getattr(done, "rowcount", 0) or 0)


async def reschedule_live_meeting(s: AsyncSession, meeting_id: str, me: str, now: datetime) -> int:
    """One live meeting whose lease is free for ``me`` waits for its participants again."""
    done = await s.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, Meeting.status == MeetingStatus.LIVE, _lease_free(me, now))
        .values(status=MeetingStatus.SCHEDULED, janus_room=None, owner_until=None)
    )
    return int(getattr(done, "rowcount", 0) or 0)


def add_chat_message(
    s: AsyncSession,
    *,
    meeting_id: str,
    sender_id: str,
    sender_name: str,
    recipient_id: str | None,
    text: str,
    at: datetime,
) -> MeetingChatMessage:
    row = MeetingChatMessage(
        meeting_id=meeting_id,
        sender_id=sender_id,
        sender_name=sender_name,
        recipient_id=recipient_id,
        text=text,
        at=at,
    )
    s.add(row)
    return row


async def checkpoint_stay(s: AsyncSession, participant_id: str, seconds: int, media: str) -> None:
    """An open stay's seconds so far (billed up to here if the process dies)."""
    await s.execute(
        update(MeetingAttendance)
        .where(MeetingAttendance.id == participant_id, MeetingAttendance.left_at.is_(None))
        .values(seconds=seconds, media=media)
    )


def _open_stay() -> tuple[Any, Any]:
    return MeetingAttendance.joined_at.is_not(None), MeetingAttendance.left_at.is_(None)


async def open_stays_by_meeting(s: AsyncSession, meeting_ids: Sequence[str]) -> dict[str, int]:
    """How many stays are open (joined, not left) in each of these meetings."""
    found = await s.execute(
        select(MeetingAttendance.meeting_id, func.count())
        .where(MeetingAttendance.meeting_id.in_(list(meeting_ids)), *_open_stay())
        .group_by(MeetingAttendance.meeting_id)
    )
    return {str(meeting_id): int(count) for meeting_id, count in found.all()}


async def open_stay_owners(s: AsyncSession) -> set[str | None]:
    """The nodes with open stays (None: stays from before node ids)."""
    found = await s.execute(select(MeetingAttendance.node_id).where(*_open_stay()).distinct())
    return set(found.scalars())


async def open_stays(
    s: AsyncSession,
    nodes: Collection[str],
    unowned: bool,
    me: str,
    now: datetime,
    keep: Collection[str] = (),
) -> list[tuple[MeetingAttendance, int]]:
    """The stays of ``nodes`` joined and not left, with their meeting's host (who pays), of
    meetings whose owner lease is free for ``me`` (a live meeting's stays wait while its
    lease runs: the node taking it over continues them), other than the meetings ``keep``
    (a take-over to be tried again)."""
    found = await s.execute(
        select(MeetingAttendance, Meeting.host_id)
        .join(Meeting, Meeting.id == MeetingAttendance.meeting_id)
        .where(
            *_open_stay(),
            _owned(MeetingAttendance.node_id, nodes, unowned),
            _lease_free(me, now),
            Meeting.id.not_in(list(keep)),
        )
    )
    return [(row, host_id) for row, host_id in found.all()]


async def close_stay_at_checkpoint(s: AsyncSession, row: MeetingAttendance, reason: str) -> None:
    """An open stay ends where its last checkpoint left it."""
    assert row.joined_at is not None
    await s.execute(
        update(MeetingAttendance)
        .where(MeetingAttendance.id == row.id, MeetingAttendance.left_at.is_(None))
        .values(
            left_at=row.joined_at + timedelta(seconds=row.seconds),
            leave_reason=reason,
            billed_s=max(row.billed_s, row.seconds),
        )
    )


# --- the owner lease of a live meeting (meetings/live/lease.py) ------------------------------


def _lease_free(me: str, now: datetime) -> Any:
    """A meeting's lease is free for ``me``: nobody's, expired, or ``me``'s (a previous run)."""
    return or_(Meeting.owner_until.is_(None), Meeting.owner_until <= now, Meeting.node_id == me)


async def take_owner_lease(
    s: AsyncSession, meeting_id: str, me: str, now: datetime, until: datetime
) -> int | None:
    """Take the lease of a meeting not ended if it is free for ``me``: its new fence, or None
    (another node holds it, or the meeting has ended)."""
    taken = await s.execute(
        update(Meeting)
        .where(
            Meeting.id == meeting_id,
            Meeting.status != MeetingStatus.ENDED,
            _lease_free(me, now),
        )
        .values(node_id=me, owner_fence=Meeting.owner_fence + 1, owner_until=until)
    )
    if not getattr(taken, "rowcount", 0):
        return None
    fence = await s.scalar(select(Meeting.owner_fence).where(Meeting.id == meeting_id))
    return None if fence is None else int(fence)


async def move_open_stays(s: AsyncSession, meeting_id: str, me: str) -> None:
    """A meeting taken over: its open stays are ``me``'s to continue (and to recover)."""
    await s.execute(
        update(MeetingAttendance)
        .where(MeetingAttendance.meeting_id == meeting_id, MeetingAttendance.left_at.is_(None))
        .values(node_id=me)
    )


async def stays_to_take_over(s: AsyncSession, meeting_id: str) -> list[MeetingAttendance]:
    """A live meeting's stays a room taking it over needs: those open (in the room or its
    lobby) and those removed (kept out)."""
    found = await s.execute(
        select(MeetingAttendance).where(
            MeetingAttendance.meeting_id == meeting_id,
            or_(
                MeetingAttendance.removed.is_(True),
                MeetingAttendance.left_at.is_(None)
                & or_(
                    MeetingAttendance.joined_at.is_not(None),
                    MeetingAttendance.waited_at.is_not(None),
                ),
            ),
        )
    )
    return list(found.scalars())


def _held(meeting_id: str, me: str, fence: int) -> tuple[Any, ...]:
    return Meeting.id == meeting_id, Meeting.node_id == me, Meeting.owner_fence == fence


async def renew_owner_lease(
    s: AsyncSession, meeting_id: str, me: str, fence: int, until: datetime
) -> bool:
    """Extend ``me``'s lease; False when another node has taken it since (fenced out), or it
    was let go meanwhile (the room ended: a renewal under way must not take it back)."""
    renewed = await s.execute(
        update(Meeting)
        .where(*_held(meeting_id, me, fence), Meeting.owner_until.is_not(None))
        .values(owner_until=until)
    )
    return bool(getattr(renewed, "rowcount", 0))


async def release_owner_lease(s: AsyncSession, meeting_id: str, me: str, fence: int) -> None:
    await s.execute(update(Meeting).where(*_held(meeting_id, me, fence)).values(owner_until=None))


async def meetings_to_take_over(
    s: AsyncSession, me: str, now: datetime
) -> list[tuple[str, str, datetime | None]]:
    """Live meetings of other nodes whose owner lease is free and that someone is still in
    (an open stay): (meeting id, the node that ran it, when its lease ran out)."""
    found = await s.execute(
        select(Meeting.id, Meeting.node_id, Meeting.owner_until)
        .join(MeetingAttendance, MeetingAttendance.meeting_id == Meeting.id)
        .where(
            Meeting.status == MeetingStatus.LIVE,
            Meeting.node_id.is_not(None),
            Meeting.node_id != me,
            _lease_free(me, now),
            *_open_stay(),
        )
        .distinct()
    )
    return [(str(meeting_id), str(node), until) for meeting_id, node, until in found.all()]


async def lease_held(s: AsyncSession, meeting_id: str, me: str, fence: int) -> bool:
    """Whether ``me`` still holds the meeting's lease under ``fence`` (nobody took it since);
    the row is share-locked until the transaction ends, so that a take-over waits for the
    writes this guards (and they see it once it is committed)."""
    found = await s.scalar(
        select(Meeting.id).where(*_held(meeting_id, me, fence)).with_for_update(read=True)
    )
    return found is not None


async def lease_of(s: AsyncSession, meeting_id: str) -> tuple[str | None, datetime | None]:
    """Who holds (or held) the meeting's lease, and until when (None: not held)."""
    found = (
        await s.execute(
            select(Meeting.node_id, Meeting.owner_until).where(
                Meeting.id == meeting_id, Meeting.status != MeetingStatus.ENDED
            )
        )
    ).first()
    return (None, None) if found is None else (found[0], found[1])


async def owners_of(
    s: AsyncSession, meeting_ids: Collection[str], now: datetime
) -> dict[str, str | None]:
    """:func:`owner_of` for several meetings at once (None: nobody holds it now)."""
    found = await s.execute(
        select(Meeting.id, Meeting.node_id).where(
            Meeting.id.in_(list(meeting_ids)),
            Meeting.status != MeetingStatus.ENDED,
            Meeting.owner_until > now,
        )
    )
    owners: dict[str, str | None] = dict.fromkeys(meeting_ids)
    owners.update({str(meeting_id): node for meeting_id, node in found.all()})
    return owners


async def recording_under_way(s: AsyncSession, meeting_id: str) -> MeetingRecording | None:
    """The meeting's recording still marked as recording (its room stopped without ending it)."""
    found = await s.scalars(
        select(MeetingRecording)
        .where(MeetingRecording.meeting_id == meeting_id, MeetingRecording.status == "recording")
        .order_by(MeetingRecording.started_at.desc())
    )
    return found.first()


async def owner_of(s: AsyncSession, meeting_id: str, now: datetime) -> str | None:
    """The node holding the meeting's unexpired lease, if any."""
    found = await s.scalar(
        select(Meeting.node_id).where(
            Meeting.id == meeting_id,
            Meeting.status != MeetingStatus.ENDED,
            Meeting.owner_until > now,
        )
    )
    return None if found is None else str(found)


async def claim_abandoned_recordings(s: AsyncSession, now: datetime) -> list[str]:
    """Recordings still marked as recording of meetings no room runs (not live: the node that
    ran it stopped or died, and the meeting was not taken over), claimed for conversion (each
    by one node: the conditional update)."""
    found = await s.scalars(
        select(MeetingRecording.id)
        .join(Meeting, Meeting.id == MeetingRecording.meeting_id)
        .where(MeetingRecording.status == "recording", Meeting.status != MeetingStatus.LIVE)
    )
    claimed = []
    for recording_id in found.all():
        done = await s.execute(
            update(MeetingRecording)
            .where(MeetingRecording.id == recording_id, MeetingRecording.status == "recording")
            .values(status="processing", stopped_at=now)
        )
        if getattr(done, "rowcount", 0):
            claimed.append(str(recording_id))
    return claimed
