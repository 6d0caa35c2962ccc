"""REST routes for terminals and their warranty claims (VP 4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.api_types import DbId
from yuntong.core.context import Context, get_context
from yuntong.terminals import devices
from yuntong.terminals.models import DeviceClaim

router = APIRouter(prefix="/api/v1/billing", tags=["billing"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
DeviceId = Annotated[DbId, Path(description="The terminal's id")]


class ClaimOut(BaseModel):
    """A warranty claim on a terminal."""

    id: int = Field(description="The claim's id")
    device_id: int = Field(description="The terminal claimed on")
    claimed_on: date = Field(description="The day it was claimed (business time zone)")
    fault: str = Field(description="The fault the customer described")
    outcome: str = Field(description="open, repaired, replaced or refused")
    refusal_reason: str | None = Field(description="expired or opened_by_other")
    refusal_message: str | None = Field(description="the reason in the caller's language")
    parts_returned: list[str] = Field(description="replaced parts, kept by the operator")
    note: str = Field(description="Staff's note on the resolution")
    created_at: datetime = Field(description="When the claim was recorded")


class DeviceOut(BaseModel):
    """A terminal the operator delivered to a billing account, under warranty."""

    id: int = Field(description="The terminal's id")
    account_id: int = Field(description="The billing account it was delivered to")
    model: str = Field(description="Model name")
    serial: str = Field(description="Serial number")
    delivered_on: date = Field(description="Delivery day: the warranty runs from it")
    warranty_ends: date = Field(description="last day covered; a replacement keeps the first's")
    warranty_void: bool = Field(description="opened by someone other than the operator")
    replaced_by_id: int | None = Field(
        description="The terminal that replaced it under warranty (null: not replaced)"
    )


class DeviceDetailOut(DeviceOut):
    claims: list[ClaimOut] = Field(description="Its warranty claims, oldest first")


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: DbId = Field(description="The billing account it is delivered to")
    model: str = Field(min_length=1, max_length=64, description="Model name")
    serial: str = Field(min_length=1, max_length=64, description="Serial number")
    delivered_on: date = Field(description="Delivery day: the warranty runs from it")


class OpenedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000, description="What was found")


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fault: str = Field(min_length=1, max_length=2000, description="What is wrong with it")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["repaired", "replaced"] = Field(description="How the claim was settled")
    parts_returned: list[str] = Field(
        default_factory=list,
        max_length=devices.MAX_PARTS,
        description="Parts replaced, kept by the operator",
    )
    note: str = Field(default="", max_length=2000, description="Staff's note")
    replacement_serial: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The new terminal's serial (outcome replaced)",
    )


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
async def list_devices(
    ctx: Ctx,
    user: User,
    account_id: Annotated[
        DbId | None, Query(description="Staff: the billing account whose terminals to list")
    ] = None,
) -> list[DeviceOut]:
    """The caller's own terminals; staff name the account."""
    return [_device_out(v) for v in await devices.list_devices(ctx, user, account_id)]


@router.post("/devices", response_model=DeviceDetailOut, status_code=201)
async def register_device(ctx: Ctx, user: User, body: DeviceIn) -> DeviceDetailOut:
    """Staff record a terminal delivered to a customer's account (its warranty starts)."""
    device = await devices.do_register_device(
        ctx, user, body.account_id, body.model, body.serial, body.delivered_on
    )
    return _detail_out(await devices.get_device(ctx, user, device.id), user.locale)


@router.get("/devices/{device_id}", response_model=DeviceDetailOut)
async def get_device(ctx: Ctx, user: User, device_id: DeviceId) -> DeviceDetailOut:
    """One terminal (the caller's own; staff: any) with its warranty claims."""
    return _detail_out(await devices.get_device(ctx, user, device_id), user.locale)


@router.post("/devices/{device_id}/opened", response_model=DeviceDetailOut)
async def mark_opened(ctx: Ctx, user: User, device_id: DeviceId, body: OpenedIn) -> DeviceDetailOut:
    """Staff record that someone else opened the device: the warranty is void."""
    await devices.do_mark_opened(ctx, user, device_id, body.note)
    return _detail_out(await devices.get_device(ctx, user, device_id), user.locale)


@router.post("/devices/{device_id}/claims", response_model=ClaimOut, status_code=201)
async def open_claim(ctx: Ctx, user: User, device_id: DeviceId, body: ClaimIn) -> ClaimOut:
    """Always 201: a claim the warranty does not cover is recorded as refused, with the reason."""
    claim = await devices.do_open_claim(ctx, user, device_id, body.fault)
    return await _claim_response(ctx, user, claim)


@router.post("/claims/{claim_id}/resolve", response_model=ClaimOut)
async def resolve_claim(
    ctx: Ctx,
    user: User,
    claim_id: Annotated[DbId, Path(description="The claim's id")],
    body: ResolveIn,
) -> ClaimOut:
    """Staff settle an open claim: repaired, or replaced by a new terminal (which keeps the
    first one's warranty end)."""
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
