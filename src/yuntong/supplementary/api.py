"""REST routes for a user's supplementary services: read and change them, set the barring PIN,
and run a keypad code (MMI) dialled on the dial pad (thin: the rules are in the modules)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.context import Context, get_context
from yuntong.supplementary import mmi, pin, products
from yuntong.supplementary.models import ServiceSettings
from yuntong.supplementary.profile import do_set_services, profile_of

router = APIRouter(prefix="/api/v1", tags=["supplementary services"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
Number = Annotated[str, Field(min_length=5, max_length=32, description="a Yuntong number")]


class ServicesOut(BaseModel):
    clip: bool = Field(description="the calling number and its attribution shown on calls")
    clir_mode: Literal["", "temporary", "always"] = Field(
        description='withholding: "" not activated, "temporary" per call, "always" by default'
    )
    cfu: str | None = Field(description="forwarding unconditional to (E.164)")
    cfb: str | None = Field(description="forwarding on busy to")
    cfnry: str | None = Field(description="forwarding on no reply to")
    cfnrc: str | None = Field(description="forwarding when not reachable to")
    cfnry_timer_s: int = Field(description="no-reply timer, 5–30 s")
    bar_outgoing: bool = Field(description="barring of all outgoing calls")
    bar_international: bool = Field(description="barring of outgoing international calls")
    bar_incoming: bool = Field(description="barring of all incoming calls")
    bar_anonymous: bool = Field(description="anonymous call rejection")
    incoming_list_mode: Literal["", "blacklist", "whitelist"] = Field(
        description='incoming call screening: "" off, "blacklist" refuses the numbers listed, '
        '"whitelist" takes only them'
    )
    incoming_list: list[str] = Field(description="the numbers screened (E.164)")
    waiting: bool = Field(
        description="call waiting: a second call while in an answered call rings as waiting"
    )


class ServicesView(BaseModel):
    services: ServicesOut = Field(description="the caller's services as they are now")
    ordered: list[str] = Field(
        description="services ordered: clip, clir, forwarding, barring, waiting, dnd_schedule"
    )
    pin_set: bool = Field(description="a barring PIN is set")


class ServicesIn(BaseModel):
    """Only the fields given change; barring fields need ``barring_pin``."""

    model_config = ConfigDict(extra="forbid")
    clip: bool | None = Field(default=None, description="show the calling number")
    clir_mode: Literal["", "temporary", "always"] | None = Field(
        default=None, description="withholding of the own number (see ServicesOut)"
    )
    cfu: Number | None = Field(default=None, description="forward all calls to this number")
    cfb: Number | None = Field(default=None, description="forward on busy to this number")
    cfnry: Number | None = Field(default=None, description="forward on no reply to this number")
    cfnrc: Number | None = Field(
        default=None, description="forward when not reachable to this number"
    )
    cfnry_timer_s: int | None = Field(default=None, ge=5, le=30, description="no-reply timer")
    bar_outgoing: bool | None = Field(default=None, description="bar all outgoing calls")
    bar_international: bool | None = Field(
        default=None, description="bar outgoing international calls"
    )
    bar_incoming: bool | None = Field(default=None, description="bar all incoming calls")
    bar_anonymous: bool | None = Field(default=None, description="reject anonymous calls")
    incoming_list_mode: Literal["", "blacklist", "whitelist"] | None = Field(
        default=None, description="incoming call screening mode (see ServicesOut)"
    )
    incoming_list: list[Number] | None = Field(
        default=None, max_length=100, description="the numbers to screen (replaces the list)"
    )
    waiting: bool | None = Field(default=None, description="call waiting on or off")
    barring_pin: str | None = Field(
        default=None, max_length=8, description="the barring PIN, needed to change barring"
    )
    # forwarding numbers given as null switch that forwarding off
    clear: list[Literal["cfu", "cfb", "cfnry", "cfnrc"]] = Field(
        default_factory=list, description="forwardings to switch off"
    )


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_pin: str | None = Field(
        default=None, max_length=8, description="the PIN set now (needed once one is set)"
    )
    new_pin: str = Field(max_length=8, description="the new barring PIN: 4 digits")


class MmiIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=2, max_length=64, description="what was dialled, e.g. *21*139…#")


class MmiOut(BaseModel):
    service: str = Field(description="the service the code addressed (e.g. cfu, clir)")
    procedure: str = Field(description="activate, deactivate, interrogate, register or erase")
    active: bool = Field(description="whether the service is on afterwards")
    profile: ServicesOut = Field(description="all the caller's services afterwards")


async def _view(ctx: Context, user_id: int) -> ServicesView:
    profile = await profile_of(ctx, user_id)
    async with ctx.db.session() as s:
        row = await s.get(ServiceSettings, user_id)
        pin_set = row is not None and row.pin_hash is not None
    return ServicesView(
        services=ServicesOut(**profile.public()),
        ordered=sorted(await products.ordered_services(ctx, user_id)),
        pin_set=pin_set,
    )


@router.get("/services", response_model=ServicesView)
async def get_services(ctx: Ctx, user: User) -> ServicesView:
    """The caller's supplementary services: what is on, and what has been ordered."""
    return await _view(ctx, user.user_id)


@router.put("/services", response_model=ServicesView)
async def put_services(ctx: Ctx, user: User, body: ServicesIn) -> ServicesView:
    """Change the caller's services; barring changes need the barring PIN."""
    changes: dict[str, Any] = body.model_dump(exclude_none=True, exclude={"barring_pin", "clear"})
    changes.update(dict.fromkeys(body.clear))
    await do_set_services(ctx, user.user_id, changes, barring_pin=body.barring_pin)
    return await _view(ctx, user.user_id)


@router.put("/services/pin", status_code=204)
async def put_pin(ctx: Ctx, user: User, body: PinIn) -> None:
    """Set or change the barring PIN (the old one is needed once set)."""
    await pin.do_set_pin(ctx, user.user_id, body.old_pin, body.new_pin)


@router.post("/services/mmi", response_model=MmiOut)
async def post_mmi(ctx: Ctx, user: User, body: MmiIn) -> dict[str, Any]:
    """Run a keypad code dialled on the dial panel (``*21*number#`` …) and say what it did."""
    return await mmi.do_mmi(ctx, user.user_id, body.code)
