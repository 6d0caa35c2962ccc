"""SIP credentials of numbers, and the records of calls through the SIP edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class SipCredential(Base):
    """The digest credentials a number's SIP phones register with (RFC 8760/2617 MD5 HA1).

    The password is shown once; what is kept is HA1 = MD5(username:realm:password),
    encrypted at rest: it is what the registrar needs, and it opens this realm only."""

    __tablename__ = "sip_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("phone_numbers.id"), unique=True)
    username: Mapped[str] = mapped_column(String(20), unique=True)  # E.164 digits, no '+'
    realm: Mapped[str] = mapped_column(String(120))
    ha1_enc: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # who it was issued for
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SipCall(Base):
    """One call through the SIP edge (a phone's, or a carrier trunk's), from the first INVITE
    to its end: who, where it went (hops of forwarding), the final SIP response and what it
    counts as (RFC 6076), its post-dial delay and its billable time."""

    __tablename__ = "sip_calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sip_call_id: Mapped[str] = mapped_column(String(200), unique=True)
    direction: Mapped[str] = mapped_column(String(10))  # internal | outbound | inbound
    source: Mapped[str] = mapped_column(String(40))  # phone | trunk:<code>
    trunk: Mapped[str | None] = mapped_column(String(40))  # the trunk it went out or came in by
    caller_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    callee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("billing_accounts.id"))
    calling_number: Mapped[str | None] = mapped_column(String(20))
    called_number: Mapped[str | None] = mapped_column(String(20))
    withheld: Mapped[bool] = mapped_column(default=False)
    # the route so far: users visited, hops of forwarding, the busy marks held
    route: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12))  # routing | answered | ended | refused
    outcome: Mapped[str | None] = mapped_column(String(16))
    final_code: Mapped[int | None] = mapped_column(Integer)
    cause: Mapped[int | None] = mapped_column(Integer)
    pdd_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    billable_seconds: Mapped[int] = mapped_column(Integer, default=0)
    node_id: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_sip_calls_created", "created_at"),
        Index("ix_sip_calls_caller_created", "caller_user_id", "created_at"),
        Index("ix_sip_calls_callee_created", "callee_user_id", "created_at"),
        Index("ix_sip_calls_open", "ended_at"),
    )
