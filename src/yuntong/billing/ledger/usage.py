"""Usage records: the chargeable events other domains produce, stored once each for rating."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, SQLColumnExpression, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import directory, identity
from yuntong.accounts.models import User
from yuntong.billing.catalog.tariff import MAX_QUANTITY_S, Rate, check_usage_type, rate_usage
from yuntong.billing.ledger.accounts import (
    account_for_user,
    account_ids_for_users,
    publish_changed,
)
from yuntong.billing.models import EntryKind, LedgerEntry, UsageRecord
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.db import insert_ignoring_duplicates
from yuntong.core.errors import YuntongError

COLLECT_LOOKBACK = timedelta(days=7)
# call records are written through the group commit: look a little behind the watermark
COLLECT_MARGIN = timedelta(seconds=60)
COLLECT_PAGE = 2000
WATERMARK = Piece(
    "billing.call_watermark",
    "per-node cache",
    lambda ctx: Slot[datetime](),
    "how far back usage collection still looks for calls without a usage record",
)


class FinishedCall(Protocol):
    """A finished call as billing reads it: what calls hand billing (their call records)."""

    @property
    def id(self) -> str: ...
    @property
    def caller_id(self) -> int: ...
    @property
    def callee_id(self) -> int: ...
    @property
    def media(self) -> str: ...
    @property
    def billable_seconds(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...


# (session, since, after (end, id), limit, the condition "this call id has no usage record")
# -> finished calls with billable seconds, in (end, id) order
CallSource = Callable[
    [
        AsyncSession,
        datetime,
        tuple[datetime, str] | None,
        int,
        Callable[[SQLColumnExpression[str]], ColumnElement[bool]],
    ],
    Awaitable[Sequence[FinishedCall]],
]
CALL_SOURCE = Piece(
    "billing.call_source",
    "node-owned live state",
    lambda ctx: Slot[CallSource](),
    "where usage collection reads finished calls: calls hand their query over when the "
    "context is built (billing does not import calls)",
)


def collect_calls_from(ctx: Context, source: CallSource) -> None:
    """Hand usage collection the finished calls' query (``yuntong.services``)."""
    ctx.services.get(CALL_SOURCE).value = source


def call_usage_type(media: str) -> str:
    return "call.video" if media == "video" else "call.audio"


@dataclass(frozen=True)
class UsageInput:
    """A chargeable event from another domain; ``(source, source_id, usage_type)`` is unique."""

    source: str
    source_id: str
    user_id: int
    usage_type: str
    quantity_s: int
    started_at: datetime
    other_party: str = ""


def check_usage(usage: UsageInput) -> None:
    check_usage_type(usage.usage_type)
    if not 0 <= usage.quantity_s <= MAX_QUANTITY_S:
        raise YuntongError("malformed_usage", reason="quantity out of range")
    if usage.started_at.tzinfo is None:
        raise YuntongError("malformed_usage", reason="naive start time")
    if not usage.source or not usage.source_id:
        raise YuntongError("malformed_usage", reason="missing source")


async def do_record_usage(ctx: Context, usage: UsageInput) -> UsageRecord | None:
    """Store a usage record once; a second delivery of the same record returns None."""
    check_usage(usage)
    account = await account_for_user(ctx, usage.user_id)
    row = _usage_row(usage, account.id, ctx.clock.now())
    try:
        async with ctx.db.session() as s:
            s.add(row)
    except IntegrityError:
        return None
    return row


def _usage_row(usage: UsageInput, account_id: int, now: datetime) -> UsageRecord:
    return UsageRecord(
        source=usage.source,
        source_id=usage.source_id,
        account_id=account_id,
        user_id=usage.user_id,
        usage_type=usage.usage_type,
        quantity_s=usage.quantity_s,
        started_at=usage.started_at,
        other_party=usage.other_party[:64],
        created_at=now,
    )


async def do_collect_call_usage(ctx: Context) -> int:
    """Turn every finished, billable call without a usage record into one (the caller pays).

    Reads the call records themselves, from a watermark kept in memory (a week back after a
    start) less ``COLLECT_MARGIN`` for ends committed late, so a call whose end was written
    just before a crash is still billed; only calls without a usage record are read, page by
    page, and the unique key makes a second pass add nothing."""
    now = ctx.clock.now()
    watermark = ctx.services.get(WATERMARK)
    since = watermark.value or now - COLLECT_LOOKBACK
    start, after = since - COLLECT_MARGIN, None
    added = 0
    while True:
        records = await _unbilled_calls(ctx, start, after, COLLECT_PAGE)
        if records:
            callees = await directory.get_users(ctx, {r.callee_id for r in records})
            added += await _record_usages(ctx, [_call_usage(r, callees) for r in records])
            last = records[-1]
            assert last.ended_at is not None
            after = (last.ended_at, last.id)
            since = max(since, last.ended_at)
        if len(records) < COLLECT_PAGE:
            break
    watermark.value = since
    return added


async def _unbilled_calls(
    ctx: Context, since: datetime, after: tuple[datetime, str] | None, limit: int
) -> Sequence[FinishedCall]:
    """Finished calls with billable seconds, ended at or after ``since`` (and after ``after``
    in (end, id) order) that have no usage record yet, in that order."""
    source = ctx.services.get(CALL_SOURCE).value
    assert source is not None, "usage.collect_calls_from was not called"
    async with ctx.db.session() as s:
        return await source(s, since, after, limit, _no_usage_record)


def _no_usage_record(call_id: SQLColumnExpression[str]) -> ColumnElement[bool]:
    billed = select(UsageRecord.id).where(
        UsageRecord.source == "call", UsageRecord.source_id == call_id
    )
    return ~billed.exists()


async def _record_usages(ctx: Context, usages: list[UsageInput]) -> int:
    """Store many usage records in one statement; those already stored are skipped (the
    unique key), so a second pass adds nothing. Returns how many were given."""
    for usage in usages:
        check_usage(usage)
    account_of = await account_ids_for_users(ctx, {u.user_id for u in usages})
    now = ctx.clock.now()
    rows = [
        {
            "source": u.source,
            "source_id": u.source_id,
            "account_id": account_of[u.user_id],
            "user_id": u.user_id,
            "usage_type": u.usage_type,
            "quantity_s": u.quantity_s,
            "started_at": u.started_at,
            "other_party": u.other_party[:64],
            "created_at": now,
        }
        for u in usages
    ]
    async with ctx.db.session() as s:
        await s.execute(insert_ignoring_duplicates(s, UsageRecord), rows)
    return len(rows)


def _call_usage(record: FinishedCall, callees: dict[int, User]) -> UsageInput:
    callee = callees.get(record.callee_id)
    return UsageInput(
        source="call",
        source_id=record.id,
        user_id=record.caller_id,
        usage_type=call_usage_type(record.media),
        quantity_s=record.billable_seconds,
        started_at=record.answered_at or record.created_at,
        other_party=identity.mask_leading(callee.username, 2) if callee else "",
    )


@dataclass(frozen=True)
class PricedUsage:
    """A usage record priced by its producer, and its usage entry in the ledger."""

    usage_id: int
    entry_id: int
    account_id: int
    amount_fen: int
    billed_s: int


async def do_record_priced_usage(
    ctx: Context, usage: UsageInput, *, rate: Rate, detail: dict[str, Any]
) -> PricedUsage:
    """Store a usage record that its producer prices (outside calls: by destination prefix,
    docs/tariffs.md) together with its usage entry, in one transaction, so the rater finds
    it rated (its entry ``usage:<id>`` exists) and never prices it by the package. Rounded
    once, like every usage entry (:func:`rate_usage`, no allowance). A second delivery of the
    same record returns the first one's entry, never a second charge."""
    check_usage(usage)
    rated = rate_usage(usage.quantity_s, rate, 0)
    account = await account_for_user(ctx, usage.user_id)
    now = ctx.clock.now()
    record = _usage_row(usage, account.id, now)
    try:
        async with ctx.db.session() as s:
            s.add(record)
            await s.flush()
            entry = LedgerEntry(
                account_id=account.id,
                kind=EntryKind.USAGE.value,
                amount_fen=rated.amount_fen,
                occurred_at=usage.started_at,
                posted_at=now,
                usage_id=record.id,
                usage_type=usage.usage_type,
                quantity_s=usage.quantity_s,
                billed_s=rated.billed_s,
                allowance_s=0,
                detail={"rate": rate.to_spec(), "other_party": record.other_party, **detail},
                idempotency_key=f"usage:{record.id}",
            )
            s.add(entry)
            await s.flush()
            priced = PricedUsage(record.id, entry.id, account.id, rated.amount_fen, rated.billed_s)
    except IntegrityError:
        priced = await _priced_before(ctx, usage)
    await publish_changed(ctx, priced.account_id, rated=True)
    return priced


async def _priced_before(ctx: Context, usage: UsageInput) -> PricedUsage:
    record_query = select(UsageRecord.id, UsageRecord.account_id).where(
        UsageRecord.source == usage.source,
        UsageRecord.source_id == usage.source_id,
        UsageRecord.usage_type == usage.usage_type,
    )
    async with ctx.db.session() as s:
        usage_id, account_id = (await s.execute(record_query)).one()
        entry_query = select(LedgerEntry.id, LedgerEntry.amount_fen, LedgerEntry.billed_s).where(
            LedgerEntry.idempotency_key == f"usage:{usage_id}"
        )
        entry_id, amount_fen, billed_s = (await s.execute(entry_query)).one()
    return PricedUsage(usage_id, entry_id, account_id, amount_fen, billed_s or 0)
