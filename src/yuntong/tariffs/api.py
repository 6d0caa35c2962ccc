"""REST routes for outside-call tariffs (docs/tariffs.md): everyone signed in reads the price
list and asks what a call would cost; staff import the price and cost tables, list the
versions and read the margin report (JSON or CSV)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from yuntong.accounts.auth import Principal, require_role, require_user
from yuntong.accounts.models import Role
from yuntong.core.context import Context, get_context
from yuntong.core.i18n import request_locale
from yuntong.tariffs import imports, margins, pricelist
from yuntong.tariffs.imports import ImportedTable
from yuntong.tariffs.margins import MarginLine, MarginReport
from yuntong.tariffs.models import Category, TableKind
from yuntong.tariffs.tables import PriceRow

router = APIRouter(prefix="/api/v1/tariffs", tags=["tariffs"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
Staff = Annotated[Principal, Depends(require_role(Role.OPERATOR_ADMIN, Role.SUPPORT_AGENT))]
Trunk = Annotated[
    str, Path(max_length=40, description="The carrier trunk's name (letters, digits, . _ -)")
]
MAX_CSV = 20_000_000  # characters of one imported file


class PriceRowOut(BaseModel):
    """A row of the price table: calls to numbers starting with ``prefix``."""

    prefix: str = Field(description="E.164 digits without '+', e.g. 8610 (Beijing)")
    category: Category = Field(description="local, domestic, mobile, international or premium")
    name: str = Field(description="The destination's name in the request's language")
    name_zh: str = Field(description="The destination's name (Chinese)")
    name_en: str = Field(description="The destination's name (English)")
    price_per_minute_fen: int = Field(description="Price a minute, fen")
    increment_s: int = Field(description="Billing increment, seconds (each started one counts)")

    @classmethod
    def of(cls, row: PriceRow, locale: str) -> PriceRowOut:
        return cls(
            prefix=row.prefix,
            category=Category(row.category),
            name=row.name_en if locale == "en" else row.name_zh,
            name_zh=row.name_zh,
            name_en=row.name_en,
            price_per_minute_fen=row.price_per_minute_fen,
            increment_s=row.increment_s,
        )


class PriceListOut(BaseModel):
    """The price list for outside calls in force now."""

    table_id: int | None = Field(description="The version in force; null: no table yet")
    effective_from: datetime | None = Field(description="In force since")
    next_effective_from: datetime | None = Field(
        description="A newer version is already imported and applies from then on"
    )
    rows: list[PriceRowOut] = Field(description="By category, then prefix")


class QuoteOut(BaseModel):
    """What a call to a number costs."""

    destination: str = Field(description="The number, E.164")
    category: Category = Field(description="local, domestic, mobile, international or premium")
    prefix: str = Field(description="The matching prefix of the price table")
    name: str = Field(description="The destination's name in the request's language")
    price_per_minute_fen: int = Field(description="Price a minute, fen")
    increment_s: int = Field(description="Billing increment, seconds")


class TableIn(BaseModel):
    """A table as CSV text (UTF-8, with its header line)."""

    csv: str = Field(
        min_length=1,
        max_length=MAX_CSV,
        description="Prices: prefix,category,name_zh,name_en,price_per_minute_fen,increment_s; "
        "costs: trunk,prefix,cost_per_minute_fen",
    )
    effective_from: datetime | None = Field(
        default=None, description="In force from (with time zone; default now, never earlier)"
    )
    note: str = Field(
        default="",
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="A note kept with the version",
    )


class ImportedOut(BaseModel):
    """A version imported."""

    table_id: int = Field(description="The new version's id")
    kind: TableKind = Field(description="prices or costs")
    trunk: str = Field(description='The trunk of a cost table ("" for prices)')
    rows: int = Field(description="Rows imported")
    effective_from: datetime = Field(description="In force from")

    @classmethod
    def of(cls, done: ImportedTable) -> ImportedOut:
        return cls(
            table_id=done.table_id,
            kind=TableKind(done.kind),
            trunk=done.trunk,
            rows=done.rows,
            effective_from=done.effective_from,
        )


class TableOut(BaseModel):
    """An imported version of the price table or of a trunk's cost table."""

    id: int = Field(description="The version's id")
    kind: TableKind = Field(description="prices or costs")
    trunk: str = Field(description='The trunk of a cost table ("" for prices)')
    effective_from: datetime = Field(description="In force from")
    rows: int = Field(description="Its rows")
    note: str = Field(description="The note kept with it")
    imported_at: datetime = Field(description="When it was imported")
    in_force: bool = Field(description="The version in force now")


class CostRowOut(BaseModel):
    """A cost row of a trunk."""

    prefix: str = Field(description="E.164 digits without '+'")
    cost_per_minute_fen: int = Field(description="What the carrier charges a minute, fen")


class MarginLineOut(BaseModel):
    """Outside calls of one trunk and category (or all of them: the total)."""

    trunk: str = Field(description='The trunk ("" in the total)')
    category: str = Field(description='The category ("" in the total)')
    calls: int = Field(description="Calls answered")
    seconds: int = Field(description="Seconds talked")
    billed_s: int = Field(description="Seconds billed (whole increments)")
    revenue_fen: int = Field(description="Charged to customers, fen")
    cost_fen: int = Field(description="The trunks' cost of the calls with a cost row, fen")
    margin_fen: int = Field(description="Revenue less cost, fen")
    calls_without_cost: int = Field(description="Calls whose trunk had no cost row for them")

    @classmethod
    def of(cls, line: MarginLine) -> MarginLineOut:
        return cls(
            trunk=line.trunk,
            category=line.category,
            calls=line.calls,
            seconds=line.seconds,
            billed_s=line.billed_s,
            revenue_fen=line.revenue_fen,
            cost_fen=line.cost_fen,
            margin_fen=line.margin_fen,
            calls_without_cost=line.calls_without_cost,
        )


class MarginOut(BaseModel):
    """The margin report of a period."""

    first_day: date = Field(description="First business day")
    last_day: date = Field(description="Last business day")
    lines: list[MarginLineOut] = Field(description="Per trunk and category")
    total: MarginLineOut = Field(description="All of them")


First = Annotated[
    date | None, Query(alias="from", description="First day (default: 29 days before `to`)")
]
Last = Annotated[
    date | None, Query(alias="to", description="Last day (default: today, business time zone)")
]


@router.get("/prices", response_model=PriceListOut)
async def get_prices(ctx: Ctx, user: User, request: Request) -> PriceListOut:
    """The price list for outside calls in force now (names in the request's language)."""
    locale = request_locale(request)
    found = await pricelist.price_list(ctx)
    return PriceListOut(
        table_id=found.table_id,
        effective_from=found.effective_from,
        next_effective_from=found.next_effective_from,
        rows=[PriceRowOut.of(r, locale) for r in found.rows],
    )


@router.get("/quote", response_model=QuoteOut)
async def get_quote(
    ctx: Ctx,
    user: User,
    request: Request,
    to: Annotated[
        str,
        Query(min_length=1, max_length=32, description="The number (national, or +/00 form)"),
    ],
) -> QuoteOut:
    """What a call from you to ``to`` costs a minute (local: your first number's area code)."""
    found = await pricelist.quote(ctx, user.user_id, to)
    rate = found.rate
    return QuoteOut(
        destination=found.destination,
        category=Category(rate.category),
        prefix=rate.prefix,
        name=rate.name(request_locale(request)),
        price_per_minute_fen=rate.price_per_minute_fen,
        increment_s=rate.increment_s,
    )


@router.post("/prices", response_model=ImportedOut, status_code=201, tags=["admin"])
async def import_prices(ctx: Ctx, staff: Staff, body: TableIn) -> ImportedOut:
    """Import a new version of the price table; every faulty row is named (``rows`` of the
    ``tariff_table_invalid`` error) and nothing is imported."""
    done = await imports.do_import_prices(
        ctx, staff, body.csv, effective_from=body.effective_from, note=body.note
    )
    return ImportedOut.of(done)


@router.post("/costs/{trunk}", response_model=ImportedOut, status_code=201, tags=["admin"])
async def import_costs(ctx: Ctx, staff: Staff, trunk: Trunk, body: TableIn) -> ImportedOut:
    """Import a new version of a trunk's cost table (all or nothing)."""
    done = await imports.do_import_costs(
        ctx, staff, trunk, body.csv, effective_from=body.effective_from, note=body.note
    )
    return ImportedOut.of(done)


@router.get("/costs/{trunk}", response_model=list[CostRowOut], tags=["admin"])
async def get_costs(ctx: Ctx, staff: Staff, trunk: Trunk) -> list[CostRowOut]:
    """The cost rows of a trunk's table in force now."""
    imports.check_trunk(trunk)
    found = await pricelist.trunk_costs(ctx, staff, trunk)
    return [CostRowOut(prefix=p, cost_per_minute_fen=c) for p, c in found.items()]


@router.get("/tables", response_model=list[TableOut], tags=["admin"])
async def get_tables(ctx: Ctx, staff: Staff) -> list[TableOut]:
    """Every version imported, newest first."""
    found = await pricelist.table_versions(ctx, staff)
    return [TableOut(**{**t.__dict__, "kind": TableKind(t.kind)}) for t in found]


async def _report(
    ctx: Context, staff: Principal, first: date | None, last: date | None
) -> MarginReport:
    start, end = margins.period(ctx, first, last)
    return await margins.margin_report(ctx, staff, start, end)


@router.get("/margins", response_model=MarginOut, tags=["admin"])
async def get_margins(ctx: Ctx, staff: Staff, first: First = None, last: Last = None) -> MarginOut:
    """Revenue, cost and margin of outside calls per trunk and category, by the day they
    were answered (business time zone)."""
    report = await _report(ctx, staff, first, last)
    return MarginOut(
        first_day=report.start,
        last_day=report.end,
        lines=[MarginLineOut.of(x) for x in report.lines],
        total=MarginLineOut.of(report.total),
    )


@router.get("/margins.csv", response_class=Response, tags=["admin"])
async def get_margins_csv(
    ctx: Ctx, staff: Staff, first: First = None, last: Last = None
) -> Response:
    """The margin report as a CSV file (amounts in fen)."""
    report = await _report(ctx, staff, first, last)
    name = f"margins-{report.start.isoformat()}-{report.end.isoformat()}.csv"
    return Response(
        margins.margin_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
