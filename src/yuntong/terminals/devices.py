"""Terminals and their warranty (VP 4): delivery, claims, repair or replacement, void warranties.

A claim is always recorded; one the warranty does not cover is recorded as refused, with why.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import audit, roles, status
from yuntong.accounts.roles import Actor
from yuntong.billing.catalog.catalog import local_day
from yuntong.billing.ledger.accounts import account_for_actor, get_account, may_manage
from yuntong.billing.models import BillingAccount
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import translate
from yuntong.terminals.models import Device, DeviceClaim

MAX_PARTS = 50


class ClaimOutcome(enum.StrEnum):
    OPEN = "open"  # accepted, waiting for the operator to repair or replace
    REPAIRED = "repaired"
    REPLACED = "replaced"
    REFUSED = "refused"


class RefusalReason(enum.StrEnum):
    EXPIRED = "expired"
    OPENED_BY_OTHER = "opened_by_other"


# Refused is reached from "open" when staff find, on inspection, that someone else opened the
# device (``do_mark_opened``); every outcome other than "open" is final.
CLAIM_TRANSITIONS: Mapping[str, frozenset[str]] = {
    ClaimOutcome.OPEN: frozenset(
        {ClaimOutcome.REPAIRED, ClaimOutcome.REPLACED, ClaimOutcome.REFUSED}
    ),
}


@dataclass(frozen=True)
class DeviceView:
    device: Device
    warranty_ends: date  # the last day covered, inherited through replacements
    claims: list[DeviceClaim]


# ---------------------------------------------------------------------------------------------
# the warranty rules


def warranty_ends(delivered_on: date) -> date:
    """The last day a one-year warranty from ``delivered_on`` covers.

    Counted as Civil Code art. 201–202 count periods: the delivery day itself is not counted,
    so the last day is the same date a year later, or the end of the month when that date
    does not exist (delivered 29 February → 28 February)."""
    year = delivered_on.year + 1
    if delivered_on.month == 2 and delivered_on.day == 29:
        return date(year, 2, 28)
    return delivered_on.replace(year=year)


def original_of(device: Device, account_devices: Sequence[Device]) -> Device:
    """The device first delivered in ``device``'s chain of replacements (itself if none).

    A replacement inherits the warranty of the device it replaced, which inherited its own
    the same way, so the warranty of every device in a chain runs from the first delivery:
    replacing a device never starts a new year. Replacements stay on the same account, so
    the account's devices hold the whole chain."""
    replaced = {d.replaced_by_id: d for d in account_devices if d.replaced_by_id is not None}
    seen = {device.id}
    while device.id in replaced and replaced[device.id].id not in seen:
        device = replaced[device.id]
        seen.add(device.id)
    return device


def device_warranty_ends(device: Device, account_devices: Sequence[Device]) -> date:
    """A repair changes nothing here; a replacement keeps the original device's last day."""
    return warranty_ends(original_of(device, account_devices).delivered_on)


def warranty_refusal(device: Device, ends: date, today: date) -> RefusalReason | None:
    """Why the warranty does not cover a claim made ``today``, or None when it does."""
    if device.opened_by_other:
        return RefusalReason.OPENED_BY_OTHER
    if today > ends:
        return RefusalReason.EXPIRED
    return None


def refusal_message(claim: DeviceClaim, ends: date, locale: str) -> str | None:
    if claim.refusal_reason is None:
        return None
    return translate(f"device.refusal.{claim.refusal_reason}", locale, ends=ends.isoformat())


def check_claimable(device: Device, claims: Sequence[DeviceClaim]) -> None:
    """A claim can be made on a device in service with no claim already open.

    Whether the warranty covers it is decided afterwards: see :func:`warranty_refusal`."""
    if device.replaced_by_id is not None:  # handed back: it belongs to the operator now
        raise YuntongError("device_returned")
    if any(c.outcome == ClaimOutcome.OPEN for c in claims):
        raise YuntongError("claim_already_open")


def check_serial(serial: str) -> str:
    serial = serial.strip()
    if not serial:
        raise YuntongError("validation_failed", fields={"serial": "required"})
    if len(serial) > 64:
        raise YuntongError("validation_failed", fields={"serial": "too_long"})
    return serial


def check_parts(parts: Sequence[str]) -> list[str]:
    cleaned = [p.strip() for p in parts]
    if len(cleaned) > MAX_PARTS or any(not p or len(p) > 200 for p in cleaned):
        raise YuntongError("validation_failed", fields={"parts_returned": "invalid"})
    return cleaned


def business_today(ctx: Context) -> date:
    return local_day(ctx, ctx.clock.now())


# ---------------------------------------------------------------------------------------------
# reading


async def _account_devices(s: AsyncSession, account_id: int) -> list[Device]:
    query = select(Device).where(Device.account_id == account_id).order_by(Device.id)
    return list((await s.execute(query)).scalars())


async def _claims(s: AsyncSession, device_ids: Sequence[int]) -> list[DeviceClaim]:
    query = (
        select(DeviceClaim).where(DeviceClaim.device_id.in_(device_ids)).order_by(DeviceClaim.id)
    )
    return list((await s.execute(query)).scalars())


async def _check_serial_free(s: AsyncSession, serial: str) -> None:
    """Before writing, so nothing is written; the unique index still catches a race."""
    taken = await s.execute(select(Device.id).where(Device.serial == serial))
    if taken.first() is not None:
        raise YuntongError("serial_taken")


async def _holder(s: AsyncSession, device: Device) -> int | None:
    """The individual holding the device's account (None for an organisation), for the audit."""
    account = await s.get(BillingAccount, device.account_id)
    return account.user_id if account is not None else None


async def _device_for_actor(ctx: Context, actor: Actor, device_id: int) -> BillingAccount:
    """The account of a device ``actor`` may see; another customer's is reported as not found."""
    async with ctx.db.session() as s:
        device = await s.get(Device, device_id)
    if device is None:
        raise YuntongError("device_not_found")
    account = await get_account(ctx, device.account_id)
    if not may_manage(actor, account):
        raise YuntongError("device_not_found")
    return account


async def list_devices(ctx: Context, actor: Actor, account_id: int | None) -> list[DeviceView]:
    """The account's terminals, replaced ones included, with their warranty's last day."""
    account = await account_for_actor(ctx, actor, account_id)
    async with ctx.db.session() as s:
        devices = await _account_devices(s, account.id)
        claims = await _claims(s, [d.id for d in devices])
    return [
        DeviceView(
            device=d,
            warranty_ends=device_warranty_ends(d, devices),
            claims=[c for c in claims if c.device_id == d.id],
        )
        for d in devices
    ]


async def get_device(ctx: Context, actor: Actor, device_id: int) -> DeviceView:
    account = await _device_for_actor(ctx, actor, device_id)
    async with ctx.db.session() as s:
        devices = await _account_devices(s, account.id)
        claims = await _claims(s, [device_id])
    device = next(d for d in devices if d.id == device_id)
    return DeviceView(device, device_warranty_ends(device, devices), claims)


# ---------------------------------------------------------------------------------------------
# changing


async def do_register_device(
    ctx: Context, actor: Actor, account_id: int, model: str, serial: str, delivered_on: date
) -> Device:
    """Staff record a terminal delivered to an account; its warranty starts on delivery."""
    roles.check_staff(actor)
    account = await get_account(ctx, account_id)
    serial = check_serial(serial)
    model = model.strip()
    if not model or len(model) > 64:
        raise YuntongError("validation_failed", fields={"model": "invalid"})
    if delivered_on > business_today(ctx):
        raise YuntongError("validation_failed", fields={"delivered_on": "invalid_date"})
    device = Device(
        account_id=account.id,
        model=model,
        serial=serial,
        delivered_on=delivered_on,
        opened_by_other=False,
        created_at=ctx.clock.now(),
    )
    try:
        async with ctx.db.session() as s:
            await _check_serial_free(s, serial)
            s.add(device)
    except IntegrityError:  # registered concurrently
        raise YuntongError("serial_taken") from None
    await audit.record(
        ctx, actor.user_id, "billing.device_register", account.user_id, device_id=device.id
    )
    return device


async def do_open_claim(ctx: Context, actor: Actor, device_id: int, fault: str) -> DeviceClaim:
    """A customer (for its own device) or staff make a warranty claim.

    The claim is recorded either way. When the warranty does not cover it the claim is
    returned already refused, with the reason, so the customer sees the answer at once and
    keeps a record of having asked; it is not an error."""
    fault = fault.strip()
    if not fault:
        raise YuntongError("validation_failed", fields={"fault": "required"})
    account = await _device_for_actor(ctx, actor, device_id)
    today = business_today(ctx)
    async with ctx.db.session() as s:
        device = await s.get(Device, device_id, with_for_update=True)
        assert device is not None
        check_claimable(device, await _claims(s, [device_id]))
        ends = device_warranty_ends(device, await _account_devices(s, account.id))
        refusal = warranty_refusal(device, ends, today)
        claim = DeviceClaim(
            device_id=device_id,
            claimed_on=today,
            fault=fault,
            outcome=ClaimOutcome.OPEN if refusal is None else ClaimOutcome.REFUSED,
            refusal_reason=refusal,
            parts_returned=[],
            note="",
            recorded_by=actor.user_id,
            created_at=ctx.clock.now(),
        )
        s.add(claim)
    await audit.record(
        ctx,
        actor.user_id,
        "billing.device_claim",
        account.user_id,
        device_id=device_id,
        claim_id=claim.id,
        outcome=claim.outcome,
    )
    return claim


async def do_resolve_claim(
    ctx: Context,
    actor: Actor,
    claim_id: int,
    outcome: str,
    parts_returned: Sequence[str],
    note: str,
    replacement_serial: str | None = None,
) -> DeviceClaim:
    """Staff repair or replace, at the operator's choice; replaced parts are kept by the operator.

    A replacement is a new device on the same account, delivered today; the old device points
    to it (``replaced_by_id``) and goes back to the operator. Neither outcome changes the
    warranty's last day (see :func:`original_of`)."""
    roles.check_staff(actor)
    parts = check_parts(parts_returned)
    if outcome not in (ClaimOutcome.REPAIRED, ClaimOutcome.REPLACED):
        raise YuntongError("validation_failed", fields={"outcome": "invalid"})
    if (outcome == ClaimOutcome.REPLACED) != (replacement_serial is not None):
        code = "required" if outcome == ClaimOutcome.REPLACED else "invalid"
        raise YuntongError("validation_failed", fields={"replacement_serial": code})
    serial = check_serial(replacement_serial) if replacement_serial is not None else None
    try:
        async with ctx.db.session() as s:
            claim = await s.get(DeviceClaim, claim_id)
            if claim is None:
                raise YuntongError("claim_not_found")
            # the device first, then the claim: the order do_open_claim and do_mark_opened lock in
            device = await s.get(Device, claim.device_id, with_for_update=True)
            assert device is not None
            await s.refresh(claim, with_for_update=True)
            status.check_transition(CLAIM_TRANSITIONS, claim.outcome, outcome)
            holder = await _holder(s, device)
            if serial is not None:
                await _replace(ctx, s, device, serial)
            claim.outcome = outcome
            claim.parts_returned = parts
            claim.note = note.strip()
            claim.recorded_by = actor.user_id
    except IntegrityError:  # the replacement's serial was registered concurrently
        raise YuntongError("serial_taken") from None
    await audit.record(
        ctx,
        actor.user_id,
        "billing.device_claim_resolve",
        holder,
        device_id=device.id,
        claim_id=claim.id,
        outcome=outcome,
        replacement_id=device.replaced_by_id,
    )
    return claim


async def _replace(ctx: Context, s: AsyncSession, device: Device, serial: str) -> Device:
    await _check_serial_free(s, serial)
    replacement = Device(
        account_id=device.account_id,
        model=device.model,
        serial=serial,
        delivered_on=business_today(ctx),  # for the record; the warranty is inherited
        opened_by_other=False,
        created_at=ctx.clock.now(),
    )
    s.add(replacement)
    await s.flush()
    device.replaced_by_id = replacement.id
    return replacement


async def do_mark_opened(ctx: Context, actor: Actor, device_id: int, note: str) -> Device:
    """Staff record that someone other than the operator opened the device: its warranty is void.

    Usually found on inspection, so a claim still open on the device is refused with it."""
    roles.check_staff(actor)
    note = note.strip()
    async with ctx.db.session() as s:
        device = await s.get(Device, device_id, with_for_update=True)
        if device is None:
            raise YuntongError("device_not_found")
        if device.replaced_by_id is not None:
            raise YuntongError("invalid_transition", state=ClaimOutcome.REPLACED)
        if device.opened_by_other:
            raise YuntongError("invalid_transition", state=RefusalReason.OPENED_BY_OTHER)
        device.opened_by_other = True
        holder = await _holder(s, device)
        refused = []
        for claim in await _claims(s, [device_id]):
            if claim.outcome == ClaimOutcome.OPEN:
                status.check_transition(CLAIM_TRANSITIONS, claim.outcome, ClaimOutcome.REFUSED)
                claim.outcome = ClaimOutcome.REFUSED
                claim.refusal_reason = RefusalReason.OPENED_BY_OTHER
                claim.note = note
                claim.recorded_by = actor.user_id
                refused.append(claim.id)
    await audit.record(
        ctx,
        actor.user_id,
        "billing.device_opened",
        holder,
        device_id=device_id,
        refused_claims=refused,
        note=note,
    )
    return device
