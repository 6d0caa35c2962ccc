"""REST routes for service-interruption credits (CP 3.3, VP 13; the paths stay under
``/api/v1/billing``: the documented API does not change) and for the completion rate (CP 2.1,
``/api/v1/completion``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.api_types import DbId
from yuntong.core.context import Context, get_context
from yuntong.sla import completion, incidents
from yuntong.sla.models import Incident

router = APIRouter(prefix="/api/v1/billing", tags=["billing"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    product_codes: list[str] = Field(min_length=1, max_length=100)


class IncidentOut(BaseModel):
    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    product_codes: list[str]
    created_by: int | None
    created_at: datetime
    credited_at: datetime | None


def _incident_out(incident: Incident) -> IncidentOut:
    return IncidentOut(
        id=incident.id,
        title=incident.title,
        starts_at=incident.starts_at,
        ends_at=incident.ends_at,
        product_codes=list(incident.product_codes),
        created_by=incident.created_by,
        created_at=incident.created_at,
        credited_at=incident.credited_at,
    )


@router.get("/incidents", response_model=list[IncidentOut])
async def list_incidents(ctx: Ctx, user: User) -> list[IncidentOut]:
    return [_incident_out(i) for i in await incidents.list_incidents(ctx, user)]


@router.post("/incidents", response_model=IncidentOut, status_code=201)
async def record_incident(ctx: Ctx, user: User, body: IncidentIn) -> IncidentOut:
    incident = await incidents.do_record_incident(
        ctx, user, body.title, body.starts_at, body.ends_at, body.product_codes
    )
    return _incident_out(incident)


@router.post("/incidents/{incident_id}/credits")
async def apply_incident_credits(ctx: Ctx, user: User, incident_id: DbId) -> dict[str, int]:
    """Credit every affected subscription; running it again appends nothing."""
    appended = await incidents.do_apply_incident_credits(ctx, user, incident_id)
    return {"incident_id": incident_id, "credits": appended}


# -- the completion rate (CP 2.1) ---------------------------------------------------------------

completion_router = APIRouter(prefix="/api/v1/completion", tags=["completion"])


class CauseCount(BaseModel):
    cause: int
    name: str
    count: int


class TallyOut(BaseModel):
    attempts: int
    answered: int
    effective: int  # answered and user outcomes (E.425)
    network_failures: int
    asr_pct: str | None  # "90.00"; None: no attempts
    ner_pct: str | None
    below_contract: bool
    user_outcomes: list[CauseCount]
    failures: list[CauseCount]  # the network failures by cause


class DayOut(TallyOut):
    day: date


class CustomerOut(TallyOut):
    account_id: int
    name: str  # the holder: an organisation's legal name, or the user's names


class NumberOut(TallyOut):
    number: str


class CompletionOut(BaseModel):
    first_day: date
    last_day: date
    timezone: str
    contracted_ner_pct: str
    account_id: int | None
    number: str | None
    total: TallyOut
    days: list[DayOut]
    customers: list[CustomerOut]  # operator staff, every customer's report
    numbers: list[NumberOut]


class AlertOut(BaseModel):
    day: date
    attempts: int
    effective: int
    ner_pct: str | None
    contracted_ner_pct: str
    raised_at: datetime


def _counts(by_cause: dict[int, int]) -> list[CauseCount]:
    return [
        CauseCount(cause=cause, name=completion.cause_name(cause), count=count)
        for cause, count in sorted(by_cause.items())
    ]


def _tally(tally: completion.Tally, contracted_bp: int) -> dict[str, Any]:
    return {
        "attempts": tally.attempts,
        "answered": tally.answered,
        "effective": tally.effective,
        "network_failures": tally.network_failures,
        "asr_pct": tally.asr,
        "ner_pct": tally.ner,
        "below_contract": tally.below(contracted_bp),
        "user_outcomes": _counts(tally.user),
        "failures": _counts(tally.failures),
    }


@completion_router.get("", response_model=CompletionOut)
async def completion_rate(
    ctx: Ctx,
    user: User,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    customer: Annotated[DbId | None, Query()] = None,
    number: Annotated[str | None, Query(max_length=32)] = None,
) -> CompletionOut:
    """ASR and NER per day of ``from``..``to`` (business days), with the range's customers
    (operator staff) and numbers; a customer sees its own account only."""
    report = await completion.report_for(ctx, user, customer, number, first, last)
    bp = report.contracted_bp
    return CompletionOut(
        first_day=report.first,
        last_day=report.last,
        timezone=ctx.settings.business_timezone,
        contracted_ner_pct=completion.percent(bp, 10_000) or "0.00",
        account_id=None if report.scope.account is None else report.scope.account.id,
        number=report.scope.number,
        total=TallyOut(**_tally(report.total, bp)),
        days=[DayOut(day=day, **_tally(t, bp)) for day, t in report.days],
        customers=[
            CustomerOut(account_id=a, name=report.names.get(a, ""), **_tally(t, bp))
            for a, t in report.customers
        ],
        numbers=[NumberOut(number=n, **_tally(t, bp)) for n, t in report.numbers],
    )


@completion_router.get("/alerts", response_model=list[AlertOut])
async def completion_alerts(ctx: Ctx, user: User) -> list[AlertOut]:
    """The days whose NER fell below the contract, newest first (operator staff)."""
    return [
        AlertOut(
            day=alert.day,
            attempts=alert.attempts,
            effective=alert.effective,
            ner_pct=completion.percent(alert.effective, alert.attempts),
            contracted_ner_pct=completion.percent(alert.contracted_bp, 10_000) or "0.00",
            raised_at=alert.raised_at,
        )
        for alert in await completion.list_alerts(ctx, user)
    ]
