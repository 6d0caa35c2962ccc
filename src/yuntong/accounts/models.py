"""Account tables: organisations, users, login sessions and the audit trail."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class Role(enum.StrEnum):
    SUBSCRIBER = "subscriber"
    ORG_ADMIN = "org_admin"
    SUPPORT_AGENT = "support_agent"
    OPERATOR_ADMIN = "operator_admin"


class AccountStatus(enum.StrEnum):
    PENDING = "pending"
    REJECTED = "rejected"
    ACTIVE = "active"
    WARNED = "warned"
    LIMITED = "limited"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    uscc_index: Mapped[str] = mapped_column(String(64), unique=True)
    uscc_enc: Mapped[str] = mapped_column(Text)
    legal_representative_enc: Mapped[str] = mapped_column(Text)
    contact_name_enc: Mapped[str] = mapped_column(Text)
    contact_phone_enc: Mapped[str] = mapped_column(Text)
    address_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    # the e-mail address, normalised (core.crypto.normalise_email), encrypted; found and kept
    # unique through its blind index
    email_enc: Mapped[str | None] = mapped_column(Text)
    email_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default=Role.SUBSCRIBER)
    status: Mapped[str] = mapped_column(String(20), default=AccountStatus.PENDING)
    status_reason: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    # identity (encrypted, AES-GCM); see core.crypto
    full_name_enc: Mapped[str] = mapped_column(Text)
    birth_date_enc: Mapped[str | None] = mapped_column(Text)
    address_enc: Mapped[str | None] = mapped_column(Text)
    id_type: Mapped[str | None] = mapped_column(String(20))
    id_number_enc: Mapped[str | None] = mapped_column(Text)
    employer_enc: Mapped[str | None] = mapped_column(Text)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dnd: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (Index("ix_users_status", "status"),)


class LoginSession(Base):
    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "web" (cookie) or "api" (bearer)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Append-only: who did what to whom, and why."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the tamper-evident chain (migration 0024, accounts/audit_chain.py): the order the event
    # was sealed in, and the HMAC over it and the previous event's MAC (None: not sealed yet)
    chain_seq: Mapped[int | None] = mapped_column(Integer)
    chain_mac: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_events_chain_seq", "chain_seq", unique=True),)
