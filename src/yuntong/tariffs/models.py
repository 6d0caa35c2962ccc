"""Outside-call tariffs (issue 17): price tables by destination prefix, per-trunk cost tables,
each a version in force from its ``effective_from``, and the rated outside calls (migration
0029). Money is integer fen; versions are never edited, a new import supersedes them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class Category(enum.StrEnum):
    LOCAL = "local"
    DOMESTIC = "domestic"
    MOBILE = "mobile"
    INTERNATIONAL = "international"
    PREMIUM = "premium"


class TableKind(enum.StrEnum):
    PRICES = "prices"  # what customers pay, one table for everyone
    COSTS = "costs"  # what a trunk's carrier charges us


class TariffTable(Base):
    """One imported version of the price table, or of one trunk's cost table."""

    __tablename__ = "tariff_tables"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    trunk: Mapped[str] = mapped_column(String(40), default="")  # "" for the price table
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    rows: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_tariff_tables_kind", "kind", "trunk", "effective_from"),)


class TariffPrefix(Base):
    """A price row: destinations starting with ``prefix`` (E.164 digits, no '+')."""

    __tablename__ = "tariff_prefixes"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tariff_tables.id"))
    prefix: Mapped[str] = mapped_column(String(16))
    # a 'local' row prices the fixed-line calls within the caller's own area code; it lives
    # beside the row of the same prefix that names the destination's category
    category: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    price_per_minute_fen: Mapped[int] = mapped_column(Integer)
    increment_s: Mapped[int] = mapped_column(Integer, default=60)

    __table_args__ = (UniqueConstraint("table_id", "prefix", "category"),)


class TrunkCost(Base):
    """A cost row of one trunk's cost table."""

    __tablename__ = "tariff_trunk_costs"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tariff_tables.id"))
    prefix: Mapped[str] = mapped_column(String(16))
    cost_per_minute_fen: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("table_id", "prefix"),)


class OutsideCall(Base):
    """A rated outside call: once per call id; its charge is the ledger entry ``entry_id``."""

    __tablename__ = "tariff_outside_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"))
    trunk: Mapped[str] = mapped_column(String(40))
    destination: Mapped[str] = mapped_column(String(20))  # E.164 with '+'
    category: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    price_table_id: Mapped[int] = mapped_column(ForeignKey("tariff_tables.id"))
    cost_table_id: Mapped[int | None] = mapped_column(ForeignKey("tariff_tables.id"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seconds: Mapped[int] = mapped_column(Integer)
    increment_s: Mapped[int] = mapped_column(Integer)
    billed_s: Mapped[int] = mapped_column(Integer)
    units: Mapped[int] = mapped_column(Integer)  # billed increments
    price_per_minute_fen: Mapped[int] = mapped_column(Integer)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    cost_per_minute_fen: Mapped[int | None] = mapped_column(Integer)
    cost_fen: Mapped[int | None] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_tariff_outside_calls_answered", "answered_at"),)
