"""Phone-number tables: the inventory with each number's legitimate source, its state and who
holds it, and an append-only trail of every change (CP 1.1, 2.4).

A number is a row of ``phone_numbers`` keyed by its E.164 form. It is imported from a
``number_blocks`` row that records where the operator got it (carrier, allocation document): a
number without one cannot exist, so none can be sold without a legitimate source. Every change
of state is written together with a ``number_events`` row (who, when, from, to, why).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class NumberState(enum.StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"  # held for a customer until reserved_until
    ASSIGNED = "assigned"
    QUARANTINED = "quarantined"  # released; back to available at quarantine_until
    BLOCKED = "blocked"  # taken out by staff
    PORTED_OUT = "ported_out"  # left for another carrier with its holder (携号转网); final


class NumberKind(enum.StrEnum):
    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    SERVICE = "service"  # 95xxx / 400 numbers, as the operator configures


class NumberBlock(Base):
    """Where a set of numbers came from: the legitimate source every number must have."""

    __tablename__ = "number_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier: Mapped[str] = mapped_column(String(60))
    # the allocation document's reference (工信部码号批文 or the carrier's contract)
    source_ref: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")
    # attribution set by the operator for the whole block (phonenumbers knows nothing finer
    # than the country for some segments); None: from the geocoder
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(40))
    imported: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PhoneNumber(Base):
    __tablename__ = "phone_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(20), unique=True)  # +8613800138000
    national: Mapped[str] = mapped_column(String(16))  # 13800138000 (searched by prefix)
    national_reversed: Mapped[str] = mapped_column(String(16))  # searched by "ends with"
    kind: Mapped[str] = mapped_column(String(12))
    block_id: Mapped[int] = mapped_column(ForeignKey("number_blocks.id"))
    # attribution (归属地): zh names searched, en shown; None: unknown
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(40))
    province_en: Mapped[str | None] = mapped_column(String(60))
    city_en: Mapped[str | None] = mapped_column(String(60))
    carrier: Mapped[str] = mapped_column(String(60))  # the original carrier
    current_carrier: Mapped[str] = mapped_column(String(60))  # changes when ported
    ported: Mapped[bool] = mapped_column(Boolean, default=False)
    # "beautiful number" pattern class (AABB, ABCD, tail repeats ...) and its price tier
    pattern: Mapped[str] = mapped_column(String(20), default="")
    tier: Mapped[str] = mapped_column(String(40), default="standard")
    state: Mapped[str] = mapped_column(String(12), default=NumberState.AVAILABLE)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reserved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reserved_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quarantine_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # real-name holder: an organisation, or an individual user (CP 2.4: no one else's number)
    holder_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    holder_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # who the number rings: the individual holder, or the member its organisation chose
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("billing_accounts.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_phone_numbers_search", "state", "province", "city", "national"),
        Index("ix_phone_numbers_national", "national"),
        Index("ix_phone_numbers_reversed", "national_reversed"),
        # and on PostgreSQL a trigram (pg_trgm GIN) index of national for "contains"
        # searches: ix_phone_numbers_national_trgm, migration 0023
        Index("ix_phone_numbers_pattern", "state", "pattern"),
        Index("ix_phone_numbers_user", "user_id"),
        Index("ix_phone_numbers_holder_org", "holder_organisation_id"),
        Index("ix_phone_numbers_holder_user", "holder_user_id"),
    )


class NumberEvent(Base):
    """Append-only trail of every change of a number (state, holder, user, carrier)."""

    __tablename__ = "number_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("phone_numbers.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str | None] = mapped_column(String(12))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class NumberTier(Base):
    """A price tier of "beautiful numbers" (靓号): the pattern classes it takes, and the catalog
    product whose monthly fee is the rent of each number in it (versioned as every price)."""

    __tablename__ = "number_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60))
    # pattern classes (yuntong.numbers.patterns) in this tier; "" is the plain numbers' class
    patterns: Mapped[list[str]] = mapped_column(JSON, default=list)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PortState(enum.StrEnum):
    """A port-in request's states (携号转网): see yuntong.numbers.port_in."""

    SUBMITTED = "submitted"
    CHECKING = "checking"  # the losing carrier was asked; its answer arrives by callback
    APPROVED = "approved"  # checks passed, staff set the porting date
    COMPLETED = "completed"  # the number is in the inventory, assigned to the requester
    REJECTED = "rejected"  # with a reason (a failed check's code, or staff's words)


class PortRequest(Base):
    """A customer's request to bring a number it holds at another carrier (port-in)."""

    __tablename__ = "port_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    # what the losing carrier knows the request by (our ids are not shown to it)
    ref: Mapped[str] = mapped_column(String(24), unique=True)
    e164: Mapped[str] = mapped_column(String(20), index=True)
    # e164 while the request is open, None once completed or rejected: one open request a number
    open_e164: Mapped[str | None] = mapped_column(String(20), unique=True)
    losing_carrier: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(12), default=PortState.SUBMITTED)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    filed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # the authorisation document, encrypted at rest under var/porting/
    document_name: Mapped[str] = mapped_column(String(80))
    document_type: Mapped[str] = mapped_column(String(40))
    document_bytes: Mapped[int] = mapped_column(Integer)
    document_sha256: Mapped[str] = mapped_column(String(64))
    # the losing carrier's answer (once: a repeated callback changes nothing)
    carrier_answer_id: Mapped[str | None] = mapped_column(String(64))
    carrier_answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    checks_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    porting_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(60))  # an error code, or "staff"
    reason_text: Mapped[str | None] = mapped_column(Text)
    number_id: Mapped[int | None] = mapped_column(ForeignKey("phone_numbers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PortRequestEvent(Base):
    """Append-only trail of a port-in request: every change of state, who, when, why."""

    __tablename__ = "port_request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("port_requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PortOutCode(Base):
    """A port-out authorisation code (授权码): kept as a keyed hash, shown once, expiring."""

    __tablename__ = "port_out_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("phone_numbers.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the gaining carrier's id of its presentation (a repeated one is answered the same)
    used_ref: Mapped[str | None] = mapped_column(String(64))
    gaining_carrier: Mapped[str | None] = mapped_column(String(60))
