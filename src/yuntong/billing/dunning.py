"""Overdue handling (VP 5): open amounts, late fees, reminders, suspension and termination.

Everything in the customer's favour (payments, credits) is applied to the oldest statements
first. An amount is overdue from the day after its due date; each day it is overdue at the
start of the day costs the late-fee rate (0.3 %) of it, excluding amounts under an open
dispute. More than a month overdue suspends chargeable services, more than three months
terminates the account and marks the arrears for collection; payment in full lifts a
suspension.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.billing import store
from yuntong.billing.accounts import publish_changed
from yuntong.billing.catalog import business_tz, local_day
from yuntong.billing.cycles import add_months, cycle_of, midnight
from yuntong.billing.disputes import open_disputed_fen
from yuntong.billing.models import (
    BillingAccount,
    BillingState,
    EntryKind,
    LedgerEntry,
    Statement,
)
from yuntong.billing.notices import do_deliver_pending, do_notify
from yuntong.billing.orders import end_subscriptions_now
from yuntong.core.context import Context
from yuntong.core.logging import get_logger
from yuntong.core.money import format_yuan, round_fen

log = get_logger(__name__)
MAX_CATCH_UP_DAYS = 400


@dataclass(frozen=True)
class OpenAmount:
    statement: Statement
    open_fen: int  # what is left to pay of what this statement newly charged
    disputed_fen: int

    @property
    def collectable_fen(self) -> int:
        return max(0, self.open_fen - self.disputed_fen)


def apply_credits(debits: Sequence[tuple[Statement, int]], credits_fen: int) -> list[int]:
    """Apply ``credits_fen`` to the statements' charges, oldest first; returns what is left."""
    left = max(0, credits_fen)
    remaining = []
    for _st, debit in debits:
        used = min(left, debit)
        left -= used
        remaining.append(debit - used)
    return remaining


def late_fee(overdue_fen: int, rate: Decimal) -> int:
    return round_fen(Decimal(overdue_fen) * rate)


@dataclass
class Position:
    """An account's statements with what is open on each, as of a moment."""

    amounts: list[OpenAmount] = field(default_factory=list)

    def overdue(self, day: date) -> list[OpenAmount]:
        """Amounts overdue on ``day``: due before it, still collectable."""
        return [a for a in self.amounts if a.statement.due_on < day and a.collectable_fen > 0]

    def overdue_fen(self, day: date) -> int:
        return sum(a.collectable_fen for a in self.overdue(day))

    def open_fen(self) -> int:
        return sum(a.open_fen for a in self.amounts)


async def position(s: AsyncSession, account_id: int, before: datetime | None = None) -> Position:
    debits = await store.statement_debits(s, account_id)
    if before is not None:
        debits = [(st, d) for st, d in debits if st.issued_at < before]
    credits = await store.credits_until(s, account_id, before)
    disputed = await open_disputed_fen(s, account_id)
    remaining = apply_credits(debits, credits)
    return Position(
        [
            OpenAmount(st, left, min(left, disputed.get(st.id, 0)))
            for (st, _d), left in zip(debits, remaining, strict=True)
        ]
    )


async def _post_late_fees(ctx: Context, s: AsyncSession, account_id: int, today: date) -> int:
    """Late fees for every day up to ``today`` not charged yet; returns fen charged."""
    current = await position(s, account_id)
    if not current.amounts:
        return 0
    last = await s.execute(
        select(func.max(LedgerEntry.occurred_at)).where(
            LedgerEntry.account_id == account_id, LedgerEntry.kind == EntryKind.LATE_FEE
        )
    )
    last_at = last.scalar_one()
    first_due = min(a.statement.due_on for a in current.amounts)
    day = max(
        first_due + timedelta(days=1),
        local_day(ctx, last_at) + timedelta(days=1) if last_at else first_due,
        today - timedelta(days=MAX_CATCH_UP_DAYS),
    )
    rate = ctx.settings.billing_late_fee_per_day
    charged = 0
    rows = []
    while day <= today:
        start = midnight(day, business_tz(ctx))
        base = (await position(s, account_id, start)).overdue_fen(day)
        fee = late_fee(base, rate)
        if fee > 0:
            rows.append(
                {
                    "account_id": account_id,
                    "kind": EntryKind.LATE_FEE.value,
                    "amount_fen": fee,
                    "occurred_at": start,
                    "posted_at": ctx.clock.now(),
                    "allowance_s": 0,
                    "detail": {"day": day.isoformat(), "base_fen": base, "rate": f"{rate:%}"},
                    "idempotency_key": f"late:{account_id}:{day.isoformat()}",
                }
            )
            charged += fee
        day += timedelta(days=1)
    await store.insert_entries(s, rows)
    return charged


@dataclass
class Review:
    account_id: int
    overdue_fen: int = 0
    late_fees_fen: int = 0
    oldest_due: date | None = None
    suspend_after: date | None = None
    terminate_after: date | None = None
    state: str = BillingState.ACTIVE
    changed_to: str | None = None


async def do_review_account(ctx: Context, account_id: int, *, daily: bool = False) -> Review:
    """Bring one account up to date: late fees, reminders, suspension, termination, lifting."""
    today = local_day(ctx, ctx.clock.now())
    settings = ctx.settings
    review = Review(account_id)
    async with ctx.db.session() as s:
        account = await s.get(BillingAccount, account_id, with_for_update=True)
        assert account is not None
        review.late_fees_fen = await _post_late_fees(ctx, s, account_id, today)
        pos = await position(s, account_id)
        overdue = pos.overdue(today)
        review.overdue_fen = sum(a.collectable_fen for a in overdue)
        review.state = account.state
        if overdue:
            oldest = min(a.statement.due_on for a in overdue)
            review.oldest_due = oldest
            review.suspend_after = add_months(oldest, settings.billing_suspend_after_months)
            review.terminate_after = add_months(oldest, settings.billing_terminate_after_months)
        automatic = settings.billing_suspension_mode == "automatic"
        target = _target_state(account.state, review, today, automatic)
        if target is not None and target != account.state:
            account.state = target
            account.state_changed_at = ctx.clock.now()
            account.state_reason = "non_payment" if target != BillingState.ACTIVE else None
            if target == BillingState.TERMINATED:
                account.in_collections = True
                await end_subscriptions_now(ctx, s, account_id)
            review.changed_to = target
            review.state = target
    if review.changed_to or review.late_fees_fen:
        await publish_changed(ctx, account_id)
    await _remind(ctx, account_id, pos, review, today)
    if review.changed_to:
        log.info("billing_state_changed", account_id=account_id, state=review.changed_to)
    return review


def _target_state(state: str, review: Review, today: date, automatic: bool) -> str | None:
    if state == BillingState.SUSPENDED and review.overdue_fen == 0:
        return BillingState.ACTIVE
    if not automatic or review.oldest_due is None:
        return None
    assert review.suspend_after is not None and review.terminate_after is not None
    if state in (BillingState.ACTIVE, BillingState.SUSPENDED) and today > review.terminate_after:
        return BillingState.TERMINATED
    if state == BillingState.ACTIVE and today > review.suspend_after:
        return BillingState.SUSPENDED
    return None


async def _remind(
    ctx: Context, account_id: int, pos: Position, review: Review, today: date
) -> None:
    ahead = timedelta(days=ctx.settings.billing_reminder_days_before_due)
    rate = f"{ctx.settings.billing_late_fee_per_day:%}"
    for amount in pos.amounts:
        st = amount.statement
        if amount.collectable_fen <= 0:
            continue
        params: dict[str, Any] = {
            "number": st.number,
            "due_on": st.due_on.isoformat(),
            "open": format_yuan(amount.collectable_fen),
            "rate": rate,
        }
        if st.due_on - ahead <= today <= st.due_on:
            await do_notify(ctx, account_id, "due_soon", str(st.id), **params)
        elif st.due_on < today:
            await do_notify(ctx, account_id, "overdue", str(st.id), **params)
    if review.oldest_due is None:
        return
    assert review.suspend_after is not None and review.terminate_after is not None
    owed = {"open": format_yuan(review.overdue_fen)}
    key = review.oldest_due.isoformat()
    if review.suspend_after - ahead <= today <= review.suspend_after:
        on = review.suspend_after.isoformat()
        await do_notify(ctx, account_id, "suspension_soon", key, on=on, **owed)
    if review.terminate_after - ahead <= today <= review.terminate_after:
        on = review.terminate_after.isoformat()
        await do_notify(ctx, account_id, "termination_soon", key, on=on, **owed)
    if review.changed_to == BillingState.SUSPENDED:
        await do_notify(ctx, account_id, "suspended", key, **owed)
    if review.changed_to == BillingState.TERMINATED:
        await do_notify(ctx, account_id, "terminated", key, **owed)


# -- the daily run ------------------------------------------------------------------------------


@dataclass
class DailyResult:
    day: date
    closed: int = 0
    reviewed: int = 0
    suspended: int = 0
    terminated: int = 0
    lifted: int = 0
    late_fees_fen: int = 0
    mailed: int = 0


async def accounts_owing(ctx: Context) -> list[int]:
    """Accounts with a statement and a positive balance: the only ones dunning can concern."""
    has_statement = select(Statement.id).where(Statement.account_id == LedgerEntry.account_id)
    query = (
        select(LedgerEntry.account_id)
        .join(BillingAccount, BillingAccount.id == LedgerEntry.account_id)
        .where(has_statement.exists(), BillingAccount.state != BillingState.TERMINATED)
        .group_by(LedgerEntry.account_id)
        .having(func.sum(LedgerEntry.amount_fen) > 0)
    )
    async with ctx.db.session() as s:
        return sorted((await s.execute(query)).scalars())


async def do_daily_run(
    ctx: Context, on_progress: Callable[[int, int], None] | None = None
) -> DailyResult:
    """Close a cycle that just ended, review every owing account, send pending notices."""
    from yuntong.billing.statements import do_close_cycle

    now = ctx.clock.now()
    result = DailyResult(local_day(ctx, now))
    tz = business_tz(ctx)
    ended = cycle_of(now - timedelta(days=1), ctx.settings.billing_close_day, tz)
    if ended.end <= now < ended.end + timedelta(days=3):
        result.closed = (await do_close_cycle(ctx, ended.label)).issued
    owing = await accounts_owing(ctx)
    suspended = await _suspended_ids(ctx)
    for index, account_id in enumerate(sorted(set(owing) | suspended), 1):
        review = await do_review_account(ctx, account_id, daily=True)
        result.reviewed += 1
        result.late_fees_fen += review.late_fees_fen
        if review.changed_to == BillingState.SUSPENDED:
            result.suspended += 1
        elif review.changed_to == BillingState.TERMINATED:
            result.terminated += 1
        elif review.changed_to == BillingState.ACTIVE:
            result.lifted += 1
        if on_progress:
            on_progress(index, len(owing))
    result.mailed = await do_deliver_pending(ctx)
    log.info("billing_daily_run", **{k: str(v) for k, v in result.__dict__.items()})
    return result


async def _suspended_ids(ctx: Context) -> set[int]:
    query = select(BillingAccount.id).where(BillingAccount.state == BillingState.SUSPENDED)
    async with ctx.db.session() as s:
        return set((await s.execute(query)).scalars())


async def dunning_list(ctx: Context) -> list[dict[str, Any]]:
    """For operator staff: every account with overdue amounts, oldest first."""
    today = local_day(ctx, ctx.clock.now())
    rows = []
    for account_id in await accounts_owing(ctx):
        async with ctx.db.session() as s:
            account = await s.get(BillingAccount, account_id)
            pos = await position(s, account_id)
        assert account is not None
        overdue = pos.overdue(today)
        if not overdue:
            continue
        oldest = min(a.statement.due_on for a in overdue)
        rows.append(
            {
                "account_id": account_id,
                "state": account.state,
                "in_collections": account.in_collections,
                "overdue_fen": sum(a.collectable_fen for a in overdue),
                "disputed_fen": sum(a.disputed_fen for a in pos.amounts),
                "oldest_due": oldest.isoformat(),
                "days_overdue": (today - oldest).days,
                "suspend_after": add_months(
                    oldest, ctx.settings.billing_suspend_after_months
                ).isoformat(),
                "terminate_after": add_months(
                    oldest, ctx.settings.billing_terminate_after_months
                ).isoformat(),
            }
        )
    rows.sort(key=lambda r: str(r["oldest_due"]))
    return rows
