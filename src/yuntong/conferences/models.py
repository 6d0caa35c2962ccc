"""Conference calls (issue 17, CP 1.3): a conference with its dial-in number and PIN, and its
legs (each browser, phone or outside caller in it, with the times billing reads)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class ConferenceState(StrEnum):
    OPEN = "open"  # callers may join (the bridge opens with its first leg)
    ENDED = "ended"  # ended by a moderator: nobody joins again


class LegKind(StrEnum):
    BROWSER = "browser"  # WebRTC (Opus) from the conference page
    PHONE = "phone"  # a Yuntong number's SIP phone dialling in
    OUTSIDE = "outside"  # a caller from the public network (a carrier trunk)


class Conference(Base):
    """An audio conference: its organiser, its dial-in (one of the organiser's numbers, or an
    operator conference number) and PIN (a keyed hash: a PIN has few digits), its lock."""

    __tablename__ = "conferences"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(120))
    dial_in: Mapped[str] = mapped_column(String(20))  # E.164
    pin_hash: Mapped[str] = mapped_column(String(64))
    locked: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(10), default=ConferenceState.OPEN)
    janus_node: Mapped[str | None] = mapped_column(String(100))  # where its bridge runs
    janus_room: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_conferences_dial_in_state", "dial_in", "state"),
        Index("ix_conferences_organiser_created", "organiser_id", "created_at"),
    )


class ConferenceLeg(Base):
    """One participant's time in a conference: a browser, a phone or an outside caller.

    ``payer_id`` is who is charged for its minutes as for a call of that length (billing's
    usage record ``conference_leg``): the participant's own Yuntong account for their browser
    or phone, nobody for an outside caller or a guest (their carrier, or no one, bills them)."""

    __tablename__ = "conference_legs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conference_id: Mapped[str] = mapped_column(ForeignKey("conferences.id"))
    kind: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    display: Mapped[str] = mapped_column(String(80))
    number: Mapped[str | None] = mapped_column(String(20))  # the caller's number, E.164
    sip_call_id: Mapped[str | None] = mapped_column(String(200))
    janus_participant: Mapped[int] = mapped_column(BigInteger)  # its id in the AudioBridge
    moderator: Mapped[bool] = mapped_column(default=False)
    muted: Mapped[bool] = mapped_column(default=False)
    removed: Mapped[bool] = mapped_column(default=False)
    connected: Mapped[bool] = mapped_column(default=True)  # False: dialled out, ringing
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    billable_seconds: Mapped[int] = mapped_column(Integer, default=0)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    node_id: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_conference_legs_conference", "conference_id", "joined_at"),
        Index("ix_conference_legs_sip_call", "sip_call_id"),
    )
