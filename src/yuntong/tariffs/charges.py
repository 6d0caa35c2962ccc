"""Charging an outside call once it ended: rated by the tables in force when it was answered,
its charge written to the billing ledger as a priced usage record (billing's
``do_record_priced_usage``), and the rated record kept here for the margin report. Once per
call id: a second delivery returns the first result and charges nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from math import ceil

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yuntong.accounts import identity
from yuntong.billing.catalog.tariff import MAX_QUANTITY_S, Rate
from yuntong.billing.ledger import credit
from yuntong.billing.ledger.usage import UsageInput, do_record_priced_usage
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.tariffs.models import OutsideCall
from yuntong.tariffs.rating import OutsideRate, charge_of, rate_of

USAGE_TYPE = "call.outside"


@dataclass(frozen=True)
class ChargeResult:
    call_id: str
    category: str
    prefix: str
    trunk: str
    seconds: int
    billed_s: int
    units: int
    price_fen: int
    cost_fen: int | None
    entry_id: int | None  # the ledger entry the charge is
    repeated: bool = False  # True: the call was charged before, this is that result

    @classmethod
    def of(cls, row: OutsideCall, *, repeated: bool) -> ChargeResult:
        return cls(
            call_id=row.call_id,
            category=row.category,
            prefix=row.prefix,
            trunk=row.trunk,
            seconds=row.seconds,
            billed_s=row.billed_s,
            units=row.units,
            price_fen=row.price_fen,
            cost_fen=row.cost_fen,
            entry_id=row.entry_id,
            repeated=repeated,
        )


def billing_rate(rate: OutsideRate) -> Rate:
    """The rate as billing arithmetic reads it: per minute, whole increments, no connect fee."""
    return Rate(Decimal(rate.price_per_minute_fen), rate.increment_s, rate.increment_s)


async def check_may_call_out(ctx: Context, *, user_id: int, rate: OutsideRate) -> int | None:
    """Before an outside call is placed: raise when ``user_id``'s account may not pay for it
    (``credit_exhausted``, ``balance_exhausted``, ``billing_suspended`` …); else the longest it
    may last in seconds (a prepaid balance, whole increments), or None when not limited."""
    return await credit.check_may_start_priced(ctx, user_id, billing_rate(rate))


def call_seconds(answered_at: datetime, ended_at: datetime) -> int:
    """From the answer to the end, rounded up to whole seconds (as calls bill)."""
    if answered_at.tzinfo is None or ended_at.tzinfo is None:
        raise YuntongError("malformed_usage", reason="naive time")
    if ended_at < answered_at:
        raise YuntongError("malformed_usage", reason="ended before it was answered")
    seconds = ceil(Decimal(str((ended_at - answered_at).total_seconds())))
    if seconds > MAX_QUANTITY_S:
        raise YuntongError("malformed_usage", reason="quantity out of range")
    return int(seconds)


async def charged_before(ctx: Context, call_id: str) -> OutsideCall | None:
    async with ctx.db.session() as s:
        found: OutsideCall | None = (
            await s.execute(select(OutsideCall).where(OutsideCall.call_id == call_id))
        ).scalar_one_or_none()
        return found


async def do_charge_outside_call(
    ctx: Context,
    *,
    call_id: str,
    user_id: int,
    trunk: str,
    destination: str,
    home_area: str | None,
    answered_at: datetime,
    ended_at: datetime,
) -> ChargeResult:
    """Charge ``user_id`` (its billing account pays; for a forwarded leg the forwarding
    subscriber) for an answered outside call. ``tariff_no_rate`` when no tariff covered the
    destination when it was answered (the edge should have refused it)."""
    if not call_id or len(call_id) > 40:
        raise YuntongError("malformed_usage", reason="missing source")
    before = await charged_before(ctx, call_id)
    if before is not None:
        return ChargeResult.of(before, repeated=True)
    seconds = call_seconds(answered_at, ended_at)
    rate = await rate_of(
        ctx, trunk=trunk, destination=destination, home_area=home_area, at=answered_at
    )
    if rate is None:
        raise YuntongError("tariff_no_rate")
    charge = charge_of(seconds, rate)
    priced = await do_record_priced_usage(
        ctx,
        UsageInput(
            source="outside",
            source_id=call_id,
            user_id=user_id,
            usage_type=USAGE_TYPE,
            quantity_s=seconds,
            started_at=answered_at,
            other_party=identity.mask_phone(destination.strip()),
        ),
        rate=billing_rate(rate),
        detail={"category": rate.category, "prefix": rate.prefix, "trunk": trunk},
    )
    row = OutsideCall(
        call_id=call_id,
        user_id=user_id,
        account_id=priced.account_id,
        trunk=trunk,
        destination=destination.strip(),
        category=rate.category,
        prefix=rate.prefix,
        price_table_id=rate.price_table_id,
        cost_table_id=rate.cost_table_id,
        answered_at=answered_at,
        ended_at=ended_at,
        seconds=seconds,
        increment_s=rate.increment_s,
        billed_s=priced.billed_s,
        units=charge.units,
        price_per_minute_fen=rate.price_per_minute_fen,
        price_fen=priced.amount_fen,  # the ledger's amount: the same arithmetic, one rounding
        cost_per_minute_fen=rate.cost_per_minute_fen,
        cost_fen=charge.cost_fen,
        entry_id=priced.entry_id,
        created_at=ctx.clock.now(),
    )
    try:
        async with ctx.db.session() as s:
            s.add(row)
    except IntegrityError:  # charged at the same moment elsewhere: the ledger has one entry
        raced = await charged_before(ctx, call_id)
        assert raced is not None
        return ChargeResult.of(raced, repeated=True)
    return ChargeResult.of(row, repeated=False)
