"""Overdue handling (VP 5): what is owed, late fees, reminders, suspension and termination.

What an account owes is replayed from the ledger in time order (:class:`Book`): each
statement's charges, each day's late fee, every payment and credit note. Everything in the
customer's favour settles the debt that fell due first: a statement's charges fall due on its
due date, a late fee on its day, so a statement's charges are settled before the late fees
they cause and those before the charges of a later statement; a credit note first reduces the
statement (or the late fee) it corrects. (docs/billing.md, "Late fees and payment application
order".) Each day, the charges overdue at the start of the day (due before it, unpaid, not
under a dispute open at that moment) cost the late-fee rate (0.3 %): never the late fees
themselves. A payment recorded after the days it saved was charged for gives those days'
excess back as corrections. More than a month overdue suspends chargeable services, more than
three months terminates the account and marks the arrears for collection; payment in full
lifts a suspension.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.billing import store
from yuntong.billing.catalog.catalog import business_tz, local_day
from yuntong.billing.catalog.cycles import add_months, midnight
from yuntong.billing.disputes.disputes import DisputedAmount, disputed_amounts
from yuntong.billing.ledger.accounts import publish_changed
from yuntong.billing.ledger.rents import end_subscriptions_now, settle_suspension_rent
from yuntong.billing.models import (
    BillingAccount,
    BillingState,
    EntryKind,
    LedgerEntry,
    Statement,
)
from yuntong.billing.statements.statements import do_close_ended_cycles
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.logging import get_logger
from yuntong.core.money import format_yuan, round_fen
from yuntong.notifications.notices import deliver_pending, do_notify

log = get_logger(__name__)
MAX_CATCH_UP_DAYS = 400


@dataclass(frozen=True)
class OpenAmount:
    """What is left to pay of one statement: its charges, and the late fees billed on it."""

    statement: Statement
    charges_fen: int
    fees_fen: int = 0
    disputed_charges_fen: int = 0  # at most charges_fen
    disputed_fees_fen: int = 0  # at most fees_fen

    @property
    def open_fen(self) -> int:
        return self.charges_fen + self.fees_fen

    @property
    def disputed_fen(self) -> int:
        return self.disputed_charges_fen + self.disputed_fees_fen

    @property
    def collectable_fen(self) -> int:
        return self.open_fen - self.disputed_fen

    @property
    def base_fen(self) -> int:
        """What late fees accrue on once the statement is overdue: undisputed charges."""
        return self.charges_fen - self.disputed_charges_fen


def apply_credits(debits: Sequence[tuple[Any, int]], credits_fen: int) -> list[int]:
    """Apply ``credits_fen`` to the debits in their order; returns what is left of each."""
    left = max(0, credits_fen)
    remaining = []
    for _debt, debit in debits:
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

    def late_fee_base(self, day: date) -> int:
        """The charges overdue on ``day`` that late fees accrue on (VP 5: not late fees)."""
        return sum(a.base_fen for a in self.amounts if a.statement.due_on < day)

    def open_fen(self) -> int:
        return sum(a.open_fen for a in self.amounts)


# -- the book: what is owed, replayed in time ------------------------------------------------

_FEE, _STATEMENT, _CREDIT = 0, 1, 2  # at one moment, debts arrive before what settles them


@dataclass(eq=False)
class _Charges:
    """One statement's charges (its positive lines other than late fees) and what is left."""

    statement: Statement
    left_fen: int
    arrived: bool = False


@dataclass(eq=False)
class _Fee:
    """One day's late fee, net of its corrections, and what is left of it."""

    day: date
    amount_fen: int = 0
    last_entry_id: int = 0
    statement_id: int | None = None  # the statement it is billed on
    left_fen: int = 0
    arrived: bool = False


@dataclass(frozen=True)
class _Credit:
    """Something in the customer's favour: a payment, or a credit note correcting a charge."""

    entry_id: int
    at: datetime
    amount_fen: int
    statement_id: int | None = None  # the statement whose charges a credit note corrects
    fee_day: date | None = None  # the late fee a credit note corrects


def _maturity(debt: _Charges | _Fee) -> tuple[date, int, int]:
    """When a debt fell due: a statement's charges on its due date, a late fee on its day; on
    the same day the charges first (they are what costs the customer late fees)."""
    if isinstance(debt, _Charges):
        return (debt.statement.due_on, 0, debt.statement.id)
    return (debt.day, 1, 0)


class Book:
    """An account's debts and credits replayed in time order.

    Statements arrive when issued, late fees at the start of their day, payments and credit
    notes when they occurred (whenever they were recorded). What is in the customer's favour
    is applied when it occurs, to the debts that fell due first (:func:`_maturity`); what is
    left is kept in hand and settles debts as they arrive. ``advance`` moves the replay to a
    moment; ``position`` is what is open then.
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.charges: list[_Charges] = []
        self.fees: dict[date, _Fee] = {}
        self.credits: list[_Credit] = []
        self.in_hand_fen = 0
        self._fee_entries: set[int] = set()
        self._events: list[tuple[datetime, int, int, _Charges | _Fee | _Credit]] = []
        self._seq = 0

    def _push(self, at: datetime, order: int, item: _Charges | _Fee | _Credit) -> None:
        heapq.heappush(self._events, (at, order, self._seq, item))
        self._seq += 1

    def add_statement(self, statement: Statement, charges_fen: int) -> None:
        charges = _Charges(statement, charges_fen)
        self.charges.append(charges)
        self._push(statement.issued_at, _STATEMENT, charges)

    def _fee(self, day: date) -> _Fee:
        fee = self.fees.get(day)
        if fee is None:
            fee = self.fees[day] = _Fee(day)
            self._push(midnight(day, self.tz), _FEE, fee)
        if fee.arrived:
            raise ValueError(f"the late fee of {day} is already in the replay")
        return fee

    def add_fee(self, day: date, amount_fen: int, entry_id: int, statement_id: int | None) -> None:
        """A late-fee entry of ``day`` (a correction is negative), billed on ``statement_id``."""
        fee = self._fee(day)
        fee.amount_fen += amount_fen
        fee.last_entry_id = max(fee.last_entry_id, entry_id)
        if fee.statement_id is None and amount_fen > 0:
            fee.statement_id = statement_id
        self._fee_entries.add(entry_id)

    def set_fee(self, day: date, amount_fen: int) -> None:
        """``day``'s late fee as just computed, before the replay reaches the day."""
        self._fee(day).amount_fen = amount_fen

    def fee_fen(self, day: date) -> int:
        fee = self.fees.get(day)
        return 0 if fee is None else fee.amount_fen

    def add_credit(self, credit: _Credit) -> None:
        self.credits.append(credit)
        self._push(credit.at, _CREDIT, credit)

    def first_due(self) -> date | None:
        return min((c.statement.due_on for c in self.charges), default=None)

    def last_fee_day(self) -> date | None:
        return max(self.fees, default=None)

    def missed_credit(self, day: date) -> int | None:
        """The newest credit dated before ``day`` but recorded after ``day``'s late fee was
        charged (a bank transfer recorded days after it arrived): the fee needs another look."""
        fee = self.fees.get(day)
        if fee is None or fee.amount_fen <= 0:
            return None
        start = midnight(day, self.tz)
        late = [c.entry_id for c in self.credits if c.at < start and c.entry_id > fee.last_entry_id]
        return max(late, default=None)

    def advance(self, until: datetime | None) -> None:
        """Apply everything that happened before ``until`` (None: everything)."""
        while self._events and (until is None or self._events[0][0] < until):
            item = heapq.heappop(self._events)[3]
            if isinstance(item, _Credit):
                self._apply(item)
            else:
                item.arrived = True
                if isinstance(item, _Fee):
                    item.left_fen = max(0, item.amount_fen)
            self._settle()

    def _apply(self, credit: _Credit) -> None:
        left = credit.amount_fen
        target: _Charges | _Fee | None = None
        if credit.fee_day is not None:
            target = self.fees.get(credit.fee_day)
        elif credit.statement_id is not None:
            target = next((c for c in self.charges if c.statement.id == credit.statement_id), None)
        if target is not None and target.arrived:
            used = min(left, target.left_fen)
            target.left_fen -= used
            left -= used
        self.in_hand_fen += left

    def _settle(self) -> None:
        if self.in_hand_fen <= 0:
            return
        debts: list[_Charges | _Fee] = [c for c in self.charges if c.arrived and c.left_fen > 0]
        debts += [f for f in self.fees.values() if f.arrived and f.left_fen > 0]
        debts.sort(key=_maturity)
        remaining = apply_credits([(d, d.left_fen) for d in debts], self.in_hand_fen)
        for debt, left in zip(debts, remaining, strict=True):
            self.in_hand_fen -= debt.left_fen - left
            debt.left_fen = left

    def position(self, disputes: Sequence[DisputedAmount], at: datetime | None) -> Position:
        """What is open on each statement issued so far, with the disputes open at ``at``
        (None: open now) set aside."""
        disputed: dict[tuple[int, bool], int] = {}
        for d in disputes:
            if d.open_at(at):
                key = (d.statement_id, d.entry_id in self._fee_entries)
                disputed[key] = disputed.get(key, 0) + d.amount_fen
        fees: dict[int, int] = {}
        for fee in self.fees.values():
            if fee.arrived and fee.statement_id is not None:
                fees[fee.statement_id] = fees.get(fee.statement_id, 0) + fee.left_fen
        amounts = []
        for c in self.charges:
            if not c.arrived:
                continue
            st_fees = fees.get(c.statement.id, 0)
            amounts.append(
                OpenAmount(
                    c.statement,
                    c.left_fen,
                    st_fees,
                    min(c.left_fen, disputed.get((c.statement.id, False), 0)),
                    min(st_fees, disputed.get((c.statement.id, True), 0)),
                )
            )
        return Position(amounts)


def _fee_day(detail: dict[str, Any] | None, occurred_at: datetime, tz: ZoneInfo) -> date:
    day = (detail or {}).get("day")
    return date.fromisoformat(str(day)) if day else occurred_at.astimezone(tz).date()


async def load_book(s: AsyncSession, account_id: int, tz: ZoneInfo) -> Book:
    """The account's statements, late fees, payments and credit notes, ready to replay."""
    book = Book(tz)
    for statement, charges_fen in await store.statement_charges(s, account_id):
        book.add_statement(statement, charges_fen)
    rows = await store.fees_and_credits(s, account_id)
    fee_days: dict[int, date] = {}
    for row in rows:
        if row.kind == EntryKind.LATE_FEE:
            day = fee_days[row.id] = _fee_day(row.detail, row.occurred_at, tz)
            book.add_fee(day, row.amount_fen, row.id, row.statement_id)
    for row in rows:
        if row.kind == EntryKind.LATE_FEE:
            continue
        detail = row.detail or {}
        statement_id = fee_day = None
        if row.kind != EntryKind.PAYMENT and detail.get("dispute_id") is not None:
            fee_day = fee_days.get(int(detail.get("entry_id") or 0))
            if fee_day is None and detail.get("statement_id") is not None:
                statement_id = int(detail["statement_id"])
        book.add_credit(_Credit(row.id, row.occurred_at, -row.amount_fen, statement_id, fee_day))
    return book


async def position(
    ctx: Context, s: AsyncSession, account_id: int, before: datetime | None = None
) -> Position:
    """What is open on the account's statements just before ``before`` (None: now)."""
    book = await load_book(s, account_id, business_tz(ctx))
    book.advance(before)
    return book.position(await disputed_amounts(s, account_id), before)


async def _post_late_fees(
    ctx: Context, s: AsyncSession, account_id: int, today: date
) -> tuple[int, Position]:
    """Late fees for every day up to ``today`` not charged yet, each day's base as it stood at
    the start of that day; and corrections of days charged before a payment dated earlier was
    recorded. Returns the fen charged (net) and the position now."""
    tz = business_tz(ctx)
    book = await load_book(s, account_id, tz)
    disputes = await disputed_amounts(s, account_id)
    first_due = book.first_due()
    charged = 0
    rows = []
    if first_due is not None:
        rate = ctx.settings.billing_late_fee_per_day
        last = book.last_fee_day()
        day = max(first_due + timedelta(days=1), today - timedelta(days=MAX_CATCH_UP_DAYS))
        while day <= today:
            fresh = last is None or day > last
            missed = None if fresh else book.missed_credit(day)
            if fresh or missed is not None:
                start = midnight(day, tz)
                book.advance(start)
                base = book.position(disputes, start).late_fee_base(day)
                fee = late_fee(base, rate)
                charged_before = book.fee_fen(day)
                # a past day is only ever corrected downwards
                if fee != charged_before and (fresh or fee < charged_before):
                    detail: dict[str, Any] = {
                        "day": day.isoformat(),
                        "base_fen": base,
                        "rate": f"{rate:%}",
                    }
                    key = f"late:{account_id}:{day.isoformat()}"
                    if not fresh:
                        detail["corrects_fen"] = charged_before
                        key = f"{key}:{missed}"
                    rows.append(
                        {
                            "account_id": account_id,
                            "kind": EntryKind.LATE_FEE.value,
                            "amount_fen": fee - charged_before,
                            "occurred_at": start if fresh else ctx.clock.now(),
                            "posted_at": ctx.clock.now(),
                            "allowance_s": 0,
                            "detail": detail,
                            "idempotency_key": key,
                        }
                    )
                    book.set_fee(day, fee)
                    charged += fee - charged_before
            day += timedelta(days=1)
    await store.insert_entries(s, rows)
    book.advance(None)
    return charged, book.position(disputes, None)


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
        review.late_fees_fen, pos = await _post_late_fees(ctx, s, account_id, today)
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
            await settle_suspension_rent(ctx, s, account)  # no rent while suspended (setting)
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
    mail_failed: int = 0  # notices whose e-mail failed and waits for a retry
    alerts: int = 0  # operator alerts the daily checks raised (a day's completion rate)


# what another domain checks once a day with the run, returning the alerts it raised: sla hands
# over the completion rate's check when the context is built (billing does not import sla)
DailyCheck = Callable[[Context], Awaitable[int]]
DAILY_CHECK = Piece(
    "billing.daily_check",
    "node-owned live state",
    lambda ctx: Slot[DailyCheck](),
    "the check the daily run makes for another domain (sla: a day's completion rate)",
)


def check_daily_with(ctx: Context, check: DailyCheck) -> None:
    """Hand over the daily run's check (``yuntong.services``)."""
    ctx.services.get(DAILY_CHECK).value = check


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
    """Close every cycle that has ended and is not closed (however late the run), review every
    owing account, send pending notices (each on its own; failures are retried and counted)."""
    now = ctx.clock.now()
    result = DailyResult(local_day(ctx, now))
    result.closed = sum(r.issued for r in await do_close_ended_cycles(ctx))
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
    delivery = await deliver_pending(ctx)
    result.mailed, result.mail_failed = delivery.sent, delivery.failing
    check = ctx.services.get(DAILY_CHECK).value
    try:
        result.alerts = 0 if check is None else await check(ctx)
    except Exception:  # the billing day is done regardless; the check looks back a week
        log.exception("billing_daily_check_failed")
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
            pos = await position(ctx, s, account_id)
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
