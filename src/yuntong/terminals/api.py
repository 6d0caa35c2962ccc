"""REST routes for terminals and their warranty claims (VP 4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.api_types import DbId
from yuntong.core.context import Context, get_context
from yuntong.terminals import devices
from yuntong.terminals.models import DeviceClaim

router = APIRouter(prefix="/api/v1/billing", tags=["billing"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]


class ClaimOut(BaseModel):
    id: int
    device_id: int
    claimed_on: date
    fault: str
    outcome: str = Field(description="open, repaired, replaced or refused")
    refusal_reason: str | None = Field(description="expired or opened_by_other")
    refusal_message: str | None = Field(description="the reason in the caller's language")
    parts_returned: list[str] = Field(description="replaced parts, kept by the operator")
    note: str
    created_at: datetime


class DeviceOut(BaseModel):
    id: int
    account_id: int
    model: str
    serial: str
    delivered_on: date
    warranty_ends: date = Field(description="last day covered; a replacement keeps the first's")
    warranty_void: bool = Field(description="opened by someone other than the operator")
    replaced_by_id: int | None


class DeviceDetailOut(DeviceOut):
    claims: list[ClaimOut]


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: DbId
    model: str = Field(min_length=1, max_length=64)
    serial: str = Field(min_length=1, max_length=64)
    delivered_on: date


class OpenedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fault: str = Field(min_length=1, max_length=2000)


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["repaired", "replaced"]
    parts_returned: list[str] = Field(default_factory=list, max_length=devices.MAX_PARTS)
    note: str = Field(default="", max_length=2000)
    replacement_serial: str | None = Field(default=None, min_length=1, max_length=64)


def _claim_out(claim: DeviceClaim, warranty_ends: date, locale: str) -> ClaimOut:
    return ClaimOut(
        id=claim.id,
        device_id=claim.device_id,
        claimed_on=claim.claimed_on,
        fault=claim.fault,
        outcome=claim.outcome,
        refusal_reason=claim.refusal_reason,
        refusal_message=devices.refusal_message(claim, warranty_ends, locale),
        parts_returned=list(claim.parts_returned),
        note=claim.note,
        created_at=claim.created_at,
    )


def _device_out(view: devices.DeviceView) -> DeviceOut:
    d = view.device
    return DeviceOut(
        id=d.id,
        account_id=d.account_id,
        model=d.model,
        serial=d.serial,
        delivered_on=d.delivered_on,
        warranty_ends=view.warranty_ends,
        warranty_void=d.opened_by_other,
        replaced_by_id=d.replaced_by_id,
    )


def _detail_out(view: devices.DeviceView, locale: str) -> DeviceDetailOut:
    claims = [_claim_out(c, view.warranty_ends, locale) for c in view.claims]
    return DeviceDetailOut(**_device_out(view).model_dump(), claims=claims)


async def _claim_response(ctx: Context, user: Principal, claim: DeviceClaim) -> ClaimOut:
    view = await devices.get_device(ctx, user, claim.device_id)
    return _claim_out(claim, view.warranty_ends, user.locale)


@router.get("/devices", response_model=list[DeviceOut])
async def list_devices(ctx: Ctx, user: User, account_id: DbId | None = None) -> list[DeviceOut]:
    """The caller's own terminals; staff name the account."""
    return [_device_out(v) for v in await devices.list_devices(ctx, user, account_id)]


@router.post("/devices", response_model=DeviceDetailOut, status_code=201)
async def register_device(ctx: Ctx, user: User, body: DeviceIn) -> DeviceDetailOut:
    device = await devices.do_register_device(
        ctx, user, body.account_id, body.model, body.serial, body.delivered_on
    )
    return _detail_out(await devices.get_device(ctx, user, device.id), user.locale)


@router.get("/devices/{device_id}", response_model=DeviceDetailOut)
async def get_device(ctx: Ctx, user: User, device_id: DbId) -> DeviceDetailOut:
    return _detail_out(await devices.get_device(ctx, user, device_id), user.locale)


@router.post("/devices/{device_id}/opened", response_model=DeviceDetailOut)
async def mark_opened(ctx: Ctx, user: User, device_id: DbId, body: OpenedIn) -> DeviceDetailOut:
    """Staff record that someone else opened the device: the warranty is void."""
    await devices.do_mark_opened(ctx, user, device_id, body.note)
    return _detail_out(await devices.get_device(ctx, user, device_id), user.locale)


@router.post("/devices/{device_id}/claims", response_model=ClaimOut, status_code=201)
async def open_claim(ctx: Ctx, user: User, device_id: DbId, body: ClaimIn) -> ClaimOut:
    """Always 201: a claim the warranty does not cover is recorded as refused, with the reason."""
    claim = await devices.do_open_claim(ctx, user, device_id, body.fault)
    return await _claim_response(ctx, user, claim)


@router.post("/claims/{claim_id}/resolve", response_model=ClaimOut)
async def resolve_claim(ctx: Ctx, user: User, claim_id: DbId, body: ResolveIn) -> ClaimOut:
    claim = await devices.do_resolve_claim(
        ctx,
        user,
        claim_id,
        body.outcome,
        body.parts_returned,
        body.note,
        body.replacement_serial,
    )
    return await _claim_response(ctx, user, claim)
