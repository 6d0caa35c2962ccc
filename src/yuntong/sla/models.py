"""SLA tables: operator incidents whose accounts are credited (table names keep their
billing_ prefix: migrations do not change), the days whose completion rate fell below the
contract, and the public status page: components, the incidents' update timeline, scheduled
maintenance, e-mail subscribers and their outbox (migration 0028)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class Incident(Base):
    """A service interruption caused by the operator (CP 3.3, VP 13).

    One recorded afterwards for its credits has no ``status``; one opened on the status page
    has one (the latest of its :class:`IncidentUpdate` rows) and no ``ends_at`` until it is
    resolved. ``title`` is the Chinese title, ``title_en`` the English one (status page)."""

    __tablename__ = "billing_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: still open
    product_codes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the status page (migration 0028): None for an incident recorded only for its credits
    status: Mapped[str | None] = mapped_column(String(16))
    title_en: Mapped[str | None] = mapped_column(String(200))


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


# -- the public status page ---------------------------------------------------------------------


class StatusComponent(Base):
    """A part of the service the status page shows (Web & API, Video calls …). ``state`` is
    what staff set by hand; the page shows the worst of it, the open incidents' impact on it
    and a maintenance in progress (``sla/status.py``)."""

    __tablename__ = "status_components"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="operational")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentUpdate(Base):
    """One step of an incident's timeline, never changed once written: its status, what staff
    said (zh-CN, en) and the components' impact from then on (``{component id: state}``)."""

    __tablename__ = "status_incident_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("billing_incidents.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    impacts: Mapped[dict[str, str]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Maintenance(Base):
    """A maintenance window announced on the status page: scheduled, in progress, completed
    by the clock (or cancelled)."""

    __tablename__ = "status_maintenance"

    id: Mapped[int] = mapped_column(primary_key=True)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    description_zh: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    component_ids: Mapped[list[int]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatusSubscriber(Base):
    """An e-mail address subscribed to the status page (double opt-in): the address sealed,
    its blind index unique, the confirmation token kept as a hash only."""

    __tablename__ = "status_subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_index: Mapped[str] = mapped_column(String(64), unique=True)
    email_enc: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8))
    confirm_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusMail(Base):
    """The outbox: one e-mail per subscriber and announcement (``key``: ``update:<id>``,
    ``maintenance:<id>:scheduled`` …), whichever node writes or sends it; a sender claims a
    row before sending, so two nodes never both send it."""

    __tablename__ = "status_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("status_subscribers.id"))
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    error: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("subscriber_id", "key"),)
