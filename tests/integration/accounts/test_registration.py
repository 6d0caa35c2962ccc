"""Registration of people and organisations: true identity, encrypted at rest, no duplicates."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.integration.accounts.conftest import (
    bearer,
    error_code,
    individual,
    organisation,
    phone,
    register,
    register_org,
    resident_id,
    row_counts,
    uscc,
)
from yuntong.accounts import registration, status
from yuntong.accounts.auth import Principal
from yuntong.accounts.validation import IndividualRegistration
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError


async def test_new_individual_waits_for_review(ctx: Context) -> None:
    user = await register(ctx)
    assert user.status == "pending"
    assert user.role == "subscriber"
    assert user.username == "person1"


async def test_auto_approve_setting_activates_new_accounts(ctx: Context) -> None:
    ctx.settings = ctx.settings.model_copy(update={"auto_approve": True})
    user = await register(ctx)
    assert user.status == "active"


async def test_identity_is_encrypted_at_rest(ctx: Context) -> None:
    data = individual(7)
    user = await register(ctx, 7)
    async with ctx.db.session() as s:
        row = (await s.execute(text("SELECT * FROM users WHERE id = :id"), {"id": user.id})).one()
    raw = " ".join(str(v) for v in row)
    for field in ("full_name", "address", "id_number", "employer", "birth_date"):
        assert str(data[field]) not in raw, field
    assert "13800000007" not in raw
    assert row._mapping["id_number_enc"].startswith(f"v1:{ctx.cipher.active}:")
    assert row._mapping["phone_index"] == ctx.cipher.blind_index("+8613800000007")


async def test_organisation_registration_creates_the_organisation_and_its_admin(
    ctx: Context,
) -> None:
    user, org = await register_org(ctx)
    assert user.role == "org_admin"
    assert user.organisation_id == org.id
    assert user.status == "pending"
    assert org.legal_name == "北京第1科技有限公司"
    async with ctx.db.session() as s:
        row = (await s.execute(text("SELECT * FROM organisations"))).one()
    assert uscc(1) not in " ".join(str(v) for v in row)


@pytest.mark.parametrize(
    ("clash", "code"),
    [
        ({"username": "person1"}, "username_taken"),
        ({"email": "PERSON1@example.com"}, "email_taken"),
        ({"phone": "+86 138 0000 0001"}, "phone_taken"),
    ],
)
async def test_duplicate_individual_is_refused_and_writes_nothing(
    ctx: Context, clash: dict[str, Any], code: str
) -> None:
    await register(ctx, 1)
    before = await row_counts(ctx)
    with pytest.raises(YuntongError) as info:
        await register(ctx, 2, **clash)
    assert info.value.code == code
    assert info.value.status == 409
    assert await row_counts(ctx) == before


@pytest.mark.parametrize(
    ("clash", "code"),
    [
        ({"uscc": uscc(1)}, "uscc_taken"),
        ({"contact_phone": phone(50_001)}, "phone_taken"),
        ({"username": "org1"}, "username_taken"),
    ],
)
async def test_duplicate_organisation_leaves_no_half_written_rows(
    ctx: Context, clash: dict[str, Any], code: str
) -> None:
    await register_org(ctx, 1)
    before = await row_counts(ctx)
    with pytest.raises(YuntongError) as info:
        await register_org(ctx, 2, **clash)
    assert info.value.code == code
    assert await row_counts(ctx) == before


async def test_simultaneous_registrations_of_one_username_let_exactly_one_through(
    ctx: Context,
) -> None:
    results = await asyncio.gather(
        register(ctx, 1, username="same.name"),
        register(ctx, 2, username="same.name"),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert isinstance(errors[0], YuntongError)
    assert errors[0].code == "username_taken"
    assert await row_counts(ctx) == (1, 0)


async def test_birth_date_in_the_future_is_refused(ctx: Context) -> None:
    form = IndividualRegistration.model_validate(
        individual(id_type="passport", id_number="E1234567", birth_date="2099-01-01")
    )
    with pytest.raises(YuntongError) as info:
        await registration.do_register_individual(ctx, form)
    assert info.value.fields == {"birth_date": "invalid_date"}


# --- over HTTP ----------------------------------------------------------------------------------


async def test_registration_api_returns_the_pending_account(app_client: httpx.AsyncClient) -> None:
    resp = await app_client.post("/api/v1/accounts/register/individual", json=individual())
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["user"]["status"] == "pending"
    assert body["user"]["username"] == "person1"
    assert "id_number" not in resp.text and "11010" not in resp.text


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"id_number": "110105194912310021"}, "id_number", "invalid_id_number"),
        ({"birth_date": "1970-01-01"}, "birth_date", "birth_mismatch"),
        ({"phone": "12345"}, "phone", "invalid_phone"),
        ({"password": "short"}, "password", "weak_password"),
        ({"password": "person1"}, "password", "weak_password"),
        ({"username": "No Spaces"}, "username", "invalid_username"),
        ({"email": "nobody@"}, "email", "invalid_email"),
        ({"full_name": ""}, "full_name", "invalid"),
        ({"address": "x" * 201}, "address", "too_long"),
        ({"employer": None}, "employer", "invalid"),
    ],
)
async def test_each_invalid_field_gets_its_own_code(
    app_client: httpx.AsyncClient, overrides: dict[str, Any], field: str, code: str
) -> None:
    resp = await app_client.post(
        "/api/v1/accounts/register/individual",
        json=individual(**overrides),
        headers={"Accept-Language": "en"},
    )
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["fields"][field]["code"] == code
    assert error["fields"][field]["message"]


async def test_missing_field_is_reported_as_required(app_client: httpx.AsyncClient) -> None:
    data = individual()
    del data["phone"]
    resp = await app_client.post("/api/v1/accounts/register/individual", json=data)
    assert resp.json()["error"]["fields"]["phone"]["code"] == "required"


async def test_invalid_credit_code_is_reported_in_chinese_by_default(
    app_client: httpx.AsyncClient,
) -> None:
    resp = await app_client.post(
        "/api/v1/accounts/register/organisation",
        json=organisation(uscc="91350100M000100Y44"),
    )
    field = resp.json()["error"]["fields"]["uscc"]
    assert field == {"code": "invalid_uscc", "message": "统一社会信用代码无效（校验码不符）"}


async def test_duplicate_over_http_is_a_409_with_the_field_marked(
    app_client: httpx.AsyncClient,
) -> None:
    await app_client.post("/api/v1/accounts/register/individual", json=individual(1))
    resp = await app_client.post(
        "/api/v1/accounts/register/individual", json=individual(2, email="person1@example.com")
    )
    assert resp.status_code == 409
    assert error_code(resp) == "email_taken"
    assert resp.json()["error"]["fields"]["email"]["code"] == "taken"


async def test_markup_and_sql_in_names_are_stored_and_returned_verbatim(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    nasty = {
        "display_name": "<script>alert('x')</script>",
        "full_name": "Robert'); DROP TABLE users;--",
        "address": '"><img src=x onerror=alert(1)> 1 号',
        "employer": "O'Brien & Sons <b>Ltd</b>",
    }
    resp = await app_client.post("/api/v1/accounts/register/individual", json=individual(**nasty))
    assert resp.status_code == 201, resp.text
    assert resp.json()["user"]["display_name"] == nasty["display_name"]
    await status.do_approve(ctx, staff, resp.json()["user"]["id"])
    headers = await bearer(app_client, "person1")
    identity = (await app_client.get("/api/v1/me/identity", headers=headers)).json()
    for key in ("full_name", "address", "employer"):
        assert identity[key] == nasty[key]
    assert await row_counts(ctx) == (2, 0)  # the users table is still there (and staff)


async def test_resident_id_builder_matches_the_rule() -> None:
    # the builders used throughout these tests produce valid, distinct identities
    assert resident_id(date(1949, 12, 31), 2) == "11010519491231002X"
    assert len({individual(n)["id_number"] for n in range(1, 50)}) == 49
