"""The call completion rate (CP 2.1): ITU-T E.411's answer-seizure ratio (ASR) and E.425's
network effectiveness ratio (NER, the contract's 98 %) per business day, per customer (billing
account) and per calling number, computed from the call records on read; and the operator's
alert for a day whose NER fell below the contract (docs/completion-rate.md).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, null, select
from sqlalchemy.orm import aliased

from yuntong.accounts import audit, roles
from yuntong.accounts.models import Organisation, User
from yuntong.accounts.roles import Actor
from yuntong.billing.catalog.catalog import business_tz, local_day
from yuntong.billing.ledger.accounts import account_for_actor, get_account
from yuntong.billing.models import BillingAccount
from yuntong.calls import causes
from yuntong.calls.models import CallRecord
from yuntong.core.context import Context
from yuntong.core.db import insert_ignoring_duplicates
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.sla.models import CompletionAlert

log = get_logger(__name__)

MAX_DAYS = 366  # the longest range one report covers
DEFAULT_DAYS = 30
RECHECKED_DAYS = 7  # the daily check looks this many finished days back (a missed run)
MAX_ROWS = 500  # customers or numbers listed in one report, worst NER first
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)  # days a report may ask for


class Kind(enum.StrEnum):
    """What an attempt counts as: answered; a user outcome (effective: the network delivered
    the call, a user decided how it ended); a network failure (counts against the NER)."""

    ANSWERED = "answered"
    USER = "user"
    NETWORK = "network"


# The causes the call engine gives (yuntong.calls.causes) that an unanswered attempt ends with
# when a user decided it (E.425: "user busy, ring no answer, terminal rejection/unavailability";
# a caller who hangs up while it rings is customer behaviour, which E.425 excludes too).
USER_CAUSES: dict[int, str] = {
    causes.NORMAL_CLEARING: "caller_gave_up",
    causes.USER_BUSY: "user_busy",
    causes.NO_ANSWER: "no_answer",
    causes.SUBSCRIBER_ABSENT: "subscriber_absent",
    causes.CALL_REJECTED: "call_rejected",
}
# Network failures, whether answered or not: 41 is a call whose media never connected, or that
# a stopped node cut; an unanswered 31 is a device's connection lost while ringing. Any cause
# not listed counts as a network failure too, so an unknown cause never raises the NER.
NETWORK_CAUSES: dict[int, str] = {
    causes.TEMPORARY_FAILURE: "temporary_failure",
    causes.NORMAL_UNSPECIFIED: "normal_unspecified",
}
ALWAYS_FAILED = frozenset({causes.TEMPORARY_FAILURE})


def classify(cause: int, answered: bool) -> Kind:
    """An ended attempt's kind from its Q.850 cause and whether it was answered."""
    if cause in ALWAYS_FAILED:
        return Kind.NETWORK
    if answered:
        return Kind.ANSWERED
    return Kind.USER if cause in USER_CAUSES else Kind.NETWORK


def percent(part: int, whole: int) -> str | None:
    """``part / whole`` as a percentage to 0.01 (half up), e.g. "97.00"; None without attempts."""
    if whole <= 0:
        return None
    hundredths = (part * 20_000 + whole) // (2 * whole)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


@dataclass
class Tally:
    """Attempts of one day, customer or number, by kind; user outcomes and failures by cause."""

    attempts: int = 0
    answered: int = 0
    user: dict[int, int] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)

    def add(self, cause: int, answered: bool, count: int) -> None:
        self.attempts += count
        kind = classify(cause, answered)
        if kind == Kind.ANSWERED:
            self.answered += count
        else:
            into = self.user if kind == Kind.USER else self.failures
            into[cause] = into.get(cause, 0) + count

    def merge(self, other: Tally) -> None:
        self.attempts += other.attempts
        self.answered += other.answered
        for mine, theirs in ((self.user, other.user), (self.failures, other.failures)):
            for cause, count in theirs.items():
                mine[cause] = mine.get(cause, 0) + count

    @property
    def effective(self) -> int:
        return self.answered + sum(self.user.values())

    @property
    def network_failures(self) -> int:
        return sum(self.failures.values())

    @property
    def asr(self) -> str | None:
        return percent(self.answered, self.attempts)

    @property
    def ner(self) -> str | None:
        return percent(self.effective, self.attempts)

    def below(self, contracted_bp: int) -> bool:
        """Whether the NER is under ``contracted_bp`` hundredths of a percent (exact integers,
        not the rounded figure: 97.995 % is below 98 %). A day without attempts never is."""
        return self.attempts > 0 and self.effective * 10_000 < contracted_bp * self.attempts

    def sort_key(self) -> tuple[int, int]:
        """Worst NER first, then most attempts (cross-multiplied: no rounding)."""
        return (self.effective * 10_000 // max(self.attempts, 1), -self.attempts)


@dataclass(frozen=True)
class Scope:
    """Whose attempts: every customer's, one customer's (billing account), one number's."""

    account: BillingAccount | None = None
    number: str | None = None


@dataclass
class Report:
    first: date
    last: date
    contracted_bp: int
    scope: Scope
    days: list[tuple[date, Tally]]
    total: Tally
    customers: list[tuple[int, Tally]]  # every customer's scope only (operator staff)
    numbers: list[tuple[str, Tally]]
    names: dict[int, str] = field(default_factory=dict)  # the customers' holders


# -- checks ------------------------------------------------------------------------------------


def check_range(ctx: Context, first: date | None, last: date | None) -> tuple[date, date]:
    """The days asked for: by default the last :data:`DEFAULT_DAYS` up to today (business
    time zone); at most :data:`MAX_DAYS`, first not after last."""
    for name, day in (("from", first), ("to", last)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise YuntongError("validation_failed", fields={name: "invalid"})
    if last is None:
        last = local_day(ctx, ctx.clock.now())
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise YuntongError("validation_failed", fields={"from": "invalid"})
    if (last - first).days >= MAX_DAYS:
        raise YuntongError("validation_failed", fields={"from": "too_long"})
    return first, last


def check_number(text: str | None) -> str | None:
    """A calling number as the records keep it (E.164), from E.164 or the national form."""
    if text is None or not text.strip():
        return None
    digits = "".join(c for c in text if c.isdigit())
    if text.strip().startswith("+"):
        e164 = "+" + digits
    elif digits.startswith("00"):
        e164 = "+" + digits[2:]
    else:
        e164 = "+86" + digits.removeprefix("0")
    if not 8 <= len(e164) <= 16:
        raise YuntongError("validation_failed", fields={"number": "invalid"})
    return e164


async def check_scope(
    ctx: Context, actor: Actor, account_id: int | None, number: str | None
) -> Scope:
    """What ``actor`` may see: operator staff every customer or the one asked for; a customer
    (an individual, an organisation's administrator) its own account only — another's is
    reported as not found, so ids cannot be probed."""
    e164 = check_number(number)
    if roles.is_staff(actor):
        account = None if account_id is None else await get_account(ctx, account_id)
        return Scope(account, e164)
    return Scope(await account_for_actor(ctx, actor, account_id), e164)


# -- reading -----------------------------------------------------------------------------------


def day_starts(ctx: Context, first: date, days: int) -> list[datetime]:
    """The UTC moments the ``days`` business days from ``first`` start, and the one after."""
    tz = business_tz(ctx)
    return [
        datetime.combine(first + timedelta(days=i), time(), tzinfo=tz).astimezone(UTC)
        for i in range(days + 1)
    ]


def _in_scope(scope: Scope) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [CallRecord.ended_at.is_not(None)]
    account = scope.account
    if account is not None and account.organisation_id is not None:
        members = select(User.id).where(User.organisation_id == account.organisation_id)
        where.append(CallRecord.caller_id.in_(members.scalar_subquery()))
    elif account is not None:
        where.append(CallRecord.caller_id == account.user_id)
    if scope.number is not None:
        where.append(CallRecord.calling_number == scope.number)
    return where


def _customer_key() -> tuple[ColumnElement[Any], Sequence[Any]]:
    """The paying account of the caller (an organisation's, else the individual's): the key
    column and the joins it needs."""
    by_org = aliased(BillingAccount)
    by_user = aliased(BillingAccount)
    key = case((User.organisation_id.is_not(None), by_org.id), else_=by_user.id)
    joins = [
        (User, User.id == CallRecord.caller_id),
        (by_org, by_org.organisation_id == User.organisation_id),
        (by_user, by_user.user_id == User.id),
    ]
    return key, joins


async def _tallies(
    ctx: Context, starts: list[datetime], scope: Scope, by: str | None
) -> dict[tuple[int, Any], Tally]:
    """Tallies by (day index, key) over ``starts[0]``..``starts[-1]``; the key is None, the
    customer's account id (``by="customer"``) or the calling number (``by="number"``).

    The day is told by comparing with the days' first moments (any time zone, any offset), in
    a subquery so that PostgreSQL groups by the column, not by an expression with parameters.
    """
    day: ColumnElement[Any] = literal_column("0")
    if by == "day" and len(starts) > 2:
        day = case(
            *[(CallRecord.created_at < start, i) for i, start in enumerate(starts[1:-1])],
            else_=len(starts) - 2,
        )
    key: ColumnElement[Any] = null()
    joins: Sequence[Any] = ()
    where = [*_in_scope(scope), CallRecord.created_at >= starts[0]]
    where.append(CallRecord.created_at < starts[-1])
    if by == "customer":
        key, joins = _customer_key()
    elif by == "number":
        key = CallRecord.calling_number.expression
        where.append(CallRecord.calling_number.is_not(None))
    answered = case((CallRecord.answered_at.is_(None), 0), else_=1)
    query = select(
        day.label("day"),
        key.label("key"),
        answered.label("answered"),
        CallRecord.cause,
        CallRecord.outcome,
        CallRecord.end_reason,
    )
    for target, on in joins:
        query = query.outerjoin(target, on)
    inner = query.where(and_(*where)).subquery()
    grouped = select(*inner.c, func.count()).group_by(*inner.c)
    found: dict[tuple[int, Any], Tally] = {}
    async with ctx.db.session() as s:
        rows = (await s.execute(grouped)).all()
    for day_index, group, was_answered, cause, outcome, reason, count in map(tuple, rows):
        code = cause if cause is not None else causes.cause_for(outcome or "", reason)
        found.setdefault((int(day_index), group), Tally()).add(code, bool(was_answered), count)
    return found


def _ranked(tallies: dict[tuple[int, Any], Tally]) -> list[tuple[Any, Tally]]:
    rows = [(key, tally) for (_, key), tally in tallies.items() if key is not None]
    rows.sort(key=lambda row: row[1].sort_key())
    return rows[:MAX_ROWS]


async def completion_report(
    ctx: Context, actor: Actor, scope: Scope, first: date, last: date
) -> Report:
    """The figures of ``scope`` (from :func:`check_scope`) for the days ``first``..``last``:
    each day's, the range's, and each customer's (every customer's scope) and number's."""
    count = (last - first).days + 1
    starts = day_starts(ctx, first, count)
    daily = await _tallies(ctx, starts, scope, "day")
    days = [(first + timedelta(days=i), daily.get((i, None), Tally())) for i in range(count)]
    total = Tally()
    for _, tally in days:
        total.merge(tally)
    customers: list[tuple[int, Tally]] = []
    if scope.account is None and roles.is_staff(actor):
        customers = _ranked(await _tallies(ctx, starts, scope, "customer"))
    numbers = _ranked(await _tallies(ctx, starts, scope, "number"))
    bp = ctx.settings.completion_ner_contracted_bp
    names = await holder_names(ctx, {account for account, _ in customers})
    return Report(first, last, bp, scope, days, total, customers, numbers, names)


async def holder_names(ctx: Context, account_ids: set[int]) -> dict[int, str]:
    """Who holds each account (an organisation's legal name, else the user's display name and
    username), in one read."""
    if not account_ids:
        return {}
    query = (
        select(BillingAccount.id, Organisation.legal_name, User.display_name, User.username)
        .outerjoin(Organisation, Organisation.id == BillingAccount.organisation_id)
        .outerjoin(User, User.id == BillingAccount.user_id)
        .where(BillingAccount.id.in_(account_ids))
    )
    async with ctx.db.session() as s:
        rows = (await s.execute(query)).all()
    names = {}
    for account, org, display, username in rows:
        names[account] = org if org is not None else f"{display} (@{username})"
    return names


async def report_for(
    ctx: Context,
    actor: Actor,
    account_id: int | None = None,
    number: str | None = None,
    first: date | None = None,
    last: date | None = None,
) -> Report:
    """What the API, the pages and the CLI show: the range and scope checked, then read."""
    first, last = check_range(ctx, first, last)
    scope = await check_scope(ctx, actor, account_id, number)
    return await completion_report(ctx, actor, scope, first, last)


def cause_name(cause: int) -> str:
    """A cause's name in the reports (``cause_<n>`` for one the engine does not give)."""
    return USER_CAUSES.get(cause) or NETWORK_CAUSES.get(cause) or f"cause_{cause}"


# -- the alert ---------------------------------------------------------------------------------


async def do_check_day(ctx: Context, day: date) -> CompletionAlert | None:
    """Raise the alert for ``day`` when every customer's NER that day was below the contract;
    the new alert, or None (not below, no attempts, or raised already: checking a day again
    never raises a second alert)."""
    tally = (await _tallies(ctx, day_starts(ctx, day, 1), Scope(), None)).get((0, None))
    bp = ctx.settings.completion_ner_contracted_bp
    if tally is None or not tally.below(bp):
        return None
    row = {
        "day": day,
        "attempts": tally.attempts,
        "effective": tally.effective,
        "contracted_bp": bp,
        "raised_at": ctx.clock.now(),
    }
    async with ctx.db.session() as s:
        inserted = await s.execute(insert_ignoring_duplicates(s, CompletionAlert), [row])
        if not getattr(inserted, "rowcount", 0):
            return None
        alert = (
            await s.execute(select(CompletionAlert).where(CompletionAlert.day == day))
        ).scalar_one()
    log.warning(
        "completion_below_contract",
        day=day.isoformat(),
        ner=tally.ner,
        attempts=tally.attempts,
        network_failures=tally.network_failures,
        contracted=percent(bp, 10_000),
    )
    await audit.record(ctx, None, "completion.alert", None, day=day.isoformat(), ner=tally.ner)
    return alert


async def do_check_recent_days(ctx: Context) -> list[CompletionAlert]:
    """The daily run's check: the last :data:`RECHECKED_DAYS` finished business days (so a day
    the run missed is still checked); each day alerts at most once."""
    today = local_day(ctx, ctx.clock.now())
    raised = []
    for back in range(RECHECKED_DAYS, 0, -1):
        alert = await do_check_day(ctx, today - timedelta(days=back))
        if alert is not None:
            raised.append(alert)
    return raised


async def list_alerts(ctx: Context, actor: Actor, limit: int = 60) -> list[CompletionAlert]:
    """The latest days below the contract, newest first (operator staff)."""
    roles.check_staff(actor)
    query = select(CompletionAlert).order_by(CompletionAlert.day.desc()).limit(limit)
    async with ctx.db.session() as s:
        return list((await s.execute(query)).scalars())


async def do_daily_check(ctx: Context) -> int:
    """What the billing daily run calls (handed over in ``yuntong.services``): the alerts
    raised."""
    return len(await do_check_recent_days(ctx))
