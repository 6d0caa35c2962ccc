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


async def reschedule_live_meetings(s: AsyncSession, nodes: Collection[str], unowned: bool) -> int:
    """Meetings left live by the processes of ``nodes`` wait for their participants again."""
    done = await s.execute(
        update(Meeting)
        .where(Meeting.status == MeetingStatus.LIVE, _owned(Meeting.node_id, nodes, unowned))
        .values(status=MeetingStatus.SCHEDULED, janus_room=None)
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


async def open_stay_owners(s: AsyncSession) -> set[str | None]:
    """The nodes with open stays (None: stays from before node ids)."""
    found = await s.execute(select(MeetingAttendance.node_id).where(*_open_stay()).distinct())
    return set(found.scalars())


async def open_stays(
    s: AsyncSession, nodes: Collection[str], unowned: bool
) -> list[tuple[MeetingAttendance, int]]:
    """The stays of ``nodes`` joined and not left, with their meeting's host (who pays)."""
    found = await s.execute(
        select(MeetingAttendance, Meeting.host_id)
        .join(Meeting, Meeting.id == MeetingAttendance.meeting_id)
        .where(*_open_stay(), _owned(MeetingAttendance.node_id, nodes, unowned))
    )
    return [(row, host_id) for row, host_id in found.all()]


async def close_stay_at_checkpoint(s: AsyncSession, row: MeetingAttendance, reason: str) -> None:
    """An open stay ends where its last checkpoint left it."""
    assert row.joined_at is not None
    await s.execute(
        update(MeetingAttendance)
        .where(MeetingAttendance.id == row.id, MeetingAttendance.left_at.is_(None))
        .values(left_at=row.joined_at + timedelta(seconds=row.seconds), leave_reason=reason)
    )
