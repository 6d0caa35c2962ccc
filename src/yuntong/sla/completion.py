"""The call completion rate (CP 2.1): ITU-T E.411's answer-seizure ratio (ASR) and E.425's
network effectiveness ratio (NER, the contract's 98 %) per business day, per customer (billing
account) and per calling number, from the call records: a finished day counted once a day by
the billing daily run, the days not counted yet read from the records; and the operator's
alert for a day whose NER fell below the contract (docs/completion-rate.md).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, literal_column, null, select
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
from yuntong.sip.models import SipCall
from yuntong.sla.models import CompletionAlert, CompletionCount, CompletionCountedDay

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
    # the parties' own supplementary services ended it as they set them: barring (TS 22.088),
    # anonymous call rejection, and forwarding that loops back (the subscribers' settings, not
    # the network, chose that path)
    causes.REJECTED_BY_FEATURE: "rejected_by_feature",
    causes.OUTGOING_CALL_BARRED: "outgoing_call_barred",
    causes.INCOMING_CALL_BARRED: "incoming_call_barred",
    causes.EXCHANGE_ROUTING_ERROR: "forwarding_loop",
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
    """Attempts of one day, customer or number, by whether answered and cause; their kinds."""

    counts: dict[tuple[bool, int], int] = field(default_factory=dict)  # (answered, cause) → n

    def add(self, cause: int, answered: bool, count: int) -> None:
        self.counts[(answered, cause)] = self.counts.get((answered, cause), 0) + count

    def merge(self, other: Tally) -> None:
        for (answered, cause), count in other.counts.items():
            self.add(cause, answered, count)

    def _of(self, kind: Kind) -> dict[int, int]:
        found: dict[int, int] = {}
        for (answered, cause), count in self.counts.items():
            if classify(cause, answered) == kind:
                found[cause] = found.get(cause, 0) + count
        return found

    @property
    def attempts(self) -> int:
        return sum(self.counts.values())

    @property
    def answered(self) -> int:
        return sum(self._of(Kind.ANSWERED).values())

    @property
    def user(self) -> dict[int, int]:
        """User outcomes by cause."""
        return self._of(Kind.USER)

    @property
    def failures(self) -> dict[int, int]:
        """Network failures by cause."""
        return self._of(Kind.NETWORK)

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


@dataclass(frozen=True)
class _Records:
    """A table of call attempts: the call engine's records, or the SIP edge's (issue 17: the
    NER counts calls through the edge too, by their Q.850 cause)."""

    table: Any
    caller: Any  # the Yuntong user who placed it (None: a carrier's caller)
    end_reason: Any
    counted: Any = None  # a condition on the rows that are attempts (None: all)


_SOURCES = (
    _Records(CallRecord, CallRecord.caller_id, CallRecord.end_reason),
    # refused before any routing (no such number, no credit, a caller who may not call), as
    # the call engine refuses them with an error and no record
    _Records(SipCall, SipCall.caller_user_id, null(), SipCall.state != "refused"),
)


def _in_scope(src: _Records, scope: Scope) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [src.table.ended_at.is_not(None)]
    if src.counted is not None:
        where.append(src.counted)
    account = scope.account
    if account is not None and account.organisation_id is not None:
        members = select(User.id).where(User.organisation_id == account.organisation_id)
        where.append(src.caller.in_(members.scalar_subquery()))
    elif account is not None:
        where.append(src.caller == account.user_id)
    if scope.number is not None:
        where.append(src.table.calling_number == scope.number)
    return where


def _customer_key(src: _Records) -> tuple[ColumnElement[Any], Sequence[Any]]:
    """The paying account of the caller (an organisation's, else the individual's): the key
    column and the joins it needs."""
    by_org = aliased(BillingAccount)
    by_user = aliased(BillingAccount)
    key = case((User.organisation_id.is_not(None), by_org.id), else_=by_user.id)
    joins = [
        (User, User.id == src.caller),
        (by_org, by_org.organisation_id == User.organisation_id),
        (by_user, by_user.user_id == User.id),
    ]
    return key, joins


async def _raw(
    ctx: Context, starts: list[datetime], scope: Scope, by: str | None
) -> dict[tuple[int, Any], Tally]:
    """Tallies read from the call records (the engine's and the SIP edge's) by (day index,
    key) over ``starts[0]``..``starts[-1]``; the key is None, the customer's account id
    (``by="customer"``), the calling number (``by="number"``) or both (``by="count"``: what
    :func:`do_count_day` keeps, 0 and "" for none)."""
    found: dict[tuple[int, Any], Tally] = {}
    for src in _SOURCES:
        for key, tally in (await _raw_of(ctx, src, starts, scope, by)).items():
            found.setdefault(key, Tally()).merge(tally)
    return found


async def _raw_of(
    ctx: Context, src: _Records, starts: list[datetime], scope: Scope, by: str | None
) -> dict[tuple[int, Any], Tally]:
    """:func:`_raw` of one table.

    The day is told by comparing with the days' first moments (any time zone, any offset), in
    a subquery so that PostgreSQL groups by the column, not by an expression with parameters.
    """
    table = src.table
    day: ColumnElement[Any] = literal_column("0")
    if len(starts) > 2:
        day = case(
            *[(table.created_at < start, i) for i, start in enumerate(starts[1:-1])],
            else_=len(starts) - 2,
        )
    account: ColumnElement[Any] = null()
    number: ColumnElement[Any] = null()
    joins: Sequence[Any] = ()
    where = [*_in_scope(src, scope), table.created_at >= starts[0]]
    where.append(table.created_at < starts[-1])
    if by in ("customer", "count"):
        account, joins = _customer_key(src)
    if by in ("number", "count"):
        number = table.calling_number.expression
    if by == "number":
        where.append(table.calling_number.is_not(None))
    answered = case((table.answered_at.is_(None), 0), else_=1)
    query = select(
        day.label("day"),
        account.label("account"),
        number.label("number"),
        answered.label("answered"),
        table.cause,
        table.outcome,
        src.end_reason.label("end_reason"),
    )
    for target, on in joins:
        query = query.outerjoin(target, on)
    inner = query.where(and_(*where)).subquery()
    grouped = select(*inner.c, func.count()).group_by(*inner.c)
    found: dict[tuple[int, Any], Tally] = {}
    async with ctx.db.session() as s:
        rows = (await s.execute(grouped)).all()
    for day_index, account_id, calling, was_answered, cause, outcome, reason, count in map(
        tuple, rows
    ):
        code = cause if cause is not None else causes.cause_for(outcome or "", reason)
        keys = {
            "customer": account_id,
            "number": calling,
            "count": (account_id or 0, calling or ""),
        }
        tally = found.setdefault((int(day_index), keys.get(by or "")), Tally())
        tally.add(code, bool(was_answered), count)
    return found


async def _counted(
    ctx: Context, first: date, last: date, scope: Scope, by: str | None
) -> dict[tuple[int, Any], Tally]:
    """The same tallies (day index from ``first``) read from the counts of counted days."""
    key: ColumnElement[Any] = null()
    where: list[ColumnElement[bool]] = [CompletionCount.day >= first, CompletionCount.day <= last]
    if scope.account is not None:
        where.append(CompletionCount.account_id == scope.account.id)
    if scope.number is not None:
        where.append(CompletionCount.number == scope.number)
    if by == "customer":
        key = CompletionCount.account_id.expression
    elif by == "number":
        key = CompletionCount.number.expression
        where.append(CompletionCount.number != "")
    query = (
        select(
            CompletionCount.day,
            key.label("key"),
            CompletionCount.answered,
            CompletionCount.cause,
            func.sum(CompletionCount.attempts),
        )
        .where(and_(*where))
        .group_by(
            CompletionCount.day,
            *([] if by is None else [key]),  # PostgreSQL groups by no constant
            CompletionCount.answered,
            CompletionCount.cause,
        )
    )
    found: dict[tuple[int, Any], Tally] = {}
    async with ctx.db.session() as s:
        rows = (await s.execute(query)).all()
    for day, group, answered, cause, count in map(tuple, rows):
        group = None if by == "customer" and group == 0 else group
        tally = found.setdefault(((day - first).days, group), Tally())
        tally.add(int(cause), bool(answered), int(count))
    return found


async def counted_days(ctx: Context, first: date, last: date) -> set[date]:
    query = select(CompletionCountedDay.day).where(
        CompletionCountedDay.day >= first, CompletionCountedDay.day <= last
    )
    async with ctx.db.session() as s:
        return set((await s.execute(query)).scalars())


async def _tallies(
    ctx: Context, first: date, last: date, scope: Scope, by: str | None
) -> dict[tuple[int, Any], Tally]:
    """Tallies by (day index from ``first``, key): the counted days from their counts, each
    run of days not counted yet (today; a day the daily run has not reached) from the call
    records."""
    counted = await counted_days(ctx, first, last)
    found = await _counted(ctx, first, last, scope, by) if counted else {}
    index, count = 0, (last - first).days + 1
    while index < count:
        if first + timedelta(days=index) in counted:
            index += 1
            continue
        end = index
        while end < count and first + timedelta(days=end) not in counted:
            end += 1
        starts = day_starts(ctx, first + timedelta(days=index), end - index)
        for (offset, key), tally in (await _raw(ctx, starts, scope, by)).items():
            found.setdefault((index + offset, key), Tally()).merge(tally)
        index = end
    return found


def _by_key(tallies: dict[tuple[int, Any], Tally]) -> dict[Any, Tally]:
    merged: dict[Any, Tally] = {}
    for (_, key), tally in tallies.items():
        if key is not None:
            merged.setdefault(key, Tally()).merge(tally)
    return merged


def _ranked(tallies: dict[tuple[int, Any], Tally]) -> list[tuple[Any, Tally]]:
    rows = list(_by_key(tallies).items())
    rows.sort(key=lambda row: row[1].sort_key())
    return rows[:MAX_ROWS]


async def completion_report(
    ctx: Context, actor: Actor, scope: Scope, first: date, last: date
) -> Report:
    """The figures of ``scope`` (from :func:`check_scope`) for the days ``first``..``last``:
    each day's, the range's, and each customer's (every customer's scope) and number's."""
    count = (last - first).days + 1
    daily = await _tallies(ctx, first, last, scope, None)
    days = [(first + timedelta(days=i), daily.get((i, None), Tally())) for i in range(count)]
    total = Tally()
    for _, tally in days:
        total.merge(tally)
    customers: list[tuple[int, Tally]] = []
    if scope.account is None and roles.is_staff(actor):
        customers = _ranked(await _tallies(ctx, first, last, scope, "customer"))
    numbers = _ranked(await _tallies(ctx, first, last, scope, "number"))
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
    tally = (await _tallies(ctx, day, day, Scope(), None)).get((0, None))
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


async def do_count_day(ctx: Context, day: date) -> int:
    """Count a finished day's ended attempts into :class:`CompletionCount` (by customer,
    number, answered and cause), replacing what was counted for it before, in one transaction:
    counting a day again gives the same rows plus the calls that have ended since. Returns the
    attempts counted."""
    tallies = await _raw(ctx, day_starts(ctx, day, 1), Scope(), "count")
    values = [
        {"day": day, "account_id": a, "number": n, "answered": ans, "cause": c, "attempts": k}
        for (_, (a, n)), tally in tallies.items()
        for (ans, c), k in tally.counts.items()
    ]
    attempts = sum(tally.attempts for tally in tallies.values())
    async with ctx.db.session() as s:
        await s.execute(delete(CompletionCount).where(CompletionCount.day == day))
        await s.execute(delete(CompletionCountedDay).where(CompletionCountedDay.day == day))
        if values:
            await s.execute(insert(CompletionCount), values)
        s.add(CompletionCountedDay(day=day, attempts=attempts, counted_at=ctx.clock.now()))
    return attempts


async def do_check_recent_days(ctx: Context) -> list[CompletionAlert]:
    """The daily run's work: count the last :data:`RECHECKED_DAYS` finished business days
    again (calls that ended late, a run missed) and raise the alert of each below the
    contract (at most once per day)."""
    today = local_day(ctx, ctx.clock.now())
    raised = []
    for back in range(RECHECKED_DAYS, 0, -1):
        day = today - timedelta(days=back)
        await do_count_day(ctx, day)
        alert = await do_check_day(ctx, day)
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
