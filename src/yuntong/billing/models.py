"""Billing tables: catalog and price versions, accounts, orders, usage, the ledger, statements.

Money is integer fen. The ledger (``ledger_entries``) is append-only: a correction is a new
entry. Every externally triggered write carries an ``idempotency_key`` that is unique, so
running it twice changes nothing.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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


class AccountKind(enum.StrEnum):
    POSTPAID = "postpaid"
    PREPAID = "prepaid"


class BillingState(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # for non-payment; payment in full lifts it
    HELD = "held"  # lawful suspension (VP 10): blocked, rent still charged
    TERMINATING = "terminating"  # termination asked for; completes once everything is paid
    TERMINATED = "terminated"


class EntryKind(enum.StrEnum):
    USAGE = "usage"
    RENT = "rent"  # package and value-added-service monthly fees, prorated
    ADJUSTMENT = "adjustment"  # re-rating after a tariff correction
    LATE_FEE = "late_fee"
    CREDIT = "credit"  # credit notes: disputes, service-interruption credits
    PAYMENT = "payment"


class ProductKind(enum.StrEnum):
    PACKAGE = "package"
    ADDON = "addon"  # value-added service with a monthly fee


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    # the package an account without a subscription is rated on (pay as you go)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProductPrice(Base):
    """One price version of a product, in force from ``effective_on`` (business time zone).

    ``rates``: ``{usage_type: {"per_minute_fen": "12.5", "increment": "60/60",
    "connect_fee_fen": 0}}``; ``allowances``: ``{usage_type: seconds}`` per cycle.
    """

    __tablename__ = "product_prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    effective_on: Mapped[date] = mapped_column(Date)
    monthly_fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    allowances: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    rates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    # a correction of a version already in force re-rates its usage (adjustments)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("product_prices.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("product_id", "effective_on", "corrects_id"),)


class BillingAccount(Base):
    """Who pays: an organisation (for all its members) or an individual subscriber."""

    __tablename__ = "billing_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default=AccountKind.POSTPAID)
    credit_limit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(12), default=BillingState.ACTIVE)
    state_reason: Mapped[str | None] = mapped_column(Text)
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    in_collections: Mapped[bool] = mapped_column(Boolean, default=False)
    close_day: Mapped[int] = mapped_column(Integer, default=25)
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    # highest credit alert already sent this cycle: 0, 80 or 100 (percent of the limit)
    alert_level: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(Base):
    """An order document, kept as part of the customer's agreement (VP 2)."""

    __tablename__ = "billing_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # subscribe | change | cancel
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)


class Subscription(Base):
    """A product on an account for ``[starts_at, ends_at)``."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("billing_orders.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AllowanceUse(Base):
    """Allowance seconds used so far per account, usage type and cycle: a running total the
    PostgreSQL rater keeps in the statement that writes the usage entries (so it always
    agrees with their ``allowance_s``), instead of summing the account's entries each batch.
    A missing row means the total is read from the ledger the first time."""

    __tablename__ = "allowance_use"

    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), primary_key=True)
    usage_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    cycle_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    used_s: Mapped[int] = mapped_column(BigInteger)


class UsageRecord(Base):
    """Something chargeable that happened: a call's billable seconds, a meeting's minutes."""

    __tablename__ = "usage_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # call | meeting | …
    source_id: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    usage_type: Mapped[str] = mapped_column(String(40))
    quantity_s: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    other_party: Mapped[str] = mapped_column(String(64), default="")  # already masked
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # rated = its usage entry exists in the ledger (unique key usage:<id>); there is no flag
    # to update, so rating writes each record's entry and nothing else

    __table_args__ = (
        UniqueConstraint("source", "source_id", "usage_type"),
        Index("ix_usage_records_account", "account_id", "started_at"),
    )


class LedgerEntry(Base):
    """Append-only: positive amounts are owed by the customer, negative ones are in its favour."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    kind: Mapped[str] = mapped_column(String(12))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # usage_id and price_id carry no foreign key: see migration 0003 (correct by construction,
    # targets append-only, and the per-row check cost 40 % of rating on PostgreSQL)
    usage_id: Mapped[int | None] = mapped_column(Integer)
    usage_type: Mapped[str | None] = mapped_column(String(40))
    quantity_s: Mapped[int | None] = mapped_column(Integer)
    billed_s: Mapped[int | None] = mapped_column(Integer)
    allowance_s: Mapped[int] = mapped_column(Integer, default=0)
    price_id: Mapped[int | None] = mapped_column(Integer)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reference: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)

    __table_args__ = (
        Index("ix_ledger_entries_account", "account_id", "id"),
        Index("ix_ledger_entries_usage", "usage_id"),
    )


class StatementKind(enum.StrEnum):
    CYCLE = "cycle"
    FIRST = "first"  # the first invoice after an order (VC 4.2.1)
    FINAL = "final"  # on termination


class Statement(Base):
    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default=StatementKind.CYCLE)
    cycle: Mapped[str] = mapped_column(String(16))  # YYYY-MM, or the order/termination key
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_on: Mapped[date] = mapped_column(Date)
    previous_balance_fen: Mapped[int] = mapped_column(BigInteger)
    payments_fen: Mapped[int] = mapped_column(BigInteger)  # payments in the period (≤ 0)
    charges_fen: Mapped[int] = mapped_column(BigInteger)  # every other line of the period
    total_due_fen: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("account_id", "kind", "cycle"),)


class StatementLine(Base):
    """A ledger entry on a statement; an entry appears on exactly one statement."""

    __tablename__ = "statement_lines"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    # no foreign key (migration 0003): checking it locked every ledger row a close bills
    entry_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), unique=True)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16))  # bank_transfer | cash | card | provider
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_ref: Mapped[str | None] = mapped_column(String(80))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)

    __table_args__ = (UniqueConstraint("provider", "provider_ref"),)


class DisputeState(enum.StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    CREDITED = "credited"  # resolved by a credit note
    EXPLAINED = "explained"  # resolved by an explanation, no money moved


class Dispute(Base):
    __tablename__ = "billing_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), index=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=DisputeState.OPEN)
    opened_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credit_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))


class DisputeEvent(Base):
    """Every step of a dispute, shown to the customer."""

    __tablename__ = "billing_dispute_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("billing_disputes.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class CycleClose(Base):
    """A cycle closed for the accounts of one close day (migration 0006): the daily run closes
    every ended cycle not recorded here, however late it runs."""

    __tablename__ = "billing_cycle_closes"

    close_day: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle: Mapped[str] = mapped_column(String(16), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
