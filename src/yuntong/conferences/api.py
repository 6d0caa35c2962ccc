"""REST routes of conference calls (docs/conferences.md): open one on a dial-in number with a
PIN, join it from a browser (an SDP offer in, the bridge's answer out), and the organiser's
controls: mute one or all, remove, lock, end; the legs with their billable seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.conferences import bridge, control, dialout, service
from yuntong.conferences.models import Conference, ConferenceLeg
from yuntong.core.context import Context, get_context
from yuntong.core.errors import YuntongError

router = APIRouter(prefix="/api/v1", tags=["conferences"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
ConferencePath = Annotated[str, Path(description="The conference's id", max_length=32)]
LegPath = Annotated[str, Path(description="The leg's id (one participant's time in it)")]


class ConferenceIn(BaseModel):
    """A new conference call."""

    title: str = Field(min_length=1, max_length=120, description="What it is about")
    dial_in: str = Field(
        max_length=20,
        description="Dial-in number: one of your numbers, or an operator conference number",
    )
    pin: str = Field(max_length=8, description="PIN of 4 to 8 digits callers dial after '*'")


class LegOut(BaseModel):
    """One participant's time in a conference (a leg)."""

    id: str = Field(description="The leg's id")
    kind: str = Field(description="browser, phone (a Yuntong number's SIP phone) or outside")
    display: str = Field(description="The name or number shown")
    number: str | None = Field(description="The caller's number, E.164 (phones)")
    moderator: bool = Field(description="The organiser's own leg")
    muted: bool = Field(description="Muted by the moderator")
    removed: bool = Field(description="Removed by the moderator")
    connected: bool = Field(description="In the call (false: dialled out, still ringing)")
    joined_at: datetime = Field(description="When it joined")
    left_at: datetime | None = Field(description="When it left (null: in the conference now)")
    billable_seconds: int = Field(description="Seconds charged as an audio call, rounded up")
    charged: bool = Field(description="Charged to a Yuntong account (its own participant)")


class ConferenceOut(BaseModel):
    """A conference call."""

    id: str = Field(description="The conference's id (its page is /conferences/{id})")
    title: str = Field(description="What it is about")
    dial_in: str = Field(description="Dial-in number, E.164")
    dial_string: str = Field(description="What phones dial: the number, '*', then the PIN")
    organiser: bool = Field(description="You organise it (you may use the controls)")
    locked: bool = Field(description="Locked: nobody else joins")
    state: str = Field(description="open or ended")
    created_at: datetime = Field(description="When it was opened")
    ended_at: datetime | None = Field(description="When it was ended")
    legs: list[LegOut] | None = Field(
        None, description="Its legs, in joining order (the organiser's view only)"
    )


class JoinIn(BaseModel):
    """A browser joining: its WebRTC SDP offer (audio)."""

    sdp: str = Field(max_length=20_000, description="The browser's SDP offer")
    pin: str = Field("", max_length=8, description="The PIN (not needed by the organiser)")
    display: str = Field("", max_length=80, description="Name shown to the others")


class JoinOut(BaseModel):
    """The bridge's answer to a browser joining."""

    leg_id: str = Field(description="Your leg (leave with DELETE on it)")
    sdp: str = Field(description="The bridge's SDP answer")


class MuteIn(BaseModel):
    muted: bool = Field(description="true: mute; false: unmute")


class DialOutIn(BaseModel):
    number: str = Field(max_length=20, description="The number to call in (E.164 or national)")


class LockIn(BaseModel):
    locked: bool = Field(description="true: lock (nobody else joins); false: unlock")


def _leg_out(leg: ConferenceLeg) -> LegOut:
    return LegOut(
        id=leg.id,
        kind=leg.kind,
        display=leg.display,
        number=leg.number,
        moderator=leg.moderator,
        muted=leg.muted,
        removed=leg.removed,
        connected=leg.connected,
        joined_at=leg.joined_at,
        left_at=leg.left_at,
        billable_seconds=leg.billable_seconds,
        charged=leg.payer_id is not None,
    )


def _out(
    conference: Conference, user: Principal, legs: list[ConferenceLeg] | None = None
) -> ConferenceOut:
    return ConferenceOut(
        id=conference.id,
        title=conference.title,
        dial_in=conference.dial_in,
        dial_string=f"{conference.dial_in}*PIN",
        organiser=conference.organiser_id == user.user_id,
        locked=conference.locked,
        state=conference.state,
        created_at=conference.created_at,
        ended_at=conference.ended_at,
        legs=[_leg_out(leg) for leg in legs] if legs is not None else None,
    )


async def _organised(ctx: Context, user: Principal, conference_id: str) -> Conference:
    conference = await service.get_conference(ctx, conference_id)
    service.check_organiser(conference, user.user_id)
    return conference


@router.post("/conferences", response_model=ConferenceOut, status_code=201)
async def create_conference(ctx: Ctx, user: User, body: ConferenceIn) -> ConferenceOut:
    """Open a conference call on a dial-in number with a PIN."""
    conference = await service.do_create(ctx, user.user_id, body.title, body.dial_in, body.pin)
    return _out(conference, user, [])


@router.get("/conferences", response_model=list[ConferenceOut])
async def list_conferences(ctx: Ctx, user: User) -> list[ConferenceOut]:
    """The conference calls you organise, newest first."""
    return [_out(c, user) for c in await service.conferences_of(ctx, user.user_id)]


@router.get("/conferences/{conference_id}", response_model=ConferenceOut)
async def get_conference(ctx: Ctx, user: User, conference_id: ConferencePath) -> ConferenceOut:
    """A conference call; its organiser also sees its legs."""
    conference = await service.get_conference(ctx, conference_id)
    legs = None
    if conference.organiser_id == user.user_id:
        legs = await service.legs_of(ctx, conference.id)
    return _out(conference, user, legs)


@router.post("/conferences/{conference_id}/legs", response_model=JoinOut, status_code=201)
async def join_conference(
    ctx: Ctx, user: User, conference_id: ConferencePath, body: JoinIn
) -> JoinOut:
    """Join from a browser: the PIN (unless you organise it) and your SDP offer."""
    conference = await service.get_conference(ctx, conference_id)
    if conference.organiser_id != user.user_id:
        found = await service.do_admit_by_pin(
            ctx, conference.dial_in, body.pin, f"user:{user.user_id}"
        )
        if found.id != conference.id:
            raise YuntongError("conference_pin_wrong")
    display = body.display.strip() or user.username
    leg, answer = await control.do_join_browser(ctx, conference, user.user_id, display, body.sdp)
    return JoinOut(leg_id=leg.id, sdp=answer)


@router.delete("/conferences/{conference_id}/legs/{leg_id}", status_code=204)
async def remove_leg(
    ctx: Ctx, user: User, conference_id: ConferencePath, leg_id: LegPath
) -> Response:
    """Leave (your own leg), or remove a participant (the organiser)."""
    conference = await service.get_conference(ctx, conference_id)
    leg = await service.get_leg(ctx, conference.id, leg_id)
    if leg.user_id == user.user_id and leg.kind == "browser":
        await control.do_leave(ctx, leg)
    else:
        service.check_organiser(conference, user.user_id)
        await control.do_remove(ctx, conference, leg)
    return Response(status_code=204)


@router.post("/conferences/{conference_id}/dial-outs", response_model=LegOut, status_code=201)
async def dial_out(ctx: Ctx, user: User, conference_id: ConferencePath, body: DialOutIn) -> LegOut:
    """Call someone into the conference (the organiser, who pays for the leg): a Yuntong
    number's registered SIP phone, or an outside number through the carrier trunk."""
    conference = await _organised(ctx, user, conference_id)
    return _leg_out(await dialout.do_dial_out(ctx, conference, user.user_id, body.number))


@router.post("/conferences/{conference_id}/legs/{leg_id}/mute", response_model=LegOut)
async def mute_leg(
    ctx: Ctx, user: User, conference_id: ConferencePath, leg_id: LegPath, body: MuteIn
) -> LegOut:
    """Mute or unmute one participant (the organiser)."""
    conference = await _organised(ctx, user, conference_id)
    leg = await service.get_leg(ctx, conference.id, leg_id)
    await control.do_mute(ctx, conference, leg, body.muted)
    return _leg_out(await service.get_leg(ctx, conference.id, leg_id))


@router.post("/conferences/{conference_id}/mute-all", response_model=ConferenceOut)
async def mute_all(
    ctx: Ctx, user: User, conference_id: ConferencePath, body: MuteIn
) -> ConferenceOut:
    """Mute or unmute everyone but the organiser."""
    conference = await _organised(ctx, user, conference_id)
    await control.do_mute_all(ctx, conference, body.muted)
    return _out(conference, user, await service.legs_of(ctx, conference.id))


@router.post("/conferences/{conference_id}/lock", response_model=ConferenceOut)
async def lock_conference(
    ctx: Ctx, user: User, conference_id: ConferencePath, body: LockIn
) -> ConferenceOut:
    """Lock (nobody but the organiser joins) or unlock."""
    conference = await _organised(ctx, user, conference_id)
    await service.do_set_locked(ctx, conference, body.locked)
    return _out(conference, user, await service.legs_of(ctx, conference.id))


@router.post("/conferences/{conference_id}/end", response_model=ConferenceOut)
async def end_conference(ctx: Ctx, user: User, conference_id: ConferencePath) -> ConferenceOut:
    """End it: every participant is dropped (phones hung up), nobody joins again."""
    conference = await _organised(ctx, user, conference_id)
    await control.do_end(ctx, conference)
    return _out(conference, user, await service.legs_of(ctx, conference.id))


@router.get("/conferences/{conference_id}/bridge", response_model=list[LegOut])
async def bridge_legs(ctx: Ctx, user: User, conference_id: ConferencePath) -> list[LegOut]:
    """The legs the bridge mixes now (its own list of participants, read from Janus)."""
    conference = await _organised(ctx, user, conference_id)
    in_bridge = {p.get("id") for p in await bridge.participants(ctx, conference)}
    legs = await service.legs_of(ctx, conference.id, present=True)
    return [_leg_out(leg) for leg in legs if leg.janus_participant in in_bridge]
