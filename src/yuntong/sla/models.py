"""SLA tables: operator incidents whose accounts are credited (table names keep their
billing_ prefix: migrations do not change), and the days whose completion rate fell below the
contract."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class Incident(Base):
    """A service interruption caused by the operator (CP 3.3, VP 13)."""

    __tablename__ = "billing_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    product_codes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CompletionAlert(Base):
    """A business day whose network effectiveness ratio fell below the contract (CP 2.1): one
    row per day, however often the day is checked again."""

    __tablename__ = "completion_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    attempts: Mapped[int] = mapped_column(Integer)
    effective: Mapped[int] = mapped_column(Integer)  # answered and user outcomes
    contracted_bp: Mapped[int] = mapped_column(Integer)  # the contract's NER then, 9800 = 98 %
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
