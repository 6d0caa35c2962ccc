"""REST routes for the caller's do-not-disturb: its state (on or off, why, until when), the
switch, and the schedules ("quiet hours") — thin: the rules are in
:mod:`yuntong.presence.schedules`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.api_types import DbId
from yuntong.core.context import Context, get_context
from yuntong.presence import schedules
from yuntong.presence.schedules import DndView, ScheduleForm, ScheduleView
from yuntong.presence.service import do_set_dnd

router = APIRouter(prefix="/api/v1/presence", tags=["presence"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
Weekday = Annotated[int, Field(ge=1, le=7)]
Days = Literal["every_day", "workdays", "rest_days", "weekdays"]
DAYS_HELP = (
    "every_day; workdays or rest_days by the official Chinese calendar (public holidays and "
    "make-up working days, 调休); weekdays: the days listed in weekdays"
)


class ScheduleIn(BaseModel):
    """A schedule: the days its window starts on, and its local start and end."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=40, description='a label, e.g. "Night"')
    days: Days = Field(description=DAYS_HELP)
    weekdays: list[Weekday] = Field(
        default_factory=list,
        max_length=7,
        description="with days = weekdays: ISO weekdays, 1 Monday … 7 Sunday; else empty",
    )
    start: str = Field(
        max_length=5,
        description="HH:MM in the operator's time zone (timezone in the state)",
        examples=["22:00"],
    )
    end: str = Field(
        max_length=5,
        description="HH:MM; at or before start: on the next day (22:00–07:30 crosses "
        "midnight); equal to start: 24 hours",
        examples=["07:30"],
    )
    enabled: bool = Field(default=True, description="a disabled schedule is kept but not applied")

    def form(self) -> ScheduleForm:
        return ScheduleForm(
            days=self.days,
            start=self.start,
            end=self.end,
            weekdays=tuple(self.weekdays),
            name=self.name,
            enabled=self.enabled,
        )


class ScheduleOut(BaseModel):
    id: int = Field(description="the schedule's id")
    name: str = Field(description="its label (may be empty)")
    days: Days = Field(description=DAYS_HELP)
    weekdays: list[int] = Field(description="with days = weekdays: ISO weekdays 1–7")
    start: str = Field(description="HH:MM, the operator's time zone")
    end: str = Field(description="HH:MM, the operator's time zone")
    enabled: bool = Field(description="applied (true) or kept aside (false)")
    overnight: bool = Field(description="the window ends on the next day")
    whole_day: bool = Field(description="start equals end: a window of 24 hours")

    @classmethod
    def of(cls, view: ScheduleView) -> ScheduleOut:
        return cls(**view.__dict__)


class DndOut(BaseModel):
    """The caller's do-not-disturb now."""

    on: bool = Field(description="incoming calls end busy (dnd) and presence says dnd")
    reason: Literal["manual", "schedule"] | None = Field(
        description="why it is on: switched on (manual) or inside a schedule's window"
    )
    until: datetime | None = Field(
        description="reason = schedule: when the window ends (windows that run into each "
        "other count as one); null for manual (on until switched off)"
    )
    paused_until: datetime | None = Field(
        description="switched off inside a window: the schedules apply again from then"
    )
    next_start: datetime | None = Field(
        description="off now: when the next window starts (within 8 days)"
    )
    manual: bool = Field(description="the switch")
    schedules: list[ScheduleOut] = Field(description="the caller's schedules, oldest first")
    ordered: bool = Field(
        description="scheduled do-not-disturb (product vas_dnd_schedule) is ordered: schedules"
        " may be added and changed (else service_not_ordered); the switch is free"
    )
    can_add: bool = Field(description="another schedule may be added (ordered, under the limit)")
    max_schedules: int = Field(description="at most this many schedules")
    timezone: str = Field(description="the time zone of the schedules' times, e.g. Asia/Shanghai")

    @classmethod
    def of(cls, view: DndView) -> DndOut:
        e = view.effective
        return cls(
            on=e.on,
            reason=e.reason,
            until=e.until,
            paused_until=e.paused_until,
            next_start=e.next_start,
            manual=view.manual,
            schedules=[ScheduleOut.of(s) for s in view.schedules],
            ordered=view.ordered,
            can_add=view.can_add,
            max_schedules=view.max_schedules,
            timezone=view.timezone,
        )


class SwitchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: bool = Field(
        description="true: on until switched off; false: off — inside a schedule's window, "
        "until that window ends"
    )


ScheduleId = Annotated[DbId, Path(description="The schedule's id (from GET /presence/dnd)")]


@router.get("/dnd", response_model=DndOut)
async def get_dnd(ctx: Ctx, user: User) -> DndOut:
    """The caller's do-not-disturb: on or off, why (switched on or a schedule), until when,
    and the schedules."""
    return DndOut.of(await schedules.dnd_view(ctx, user.user_id))


@router.put("/dnd", response_model=DndOut)
async def put_dnd(ctx: Ctx, user: User, body: SwitchIn) -> DndOut:
    """Switch do-not-disturb on or off (as ``presence.set`` on the socket does). Off inside a
    scheduled window pauses the schedules until the window ends."""
    await do_set_dnd(ctx, user.user_id, body.on)
    return DndOut.of(await schedules.dnd_view(ctx, user.user_id))


@router.get("/dnd/schedules", response_model=list[ScheduleOut])
async def list_schedules(ctx: Ctx, user: User) -> list[ScheduleOut]:
    """The caller's do-not-disturb schedules, oldest first."""
    return [ScheduleOut.of(s) for s in await schedules.list_schedules(ctx, user.user_id)]


@router.post("/dnd/schedules", response_model=ScheduleOut, status_code=201)
async def create_schedule(ctx: Ctx, user: User, body: ScheduleIn) -> ScheduleOut:
    """Add a schedule (at most 10: ``dnd_schedule_limit``); applies at once."""
    return ScheduleOut.of(await schedules.do_create_schedule(ctx, user.user_id, body.form()))


@router.put("/dnd/schedules/{schedule_id}", response_model=ScheduleOut)
async def update_schedule(
    ctx: Ctx, user: User, schedule_id: ScheduleId, body: ScheduleIn
) -> ScheduleOut:
    """Replace one of the caller's schedules (``dnd_schedule_not_found`` for anyone else's)."""
    view = await schedules.do_update_schedule(ctx, user.user_id, schedule_id, body.form())
    return ScheduleOut.of(view)


@router.delete("/dnd/schedules/{schedule_id}", status_code=204)
async def delete_schedule(ctx: Ctx, user: User, schedule_id: ScheduleId) -> Response:
    """Remove one of the caller's schedules."""
    await schedules.do_delete_schedule(ctx, user.user_id, schedule_id)
    return Response(status_code=204)
