"""Operator review of registrations and the enforcement ladder, each step on the audit record."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.accounts.conftest import (
    PASSWORD,
    active_user,
    audit_of,
    bearer,
    error_code,
    individual,
    make_staff,
    register,
)
from yuntong.accounts import directory, identity, parties
from yuntong.accounts import status as accounts_status
from yuntong.accounts.auth import Principal, principal_from_token
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError


async def login_error(client: httpx.AsyncClient, username: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": PASSWORD, "kind": "api"},
        headers={"Accept-Language": "en"},
    )


async def test_pending_user_can_log_in_only_after_approval_by_staff(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await app_client.post("/api/v1/accounts/register/individual", json=individual())
    refused = await login_error(app_client, "person1")
    assert refused.status_code == 403
    assert error_code(refused) == "account_pending"

    admin = await bearer(app_client, "operator")
    pending = await app_client.get("/api/v1/admin/users?status=pending", headers=admin)
    assert [u["username"] for u in pending.json()] == ["person1"]
    user_id = pending.json()[0]["id"]
    approved = await app_client.post(f"/api/v1/admin/users/{user_id}/approve", headers=admin)
    assert approved.json()["status"] == "active"

    assert (await login_error(app_client, "person1")).status_code == 200
    (event,) = [e for e in await audit_of(ctx, user_id) if e.action == "account.approve"]
    assert event.actor_id == staff.user_id
    assert event.detail == {"from": "pending", "to": "active", "reason": None}


async def test_rejected_applicant_is_told_the_reason_at_login(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    user = await register(ctx)
    admin = await bearer(app_client, "operator")
    resp = await app_client.post(
        f"/api/v1/admin/users/{user.id}/reject",
        json={"reason": "ID copy unreadable"},
        headers=admin,
    )
    assert resp.json()["status"] == "rejected"
    refused = await login_error(app_client, "person1")
    assert error_code(refused) == "account_rejected"
    assert refused.json()["error"]["message"] == "Registration was rejected: ID copy unreadable"


async def test_a_support_agent_may_review_but_a_subscriber_may_not(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await make_staff(ctx, "agent", "support_agent")
    pending = await register(ctx, 1)
    subscriber = await active_user(ctx, staff, 2)
    as_subscriber = await bearer(app_client, subscriber.username)
    for path in ("/api/v1/admin/users", f"/api/v1/admin/users/{pending.id}"):
        resp = await app_client.get(path, headers=as_subscriber)
        assert resp.status_code == 403 and error_code(resp) == "forbidden"
    resp = await app_client.post(f"/api/v1/admin/users/{pending.id}/approve", headers=as_subscriber)
    assert error_code(resp) == "forbidden"
    as_agent = await bearer(app_client, "agent")
    resp = await app_client.post(f"/api/v1/admin/users/{pending.id}/approve", headers=as_agent)
    assert resp.json()["status"] == "active"


async def test_admin_routes_need_a_session(app_client: httpx.AsyncClient) -> None:
    resp = await app_client.get("/api/v1/admin/users")
    assert resp.status_code == 401 and error_code(resp) == "unauthenticated"


async def test_approving_twice_is_an_invalid_transition(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    user = await active_user(ctx, staff)
    admin = await bearer(app_client, "operator")
    resp = await app_client.post(
        f"/api/v1/admin/users/{user.id}/approve", headers={**admin, "Accept-Language": "en"}
    )
    assert resp.status_code == 409
    assert resp.json()["error"] == {
        "code": "invalid_transition",
        "message": "Not allowed in the current state (active)",
    }


async def test_enforcement_ladder_is_walked_and_audited_step_by_step(
    ctx: Context, staff: Principal
) -> None:
    user = await active_user(ctx, staff)
    ladder = [
        ("warned", "spam reports"),
        ("limited", "more spam"),
        ("suspended", "harassment"),
        ("terminated", "repeated harassment"),
    ]
    for status, reason in ladder:
        changed = await accounts_status.do_set_status(ctx, staff, user.id, status, reason)
        assert changed.status == status
        assert changed.status_reason == reason
    events = [e for e in await audit_of(ctx, user.id) if e.action == "account.status"]
    assert [(e.detail["from"], e.detail["to"], e.detail["reason"]) for e in events] == [
        ("active", "warned", "spam reports"),
        ("warned", "limited", "more spam"),
        ("limited", "suspended", "harassment"),
        ("suspended", "terminated", "repeated harassment"),
    ]
    assert all(e.actor_id == staff.user_id for e in events)
    with pytest.raises(YuntongError) as info:
        await accounts_status.do_set_status(ctx, staff, user.id, "active", "appeal")
    assert info.value.code == "invalid_transition"


async def test_audit_records_hold_no_identity_data(ctx: Context, staff: Principal) -> None:
    data = individual(3)
    user = await active_user(ctx, staff, 3)
    await accounts_status.do_set_status(ctx, staff, user.id, "warned", "first warning")
    await identity.get_identity(ctx, staff, user.id)
    recorded = json.dumps([e.detail for e in await audit_of(ctx, user.id)], ensure_ascii=False)
    for field in ("full_name", "id_number", "address", "employer", "email"):
        assert data[field] not in recorded
    assert "13800000003" not in recorded


async def test_status_change_over_http_validates_the_status_and_needs_a_reason(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    user = await active_user(ctx, staff)
    admin = await bearer(app_client, "operator")
    url = f"/api/v1/admin/users/{user.id}/status"
    bad = await app_client.post(url, json={"status": "pending", "reason": "x"}, headers=admin)
    assert bad.status_code == 422
    assert "status" in bad.json()["error"]["fields"]
    no_reason = await app_client.post(url, json={"status": "warned", "reason": " "}, headers=admin)
    assert "reason" in no_reason.json()["error"]["fields"]
    ok = await app_client.post(url, json={"status": "suspended", "reason": "abuse"}, headers=admin)
    assert ok.json()["status"] == "suspended"
    audit = await app_client.get(f"/api/v1/admin/users/{user.id}/audit", headers=admin)
    assert audit.json()[0]["detail"] == {"from": "active", "to": "suspended", "reason": "abuse"}


async def test_suspended_user_can_log_in_but_cannot_place_calls(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    user = await active_user(ctx, staff)
    await accounts_status.do_set_status(ctx, staff, user.id, "suspended", "unpaid bill")
    headers = await bearer(app_client, user.username)
    me = await app_client.get("/api/v1/me", headers=headers)
    assert me.json()["user"]["status"] == "suspended"
    with pytest.raises(YuntongError) as info:
        await directory.resolve_call_parties(ctx, user.id, "audio", staff.user_id)
    assert info.value.code == "account_suspended"


async def test_limited_user_may_place_audio_calls_only(ctx: Context, staff: Principal) -> None:
    user = await active_user(ctx, staff)
    await directory.resolve_call_parties(ctx, user.id, "video", staff.user_id)
    await accounts_status.do_set_status(ctx, staff, user.id, "limited", "bandwidth abuse")
    await directory.resolve_call_parties(ctx, user.id, "audio", staff.user_id)
    with pytest.raises(YuntongError) as info:
        await directory.resolve_call_parties(ctx, user.id, "video", staff.user_id)
    assert info.value.code == "account_limited"


async def test_pending_user_cannot_place_calls(ctx: Context) -> None:
    user = await register(ctx)
    with pytest.raises(YuntongError) as info:
        await directory.resolve_call_parties(ctx, user.id, "audio", user.username)
    assert info.value.code == "account_pending"


async def test_termination_ends_every_session_and_blocks_login(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    user = await active_user(ctx, staff)
    headers = await bearer(app_client, user.username)
    token = headers["Authorization"].removeprefix("Bearer ")
    await accounts_status.do_set_status(ctx, staff, user.id, "terminated", "asked to leave")
    assert await principal_from_token(ctx, token) is None
    assert (await app_client.get("/api/v1/me", headers=headers)).status_code == 401
    assert error_code(await login_error(app_client, user.username)) == "account_terminated"
    with pytest.raises(YuntongError) as info:
        await directory.resolve_call_parties(ctx, user.id, "audio", staff.user_id)
    assert info.value.code == "account_terminated"


async def test_staff_cannot_sanction_themselves_and_agents_cannot_sanction_admins(
    ctx: Context, staff: Principal
) -> None:
    agent = await make_staff(ctx, "agent", "support_agent")
    with pytest.raises(YuntongError) as own:
        await accounts_status.do_set_status(ctx, staff, staff.user_id, "suspended", "oops")
    assert own.value.code == "forbidden"
    with pytest.raises(YuntongError) as upward:
        await accounts_status.do_set_status(ctx, agent, staff.user_id, "suspended", "coup")
    assert upward.value.code == "forbidden"
    demoted = await accounts_status.do_set_status(
        ctx, staff, agent.user_id, "suspended", "left the team"
    )
    assert demoted.status == "suspended"


async def test_unknown_user_is_not_found(ctx: Context, staff: Principal) -> None:
    with pytest.raises(YuntongError) as info:
        await accounts_status.do_approve(ctx, staff, 999_999)
    assert info.value.code == "user_not_found"


async def test_every_status_change_is_announced_on_the_bus(ctx: Context, staff: Principal) -> None:
    heard: list[dict[str, object]] = []

    async def listener(message: dict[str, object]) -> None:
        heard.append(message)

    ctx.bus.subscribe(parties.STATUS_CHANNEL, listener)
    user = await register(ctx)
    await accounts_status.do_approve(ctx, staff, user.id)
    await accounts_status.do_set_status(ctx, staff, user.id, "terminated", "fraud")
    assert heard == [
        {"user_id": user.id, "status": "active"},
        {"user_id": user.id, "status": "terminated"},
    ]


async def test_account_routes_are_documented(app_client: httpx.AsyncClient) -> None:
    paths = (await app_client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/accounts/register/individual",
        "/api/v1/accounts/register/organisation",
        "/api/v1/auth/login",
        "/api/v1/me/identity",
        "/api/v1/admin/users/{user_id}/status",
        "/api/v1/org/members",
    ):
        assert path in paths
    schema = paths["/api/v1/auth/login"]["post"]["responses"]["200"]["content"]
    assert schema["application/json"]["schema"]["$ref"].endswith("/LoginOut")
