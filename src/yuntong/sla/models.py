"""SLA tables: operator incidents whose accounts are credited (table names keep their
billing_ prefix: migrations do not change), and the days whose completion rate fell below the
contract."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
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


class CompletionCount(Base):
    """The ended attempts of one business day, counted by customer, calling number, whether
    answered and cause (CP 2.1); written by the daily run, so that a report over finished days
    reads these rows instead of every call record."""

    __tablename__ = "completion_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    account_id: Mapped[int] = mapped_column(Integer)  # the caller's billing account; 0: none
    number: Mapped[str] = mapped_column(String(20))  # the calling number; "": by username
    answered: Mapped[bool] = mapped_column(Boolean)
    cause: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("day", "account_id", "number", "answered", "cause"),
        Index("ix_completion_counts_account_day", "account_id", "day"),
        Index("ix_completion_counts_number_day", "number", "day"),
    )


class CompletionCountedDay(Base):
    """A business day whose attempts :class:`CompletionCount` holds (counted again, whole, by
    every daily run of the following week: calls that ended late are counted then)."""

    __tablename__ = "completion_counted_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)
