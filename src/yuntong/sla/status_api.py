"""REST routes of the status page (``/api/v1/status``): the public summary and the e-mail
subscription (no log-in), and the staff's components, incidents, updates and maintenance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from yuntong.accounts import roles
from yuntong.accounts.auth import Principal, require_user
from yuntong.core.api_types import DbId
from yuntong.core.context import Context, get_context
from yuntong.core.throttle import client_of
from yuntong.sla import status, subscriptions
from yuntong.sla.models import Maintenance, StatusComponent
from yuntong.sla.status import Summary, Timeline

router = APIRouter(prefix="/api/v1/status", tags=["status"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
State = Literal["operational", "maintenance", "degraded", "partial_outage", "major_outage"]
Impact = Literal["degraded", "partial_outage", "major_outage"]
Status = Literal["investigating", "identified", "monitoring", "resolved"]


class DayOut(BaseModel):
    day: date = Field(description="The business day")
    state: str = Field(description="The worst state that day (no_data: before the component)")


class ComponentOut(BaseModel):
    id: int = Field(description="The component's id")
    key: str = Field(description="Its stable key, e.g. video-calls")
    name_zh: str = Field(description="Its name in Chinese")
    name_en: str = Field(description="Its name in English")
    position: int = Field(description="Its place on the page (smallest first)")
    state: State = Field(description="Its state now: the worst of staff's, incidents', maintenance")
    set_state: State = Field(description="The state staff set by hand")
    uptime_pct: str = Field(
        description="Uptime over the 90 days, percent (partial outage weighs 30 %, major 100 %)"
    )
    days: list[DayOut] = Field(description="One bar per day, oldest first (90 days)")


class UpdateOut(BaseModel):
    id: int = Field(description="The update's id")
    status: Status = Field(description="The incident's status from this update on")
    message_zh: str = Field(description="What staff said, in Chinese")
    message_en: str = Field(description="What staff said, in English")
    impacts: dict[str, Impact] = Field(description="Component id → its impact from then on")
    created_at: datetime = Field(description="When it was posted")


class IncidentOut(BaseModel):
    id: int = Field(description="The incident's id")
    title_zh: str = Field(description="Its title in Chinese")
    title_en: str = Field(description="Its title in English")
    status: Status = Field(description="Its latest status")
    starts_at: datetime = Field(description="When it was opened")
    ends_at: datetime | None = Field(description="When it was resolved (null: open)")
    impacts: dict[str, Impact] = Field(description="Component id → impact now (none: resolved)")
    updates: list[UpdateOut] = Field(description="Its timeline, newest first")


class MaintenanceOut(BaseModel):
    id: int = Field(description="The maintenance's id")
    title_zh: str = Field(description="Its title in Chinese")
    title_en: str = Field(description="Its title in English")
    description_zh: str = Field(description="What is done, in Chinese")
    description_en: str = Field(description="What is done, in English")
    starts_at: datetime = Field(description="The window's start")
    ends_at: datetime = Field(description="The window's end")
    component_ids: list[int] = Field(description="The components it affects")
    state: Literal["scheduled", "in_progress", "completed", "cancelled"] = Field(
        description="By the clock: scheduled, in progress, completed (or cancelled)"
    )


class StatusOut(BaseModel):
    """The public status page's summary."""

    state: State = Field(description="The worst component state now")
    updated_at: datetime = Field(description="The moment this summary describes")
    components: list[ComponentOut] = Field(description="Every component with its 90-day history")
    incidents: list[IncidentOut] = Field(
        description="Open incidents, then those resolved in the last 14 days"
    )
    maintenance: list[MaintenanceOut] = Field(
        description="Maintenance to come, in progress, or ended in the last 14 days"
    )


def component_out(
    c: StatusComponent, state: str, days: list[status.DayBar], up: str
) -> ComponentOut:
    return ComponentOut(
        id=c.id,
        key=c.key,
        name_zh=c.name_zh,
        name_en=c.name_en,
        position=c.position,
        state=state,
        set_state=c.state,
        uptime_pct=up,
        days=[DayOut(day=d.day, state=d.state) for d in days],
    )


def incident_out(t: Timeline) -> IncidentOut:
    i = t.incident
    return IncidentOut(
        id=i.id,
        title_zh=i.title,
        title_en=i.title_en or i.title,
        status=i.status,
        starts_at=i.starts_at,
        ends_at=i.ends_at,
        impacts={str(k): v for k, v in t.impacts.items()},
        updates=[
            UpdateOut(
                id=u.id,
                status=u.status,
                message_zh=u.message_zh,
                message_en=u.message_en,
                impacts=u.impacts,
                created_at=u.created_at,
            )
            for u in reversed(t.updates)
        ],
    )


def maintenance_out(m: Maintenance, state: str) -> MaintenanceOut:
    return MaintenanceOut(
        id=m.id,
        title_zh=m.title_zh,
        title_en=m.title_en,
        description_zh=m.description_zh,
        description_en=m.description_en,
        starts_at=m.starts_at,
        ends_at=m.ends_at,
        component_ids=list(m.component_ids),
        state=state,
    )


def summary_out(found: Summary) -> StatusOut:
    return StatusOut(
        state=found.state,
        updated_at=found.now,
        components=[
            component_out(v.component, v.state, v.days, v.uptime_pct) for v in found.components
        ],
        incidents=[incident_out(t) for t in found.open_incidents + found.recent_incidents],
        maintenance=[maintenance_out(m, state) for m, state in found.maintenance],
    )


@router.get("", response_model=StatusOut)
async def status_summary(ctx: Ctx) -> StatusOut:
    """Public, no log-in: components and their state, incidents, maintenance, 90-day history."""
    return summary_out(await status.summary(ctx))


# -- e-mail subscription (public) --------------------------------------------------------------


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254, description="The address to subscribe")
    locale: Literal["zh-CN", "en"] = Field("zh-CN", description="The e-mails' language")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200, description="The token from the e-mail's link")


class Accepted(BaseModel):
    ok: bool = Field(description="Always true: the request was taken")


@router.post("/subscriptions", response_model=Accepted, status_code=202)
async def subscribe(ctx: Ctx, request: Request, body: SubscribeIn) -> Accepted:
    """Public: e-mail a confirmation link to the address (double opt-in; throttled per client
    and per address). The answer is the same whether or not it is subscribed already."""
    await subscriptions.do_subscribe(ctx, body.email, body.locale, client_of(request))
    return Accepted(ok=True)


@router.post("/subscriptions/confirm", response_model=Accepted)
async def confirm(ctx: Ctx, request: Request, body: TokenIn) -> Accepted:
    """Public: the confirmation link's token; the address receives announcements from now on."""
    await subscriptions.do_confirm(ctx, body.token, client_of(request))
    return Accepted(ok=True)


@router.post("/subscriptions/unsubscribe", response_model=Accepted)
async def unsubscribe(ctx: Ctx, body: TokenIn) -> Accepted:
    """Public: the unsubscribe link's token (in every e-mail); idempotent."""
    await subscriptions.do_unsubscribe(ctx, body.token)
    return Accepted(ok=True)


# -- staff -------------------------------------------------------------------------------------


class ComponentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=40, description="Stable key: a-z, 0-9 and -")
    name_zh: str = Field(min_length=1, max_length=80, description="Name in Chinese")
    name_en: str = Field(min_length=1, max_length=80, description="Name in English")
    position: int = Field(0, ge=0, le=10_000, description="Place on the page (smallest first)")


class ComponentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_zh: str | None = Field(None, min_length=1, max_length=80, description="Name in Chinese")
    name_en: str | None = Field(None, min_length=1, max_length=80, description="Name in English")
    position: int | None = Field(None, ge=0, le=10_000, description="Place on the page")
    state: State | None = Field(None, description="The state set by hand")


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title_zh: str = Field(min_length=1, max_length=200, description="Title in Chinese")
    title_en: str = Field(min_length=1, max_length=200, description="Title in English")
    status: Literal["investigating", "identified", "monitoring"] = Field(
        "investigating", description="Its first status"
    )
    message_zh: str = Field(min_length=1, max_length=4000, description="First update, Chinese")
    message_en: str = Field(min_length=1, max_length=4000, description="First update, English")
    impacts: dict[DbId, Impact] = Field(
        min_length=1, max_length=50, description="Component id → its impact"
    )
    product_codes: list[str] = Field(
        [], max_length=100, description="Products whose subscribers are credited once resolved"
    )


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status = Field(description="The incident's status from now on (resolved ends it)")
    message_zh: str = Field(min_length=1, max_length=4000, description="What to say, Chinese")
    message_en: str = Field(min_length=1, max_length=4000, description="What to say, English")
    impacts: dict[DbId, Impact] | None = Field(
        None, max_length=50, description="Component id → impact from now on (null: as before)"
    )


class MaintenanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title_zh: str = Field(min_length=1, max_length=200, description="Title in Chinese")
    title_en: str = Field(min_length=1, max_length=200, description="Title in English")
    description_zh: str = Field(min_length=1, max_length=4000, description="What is done, Chinese")
    description_en: str = Field(min_length=1, max_length=4000, description="What is done, English")
    starts_at: AwareDatetime = Field(description="The window's start")
    ends_at: AwareDatetime = Field(description="The window's end")
    component_ids: list[DbId] = Field(
        min_length=1, max_length=50, description="The components it affects"
    )


class StaffStatusOut(StatusOut):
    subscribers: int = Field(description="Confirmed e-mail subscribers")


@router.get("/admin", response_model=StaffStatusOut)
async def staff_summary(ctx: Ctx, user: User) -> StaffStatusOut:
    """Operator staff: the summary, and how many subscribers announcements reach."""
    roles.check_staff(user)
    found = summary_out(await status.summary(ctx))
    return StaffStatusOut(
        **found.model_dump(), subscribers=await subscriptions.count_subscribers(ctx)
    )


@router.post("/components", response_model=ComponentOut, status_code=201)
async def create_component(ctx: Ctx, user: User, body: ComponentIn) -> ComponentOut:
    """Operator staff: add a component to the page."""
    c = await status.do_create_component(
        ctx, user, body.key, body.name_zh, body.name_en, body.position
    )
    return component_out(c, c.state, [], "100.00")


@router.patch("/components/{component_id}", response_model=ComponentOut)
async def update_component(
    ctx: Ctx,
    user: User,
    component_id: Annotated[DbId, Path(description="The component's id")],
    body: ComponentPatch,
) -> ComponentOut:
    """Operator staff: rename, reorder, or set a component's state by hand."""
    c = await status.do_update_component(
        ctx,
        user,
        component_id,
        name_zh=body.name_zh,
        name_en=body.name_en,
        position=body.position,
        state=body.state,
    )
    return component_out(c, c.state, [], "100.00")


@router.post("/incidents", response_model=IncidentOut, status_code=201)
async def open_incident(ctx: Ctx, user: User, body: IncidentIn) -> IncidentOut:
    """Operator staff: open an incident with its first update (subscribers are e-mailed)."""
    t = await status.do_open_incident(
        ctx,
        user,
        title_zh=body.title_zh,
        title_en=body.title_en,
        impacts=dict(body.impacts),
        message_zh=body.message_zh,
        message_en=body.message_en,
        status=body.status,
        product_codes=body.product_codes,
    )
    return incident_out(t)


@router.post("/incidents/{incident_id}/updates", response_model=IncidentOut, status_code=201)
async def post_update(
    ctx: Ctx,
    user: User,
    incident_id: Annotated[DbId, Path(description="The incident's id")],
    body: UpdateIn,
) -> IncidentOut:
    """Operator staff: post an update (resolved ends the incident and restores components)."""
    t = await status.do_post_update(
        ctx,
        user,
        incident_id,
        status=body.status,
        message_zh=body.message_zh,
        message_en=body.message_en,
        impacts=None if body.impacts is None else dict(body.impacts),
    )
    return incident_out(t)


@router.post("/maintenance", response_model=MaintenanceOut, status_code=201)
async def schedule_maintenance(ctx: Ctx, user: User, body: MaintenanceIn) -> MaintenanceOut:
    """Operator staff: announce a maintenance window (subscribers are e-mailed)."""
    m = await status.do_schedule_maintenance(
        ctx,
        user,
        title_zh=body.title_zh,
        title_en=body.title_en,
        description_zh=body.description_zh,
        description_en=body.description_en,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        component_ids=list(body.component_ids),
    )
    return maintenance_out(m, status.maintenance_state(m, ctx.clock.now()))


@router.post("/maintenance/{maintenance_id}/cancel", response_model=MaintenanceOut)
async def cancel_maintenance(
    ctx: Ctx,
    user: User,
    maintenance_id: Annotated[DbId, Path(description="The maintenance's id")],
) -> MaintenanceOut:
    """Operator staff: call off a window that has not ended (subscribers are e-mailed)."""
    m = await status.do_cancel_maintenance(ctx, user, maintenance_id)
    return maintenance_out(m, "cancelled")
