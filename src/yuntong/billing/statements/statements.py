"""Statements: closing a cycle, the first statement after an order, the bill to date.

A statement lists every ledger entry not yet billed that happened before the cycle's end,
plus the next cycle's rent (charged in advance). Its total due is the previous statement's
total plus the sum of its lines. Closing the same cycle again finds the statement and
changes nothing (unique account, kind and cycle).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts.service import Actor
from yuntong.billing import store
from yuntong.billing.catalog.catalog import business_tz, load_catalog, local_day, product_name
from yuntong.billing.catalog.cycles import CYCLE_RE, Cycle, cycle_named, cycle_of, next_cycle
from yuntong.billing.ledger.accounts import account_for_actor, holder_name, publish_changed
from yuntong.billing.ledger.rating import do_rate_pending
from yuntong.billing.ledger.rents import advance_rents
from yuntong.billing.ledger.usage import do_collect_call_usage
from yuntong.billing.models import (
    BillingAccount,
    CycleClose,
    EntryKind,
    LedgerEntry,
    Order,
    Statement,
    StatementKind,
)
from yuntong.billing.statements.documents import (
    LineView,
    StatementView,
    statement_csv,
    statement_pdf,
)
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.db import insert_ignoring_duplicates
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import register, translate
from yuntong.core.logging import get_logger
from yuntong.core.money import format_yuan
from yuntong.core.workdays import WorkCalendar
from yuntong.notifications.models import Notice
from yuntong.notifications.notices import ATTACHERS, DELIVERED, add_notices

log = get_logger(__name__)

# the titles of the incidents credited on a statement's lines, read in the statement's session
IncidentTitles = Callable[[AsyncSession, set[int]], Awaitable[dict[int, str]]]
INCIDENT_TITLES = Piece(
    "billing.incident_titles",
    "node-owned live state",
    lambda ctx: Slot[IncidentTitles](),
    "the look-up of incident titles for statement lines: sla hands it over when the context "
    "is built (billing does not import sla)",
)


def name_incidents_with(ctx: Context, titles: IncidentTitles) -> None:
    """Hand over the look-up of incident titles (``yuntong.services``)."""
    ctx.services.get(INCIDENT_TITLES).value = titles


CHUNK = 500
MAX_CATCH_UP_CYCLES = 24  # a daily run closes at most this many ended cycles back


def previous_cycle(cycle: Cycle, close_day: int, tz: ZoneInfo) -> Cycle:
    return cycle_of(cycle.start - timedelta(microseconds=1), close_day, tz)


register(
    {
        "line.previous_balance": ("上期结余", "Previous balance"),
        "line.rent": (
            "{product} 月租 {first} 至 {last}（{days}/{cycle_days} 天）",
            "{product} monthly fee {first} – {last} ({days}/{cycle_days} days)",
        ),
        "line.rent_back": (
            "{product} 未用天数退还 {first} 至 {last}（{days}/{cycle_days} 天）",
            "{product} unused days returned {first} – {last} ({days}/{cycle_days} days)",
        ),
        "line.rent_suspended": (
            "{product} 欠费停机期间月租退还 {first} 至 {last}（{days}/{cycle_days} 天）",
            "{product} monthly fee returned while suspended {first} – {last} "
            "({days}/{cycle_days} days)",
        ),
        "line.rent_resumed": (
            "{product} 恢复服务后月租 {first} 至 {last}（{days}/{cycle_days} 天）",
            "{product} monthly fee from resumption {first} – {last} ({days}/{cycle_days} days)",
        ),
        "line.late_fee": (
            "滞纳金 {day}（{base} 元 × {rate}）",
            "Late fee {day} ({base} yuan × {rate})",
        ),
        "line.late_fee_correction": (
            "滞纳金更正 {day}（已收 {was} 元，应为 {base} 元 × {rate} = {now} 元）",
            "Late fee correction {day} ({was} yuan charged; {base} yuan × {rate} = {now} yuan)",
        ),
        "line.payment": ("缴费，收据 {receipt}", "Payment, receipt {receipt}"),
        "line.credit": ("减免：{why}", "Credit: {why}"),
        "line.credit_incident": (
            "服务中断减免：{title}（{start} 至 {end}，{hours} 小时，{product}）",
            "Service interruption credit: {title} ({start} – {end}, {hours} h, {product})",
        ),
        "line.credit_dispute": (
            "账单争议 #{dispute} 减免（账单 {number}）",
            "Credit for billing dispute #{dispute} (statement {number})",
        ),
        "line.rate_per_day": ("{rate}/日", "{rate}/day"),
        "line.adjustment": (
            "资费更正：{usage_at} 的通话",
            "Tariff correction: usage of {usage_at}",
        ),
        "line.rate": ("{price} 元/分钟（{increment}）", "{price} yuan/min ({increment})"),
        "operator.name": ("云通", "Yuntong"),
    }
)


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


async def _previous_totals(s: AsyncSession, account_ids: Sequence[int]) -> dict[int, int]:
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
        previous = await _previous_totals(s, todo)
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
        query = select(Statement).where(
            Statement.account_id == account_id, Statement.kind == kind, Statement.cycle == label
        )
        existing = (await s.execute(query)).scalar_one_or_none()
        if existing is not None:
            return existing
        entries = await store.unbilled_entries(s, account_id)
        previous = (await _previous_totals(s, [account_id])).get(account_id, 0)
        if skip_if_nothing and previous == 0 and not any(e.amount_fen for e in entries):
            return None
        start = min((e.occurred_at for e in entries), default=now)
        st = _statement_row(
            account_id, number, kind, label, start, now, now, due_on, previous, entries
        )
        await _save(s, [(st, entries)], ctx)
    await publish_changed(ctx, account_id)
    return st


# -- reading -----------------------------------------------------------------------------------


async def list_statements(ctx: Context, actor: Actor, account_id: int | None) -> list[Statement]:
    account = await account_for_actor(ctx, actor, account_id)
    async with ctx.db.session() as s:
        return list(reversed(await store.statements_of(s, account.id)))


async def get_statement(ctx: Context, actor: Actor, statement_id: int) -> Statement:
    """A statement the actor may see; another customer's is reported as not found."""
    async with ctx.db.session() as s:
        st = await s.get(Statement, statement_id)
    if st is None:
        raise YuntongError("statement_not_found")
    try:
        await account_for_actor(ctx, actor, st.account_id)
    except YuntongError as exc:
        raise YuntongError("statement_not_found") from exc
    return st


def last_day(end: datetime, tz: ZoneInfo) -> date:
    """The last day a period ending (exclusively) at ``end`` covers, in ``tz``: a cycle ending
    on 25 Nov 00:00 covers up to 24 Nov."""
    return (end - timedelta(microseconds=1)).astimezone(tz).date()


def _minute(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def rate_text(entry: Billed, detail: dict[str, Any], locale: str) -> str:
    """The rate column of a line: per minute for usage, per day for a late fee, else empty.

    ``detail["rate"]`` means something different for each kind of entry (a tariff for usage,
    "0.3%" for a late fee), so the kind decides how it is read."""
    rate = detail.get("rate")
    if not rate:
        return ""
    if entry.kind == EntryKind.USAGE and isinstance(rate, dict) and "per_minute_fen" in rate:
        per_minute = Decimal(str(rate["per_minute_fen"])) / 100
        return translate(
            "line.rate",
            locale,
            price=f"{per_minute.normalize():f}",
            increment=rate.get("increment", ""),
        )
    if entry.kind == EntryKind.LATE_FEE and isinstance(rate, str):
        return translate("line.rate_per_day", locale, rate=rate)
    return ""


@dataclass(frozen=True)
class Wording:
    """What describing lines needs besides the entry: reader's language, zone and names."""

    locale: str
    tz: ZoneInfo
    products: dict[str, str]  # code -> name in the locale
    incidents: dict[int, str]  # id -> title


def describe(entry: LedgerEntry, words: Wording) -> str:
    """A line's text in the reader's language: what it is, in the customer's words."""
    locale, tz = words.locale, words.tz
    detail = entry.detail or {}
    if entry.kind == EntryKind.USAGE:
        return translate(f"usage.{entry.usage_type}", locale)
    if entry.kind == EntryKind.RENT:
        key = "line.rent_back" if detail.get("credit") else "line.rent"
        if detail.get("reason") in ("suspended", "resumed"):  # rent paused for arrears
            key = f"line.rent_{detail['reason']}"
        code = str(detail.get("product_code", ""))
        return translate(
            key,
            locale,
            product=words.products.get(code, code),
            first=entry.period_start.astimezone(tz).date() if entry.period_start else "",
            last=last_day(entry.period_end, tz) if entry.period_end else "",
            days=detail.get("days", ""),
            cycle_days=detail.get("cycle_days", ""),
        )
    if entry.kind == EntryKind.LATE_FEE and "corrects_fen" in detail:
        was = int(detail["corrects_fen"])
        return translate(
            "line.late_fee_correction",
            locale,
            day=detail.get("day", ""),
            was=format_yuan(was),
            base=format_yuan(int(detail.get("base_fen", 0))),
            rate=detail.get("rate", ""),
            now=format_yuan(was + entry.amount_fen),
        )
    if entry.kind == EntryKind.LATE_FEE:
        return translate(
            "line.late_fee",
            locale,
            day=detail.get("day", ""),
            base=format_yuan(int(detail.get("base_fen", 0))),
            rate=detail.get("rate", ""),
        )
    if entry.kind == EntryKind.PAYMENT:
        return translate("line.payment", locale, receipt=detail.get("receipt", ""))
    if entry.kind == EntryKind.ADJUSTMENT:
        usage_at = str(detail.get("usage_at", ""))
        try:
            when = _minute(datetime.fromisoformat(usage_at), tz)
        except ValueError:
            when = usage_at[:16]
        return translate("line.adjustment", locale, usage_at=when)
    if "incident_id" in detail and entry.period_start and entry.period_end:
        code = str(detail.get("product_code", ""))
        incident_id = int(detail["incident_id"])
        return translate(
            "line.credit_incident",
            locale,
            title=words.incidents.get(incident_id, f"#{incident_id}"),
            start=_minute(entry.period_start, tz),
            end=_minute(entry.period_end, tz),
            hours=detail.get("hours", ""),
            product=words.products.get(code, code),
        )
    if "dispute_id" in detail:
        return translate(
            "line.credit_dispute",
            locale,
            dispute=detail["dispute_id"],
            number=detail.get("statement_number", ""),
        )
    return translate("line.credit", locale, why=detail.get("why", entry.reference or ""))


async def _incident_titles(
    ctx: Context, s: AsyncSession, entries: Sequence[LedgerEntry]
) -> dict[int, str]:
    ids = {
        int(e.detail["incident_id"])
        for e in entries
        if e.kind == EntryKind.CREDIT and e.detail and "incident_id" in e.detail
    }
    if not ids:
        return {}
    titles = ctx.services.get(INCIDENT_TITLES).value
    assert titles is not None, "statements.name_incidents_with was not called"
    return await titles(s, ids)


async def statement_view(
    ctx: Context, account: BillingAccount, st: Statement | None, locale: str
) -> StatementView:
    """The document a customer reads; ``st`` None gives the itemised bill to date."""
    catalog = await load_catalog(ctx)
    products = {p.code: product_name(p, locale) for p in catalog.products.values()}
    async with ctx.db.session() as s:
        if st is None:
            entries = await store.unbilled_entries(s, account.id)
            previous = (await _previous_totals(s, [account.id])).get(account.id, 0)
        else:
            entries = await store.statement_entries(s, st.id)
            previous = st.previous_balance_fen
        incidents = await _incident_titles(ctx, s, entries)
    now = ctx.clock.now()
    tz = business_tz(ctx)
    words = Wording(locale, tz, products, incidents)
    lines = [
        LineView(
            occurred_at=st.period_start if st else now,
            kind="previous_balance",
            description=translate("line.previous_balance", locale),
            other_party="",
            duration_s=None,
            rate="",
            amount_fen=previous,
        )
    ]
    lines += [
        LineView(
            occurred_at=e.occurred_at,
            kind=e.kind,
            description=describe(e, words),
            other_party=str((e.detail or {}).get("other_party", "")),
            duration_s=e.quantity_s if e.kind == EntryKind.USAGE else None,
            rate=rate_text(e, e.detail or {}, locale),
            amount_fen=e.amount_fen,
            entry_id=e.id,
        )
        for e in entries
    ]
    payments, charges = split_payments(entries)
    start = st.period_start if st else min((e.occurred_at for e in entries), default=now)
    # a cycle ends at the next one's first moment: its last day is the day before; a statement
    # issued now (first, final) and the bill to date cover up to today
    last = last_day(st.period_end, tz) if st and st.kind == StatementKind.CYCLE else None
    end = st.period_end if st else now
    return StatementView(
        number=st.number if st else "—",
        locale=locale,
        timezone=ctx.settings.business_timezone,
        operator_name=translate("operator.name", locale),
        customer_name=await holder_name(ctx, account),
        account_id=account.id,
        cycle=st.cycle if st else "",
        period_first_day=start.astimezone(tz).date(),
        period_last_day=last or end.astimezone(tz).date(),
        issued_on=(st.issued_at if st else now).astimezone(tz).date(),
        due_on=st.due_on if st else end.astimezone(tz).date(),
        previous_balance_fen=previous,
        payments_fen=payments,
        charges_fen=charges,
        total_due_fen=previous + payments + charges,
        lines=tuple(lines),
    )


async def _statement_attachments(
    ctx: Context, notice: Notice, locale: str
) -> list[tuple[str, str, bytes]]:
    async with ctx.db.session() as s:
        st = await s.get(Statement, int(notice.params["statement_id"]))
        account = await s.get(BillingAccount, notice.account_id)
    if st is None or account is None:
        return []
    view = await statement_view(ctx, account, st, locale)
    return [
        (f"{st.number}.pdf", "application/pdf", statement_pdf(view)),
        (f"{st.number}.csv", "text/csv", statement_csv(view)),
    ]


async def _statement_delivered(s: AsyncSession, notice: Notice, at: datetime) -> None:
    await s.execute(
        update(Statement)
        .where(Statement.id == int(notice.params["statement_id"]))
        .values(delivered_at=at)
    )


ATTACHERS["statement_issued"] = _statement_attachments
DELIVERED["statement_issued"] = _statement_delivered
