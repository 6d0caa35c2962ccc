"""What a customer reads: statements listed and fetched, their lines worded, the document.

Also what a statement notice's e-mail carries (the PDF and CSV) and records once sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts.roles import Actor
from yuntong.billing import store
from yuntong.billing.catalog.catalog import business_tz, load_catalog, product_name
from yuntong.billing.ledger.accounts import account_for_actor, holder_name
from yuntong.billing.models import (
    BillingAccount,
    EntryKind,
    LedgerEntry,
    Statement,
    StatementKind,
)
from yuntong.billing.statements.documents import (
    LineView,
    StatementView,
    statement_csv,
    statement_pdf,
)
from yuntong.billing.statements.statements import Billed, previous_totals, split_payments
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import translate
from yuntong.core.money import format_yuan
from yuntong.notifications.models import Notice
from yuntong.notifications.notices import ATTACHERS, DELIVERED

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
            previous = (await previous_totals(s, [account.id])).get(account.id, 0)
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
