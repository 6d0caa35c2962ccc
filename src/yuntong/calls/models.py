"""Call detail records: one row for every call attempt, plus quality reports."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class CallState(enum.StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    CONNECTED = "connected"
    ENDED = "ended"


class CallOutcome(enum.StrEnum):
    ANSWERED = "answered"
    REJECTED = "rejected"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CANCELED = "canceled"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class CallRecord(Base):
    __tablename__ = "call_records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    caller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    callee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    media: Mapped[str] = mapped_column(String(8))  # audio | video
    state: Mapped[str] = mapped_column(String(12))
    outcome: Mapped[str | None] = mapped_column(String(16))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    hung_up_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    caller_device: Mapped[str] = mapped_column(String(64), default="")
    callee_device: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the last checkpoint of a live answered call (migration 0008): a call cut by a crash is
    # billed up to here, never for the time the server was down
    alive_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the node that runs (ran) the call (migration 0010): recovery closes only the open records
    # of its own previous run or of dead nodes (yuntong.cluster)
    node_id: Mapped[str | None] = mapped_column(String(100))
    # prepaid: the longest the call may last (migration 0012; None: unlimited), so that the node
    # taking over a dead node's call keeps its credit cut-off
    max_seconds: Mapped[int | None] = mapped_column(Integer)
    # calls by number (migration 0015, CP 1.3): the numbers in E.164 (None: a call by username),
    # and the Q.850 cause of its ending (yuntong.calls.causes)
    calling_number: Mapped[str | None] = mapped_column(String(20))
    called_number: Mapped[str | None] = mapped_column(String(20))
    cause: Mapped[int | None] = mapped_column(Integer)
    # a forwarded leg (migration 0019, yuntong.supplementary.forwarding): the leg it continues,
    # and the forwarding that made it (cfu | cfb | cfnry | cfnrc); its caller is the forwarder
    parent_call_id: Mapped[str | None] = mapped_column(String(32))
    forwarding: Mapped[str | None] = mapped_column(String(8))
    billable_seconds: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    rtt_ms: Mapped[float | None] = mapped_column(Float)
    jitter_ms: Mapped[float | None] = mapped_column(Float)
    loss_pct: Mapped[float | None] = mapped_column(Float)
    bitrate_kbps: Mapped[float | None] = mapped_column(Float)
    mos: Mapped[float | None] = mapped_column(Float)
    callee_seen: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index("ix_call_records_caller_created", "caller_id", "created_at"),
        Index("ix_call_records_callee_created", "callee_id", "created_at"),
        Index("ix_call_records_open", "ended_at"),
        Index("ix_call_records_called_number", "called_number", "created_at"),
        Index("ix_call_records_calling_number", "calling_number", "created_at"),
        # the completion rate of a range of days, every customer at once (migration 0018)
        Index("ix_call_records_created", "created_at"),
        Index("ix_call_records_parent", "parent_call_id"),
    )


class CallQualityReport(Base):
    """What a client measured (getStats) during or at the end of a call."""

    __tablename__ = "call_quality_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("call_records.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    final: Mapped[bool] = mapped_column(default=False)
    rtt_ms: Mapped[float | None] = mapped_column(Float)
    jitter_ms: Mapped[float | None] = mapped_column(Float)
    loss_pct: Mapped[float | None] = mapped_column(Float)
    bitrate_kbps: Mapped[float | None] = mapped_column(Float)
    frames_decoded: Mapped[int | None] = mapped_column(Integer)
    audio_bytes_received: Mapped[int | None] = mapped_column(Integer)


class CallHold(Base):
    """One hold of a call (migration 0027): who held it, from when to when (``ended_at`` None:
    held now). The open rows are the call's hold state, shared by every node: the node that
    takes a call over from a dead one reads who holds it from here (``engine.do_adopt``)."""

    __tablename__ = "call_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("call_records.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
