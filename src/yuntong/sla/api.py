"""REST routes for service-interruption credits (CP 3.3, VP 13); the paths stay under
``/api/v1/billing`` (the documented API does not change)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.api_types import DbId
from yuntong.core.context import Context, get_context
from yuntong.sla import incidents
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
