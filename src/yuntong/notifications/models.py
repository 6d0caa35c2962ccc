"""Notification tables: customer notices (the table keeps its billing_ prefix: migrations do
not change)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class Notice(Base):
    """A billing notice to an account: shown in the app, and e-mailed once."""

    __tablename__ = "billing_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    # failed e-mail attempts (migration 0006): retried until sent, and reported meanwhile
    email_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    email_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_error: Mapped[str | None] = mapped_column(String(64))  # a code, never an address
