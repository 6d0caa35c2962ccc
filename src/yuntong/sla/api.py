"""REST routes for service-interruption credits (CP 3.3, VP 13; the paths stay under
``/api/v1/billing``: the documented API does not change) and for the completion rate (CP 2.1,
``/api/v1/completion``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
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
    title: str = Field(min_length=1, max_length=200, description="What happened")
    starts_at: AwareDatetime = Field(description="When the interruption began")
    ends_at: AwareDatetime = Field(description="When the service was back")
    product_codes: list[str] = Field(
        min_length=1, max_length=100, description="The products interrupted (their codes)"
    )


class IncidentOut(BaseModel):
    """A service interruption, whose subscribers are credited (CP 3.3)."""

    id: int = Field(description="The incident's id")
    title: str = Field(description="What happened")
    starts_at: datetime = Field(description="When the interruption began")
    ends_at: datetime | None = Field(
        description="When the service was back (null: still open on the status page)"
    )
    product_codes: list[str] = Field(description="The products interrupted")
    created_by: int | None = Field(description="The staff member who recorded it")
    created_at: datetime = Field(description="When it was recorded")
    credited_at: datetime | None = Field(
        description="When its credits were applied (null: not yet)"
    )


class CreditsApplied(BaseModel):
    incident_id: int = Field(description="The incident")
    credits: int = Field(description="Credits appended by this run (0 when run again)")


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
    """Operator staff: the recorded service interruptions."""
    return [_incident_out(i) for i in await incidents.list_incidents(ctx, user)]


@router.post("/incidents", response_model=IncidentOut, status_code=201)
async def record_incident(ctx: Ctx, user: User, body: IncidentIn) -> IncidentOut:
    """Operator staff: record a service interruption of some products (credited next)."""
    incident = await incidents.do_record_incident(
        ctx, user, body.title, body.starts_at, body.ends_at, body.product_codes
    )
    return _incident_out(incident)


@router.post("/incidents/{incident_id}/credits", response_model=CreditsApplied)
async def apply_incident_credits(
    ctx: Ctx,
    user: User,
    incident_id: Annotated[DbId, Path(description="The incident's id")],
) -> dict[str, int]:
    """Credit every affected subscription; running it again appends nothing."""
    appended = await incidents.do_apply_incident_credits(ctx, user, incident_id)
    return {"incident_id": incident_id, "credits": appended}


# -- the completion rate (CP 2.1) ---------------------------------------------------------------

completion_router = APIRouter(prefix="/api/v1/completion", tags=["completion"])


class CauseCount(BaseModel):
    cause: int = Field(description="Q.850 cause value")
    name: str = Field(description="The cause's name")
    count: int = Field(description="Calls that ended with it")


class TallyOut(BaseModel):
    """Call attempts and how they ended (ITU-T E.425)."""

    attempts: int = Field(description="Call attempts")
    answered: int = Field(description="Attempts answered")
    effective: int = Field(  # answered and user outcomes (E.425)
        description="Answered plus user outcomes (busy, no answer, rejected: E.425)"
    )
    network_failures: int = Field(description="Attempts the network failed")
    asr_pct: str | None = Field(description='Answer-seizure ratio, "90.00"; null: no attempts')
    ner_pct: str | None = Field(description="Network effectiveness ratio; null: no attempts")
    below_contract: bool = Field(description="NER below the contracted one")
    user_outcomes: list[CauseCount] = Field(description="The user outcomes by cause")
    failures: list[CauseCount] = Field(description="The network failures by cause")


class DayOut(TallyOut):
    day: date = Field(description="The business day")


class CustomerOut(TallyOut):
    account_id: int = Field(description="The customer's billing account")
    name: str = Field(description="The holder: an organisation's legal name, or the user's name")


class NumberOut(TallyOut):
    number: str = Field(description="The number (E.164)")


class CompletionOut(BaseModel):
    """The completion-rate report of a range of business days (CP 2.1)."""

    first_day: date = Field(description="The range's first day")
    last_day: date = Field(description="The range's last day")
    timezone: str = Field(description="The business time zone the days are in")
    contracted_ner_pct: str = Field(description="The NER the contract promises, percent")
    account_id: int | None = Field(description="The customer reported on (null: all)")
    number: str | None = Field(description="The number reported on (null: all)")
    total: TallyOut = Field(description="The whole range")
    days: list[DayOut] = Field(description="Each day of the range")
    customers: list[CustomerOut] = Field(
        description="Each customer (operator staff; empty for a customer)"
    )
    numbers: list[NumberOut] = Field(description="Each number of the scope")


class AlertOut(BaseModel):
    """A day whose NER fell below the contract."""

    day: date = Field(description="The business day")
    attempts: int = Field(description="Call attempts that day")
    effective: int = Field(description="Effective attempts that day")
    ner_pct: str | None = Field(description="That day's NER, percent")
    contracted_ner_pct: str = Field(description="The NER the contract promises, percent")
    raised_at: datetime = Field(description="When the alert was raised")


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
    first: Annotated[
        date | None,
        Query(
            alias="from", description="First day (default: 29 days before `to`); at most 366 days"
        ),
    ] = None,
    last: Annotated[
        date | None, Query(alias="to", description="Last day (default: today, business time zone)")
    ] = None,
    customer: Annotated[
        DbId | None, Query(description="Operator staff: one customer's billing account")
    ] = None,
    number: Annotated[
        str | None,
        Query(max_length=32, description="Only calls from this calling number (E.164 or national)"),
    ] = None,
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
