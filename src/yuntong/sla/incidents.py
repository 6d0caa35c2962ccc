"""Service interruptions caused by the operator and their credits (CP 3.3, VP 13): the matching
share of each affected cycle's rent, never more than was charged; short ones are excluded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import audit, roles
from yuntong.accounts.roles import Actor
from yuntong.billing.catalog.catalog import Catalog, business_tz, load_catalog, local_day
from yuntong.billing.catalog.cycles import Cycle, cycle_of, next_cycle
from yuntong.billing.ledger.accounts import publish_changed
from yuntong.billing.models import BillingAccount, EntryKind, LedgerEntry, Product, Subscription
from yuntong.billing.store import add_entry, entry_by_key
from yuntong.core.context import Context
from yuntong.core.db import UTCDateTime
from yuntong.core.errors import YuntongError
from yuntong.core.money import round_fen
from yuntong.sla.models import Incident

MAX_TITLE = 200


@dataclass(frozen=True)
class CycleShare:
    """The part of one subscription's cycle an incident took away."""

    cycle: Cycle
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def hours(self) -> str:
        return f"{Decimal(self.seconds) / 3600:.2f}"


def incident_key(incident_id: int, subscription_id: int, cycle: str) -> str:
    return f"incident:{incident_id}:{subscription_id}:{cycle}"


# -- checks ------------------------------------------------------------------------------------


def check_window(ctx: Context, starts_at: datetime, ends_at: datetime) -> None:
    """Aware times; the incident has ended (it is recorded afterwards) and after it started."""
    for field, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if moment.tzinfo is None:
            raise YuntongError("validation_failed", fields={field: "invalid"})
    if ends_at <= starts_at or ends_at > ctx.clock.now():
        raise YuntongError("validation_failed", fields={"ends_at": "invalid"})


def check_product_codes(catalog: Catalog, codes: list[str]) -> list[str]:
    checked = sorted({code.strip() for code in codes})
    if not checked or "" in checked:
        raise YuntongError("validation_failed", fields={"product_codes": "required"})
    for code in checked:
        catalog.by_code(code)  # product_not_found
    return checked


def is_excluded(ctx: Context, incident: Incident) -> bool:
    """Interruptions shorter than the contract's minimum continuous hours earn no credit."""
    shortest = timedelta(hours=ctx.settings.billing_incident_min_hours)
    return ended(incident) - incident.starts_at < shortest


def ended(incident: Incident) -> datetime:
    """When an incident ended (an open one, on the status page, is refused: ``incident_open``)."""
    if incident.ends_at is None:
        raise YuntongError("incident_open")
    return incident.ends_at


# -- the credit --------------------------------------------------------------------------------


def cycle_shares(
    incident: Incident, sub: Subscription, close_day: int, ctx: Context
) -> list[CycleShare]:
    """The incident's overlap with the subscription, split at the account's cycle boundaries."""
    start = max(incident.starts_at, sub.starts_at)
    end = ended(incident) if sub.ends_at is None else min(ended(incident), sub.ends_at)
    tz = business_tz(ctx)
    shares = []
    cycle = cycle_of(start, close_day, tz)
    while cycle.start < end:
        share = CycleShare(cycle, max(start, cycle.start), min(end, cycle.end))
        if share.seconds > 0:
            shares.append(share)
        cycle = next_cycle(cycle, close_day, tz)
    return shares


def share_of_fee(monthly_fee_fen: int, share: CycleShare) -> int:
    """The monthly fee × the share of the cycle's seconds lost, rounded half-up once."""
    cycle_seconds = int((share.cycle.end - share.cycle.start).total_seconds())
    return round_fen(Decimal(monthly_fee_fen) * share.seconds / cycle_seconds)


async def rent_charged(s: AsyncSession, sub: Subscription, cycle: Cycle) -> int:
    """The rent the subscription was charged for ``cycle``, net of rent credited back."""
    query = select(LedgerEntry).where(
        LedgerEntry.account_id == sub.account_id,
        LedgerEntry.kind == EntryKind.RENT,
        LedgerEntry.period_start < cycle.end,
        LedgerEntry.period_end > cycle.start,
    )
    entries = (await s.execute(query)).scalars()
    return sum(e.amount_fen for e in entries if e.detail.get("subscription_id") == sub.id)


async def incident_credits_given(s: AsyncSession, sub: Subscription, cycle: Cycle) -> int:
    """What every incident has already credited this subscription for ``cycle`` (positive)."""
    pattern = f"incident:%:{sub.id}:{cycle.label}"  # any incident's key for this sub and cycle
    query = select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
        LedgerEntry.account_id == sub.account_id,
        LedgerEntry.kind == EntryKind.CREDIT,
        LedgerEntry.idempotency_key.like(pattern),
    )
    return -int((await s.execute(query)).scalar_one())


def credit_row(
    incident: Incident, sub: Subscription, product: Product, share: CycleShare, fen: int
) -> dict[str, Any]:
    return {
        "account_id": sub.account_id,
        "kind": EntryKind.CREDIT.value,
        "amount_fen": -fen,
        "occurred_at": share.end,
        "period_start": share.start,
        "period_end": share.end,
        "reference": f"incident:{incident.id}",
        "detail": {
            "incident_id": incident.id,
            "hours": share.hours,
            "subscription_id": sub.id,
            "product_code": product.code,
            "cycle": share.cycle.label,
        },
        "idempotency_key": incident_key(incident.id, sub.id, share.cycle.label),
    }


async def _credit_subscription(
    s: AsyncSession,
    ctx: Context,
    catalog: Catalog,
    incident: Incident,
    sub: Subscription,
    close_day: int,
) -> int:
    """Append this subscription's credits for the incident; how many were new."""
    product = catalog.products[sub.product_id]
    appended = 0
    for share in cycle_shares(incident, sub, close_day, ctx):
        key = incident_key(incident.id, sub.id, share.cycle.label)
        if await entry_by_key(s, key) is not None:
            continue
        price = catalog.price_on(product.id, local_day(ctx, share.start))
        fee = 0 if price is None else price.monthly_fee_fen
        room = await rent_charged(s, sub, share.cycle) - await incident_credits_given(
            s, sub, share.cycle
        )
        fen = min(share_of_fee(fee, share), room)
        if fen <= 0:
            continue
        row = credit_row(incident, sub, product, share, fen)
        await add_entry(s, **row, posted_at=ctx.clock.now(), created_by=None)
        appended += 1
    return appended


# -- changes and reading -----------------------------------------------------------------------


async def do_record_incident(
    ctx: Context,
    actor: Actor,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    product_codes: list[str],
) -> Incident:
    """Staff record an interruption that has ended and the products it took down."""
    roles.check_staff(actor)
    title = title.strip()
    if not title:
        raise YuntongError("validation_failed", fields={"title": "required"})
    if len(title) > MAX_TITLE:
        raise YuntongError("validation_failed", fields={"title": "too_long"})
    check_window(ctx, starts_at, ends_at)
    codes = check_product_codes(await load_catalog(ctx), product_codes)
    incident = Incident(
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        product_codes=codes,
        created_by=actor.user_id,
        created_at=ctx.clock.now(),
    )
    async with ctx.db.session() as s:
        s.add(incident)
    await audit.record(ctx, actor.user_id, "billing.incident", None, incident_id=incident.id)
    return incident


async def do_apply_incident_credits(ctx: Context, actor: Actor, incident_id: int) -> int:
    """Credit every subscription to an affected product; returns how many credit notes were
    appended. Idempotent: one credit per (incident, subscription, cycle), ever."""
    roles.check_staff(actor)
    catalog = await load_catalog(ctx)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        # Marking it applied is the first write: on SQLite it takes the write lock, so two
        # applications run one after the other; on PostgreSQL the subscriptions' row locks below
        # keep two incidents from both spending the same cycle's rent.
        marked = await s.execute(
            update(Incident)
            .where(Incident.id == incident_id)
            .values(credited_at=func.coalesce(Incident.credited_at, literal(now, UTCDateTime())))
            .execution_options(synchronize_session=False)
        )
        incident = await s.get(Incident, incident_id)
        if getattr(marked, "rowcount", 0) != 1 or incident is None:
            raise YuntongError("incident_not_found")
        ends_at = ended(incident)  # an open one is refused (and marked nothing: rolled back)
        appended, account_ids = 0, set[int]()
        if not is_excluded(ctx, incident):
            product_ids = [catalog.by_code(code).id for code in incident.product_codes]
            query = (
                select(Subscription, BillingAccount.close_day)
                .join(BillingAccount, BillingAccount.id == Subscription.account_id)
                .where(
                    Subscription.product_id.in_(product_ids),
                    Subscription.starts_at < ends_at,
                    (Subscription.ends_at.is_(None)) | (Subscription.ends_at > incident.starts_at),
                )
                .order_by(Subscription.id)
                .with_for_update(of=Subscription)
            )
            for sub, close_day in (await s.execute(query)).all():
                new = await _credit_subscription(s, ctx, catalog, incident, sub, close_day)
                if new:
                    appended += new
                    account_ids.add(sub.account_id)
    await publish_changed(ctx, *account_ids)
    await audit.record(
        ctx,
        actor.user_id,
        "billing.incident_credits",
        None,
        incident_id=incident_id,
        count=appended,
    )
    return appended


async def list_incidents(ctx: Context, actor: Actor, limit: int = 200) -> list[Incident]:
    roles.check_staff(actor)
    query = select(Incident).order_by(Incident.starts_at.desc(), Incident.id.desc()).limit(limit)
    async with ctx.db.session() as s:
        return list((await s.execute(query)).scalars())


async def incident_titles(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    """The titles of these incidents (statement lines name the incident they credit)."""
    query = select(Incident.id, Incident.title).where(Incident.id.in_(ids))
    return {i: t for i, t in (await s.execute(query)).all()}
