"""REST routes for call history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.calls import history as call_history
from yuntong.core.api_types import DbId
from yuntong.core.context import Context, get_context
from yuntong.numbers import directory as numbers

router = APIRouter(prefix="/api/v1", tags=["calls"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]


class Party(BaseModel):
    user_id: int
    username: str | None
    display_name: str | None


class QualityOut(BaseModel):
    mos: float | None
    rtt_ms: float | None
    jitter_ms: float | None
    loss_pct: float | None
    bitrate_kbps: float | None


class ForwardedTo(BaseModel):
    number: str | None = Field(description="E.164 number the call was forwarded to")
    forwarding: str | None = Field(description="why: cfu, cfb, cfnry or cfnrc")


class CallOut(BaseModel):
    id: str
    direction: Literal["incoming", "outgoing"]
    missed: bool
    other: Party
    media: str
    outcome: str | None
    end_reason: str | None
    cause: int | None = Field(
        description="Q.850 cause of the ending (16 normal clearing, 17 user busy, 19 no answer,"
        " 20 subscriber absent, 21 rejected, 41 temporary failure; docs/calls-by-number.md)"
    )
    calling_number: str | None = Field(description="E.164; null for a call by username")
    called_number: str | None = Field(description="E.164 number dialled; null by username")
    hung_up_by: int | None
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    billable_seconds: int
    duration_ms: int
    forwarding: str | None = Field(
        default=None,
        description="on a forwarded leg (its caller is the forwarding subscriber, who pays it):"
        " the forwarding that made it, cfu | cfb | cfnry | cfnrc; null otherwise",
    )
    forwarded_by: str | None = Field(
        default=None, description="on a forwarded leg: E.164 number that forwarded the call"
    )
    forwarded_to: ForwardedTo | None = Field(
        default=None,
        description="a call forwarded on from its callee: where to and why (the leg that"
        " continues it is a record of its own, in the forwarding subscriber's history)",
    )
    quality: QualityOut


class CallPage(BaseModel):
    items: list[CallOut]
    total: int
    page: int
    page_size: int


@router.get("/calls", response_model=CallPage)
async def history(
    ctx: Ctx,
    user: User,
    direction: Literal["incoming", "outgoing", "missed"] | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    contact: DbId | None = None,
    user_id: Annotated[
        DbId | None, Query(description="another user's history (org admins)")
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    filters = call_history.HistoryFilter(direction, since, until, contact)
    subject = user_id if user_id is not None else user.user_id
    items, total = await call_history.list_history(ctx, user, subject, filters, page, page_size)
    return {"items": items, "total": total, "page": page, "page_size": page_size}


class CallingNumbers(BaseModel):
    numbers: list[str] = Field(
        description="E.164 numbers a call by number may be presented from; the first is the default"
    )


@router.get("/calls/calling-numbers", response_model=CallingNumbers)
async def calling_numbers(ctx: Ctx, user: User) -> dict[str, list[str]]:
    """The caller's own assigned numbers (``from_number`` of ``call.invite``)."""
    return {"numbers": await numbers.numbers_of_user(ctx, user.user_id)}


@router.get("/calls/missed-count")
async def missed(ctx: Ctx, user: User) -> dict[str, int]:
    return {"missed": await call_history.missed_count(ctx, user.user_id)}


@router.post("/calls/missed-seen", status_code=204)
async def missed_seen(ctx: Ctx, user: User) -> None:
    await call_history.do_mark_missed_seen(ctx, user.user_id)


@router.get("/calls/{call_id}", response_model=CallOut)
async def get_call(ctx: Ctx, user: User, call_id: str) -> dict[str, Any]:
    return await call_history.get_call(ctx, user, call_id)
