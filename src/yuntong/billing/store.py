"""Billing queries (no rules): ledger inserts that skip known keys, balances, unbilled entries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.billing.models import (
    EntryKind,
    LedgerEntry,
    Statement,
    StatementLine,
    Subscription,
)
from yuntong.core.db import insert_ignoring_duplicates

# PostgreSQL: big batches go through COPY into a temporary table and one INSERT … SELECT, which
# costs a fraction of the Python and server time of a multi-row INSERT
COPY_FROM = 200
_LEDGER_COLUMNS = tuple(c.name for c in LedgerEntry.__table__.columns if c.name != "id")
_LEDGER_IN = "ledger_entries_in"


async def insert_entries(s: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Append ledger entries; an entry whose idempotency key exists is skipped, not doubled."""
    if not rows:
        return
    if len(rows) >= COPY_FROM and s.get_bind().dialect.name == "postgresql":
        await _copy_entries(s, rows)
        return
    await s.execute(insert_ignoring_duplicates(s, LedgerEntry), list(rows))


async def _copy_entries(s: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    # every name in these statements is one of our own constants, never input
    columns = ", ".join(_LEDGER_COLUMNS)
    await s.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {_LEDGER_IN} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {columns} FROM ledger_entries WITH NO DATA"
        )
    )
    await s.execute(text(f"TRUNCATE {_LEDGER_IN}"))
    records = [
        tuple(
            json.dumps(row.get("detail") or {})
            if name == "detail"
            else row.get(name, 0 if name == "allowance_s" else None)
            for name in _LEDGER_COLUMNS
        )
        for row in rows
    ]
    connection = await s.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(_LEDGER_IN, records=records, columns=_LEDGER_COLUMNS)
    await s.execute(
        text(
            f"INSERT INTO ledger_entries ({columns}) SELECT {columns} FROM {_LEDGER_IN} "  # noqa: S608
            "ON CONFLICT DO NOTHING"
        )
    )


async def insert_lines(s: AsyncSession, lines: Sequence[tuple[int, int]]) -> None:
    """Statement lines as (statement id, entry id); COPY on PostgreSQL for a large close."""
    if not lines:
        return
    if len(lines) >= COPY_FROM and s.get_bind().dialect.name == "postgresql":
        connection = await s.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(
            StatementLine.__tablename__, records=lines, columns=("statement_id", "entry_id")
        )
        return
    rows = [{"statement_id": st, "entry_id": e} for st, e in lines]
    await s.execute(insert(StatementLine), rows)  # no ORM bookkeeping for a large close


async def entry_by_key(s: AsyncSession, key: str) -> LedgerEntry | None:
    query = select(LedgerEntry).where(LedgerEntry.idempotency_key == key)
    found: LedgerEntry | None = (await s.execute(query)).scalar_one_or_none()
    return found


async def add_entry(s: AsyncSession, **fields: Any) -> LedgerEntry:
    """Append one entry, or return the one already appended under the same key."""
    await insert_entries(s, [fields])
    entry = await entry_by_key(s, fields["idempotency_key"])
    assert entry is not None
    return entry


async def balance(s: AsyncSession, account_id: int, before: datetime | None = None) -> int:
    """What the account owes (negative: what it has in hand), optionally as of a moment."""
    query = select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
        LedgerEntry.account_id == account_id
    )
    if before is not None:
        query = query.where(LedgerEntry.occurred_at < before)
    return int((await s.execute(query)).scalar_one())


async def balances(s: AsyncSession, account_ids: Iterable[int]) -> dict[int, int]:
    """What each account owes (absent: nothing was ever posted)."""
    query = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.account_id.in_(list(account_ids)))
        .group_by(LedgerEntry.account_id)
    )
    return {a: int(total) for a, total in (await s.execute(query)).all()}


async def allowance_used(
    s: AsyncSession, account_ids: Iterable[int], start: datetime, end: datetime
) -> dict[tuple[int, str], int]:
    """Allowance seconds used per (account, usage type) in ``[start, end)``."""
    query = (
        select(
            LedgerEntry.account_id,
            LedgerEntry.usage_type,
            func.sum(LedgerEntry.allowance_s),
        )
        .where(
            LedgerEntry.account_id.in_(list(account_ids)),
            LedgerEntry.kind == EntryKind.USAGE,
            LedgerEntry.occurred_at >= start,
            LedgerEntry.occurred_at < end,
            LedgerEntry.allowance_s > 0,
        )
        .group_by(LedgerEntry.account_id, LedgerEntry.usage_type)
    )
    return {(a, str(t)): int(n) for a, t, n in (await s.execute(query)).all()}


async def subscriptions_for(
    s: AsyncSession, account_ids: Iterable[int]
) -> dict[int, list[Subscription]]:
    query = (
        select(Subscription)
        .where(Subscription.account_id.in_(list(account_ids)))
        .order_by(Subscription.starts_at.desc(), Subscription.id.desc())
    )
    found: dict[int, list[Subscription]] = {}
    for sub in (await s.execute(query)).scalars():
        found.setdefault(sub.account_id, []).append(sub)
    return found


async def unbilled_entries(
    s: AsyncSession, account_id: int, before: datetime | None = None
) -> list[LedgerEntry]:
    """Entries on no statement yet, oldest first (optionally only those before a moment)."""
    billed = select(StatementLine.entry_id).where(StatementLine.entry_id == LedgerEntry.id)
    query = select(LedgerEntry).where(LedgerEntry.account_id == account_id, ~billed.exists())
    if before is not None:
        query = query.where(LedgerEntry.occurred_at < before)
    return list(
        (await s.execute(query.order_by(LedgerEntry.occurred_at, LedgerEntry.id))).scalars()
    )


async def statements_of(s: AsyncSession, account_id: int) -> list[Statement]:
    query = select(Statement).where(Statement.account_id == account_id)
    return list((await s.execute(query.order_by(Statement.issued_at, Statement.id))).scalars())


async def statement_entries(s: AsyncSession, statement_id: int) -> list[LedgerEntry]:
    query = (
        select(LedgerEntry)
        .join(StatementLine, StatementLine.entry_id == LedgerEntry.id)
        .where(StatementLine.statement_id == statement_id)
        .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    )
    return list((await s.execute(query)).scalars())


async def statement_charges(s: AsyncSession, account_id: int) -> list[tuple[Statement, int]]:
    """Each statement with the sum of its positive lines other than late fees: the fees it
    newly asked for, on which late fees accrue (VP 5: never on late fees themselves)."""
    charge = (LedgerEntry.amount_fen > 0) & (LedgerEntry.kind != EntryKind.LATE_FEE)
    positive = func.coalesce(func.sum(LedgerEntry.amount_fen).filter(charge), 0)
    query = (
        select(Statement, positive)
        .outerjoin(StatementLine, StatementLine.statement_id == Statement.id)
        .outerjoin(LedgerEntry, LedgerEntry.id == StatementLine.entry_id)
        .where(Statement.account_id == account_id)
        .group_by(Statement.id)
        .order_by(Statement.issued_at, Statement.id)
    )
    return [(st, int(total)) for st, total in (await s.execute(query)).all()]


async def fees_and_credits(s: AsyncSession, account_id: int) -> list[Any]:
    """The account's late fees (and their corrections) and everything in its favour, oldest
    first, as ``(id, kind, amount_fen, occurred_at, detail, statement_id)`` rows; the
    statement is the one the entry is billed on (None while unbilled)."""
    wanted = (LedgerEntry.kind == EntryKind.LATE_FEE) | (LedgerEntry.amount_fen < 0)
    query = (
        select(
            LedgerEntry.id,
            LedgerEntry.kind,
            LedgerEntry.amount_fen,
            LedgerEntry.occurred_at,
            LedgerEntry.detail,
            StatementLine.statement_id,
        )
        .outerjoin(StatementLine, StatementLine.entry_id == LedgerEntry.id)
        .where(LedgerEntry.account_id == account_id, wanted)
        .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    )
    return list((await s.execute(query)).all())


async def unbilled_for_close(
    s: AsyncSession, account_ids: Sequence[int], before: datetime, also_keys: Sequence[str]
) -> dict[int, list[Any]]:
    """Per account: unbilled entries before ``before``, plus the entries with ``also_keys``,
    as plain ``(id, account_id, kind, amount_fen)`` rows (a close reads millions)."""
    billed = select(StatementLine.entry_id).where(StatementLine.entry_id == LedgerEntry.id)
    when = LedgerEntry.occurred_at < before
    if also_keys:
        when = or_(when, LedgerEntry.idempotency_key.in_(list(also_keys)))
    query = (
        select(LedgerEntry.id, LedgerEntry.account_id, LedgerEntry.kind, LedgerEntry.amount_fen)
        .where(LedgerEntry.account_id.in_(list(account_ids)), ~billed.exists(), when)
        .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    )
    found: dict[int, list[Any]] = {}
    for entry in (await s.execute(query)).all():
        found.setdefault(entry.account_id, []).append(entry)
    return found
