"""Terminal tables: video-phone terminals delivered to customers and their warranty claims."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class Device(Base):
    """A video-phone terminal delivered to a customer (VP 4)."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    model: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    delivered_on: Mapped[date] = mapped_column(Date)
    opened_by_other: Mapped[bool] = mapped_column(Boolean, default=False)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeviceClaim(Base):
    """A warranty claim and what was done: repair, replacement or refusal with the reason."""

    __tablename__ = "device_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    claimed_on: Mapped[date] = mapped_column(Date)
    fault: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(12))  # repaired | replaced | refused | open
    refusal_reason: Mapped[str | None] = mapped_column(String(32))
    parts_returned: Mapped[list[str]] = mapped_column(JSON, default=list)  # owned by the operator
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
