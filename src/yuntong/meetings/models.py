"""Meetings: the meeting itself, who attended, what was said in chat, what was recorded."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # not started yet
    LIVE = "live"  # someone has joined and it has not ended
    ENDED = "ended"


class Role(enum.StrEnum):
    HOST = "host"
    COHOST = "cohost"
    PARTICIPANT = "participant"
    GUEST = "guest"


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str] = mapped_column(String(12))
    passcode: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(12))  # instant | scheduled
    status: Mapped[str] = mapped_column(String(12))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_min: Mapped[int] = mapped_column(Integer)
    time_zone: Mapped[str] = mapped_column(String(64))
    recurrence: Mapped[str | None] = mapped_column(String(16))
    recurrence_count: Mapped[int | None] = mapped_column(Integer)
    settings: Mapped[dict[str, object]] = mapped_column(JSON)
    janus_node: Mapped[str | None] = mapped_column(String(64))
    janus_room: Mapped[int | None] = mapped_column(BigInteger)
    # the node that runs (ran) the live room (migration 0010): recovery reschedules only the
    # live meetings of its own previous run or of dead nodes (yuntong.cluster)
    node_id: Mapped[str | None] = mapped_column(String(100))
    # node_id is a lease while the meeting is live (migration 0011, meetings/live/lease.py):
    # held until owner_until, bumped fence at every take; a room is opened only under it
    owner_fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    owner_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    room_locked: Mapped[bool] = mapped_column(default=False, server_default=false())
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # bumped on each change (.ics)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_meetings_host_start", "host_id", "start_at"),
        Index("ix_meetings_number_status", "number", "status"),
    )


class MeetingInvitation(Base):
    __tablename__ = "meeting_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # an invitee's e-mail address is personal data: encrypted (store.INVITATION_PII_COLUMNS),
    # with a blind index (PiiCipher.email_index) to tell who is invited already
    email_enc: Mapped[str | None] = mapped_column(Text)
    email_index: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MeetingAttendance(Base):
    """One participant's stay in a meeting, from the first join (or lobby) to leaving."""

    __tablename__ = "meeting_attendance"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the participant id
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    guest_key: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(12))
    waited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leave_reason: Mapped[str | None] = mapped_column(String(24))
    seconds: Mapped[int] = mapped_column(Integer, default=0)
    media: Mapped[str] = mapped_column(String(8), default="audio")  # video once it sent video
    removed: Mapped[bool] = mapped_column(default=False)
    loss_pct: Mapped[float | None] = mapped_column(Float)
    jitter_ms: Mapped[float | None] = mapped_column(Float)
    quality_samples: Mapped[int] = mapped_column(Integer, default=0)
    # the node whose live room wrote the stay (migration 0010): recovery closes only the open
    # stays of its own previous run or of dead nodes
    node_id: Mapped[str | None] = mapped_column(String(100))
    # the host's mutes (migration 0011): kept by a node taking the live meeting over
    muted_audio: Mapped[bool] = mapped_column(default=False, server_default=false())
    muted_video: Mapped[bool] = mapped_column(default=False, server_default=false())
    ask_to_unmute: Mapped[bool] = mapped_column(default=False, server_default=false())
    # a raised hand, and let in from the lobby but not joined yet (migration 0013): kept by a
    # node taking the live meeting over
    hand: Mapped[bool] = mapped_column(default=False, server_default=false())
    admitted: Mapped[bool] = mapped_column(default=False, server_default=false())
    # the stay's seconds billed so far (migration 0013): a stay reopened when its participant
    # came back after its room stopped is billed again only for what came after
    billed_s: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class MeetingChatMessage(Base):
    __tablename__ = "meeting_chat"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id"))
    sender_id: Mapped[str] = mapped_column(String(32))  # participant id
    sender_name: Mapped[str] = mapped_column(String(64))
    recipient_id: Mapped[str | None] = mapped_column(String(32))  # None: everyone
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_meeting_chat_meeting_at", "meeting_id", "at"),)


class MeetingRecording(Base):
    __tablename__ = "meeting_recordings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))  # recording | processing | ready | failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    directory: Mapped[str] = mapped_column(String(400))
    files: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(String(200))
