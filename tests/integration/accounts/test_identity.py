"""Who sees identity data: owner and operator staff in full, org admins masked, others nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from tests.integration.accounts.conftest import (
    active_user,
    audit_of,
    bearer,
    error_code,
    individual,
    make_staff,
    register,
    register_org,
)
from yuntong.accounts import directory
from yuntong.accounts import identity as accounts_identity
from yuntong.accounts import status as accounts_status
from yuntong.accounts.auth import Principal
from yuntong.accounts.models import User
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.presence import service as presence


async def test_owner_sees_their_identity_in_full(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    data = individual()
    await active_user(ctx, staff)
    headers = await bearer(app_client, "person1")
    identity = (await app_client.get("/api/v1/me/identity", headers=headers)).json()
    assert identity["masked"] is False
    assert identity["full_name"] == data["full_name"]
    assert identity["id_number"] == data["id_number"]
    assert identity["birth_date"] == data["birth_date"]
    assert identity["phone"] == "+8613800000001"
    assert identity["email"] == "person1@example.com"


async def test_operator_staff_see_identity_in_full_and_the_look_is_recorded(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    user = await register(ctx)
    await make_staff(ctx, "agent", "support_agent")
    headers = await bearer(app_client, "agent")
    body = (await app_client.get(f"/api/v1/admin/users/{user.id}", headers=headers)).json()
    assert body["user"]["status"] == "pending"
    assert body["identity"]["masked"] is False
    assert body["identity"]["id_number"] == individual()["id_number"]
    viewed = [e for e in await audit_of(ctx, user.id) if e.action == "identity.viewed"]
    assert len(viewed) == 1 and viewed[0].detail == {}


async def join(ctx: Context, user: User, organisation_id: int) -> None:
    async with ctx.db.session() as s:
        await s.execute(
            update(User).where(User.id == user.id).values(organisation_id=organisation_id)
        )


async def test_org_admin_sees_only_their_own_members_masked(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    admin_a, org_a = await register_org(ctx, 1)
    admin_b, org_b = await register_org(ctx, 2)
    for admin in (admin_a, admin_b):
        await accounts_status.do_approve(ctx, staff, admin.id)
    member_a = await active_user(ctx, staff, 11)
    member_b = await active_user(ctx, staff, 12)
    await join(ctx, member_a, org_a.id)
    await join(ctx, member_b, org_b.id)

    headers = await bearer(app_client, "org1")
    members = (await app_client.get("/api/v1/org/members", headers=headers)).json()
    assert {m["user"]["username"] for m in members} == {"org1", "person11"}
    (seen,) = [m for m in members if m["user"]["id"] == member_a.id]
    identity = seen["identity"]
    assert identity["masked"] is True
    assert (
        identity["id_number"]
        == individual(11)["id_number"][:6] + "*" * 8 + (individual(11)["id_number"][-4:])
    )
    assert identity["phone"] == "+86138****0011"
    assert identity["full_name"] == "张***"  # 张11号
    assert identity["organisation"]["legal_name"] == "北京第1科技有限公司"
    assert "北京第2" not in str(members)


async def test_org_admin_cannot_read_another_organisations_member(
    ctx: Context, staff: Principal
) -> None:
    admin_a, _org_a = await register_org(ctx, 1)
    _admin_b, org_b = await register_org(ctx, 2)
    await accounts_status.do_approve(ctx, staff, admin_a.id)
    outsider = await active_user(ctx, staff, 12)
    await join(ctx, outsider, org_b.id)
    viewer = Principal(
        user_id=admin_a.id,
        username="org1",
        display_name="",
        role="org_admin",
        status="active",
        organisation_id=admin_a.organisation_id,
        session_id="",
        locale="zh-CN",
        via="bearer",
    )
    with pytest.raises(YuntongError) as info:
        await accounts_identity.get_identity(ctx, viewer, outsider.id)
    assert info.value.code == "user_not_found"


async def test_only_org_admins_may_list_members(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    headers = await bearer(app_client, "person1")
    resp = await app_client.get("/api/v1/org/members", headers=headers)
    assert resp.status_code == 403 and error_code(resp) == "forbidden"


async def test_lookup_finds_reachable_users_by_username_email_or_phone(
    ctx: Context, staff: Principal
) -> None:
    user = await active_user(ctx, staff)
    for query in ("person1", " PERSON1 ", "Person1@example.com", "138 0000 0001", "+8613800000001"):
        found = await directory.lookup_active_user(ctx, query)
        assert found is not None and found.id == user.id, query
    assert await directory.lookup_active_user(ctx, "person") is None
    assert await directory.lookup_active_user(ctx, "") is None


async def test_lookup_does_not_find_pending_or_suspended_users(
    ctx: Context, staff: Principal
) -> None:
    await register(ctx, 1)
    suspended = await active_user(ctx, staff, 2)
    await accounts_status.do_set_status(ctx, staff, suspended.id, "suspended", "abuse")
    assert await directory.lookup_active_user(ctx, "person1") is None
    assert await directory.lookup_active_user(ctx, "person2") is None


async def test_get_users_returns_the_known_ids_only(ctx: Context, staff: Principal) -> None:
    a = await register(ctx, 1)
    b = await register(ctx, 2)
    found = await directory.get_users(ctx, [a.id, b.id, 999_999])
    assert set(found) == {a.id, b.id}
    assert await directory.get_users(ctx, []) == {}


async def test_do_not_disturb_is_remembered(ctx: Context, staff: Principal) -> None:
    user = await active_user(ctx, staff)
    assert await presence.get_dnd(ctx, user.id) is False
    await presence.do_set_dnd(ctx, user.id, True)
    assert await presence.get_dnd(ctx, user.id) is True
