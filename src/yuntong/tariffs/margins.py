"""The margin report (staff): per trunk and category over a period of business days, the
outside calls answered, their minutes, revenue (what customers were charged), the trunks'
cost and the margin, from the rated records; and the same as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from yuntong.accounts import roles
from yuntong.accounts.roles import Actor
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.spreadsheet import safe_cell
from yuntong.tariffs.models import OutsideCall

MAX_DAYS: Final = 366
EARLIEST: Final = date(2000, 1, 1)  # days a report may ask about (no overflow at the ends)
LATEST: Final = date(9000, 12, 31)
CSV_COLUMNS: Final = (
    "trunk",
    "category",
    "calls",
    "seconds",
    "billed_minutes",
    "revenue_fen",
    "cost_fen",
    "margin_fen",
    "calls_without_cost",
)


@dataclass(frozen=True)
class MarginLine:
    trunk: str
    category: str
    calls: int
    seconds: int
    billed_s: int
    revenue_fen: int
    cost_fen: int  # of the calls with a cost row
    calls_without_cost: int

    @property
    def margin_fen(self) -> int:
        return self.revenue_fen - self.cost_fen

    @property
    def billed_minutes(self) -> str:
        whole, rest = divmod(self.billed_s, 60)
        return f"{whole}" if rest == 0 else f"{self.billed_s / 60:.2f}"


@dataclass(frozen=True)
class MarginReport:
    start: date
    end: date  # inclusive
    lines: list[MarginLine] = field(default_factory=list)

    @property
    def total(self) -> MarginLine:
        return MarginLine(
            "",
            "",
            sum(x.calls for x in self.lines),
            sum(x.seconds for x in self.lines),
            sum(x.billed_s for x in self.lines),
            sum(x.revenue_fen for x in self.lines),
            sum(x.cost_fen for x in self.lines),
            sum(x.calls_without_cost for x in self.lines),
        )


def today(ctx: Context) -> date:
    """Today in the business time zone."""
    return ctx.clock.now().astimezone(ZoneInfo(ctx.settings.business_timezone)).date()


def check_period(start: date, end: date) -> None:
    if end < start or (end - start).days >= MAX_DAYS or start < EARLIEST or end > LATEST:
        raise YuntongError("tariff_period_invalid", days=MAX_DAYS)


def period(ctx: Context, first: date | None, last: date | None) -> tuple[date, date]:
    """The days asked for: ``last`` defaults to today, ``first`` to 29 days before it."""
    end = last or today(ctx)
    if not EARLIEST <= end <= LATEST:
        raise YuntongError("tariff_period_invalid", days=MAX_DAYS)
    start = first or end - timedelta(days=29)
    check_period(start, end)
    return start, end


async def margin_report(ctx: Context, actor: Actor, start: date, end: date) -> MarginReport:
    """Calls answered from ``start`` to ``end`` (business days, both included)."""
    roles.check_staff(actor)
    check_period(start, end)
    tz = ZoneInfo(ctx.settings.business_timezone)
    since = datetime.combine(start, time(), tz)
    until = datetime.combine(end + timedelta(days=1), time(), tz)
    no_cost = case((OutsideCall.cost_fen.is_(None), 1), else_=0)
    query = (
        select(
            OutsideCall.trunk,
            OutsideCall.category,
            func.count(),
            func.sum(OutsideCall.seconds),
            func.sum(OutsideCall.billed_s),
            func.sum(OutsideCall.price_fen),
            func.coalesce(func.sum(OutsideCall.cost_fen), 0),
            func.sum(no_cost),
        )
        .where(OutsideCall.answered_at >= since, OutsideCall.answered_at < until)
        .group_by(OutsideCall.trunk, OutsideCall.category)
        .order_by(OutsideCall.trunk, OutsideCall.category)
    )
    async with ctx.db.connection() as conn:
        rows = (await conn.execute(query)).all()
    lines = [MarginLine(str(r[0]), str(r[1]), *(int(v) for v in r[2:])) for r in rows]
    return MarginReport(start, end, lines)


def margin_csv(report: MarginReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in [*report.lines, report.total]:
        writer.writerow(
            [
                safe_cell(line.trunk or "total"),
                safe_cell(line.category),
                line.calls,
                line.seconds,
                line.billed_minutes,
                line.revenue_fen,
                line.cost_fen,
                line.margin_fen,
                line.calls_without_cost,
            ]
        )
    return out.getvalue()
