"""Terminal warranty (VP 4), on SQLite and PostgreSQL: one year from delivery, not restarted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import unique
from yuntong.accounts import registration
from yuntong.accounts.auth import Principal, principal_for
from yuntong.billing.ledger.accounts import account_for_user
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.terminals import devices
from yuntong.terminals.api import router
from yuntong.terminals.models import Device, DeviceClaim

PASSWORD = "correct horse battery"


async def person(ctx: Context, role: str = "subscriber") -> Principal:
    user = await registration.do_create_admin(ctx, unique("p"), PASSWORD, role)
    return principal_for(user, "", "cli")


@pytest.fixture
async def staff(ctx: Context) -> Principal:
    return await person(ctx, "operator_admin")


@pytest.fixture
async def customer(ctx: Context) -> Principal:
    return await person(ctx)


def clock(ctx: Context) -> FrozenClock:
    assert isinstance(ctx.clock, FrozenClock)
    return ctx.clock


def days_after_delivery(ctx: Context, delivered: Device, days: int) -> None:
    """Move the clock to ``days`` after delivery (in the business time zone)."""
    today = devices.business_today(ctx)
    clock(ctx).advance(days=(delivered.delivered_on + timedelta(days=days) - today).days)


async def delivered_today(ctx: Context, staff: Principal, owner: Principal) -> Device:
    account = await account_for_user(ctx, owner.user_id)
    today = devices.business_today(ctx)
    return await devices.do_register_device(ctx, staff, account.id, "VP-9", unique("SN"), today)


async def device_count(ctx: Context) -> int:
    async with ctx.db.session() as s:
        return (await s.execute(select(func.count()).select_from(Device))).scalar_one()


async def code_of(call: Awaitable[object]) -> str:
    with pytest.raises(YuntongError) as caught:
        await call
    return caught.value.code


# ---------------------------------------------------------------------------------------------
# the warranty period


def test_warranty_runs_to_the_same_date_a_year_later() -> None:
    assert devices.warranty_ends(date(2025, 1, 5)) == date(2026, 1, 5)
    assert devices.warranty_ends(date(2024, 2, 29)) == date(2025, 2, 28)  # no 29 Feb in 2025


async def test_claim_on_day_364_after_delivery_is_accepted(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    days_after_delivery(ctx, device, 364)
    claim = await devices.do_open_claim(ctx, customer, device.id, "no picture")
    assert (claim.outcome, claim.refusal_reason) == ("open", None)
    assert claim.claimed_on == device.delivered_on + timedelta(days=364)


async def test_claim_on_day_366_after_delivery_is_recorded_as_refused_expired(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    days_after_delivery(ctx, device, 366)
    claim = await devices.do_open_claim(ctx, customer, device.id, "no picture")
    assert (claim.outcome, claim.refusal_reason) == ("refused", "expired")
    view = await devices.get_device(ctx, customer, device.id)
    assert [c.id for c in view.claims] == [claim.id]


async def test_repair_does_not_extend_the_warranty(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    ends = (await devices.get_device(ctx, customer, device.id)).warranty_ends
    days_after_delivery(ctx, device, 340)
    first = await devices.do_open_claim(ctx, customer, device.id, "speaker crackles")
    days_after_delivery(ctx, device, 360)
    await devices.do_resolve_claim(ctx, staff, first.id, "repaired", ["speaker"], "new speaker")

    assert (await devices.get_device(ctx, customer, device.id)).warranty_ends == ends
    days_after_delivery(ctx, device, 366)
    again = await devices.do_open_claim(ctx, customer, device.id, "speaker crackles again")
    assert (again.outcome, again.refusal_reason) == ("refused", "expired")


async def test_replacement_inherits_the_original_warranty_end(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    original = await delivered_today(ctx, staff, customer)
    ends = devices.warranty_ends(original.delivered_on)
    days_after_delivery(ctx, original, 100)
    claim = await devices.do_open_claim(ctx, customer, original.id, "dead on power-up")
    days_after_delivery(ctx, original, 110)
    await devices.do_resolve_claim(ctx, staff, claim.id, "replaced", [], "swapped", "SN-NEW-1")

    listed = {v.device.serial: v for v in await devices.list_devices(ctx, customer, None)}
    replacement = listed["SN-NEW-1"]
    assert listed[original.serial].device.replaced_by_id == replacement.device.id
    assert replacement.device.delivered_on == original.delivered_on + timedelta(days=110)
    assert replacement.warranty_ends == ends  # not a new year from the swap

    # a replacement of the replacement still ends on the first device's date
    second = await devices.do_open_claim(ctx, customer, replacement.device.id, "dead again")
    await devices.do_resolve_claim(ctx, staff, second.id, "replaced", [], "", "SN-NEW-2")
    third = next(
        v for v in await devices.list_devices(ctx, customer, None) if v.device.serial == "SN-NEW-2"
    )
    assert third.warranty_ends == ends

    days_after_delivery(ctx, original, 366)
    late = await devices.do_open_claim(ctx, customer, third.device.id, "no sound")
    assert (late.outcome, late.refusal_reason) == ("refused", "expired")


async def test_the_replaced_device_can_no_longer_be_claimed(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    claim = await devices.do_open_claim(ctx, customer, device.id, "cracked screen")
    await devices.do_resolve_claim(ctx, staff, claim.id, "replaced", [], "", unique("SN"))
    assert await code_of(devices.do_open_claim(ctx, customer, device.id, "x")) == (
        "device_returned"
    )


# ---------------------------------------------------------------------------------------------
# void warranty, parts, outcomes


async def test_device_opened_by_someone_else_has_no_warranty(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    await devices.do_mark_opened(ctx, staff, device.id, "third-party seal on the case")
    days_after_delivery(ctx, device, 30)
    claim = await devices.do_open_claim(ctx, customer, device.id, "camera dark")
    assert (claim.outcome, claim.refusal_reason) == ("refused", "opened_by_other")


async def test_opening_found_on_inspection_refuses_the_open_claim(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    claim = await devices.do_open_claim(ctx, customer, device.id, "camera dark")
    await devices.do_mark_opened(ctx, staff, device.id, "screws replaced")
    (seen,) = (await devices.get_device(ctx, customer, device.id)).claims
    assert (seen.outcome, seen.refusal_reason, seen.note) == (
        "refused",
        "opened_by_other",
        "screws replaced",
    )
    code = await code_of(devices.do_resolve_claim(ctx, staff, claim.id, "repaired", [], ""))
    assert code == "invalid_transition"  # refused is final


async def test_parts_returned_to_the_operator_are_recorded(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    claim = await devices.do_open_claim(ctx, customer, device.id, "no picture")
    await devices.do_resolve_claim(
        ctx, staff, claim.id, "repaired", [" camera module ", "ribbon cable"], "replaced camera"
    )
    async with ctx.db.session() as s:
        stored = await s.get(DeviceClaim, claim.id)
    assert stored is not None
    assert (stored.outcome, stored.parts_returned) == (
        "repaired",
        ["camera module", "ribbon cable"],
    )
    assert stored.recorded_by == staff.user_id


async def test_one_claim_at_a_time_and_a_resolved_claim_is_final(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    claim = await devices.do_open_claim(ctx, customer, device.id, "no picture")
    assert await code_of(devices.do_open_claim(ctx, customer, device.id, "x")) == (
        "claim_already_open"
    )
    await devices.do_resolve_claim(ctx, staff, claim.id, "repaired", [], "")
    code = await code_of(devices.do_resolve_claim(ctx, staff, claim.id, "repaired", [], ""))
    assert code == "invalid_transition"
    second = await devices.do_open_claim(ctx, customer, device.id, "no sound")
    assert second.outcome == "open"


async def test_a_replacement_needs_its_serial(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    claim = await devices.do_open_claim(ctx, customer, device.id, "no picture")
    with pytest.raises(YuntongError) as caught:
        await devices.do_resolve_claim(ctx, staff, claim.id, "replaced", [], "")
    assert caught.value.fields == {"replacement_serial": "required"}


# ---------------------------------------------------------------------------------------------
# who may do what


async def test_a_customer_cannot_see_or_claim_another_customers_device(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    other = await person(ctx)
    assert await code_of(devices.get_device(ctx, other, device.id)) == "device_not_found"
    assert await code_of(devices.do_open_claim(ctx, other, device.id, "x")) == "device_not_found"
    listing = devices.list_devices(ctx, other, device.account_id)
    assert await code_of(listing) == "billing_account_not_found"
    assert await devices.list_devices(ctx, other, None) == []
    async with ctx.db.session() as s:
        claims = (await s.execute(select(func.count()).select_from(DeviceClaim))).scalar_one()
    assert claims == 0


async def test_only_staff_register_mark_and_resolve(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    account = await account_for_user(ctx, customer.user_id)
    today = devices.business_today(ctx)
    register = devices.do_register_device(ctx, customer, account.id, "VP-9", "SN-MINE", today)
    assert await code_of(register) == "forbidden"
    assert await device_count(ctx) == 0
    device = await delivered_today(ctx, staff, customer)
    claim = await devices.do_open_claim(ctx, customer, device.id, "no picture")
    assert await code_of(devices.do_mark_opened(ctx, customer, device.id, "")) == "forbidden"
    resolve = devices.do_resolve_claim(ctx, customer, claim.id, "repaired", [], "")
    assert await code_of(resolve) == "forbidden"


async def test_duplicate_serial_is_refused_and_nothing_written(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    device = await delivered_today(ctx, staff, customer)
    today = devices.business_today(ctx)
    again = devices.do_register_device(ctx, staff, device.account_id, "VP-9", device.serial, today)
    assert await code_of(again) == "serial_taken"
    assert await device_count(ctx) == 1

    claim = await devices.do_open_claim(ctx, customer, device.id, "no picture")
    swap = devices.do_resolve_claim(ctx, staff, claim.id, "replaced", ["board"], "", device.serial)
    assert await code_of(swap) == "serial_taken"
    view = await devices.get_device(ctx, customer, device.id)
    assert view.device.replaced_by_id is None
    assert [(c.outcome, c.parts_returned) for c in view.claims] == [("open", [])]
    assert await device_count(ctx) == 1


# ---------------------------------------------------------------------------------------------
# over HTTP


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    from yuntong.app import create_app

    app = create_app(ctx.settings, clock=ctx.clock)
    app.include_router(router)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        yield http


async def bearer(client: httpx.AsyncClient, who: Principal) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/login", json={"username": who.username, "password": PASSWORD, "kind": "api"}
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def test_warranty_over_the_api(
    ctx: Context, client: httpx.AsyncClient, staff: Principal, customer: Principal
) -> None:
    as_staff, as_customer = await bearer(client, staff), await bearer(client, customer)
    other = await bearer(client, await person(ctx))
    account = await account_for_user(ctx, customer.user_id)
    delivered = devices.business_today(ctx)
    body = {"account_id": account.id, "model": "VP-9", "serial": "SN-API-1"}
    body["delivered_on"] = delivered.isoformat()

    resp = await client.post("/api/v1/billing/devices", json=body, headers=as_customer)
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "forbidden")
    resp = await client.post("/api/v1/billing/devices", json=body, headers=as_staff)
    assert resp.status_code == 201, resp.text
    device = resp.json()
    assert device["warranty_ends"] == devices.warranty_ends(delivered).isoformat()
    resp = await client.post("/api/v1/billing/devices", json=body, headers=as_staff)
    assert (resp.status_code, resp.json()["error"]["code"]) == (409, "serial_taken")

    mine = (await client.get("/api/v1/billing/devices", headers=as_customer)).json()
    assert [d["serial"] for d in mine] == ["SN-API-1"]
    resp = await client.get(f"/api/v1/billing/devices/{device['id']}", headers=other)
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "device_not_found")

    claims = f"/api/v1/billing/devices/{device['id']}/claims"
    resp = await client.post(claims, json={"fault": "no picture"}, headers=as_customer)
    assert resp.status_code == 201, resp.text
    claim = resp.json()
    assert (claim["outcome"], claim["refusal_message"]) == ("open", None)
    resp = await client.post(
        f"/api/v1/billing/claims/{claim['id']}/resolve",
        json={"outcome": "repaired", "parts_returned": ["mainboard"], "note": "new board"},
        headers=as_staff,
    )
    assert resp.json()["parts_returned"] == ["mainboard"], resp.text

    clock(ctx).advance(days=400)
    as_customer = await bearer(client, customer)  # the old session has expired
    resp = await client.post(claims, json={"fault": "no picture"}, headers=as_customer)
    assert resp.status_code == 201  # recorded either way: the refusal is the answer, not an error
    assert (resp.json()["outcome"], resp.json()["refusal_reason"]) == ("refused", "expired")
    assert device["warranty_ends"] in resp.json()["refusal_message"]

    detail = (
        await client.get(f"/api/v1/billing/devices/{device['id']}", headers=as_customer)
    ).json()
    assert [c["outcome"] for c in detail["claims"]] == ["repaired", "refused"]
    assert detail["warranty_ends"] == device["warranty_ends"]
