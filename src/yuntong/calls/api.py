"""REST routes for call history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
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
    """The other party of a call."""

    user_id: int = Field(description="Their user id")
    username: str | None = Field(description="Their username (null: account gone)")
    display_name: str | None = Field(description="Their display name (null: account gone)")


class QualityOut(BaseModel):
    """Media quality the caller's and callee's clients reported (null: none reported)."""

    mos: float | None = Field(description="Mean opinion score, 1 (bad) to 5 (excellent)")
    rtt_ms: float | None = Field(description="Round-trip time, milliseconds")
    jitter_ms: float | None = Field(description="Jitter, milliseconds")
    loss_pct: float | None = Field(description="Packet loss, percent")
    bitrate_kbps: float | None = Field(description="Received bitrate, kbit/s")


class ForwardedTo(BaseModel):
    number: str | None = Field(description="E.164 number the call was forwarded to")
    forwarding: str | None = Field(description="why: cfu, cfb, cfnry or cfnrc")


class HoldOut(BaseModel):
    """One hold of a call (its media paused; the call ran on and was billed)."""

    held_by: Literal["self", "other"] = Field(
        description="Who held the call: the user whose history this is (self) or the other"
        " party (other)"
    )
    user_id: int = Field(description="The user id of whoever held it")
    started_at: datetime = Field(description="When the hold began")
    ended_at: datetime | None = Field(
        description="When it ended (resumed, or the call ended); null: held now"
    )


class CallOut(BaseModel):
    """One call in the user's history."""

    id: str = Field(description="The call's id")
    direction: Literal["incoming", "outgoing"] = Field(
        description="Whether the user was called (incoming) or called (outgoing)"
    )
    missed: bool = Field(description="An incoming call the user did not answer")
    other: Party = Field(description="The other party")
    media: str = Field(description="audio or video")
    outcome: str | None = Field(
        description="answered, rejected, busy, no_answer, canceled, unreachable, failed or "
        "interrupted; null while the call goes on"
    )
    end_reason: str | None = Field(description="Why it ended, in more detail than outcome")
    cause: int | None = Field(
        description="Q.850 cause of the ending (16 normal clearing, 17 user busy, 19 no answer,"
        " 20 subscriber absent, 21 rejected, 41 temporary failure; docs/calls-by-number.md)"
    )
    calling_number: str | None = Field(description="E.164; null for a call by username")
    called_number: str | None = Field(description="E.164 number dialled; null by username")
    hung_up_by: int | None = Field(description="The user id of whoever hung up, if anyone did")
    created_at: datetime = Field(description="When the call was placed")
    answered_at: datetime | None = Field(description="When it was answered (null: never)")
    ended_at: datetime | None = Field(description="When it ended (null: still going on)")
    billable_seconds: int = Field(description="Seconds charged (answered time, rounded up)")
    duration_ms: int = Field(description="Answered time, milliseconds")
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
    quality: QualityOut = Field(description="Media quality measured during the call")
    holds: list[HoldOut] = Field(
        default_factory=list, description="The call's holds, oldest first (empty: never held)"
    )


class CallPage(BaseModel):
    """One page of the call history."""

    items: list[CallOut] = Field(description="The calls on this page, newest first")
    total: int = Field(description="How many calls match the filters, on all pages")
    page: int = Field(description="This page's number (from 1)")
    page_size: int = Field(description="Calls per page")


@router.get("/calls", response_model=CallPage)
async def history(
    ctx: Ctx,
    user: User,
    direction: Annotated[
        Literal["incoming", "outgoing", "missed"] | None,
        Query(description="Only incoming, outgoing or missed calls"),
    ] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Only calls placed at or after this time")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Only calls placed before this time")
    ] = None,
    contact: Annotated[
        DbId | None, Query(description="Only calls with this user (their user id)")
    ] = None,
    user_id: Annotated[
        DbId | None, Query(description="another user's history (org admins)")
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=200, description="Calls per page")] = 20,
) -> dict[str, Any]:
    """The user's call history, newest first, filtered and paged; an organisation admin may
    ask for a member's (``user_id``)."""
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


class MissedCount(BaseModel):
    missed: int = Field(description="Missed calls not yet marked seen")


@router.get("/calls/missed-count", response_model=MissedCount)
async def missed(ctx: Ctx, user: User) -> dict[str, int]:
    """How many missed calls the user has not seen yet (the history badge)."""
    return {"missed": await call_history.missed_count(ctx, user.user_id)}


@router.post("/calls/missed-seen", status_code=204)
async def missed_seen(ctx: Ctx, user: User) -> None:
    """Mark every missed call seen (the badge goes to 0)."""
    await call_history.do_mark_missed_seen(ctx, user.user_id)


@router.get("/calls/{call_id}", response_model=CallOut)
async def get_call(
    ctx: Ctx, user: User, call_id: Annotated[str, Path(description="The call's id")]
) -> dict[str, Any]:
    """One call of the user's (or, for an organisation admin, of a member's)."""
    return await call_history.get_call(ctx, user, call_id)
