"""Statements: closing a cycle, the first statement after an order, the bill to date.

A statement lists every ledger entry not yet billed that happened before the cycle's end,
plus the next cycle's rent (charged in advance). Its total due is the previous statement's
total plus the sum of its lines. Closing the same cycle again finds the statement and
changes nothing (unique account, kind and cycle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.billing import store
from yuntong.billing.catalog.catalog import business_tz, load_catalog, local_day
from yuntong.billing.catalog.cycles import CYCLE_RE, Cycle, cycle_named, cycle_of, next_cycle
from yuntong.billing.ledger.accounts import publish_changed
from yuntong.billing.ledger.rating import do_rate_pending
from yuntong.billing.ledger.rents import advance_rents
from yuntong.billing.ledger.usage import do_collect_call_usage
from yuntong.billing.models import (
    BillingAccount,
    CycleClose,
    EntryKind,
    Order,
    Statement,
    StatementKind,
)
from yuntong.core.context import Context
from yuntong.core.db import insert_ignoring_duplicates, lock_rows
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.core.money import format_yuan
from yuntong.core.workdays import WorkCalendar
from yuntong.notifications.notices import add_notices

log = get_logger(__name__)

CHUNK = 500
MAX_CATCH_UP_CYCLES = 24  # a daily run closes at most this many ended cycles back


def previous_cycle(cycle: Cycle, close_day: int, tz: ZoneInfo) -> Cycle:
    return cycle_of(cycle.start - timedelta(microseconds=1), close_day, tz)


def calendar(ctx: Context) -> WorkCalendar:
    return WorkCalendar.from_settings(ctx.settings)


def due_date(ctx: Context, issued: datetime, workdays: int) -> date:
    return calendar(ctx).add_workdays(local_day(ctx, issued), workdays)


class Billed(Protocol):
    """What a statement needs of an entry: a ledger row or a plain row of these columns."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def amount_fen(self) -> int: ...


@dataclass
class CloseResult:
    cycle: str
    issued: int = 0
    already: int = 0
    empty: int = 0
    not_due: int = 0


def split_payments(entries: Sequence[Billed]) -> tuple[int, int]:
    """(payments, everything else): the two sums a statement shows above its total."""
    payments = sum(e.amount_fen for e in entries if e.kind == EntryKind.PAYMENT)
    return payments, sum(e.amount_fen for e in entries) - payments


def _statement_row(
    account_id: int,
    number: str,
    kind: str,
    label: str,
    start: datetime,
    end: datetime,
    now: datetime,
    due_on: date,
    previous: int,
    entries: Sequence[Billed],
) -> Statement:
    payments, charges = split_payments(entries)
    return Statement(
        number=number,
        account_id=account_id,
        kind=kind,
        cycle=label,
        period_start=start,
        period_end=end,
        issued_at=now,
        due_on=due_on,
        previous_balance_fen=previous,
        payments_fen=payments,
        charges_fen=charges,
        total_due_fen=previous + payments + charges,
    )


async def previous_totals(s: AsyncSession, account_ids: Sequence[int]) -> dict[int, int]:
    latest = (
        select(Statement.account_id, func.max(Statement.id).label("last_id"))
        .where(Statement.account_id.in_(account_ids))
        .group_by(Statement.account_id)
        .subquery()
    )
    query = select(Statement.account_id, Statement.total_due_fen).join(
        latest, Statement.id == latest.c.last_id
    )
    return {a: t for a, t in (await s.execute(query)).all()}


async def _save(
    s: AsyncSession, statements: Sequence[tuple[Statement, Sequence[Billed]]], ctx: Context
) -> None:
    s.add_all([st for st, _ in statements])
    await s.flush()
    await store.insert_lines(s, [(st.id, e.id) for st, entries in statements for e in entries])
    notices = [
        {
            "account_id": st.account_id,
            "kind": "statement_issued",
            "params": {
                "statement_id": st.id,
                "number": st.number,
                "cycle": st.cycle,
                "total": format_yuan(st.total_due_fen),
                "due_on": st.due_on.isoformat(),
            },
            "created_at": ctx.clock.now(),
            "idempotency_key": f"statement_issued:{st.id}",
        }
        for st, _ in statements
    ]
    if notices:
        await add_notices(s, notices)


# -- cycle close -------------------------------------------------------------------------------


def check_cycle_label(label: str) -> None:
    if not CYCLE_RE.match(label):
        raise YuntongError("invalid_cycle")


async def do_close_cycle(
    ctx: Context,
    label: str,
    on_progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
) -> CloseResult:
    """Close cycle ``label`` for every account whose cycle of that name has ended."""
    check_cycle_label(label)
    tz = business_tz(ctx)
    now = ctx.clock.now()
    if cycle_named(label, ctx.settings.billing_close_day, tz).end > now:
        raise YuntongError("cycle_not_ended", cycle=label)
    return await _close(ctx, label, None, on_progress, chunk)


async def do_close_ended_cycles(
    ctx: Context, max_cycles: int = MAX_CATCH_UP_CYCLES
) -> list[CloseResult]:
    """Close every cycle that has ended and is not closed yet, oldest first, for the accounts
    of each close day: a daily run that missed the close day, or several, catches up. Cycles
    before the last one closed, or that ended before the first account of that close day was
    opened, are not looked at; at most ``max_cycles`` back from now."""
    tz = business_tz(ctx)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        groups = (
            await s.execute(
                select(BillingAccount.close_day, func.min(BillingAccount.created_at)).group_by(
                    BillingAccount.close_day
                )
            )
        ).all()
        closed = set((await s.execute(select(CycleClose.close_day, CycleClose.cycle))).all())
    todo: dict[str, set[int]] = {}
    for close_day, first_opened in groups:
        cycle = previous_cycle(cycle_of(now, close_day, tz), close_day, tz)
        for _ in range(max_cycles):
            if cycle.end <= first_opened or (close_day, cycle.label) in closed:
                break
            todo.setdefault(cycle.label, set()).add(close_day)
            cycle = previous_cycle(cycle, close_day, tz)
    return [await _close(ctx, label, todo[label], None, CHUNK) for label in sorted(todo)]


async def _close(
    ctx: Context,
    label: str,
    close_days: set[int] | None,
    on_progress: Callable[[int, int], None] | None,
    chunk: int,
) -> CloseResult:
    """Close ``label`` for the accounts of ``close_days`` (None: every close day) whose cycle
    of that name has ended, and record each close day's cycle as closed."""
    tz = business_tz(ctx)
    now = ctx.clock.now()
    await do_collect_call_usage(ctx)
    await do_rate_pending(ctx, full=True)  # everything, late commits included
    async with ctx.db.session() as s:
        rows = (await s.execute(select(BillingAccount.id, BillingAccount.close_day))).all()
    result = CloseResult(label)
    by_day: dict[int, list[int]] = {}
    for account_id, close_day in rows:
        if close_days is None or close_day in close_days:
            by_day.setdefault(close_day, []).append(account_id)
    done = 0
    for close_day, ids in sorted(by_day.items()):
        cycle = cycle_named(label, close_day, tz)
        if cycle.end > now:
            result.not_due += len(ids)
            done += len(ids)
            continue
        following = next_cycle(cycle, close_day, tz)
        issued_before = result.issued
        for start in range(0, len(ids), chunk):
            part = sorted(ids)[start : start + chunk]
            await _close_chunk(ctx, part, cycle, following, result)
            done += len(part)
            if on_progress:
                on_progress(done, len(rows))
        await _record_closed(ctx, close_day, label, result.issued - issued_before)
    log.info(
        "billing_cycle_closed",
        cycle=label,
        issued=result.issued,
        already=result.already,
        empty=result.empty,
    )
    return result


async def _record_closed(ctx: Context, close_day: int, label: str, issued: int) -> None:
    """The first close of a cycle is recorded; closing it again keeps that record."""
    row = {"close_day": close_day, "cycle": label, "closed_at": ctx.clock.now(), "issued": issued}
    async with ctx.db.session() as s:
        await s.execute(insert_ignoring_duplicates(s, CycleClose), [row])


async def _close_chunk(
    ctx: Context, account_ids: list[int], cycle: Cycle, following: Cycle, result: CloseResult
) -> None:
    catalog = await load_catalog(ctx)
    now = ctx.clock.now()
    due_on = due_date(ctx, now, ctx.settings.billing_due_workdays)
    async with ctx.db.session() as s:
        # a first or final statement issued meanwhile for one of these accounts (an order at
        # the close, another node) is committed before its entries are chosen below
        await lock_rows(s, BillingAccount, account_ids)
        closed = set(
            (
                await s.execute(
                    select(Statement.account_id).where(
                        Statement.account_id.in_(account_ids),
                        Statement.kind == StatementKind.CYCLE,
                        Statement.cycle == cycle.label,
                    )
                )
            ).scalars()
        )
        result.already += len(closed)
        todo = [a for a in account_ids if a not in closed]
        if not todo:
            return
        subs = await store.subscriptions_for(s, todo)
        rents = await advance_rents(ctx, s, subs, cycle, following, catalog)
        await store.insert_entries(s, rents)
        entries = await store.unbilled_for_close(
            s, todo, cycle.end, [r["idempotency_key"] for r in rents]
        )
        previous = await previous_totals(s, todo)
        statements = []
        for account_id in todo:
            mine = entries.get(account_id, [])
            prev = previous.get(account_id, 0)
            if not mine and prev == 0:
                result.empty += 1
                continue
            number = f"ST-{cycle.label}-{account_id:06d}"
            st = _statement_row(
                account_id,
                number,
                StatementKind.CYCLE,
                cycle.label,
                cycle.start,
                cycle.end,
                now,
                due_on,
                prev,
                mine,
            )
            statements.append((st, mine))
        await _save(s, statements, ctx)
        result.issued += len(statements)
    await publish_changed(ctx, *todo)


async def do_issue_first_statement(ctx: Context, account_id: int, order: Order) -> Statement | None:
    """The first invoice after an account's first order, due in N working days (VC 4.2.1).

    None when there is nothing to bill (a package without a monthly fee, nothing owed before):
    no 0.00 statement is issued, and whatever is charged later is on the cycle's statement."""
    return await _issue_now(
        ctx,
        account_id,
        StatementKind.FIRST,
        f"order-{order.id}",
        f"SF-{order.id:08d}",
        ctx.settings.billing_first_due_workdays,
        skip_if_nothing=True,
    )


async def do_issue_final_statement(ctx: Context, account_id: int) -> Statement:
    """On termination: everything not billed yet, due in the normal working days (issued even
    at 0.00: it tells the customer that nothing more is owed)."""
    st = await _issue_now(
        ctx,
        account_id,
        StatementKind.FINAL,
        "final",
        f"SX-{account_id:08d}",
        ctx.settings.billing_due_workdays,
    )
    assert st is not None
    return st


async def _issue_now(
    ctx: Context,
    account_id: int,
    kind: str,
    label: str,
    number: str,
    workdays: int,
    *,
    skip_if_nothing: bool = False,
) -> Statement | None:
    """A statement of everything not billed yet, issued now (once per account, kind, label);
    with ``skip_if_nothing``, none when every line and the previous balance are zero."""
    now = ctx.clock.now()
    due_on = due_date(ctx, now, workdays)
    async with ctx.db.session() as s:
        await lock_rows(s, BillingAccount, [account_id])  # one statement issued at a time
        query = select(Statement).where(
            Statement.account_id == account_id, Statement.kind == kind, Statement.cycle == label
        )
        existing = (await s.execute(query)).scalar_one_or_none()
        if existing is not None:
            return existing
        entries = await store.unbilled_entries(s, account_id)
        previous = (await previous_totals(s, [account_id])).get(account_id, 0)
        if skip_if_nothing and previous == 0 and not any(e.amount_fen for e in entries):
            return None
        start = min((e.occurred_at for e in entries), default=now)
        st = _statement_row(
            account_id, number, kind, label, start, now, now, due_on, previous, entries
        )
        await _save(s, [(st, entries)], ctx)
    await publish_changed(ctx, account_id)
    return st
