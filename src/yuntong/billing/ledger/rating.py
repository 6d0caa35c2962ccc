"""Rating: every usage record becomes exactly one usage entry in the ledger.

The package in force when the usage started decides the rate and allowance; allowances are
used first, per cycle, in the order the usage is rated. A corrected tariff re-rates what the
wrong version rated with adjustment entries, never by touching the original entries.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import Counter
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from yuntong.accounts import roles
from yuntong.accounts.roles import Actor
from yuntong.billing import store
from yuntong.billing.catalog.catalog import (
    Catalog,
    Tariff,
    business_tz,
    check_correction,
    load_catalog,
    tariff_for,
)
from yuntong.billing.catalog.catalog import publish_changed as publish_catalog_changed
from yuntong.billing.catalog.cycles import Cycle, cycle_of
from yuntong.billing.catalog.tariff import Rate, rate_usage
from yuntong.billing.ledger import credit, rating_sql
from yuntong.billing.ledger.accounts import publish_changed
from yuntong.billing.models import (
    BillingAccount,
    EntryKind,
    LedgerEntry,
    ProductPrice,
    Subscription,
    UsageRecord,
)
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger

log = get_logger(__name__)
RATED_TOTAL = Counter("yuntong_billing_rated_total", "Usage records rated", ["usage_type"])
BATCH = 2000
SQL_BATCH = 50_000  # PostgreSQL rates set-wise, a statement per batch (see rating_sql)
RATER_LOCK_KEY = 0x59544252  # "YTBR": the PostgreSQL advisory lock of the rater
FULL_SWEEP_S = 600.0


@dataclass
class RaterState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one rater in this process
    # per share of the accounts, the highest usage id read; monotonic time of the last full pass
    cursors: tuple[int, ...] = ()
    swept: float = -FULL_SWEEP_S


RATER = Piece(
    "billing.rater",
    "node-owned live state",
    lambda ctx: RaterState(),
    "the rater's lock in this process and where its last pass stopped (across nodes the "
    "PostgreSQL advisory lock decides who rates)",
)


class AllowanceLedger:
    """Allowance seconds used per (account, cycle, usage type), read once per batch."""

    def __init__(self) -> None:
        self.used: dict[tuple[int, str, str], int] = {}

    async def load(self, s: Any, accounts_by_cycle: dict[Cycle, set[int]]) -> None:
        for cycle, account_ids in accounts_by_cycle.items():
            missing = {a for a in account_ids if (a, cycle.label, "") not in self.used}
            if not missing:
                continue
            found = await store.allowance_used(s, missing, cycle.start, cycle.end)
            for account_id in missing:
                self.used[(account_id, cycle.label, "")] = 0
            for (account_id, usage_type), seconds in found.items():
                self.used[(account_id, cycle.label, usage_type)] = seconds

    def left(self, account_id: int, cycle: Cycle, usage_type: str, allowance_s: int) -> int:
        return allowance_s - self.used.get((account_id, cycle.label, usage_type), 0)

    def take(self, account_id: int, cycle: Cycle, usage_type: str, seconds: int) -> None:
        key = (account_id, cycle.label, usage_type)
        self.used[key] = self.used.get(key, 0) + seconds


def rate_record(
    record: Any,
    tariff: Tariff,
    allowance_left_s: int,
    now: datetime,
) -> dict[str, Any]:
    """The ledger entry for one usage record (a zero amount when nothing is chargeable)."""
    rate = tariff.rate
    entry: dict[str, Any] = {
        "account_id": record.account_id,
        "kind": EntryKind.USAGE.value,
        "occurred_at": record.started_at,
        "posted_at": now,
        "usage_id": record.id,
        "usage_type": record.usage_type,
        "quantity_s": record.quantity_s,
        "price_id": tariff.price.id if tariff.price else None,
        "period_start": None,
        "period_end": None,
        "reference": None,
        "created_by": None,
        "idempotency_key": f"usage:{record.id}",
    }
    if rate is None:
        entry.update(amount_fen=0, billed_s=record.quantity_s, allowance_s=0, detail={})
        return entry
    rated = rate_usage(record.quantity_s, rate, allowance_left_s)
    entry.update(
        amount_fen=rated.amount_fen,
        billed_s=rated.billed_s,
        allowance_s=rated.allowance_s,
        detail={"rate": rate.to_spec(), "other_party": record.other_party},
    )
    return entry


def rate_records(
    records: list[Any],
    cycles: list[Cycle],
    catalog: Catalog,
    subscriptions: dict[int, list[Subscription]],
    allowances: AllowanceLedger,
    tz: ZoneInfo,
    now: datetime,
) -> list[dict[str, Any]]:
    """The entries for ``records`` (in the order given, which is the order allowances are
    used in), one at a time: the rater on SQLite, and the check of :mod:`rating_sql`."""
    entries = []
    for record, cycle in zip(records, cycles, strict=True):
        tariff = tariff_for(
            catalog,
            subscriptions.get(record.account_id, []),
            record.usage_type,
            record.started_at,
            tz,
        )
        left = allowances.left(record.account_id, cycle, record.usage_type, tariff.allowance_s)
        entry = rate_record(record, tariff, left, now)
        allowances.take(record.account_id, cycle, record.usage_type, entry["allowance_s"])
        entries.append(entry)
    return entries


@dataclass
class RatingRun:
    """What one rating pass keeps between its batches. Safe because only one rater runs at a
    time (see :func:`_one_rater`): nothing else uses allowances, and a balance read here only
    decides credit alerts, never whether a call may start."""

    allowances: AllowanceLedger = field(default_factory=lambda: AllowanceLedger())
    owed: dict[int, int] = field(default_factory=dict)
    # the catalog snapshot and its statement parameters (kept with it, so never a stale pair)
    tariffs: tuple[Catalog, rating_sql.TariffArrays] | None = None


@asynccontextmanager
async def _one_rater(ctx: Context) -> AsyncIterator[None]:
    """One rater at a time: in this process (a lock) and across nodes (a PostgreSQL advisory
    lock held on a connection of its own for the whole pass)."""
    async with ctx.services.get(RATER).lock:
        if ctx.db.is_sqlite:  # one process writes an embedded database
            yield
            return
        async with ctx.db.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": RATER_LOCK_KEY})
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RATER_LOCK_KEY})


async def do_rate_pending(ctx: Context, batch: int = BATCH, *, full: bool = False) -> int:
    """Rate every usage record not rated yet; returns how many were rated.

    A record is rated when its usage entry exists (unique key ``usage:<id>``), so a repeated
    run adds nothing and rating writes nothing but the entries. Passes start after the highest
    id rated before; every ``FULL_SWEEP_S`` (and when ``full``) a pass starts from the first
    record, for records whose insert committed after higher ids were rated.

    On PostgreSQL the accounts are split into ``billing_rating_parallel`` shares (by id),
    rated at once by statements on connections of their own: allowances and balances are per
    account, so the shares never touch the same rows."""
    async with _one_rater(ctx):
        state = ctx.services.get(RATER)
        cursors, swept = state.cursors, state.swept
        moment = time.monotonic()
        parts = 1 if ctx.db.is_sqlite else ctx.settings.billing_rating_parallel
        if full or moment - swept >= FULL_SWEEP_S or len(cursors) != parts:
            cursors, swept = (0,) * parts, moment
        run = RatingRun()
        done = await asyncio.gather(
            *(_rate_share(ctx, batch, cursors[part], run, part, parts) for part in range(parts))
        )
        state.cursors, state.swept = tuple(cursor for _, cursor in done), swept
    return sum(rated for rated, _ in done)


async def _rate_share(
    ctx: Context, batch: int, cursor: int, run: RatingRun, part: int, parts: int
) -> tuple[int, int]:
    """Rate the pending records of the accounts with ``id % parts == part``; returns (rated,
    highest id read)."""
    set_wise = not ctx.db.is_sqlite
    size = SQL_BATCH if set_wise and batch == BATCH else batch
    total = 0
    while True:
        if set_wise:
            seen, rated, touched, alertable, last_id = await _rate_batch_sql(
                ctx, size, cursor, run, part, parts
            )
        else:
            rated, touched, last_id = await _rate_batch(ctx, size, cursor, run)
            seen, alertable = rated, touched
        total += rated
        cursor = max(cursor, last_id)
        await publish_changed(ctx, *touched, rated=True)
        await credit.do_credit_alerts(ctx, alertable, {a: run.owed[a] for a in alertable})
        if seen < size:
            return total, cursor


async def _rate_batch_sql(
    ctx: Context, batch: int, after: int, run: RatingRun, part: int, parts: int
) -> tuple[int, int, set[int], set[int], int]:
    """One batch rated by :mod:`rating_sql`; returns (records read, rated, accounts rated,
    accounts that may cross a credit alert level, last id read). Only postpaid accounts with
    a limit, not yet at 100 %, that were charged something can; their balances are kept in
    ``run``."""
    catalog = await load_catalog(ctx)
    if run.tariffs is None or run.tariffs[0] is not catalog:  # a price changed mid-pass
        run.tariffs = (catalog, rating_sql.tariff_arrays(catalog))
    arrays = run.tariffs[1]
    async with ctx.db.session() as s:
        result = await rating_sql.rate_batch(
            s,
            arrays,
            after=after,
            batch=batch,
            part=part,
            parts=parts,
            tz=ctx.settings.business_timezone,
            now=ctx.clock.now(),
        )
        if result.malformed:
            raise ValueError("duration out of range")  # the transaction, and the batch, roll back
        charged = [a for a, fen in result.charged.items() if fen > 0]
        # balances read after the batch's entries, so they include them
        balances = await rating_sql.alertable_balances(s, charged, run.owed.keys())
        for account_id, owed in balances.items():
            if owed is None:
                run.owed[account_id] += result.charged[account_id]
            else:
                run.owed[account_id] = owed
        alertable = set(balances)
    for usage_type, count in result.by_type.items():
        RATED_TOTAL.labels(usage_type).inc(count)
    return result.seen, result.rated, set(result.charged), alertable, result.last_id


_PENDING = (
    UsageRecord.id,
    UsageRecord.account_id,
    UsageRecord.usage_type,
    UsageRecord.quantity_s,
    UsageRecord.started_at,
    UsageRecord.other_party,
)


def cycles_of(records: list[Any], close_day: dict[int, int], tz: ZoneInfo) -> list[Cycle]:
    """Each record's cycle; an account's records mostly share one, so it is reused."""
    last: dict[int, Cycle] = {}
    found = []
    for r in records:
        cycle = last.get(r.account_id)
        if cycle is None or not cycle.start <= r.started_at < cycle.end:
            cycle = last[r.account_id] = cycle_of(r.started_at, close_day[r.account_id], tz)
        found.append(cycle)
    return found


async def _rate_batch(
    ctx: Context, batch: int, after: int, run: RatingRun
) -> tuple[int, set[int], int]:
    catalog = await load_catalog(ctx)
    tz = business_tz(ctx)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        # the redundant bound lets the planner skip the entries of everything rated before
        rated = select(LedgerEntry.id).where(
            LedgerEntry.usage_id == UsageRecord.id, LedgerEntry.usage_id > after
        )
        query = (
            select(*_PENDING)
            .where(UsageRecord.id > after, ~rated.exists())
            .order_by(UsageRecord.id)
            .limit(batch)
        )
        records = list((await s.execute(query)).all())
        if not records:
            return 0, set(), after
        account_ids = {r.account_id for r in records}
        # no row locks: _one_rater already keeps every other rater out
        accounts_query = select(BillingAccount.id, BillingAccount.close_day).where(
            BillingAccount.id.in_(account_ids)
        )
        close_day = {a: d for a, d in (await s.execute(accounts_query)).all()}
        subscriptions = await store.subscriptions_for(s, account_ids)
        cycles = cycles_of(records, close_day, tz)
        by_cycle: dict[Cycle, set[int]] = defaultdict(set)
        for record, cycle in zip(records, cycles, strict=True):
            by_cycle[cycle].add(record.account_id)
        allowances = run.allowances
        await allowances.load(s, by_cycle)
        unknown = account_ids - run.owed.keys()
        if unknown:
            found = await store.balances(s, unknown)
            run.owed.update({a: found.get(a, 0) for a in unknown})
        entries = rate_records(records, cycles, catalog, subscriptions, allowances, tz, now)
        counted: dict[str, int] = defaultdict(int)
        for record, entry in zip(records, entries, strict=True):
            run.owed[record.account_id] += entry["amount_fen"]
            counted[record.usage_type] += 1
        await store.insert_entries(s, entries)
    for usage_type, count in counted.items():
        RATED_TOTAL.labels(usage_type).inc(count)
    return len(records), account_ids, records[-1].id


# -- re-rating -------------------------------------------------------------------------------


async def do_correct_price(
    ctx: Context,
    actor: Actor,
    price_id: int,
    *,
    rates: Mapping[str, Any],
    allowances: Mapping[str, Any] | None = None,
    note: str,
) -> tuple[ProductPrice, int]:
    """Correct a price version already in force (a tariff error) and re-rate the usage the
    wrong version rated, in one transaction: a crash cannot leave a correction that was never
    re-rated. Returns the corrected version and how many adjustments were made."""
    catalog = await load_catalog(ctx)
    corrected = check_correction(
        ctx, actor, catalog, price_id, rates=rates, allowances=allowances, note=note
    )
    try:
        async with ctx.db.session() as s:
            s.add(corrected)
            await s.flush()  # its id, for the adjustments
            touched, adjusted = await _rerate(s, catalog, corrected, actor, corrected.created_at)
    except IntegrityError:  # corrected meanwhile by another request (the unique version key)
        async with ctx.db.session() as s:
            later = await s.scalar(
                select(func.max(ProductPrice.id)).where(ProductPrice.corrects_id == price_id)
            )
        raise YuntongError("price_already_corrected", correction_id=later) from None
    await publish_catalog_changed(ctx)
    await publish_changed(ctx, *touched, rated=True)
    log.info("billing_rerated", correction_id=corrected.id, adjustments=adjusted)
    return corrected, adjusted


async def do_rerate(ctx: Context, actor: Actor, correction_id: int) -> int:
    """Re-rate again the usage a corrected price version rated; returns how many adjustments
    (none when nothing changed since: each adjustment is keyed by usage and correction)."""
    roles.check_staff(actor)
    catalog = await load_catalog(ctx)
    correction = catalog.by_id.get(correction_id)
    if correction is None or correction.corrects_id is None:
        raise YuntongError("product_not_found")
    async with ctx.db.session() as s:
        touched, adjusted = await _rerate(s, catalog, correction, actor, ctx.clock.now())
    await publish_changed(ctx, *touched, rated=True)
    log.info("billing_rerated", correction_id=correction_id, adjustments=adjusted)
    return adjusted


async def _rerate(
    s: Any, catalog: Catalog, correction: ProductPrice, actor: Actor, now: datetime
) -> tuple[set[int], int]:
    """Adjust the usage the versions ``correction`` corrects rated, in ``s``.

    The allowance each record used stays as it was; only the charged part is priced again.
    The adjustment (new charge − what was charged so far) is dated now, so it appears on the
    next statement with a reference to the usage it corrects."""
    wrong_ids = _versions_corrected_by(catalog, correction)
    touched: set[int] = set()
    query = select(LedgerEntry).where(
        LedgerEntry.kind == EntryKind.USAGE, LedgerEntry.price_id.in_(wrong_ids)
    )
    originals = list((await s.execute(query)).scalars())
    charged = await _charged_so_far(s, [e.usage_id for e in originals if e.usage_id])
    rows = []
    for entry in originals:
        assert entry.usage_id is not None and entry.usage_type is not None
        spec = correction.rates.get(entry.usage_type)
        rate = Rate.parse(spec) if spec else None
        should = 0
        if rate is not None:
            should = rate_usage(entry.quantity_s or 0, rate, entry.allowance_s).amount_fen
        diff = should - charged.get(entry.usage_id, entry.amount_fen)
        if diff == 0:
            continue
        rows.append(
            {
                "account_id": entry.account_id,
                "kind": EntryKind.ADJUSTMENT.value,
                "amount_fen": diff,
                "occurred_at": now,
                "posted_at": now,
                "usage_id": entry.usage_id,
                "usage_type": entry.usage_type,
                "quantity_s": entry.quantity_s,
                "billed_s": entry.billed_s,
                "allowance_s": 0,
                "price_id": correction.id,
                "period_start": None,
                "period_end": None,
                "reference": str(entry.id),
                "detail": {
                    "was_fen": charged.get(entry.usage_id, entry.amount_fen),
                    "now_fen": should,
                    "usage_at": entry.occurred_at.isoformat(),
                    "note": correction.note,
                },
                "created_by": actor.user_id,
                "idempotency_key": f"rerate:{entry.usage_id}:{correction.id}",
            }
        )
        touched.add(entry.account_id)
    await store.insert_entries(s, rows)
    return touched, len(rows)


def _versions_corrected_by(catalog: Catalog, correction: ProductPrice) -> list[int]:
    """The version corrected and every earlier correction of it."""
    root = correction.corrects_id
    return [
        p.id
        for p in catalog.prices.get(correction.product_id, [])
        if p.id != correction.id and (p.id == root or p.corrects_id == root)
    ]


async def _charged_so_far(s: Any, usage_ids: Iterable[int | None]) -> dict[int, int]:
    """Per usage record: its usage entry plus every adjustment of it."""
    ids = [u for u in usage_ids if u is not None]
    found: dict[int, int] = {}
    if not ids:
        return found
    query = select(LedgerEntry.usage_id, LedgerEntry.amount_fen).where(
        LedgerEntry.usage_id.in_(ids),
        LedgerEntry.kind.in_([EntryKind.USAGE, EntryKind.ADJUSTMENT]),
    )
    for usage_id, amount in (await s.execute(query)).all():
        found[usage_id] = found.get(usage_id, 0) + amount
    return found
