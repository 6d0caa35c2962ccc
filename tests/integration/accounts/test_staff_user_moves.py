"""The operator's user list says, per user, what the staff member asking may do to it now:
the statuses it may be moved to (``status_moves``, in the ladder's order), the one offered
first (``suggested_status``), and whether it may be approved or rejected. Each offered move is
accepted and each withheld one refused; staff never move themselves, and only an operator
admin moves other staff."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.accounts.conftest import (
    active_user,
    bearer,
    error_code,
    make_staff,
    register,
)
from yuntong.accounts import status as accounts_status
from yuntong.accounts.auth import Principal
from yuntong.core.context import Context

LADDER = ["active", "warned", "limited", "suspended", "terminated"]


async def row(
    client: httpx.AsyncClient, headers: dict[str, str], username: str, status: str
) -> dict[str, Any]:
    resp = await client.get("/api/v1/admin/users", params={"status": status}, headers=headers)
    assert resp.status_code == 200, resp.text
    (found,) = [u for u in resp.json() if u["username"] == username]
    return found


def offered(u: dict[str, Any]) -> tuple[list[str], str | None, bool, bool]:
    return u["status_moves"], u["suggested_status"], u["can_approve"], u["can_reject"]


async def check_withheld_refused(
    client: httpx.AsyncClient, headers: dict[str, str], u: dict[str, Any]
) -> None:
    """Every status not offered is refused, and so are approval and rejection when withheld."""
    for status in set(LADDER) - set(u["status_moves"]):
        resp = await client.post(
            f"/api/v1/admin/users/{u['id']}/status",
            json={"status": status, "reason": "test"},
            headers=headers,
        )
        assert error_code(resp) in ("invalid_transition", "forbidden"), (status, resp.text)
    if not u["can_approve"]:
        resp = await client.post(f"/api/v1/admin/users/{u['id']}/approve", headers=headers)
        assert error_code(resp) in ("invalid_transition", "forbidden")
    if not u["can_reject"]:
        resp = await client.post(
            f"/api/v1/admin/users/{u['id']}/reject", json={"reason": "test"}, headers=headers
        )
        assert error_code(resp) in ("invalid_transition", "forbidden")


async def test_the_list_offers_the_moves_the_ladder_accepts(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    user = await active_user(ctx, staff, 1)
    admin = await bearer(app_client, "operator")
    walk = [
        # status now: what is offered, and the move then made
        ("active", (["warned", "limited", "suspended", "terminated"], "warned"), "warned"),
        ("warned", (["active", "limited", "suspended", "terminated"], "active"), "suspended"),
        ("suspended", (["active", "warned", "limited", "terminated"], "active"), "terminated"),
        ("terminated", ([], None), None),  # final
    ]
    for status, (moves, suggested), then in walk:
        u = await row(app_client, admin, user.username, status)
        assert offered(u) == (moves, suggested, False, False)
        await check_withheld_refused(app_client, admin, u)
        if then is not None:
            assert then in u["status_moves"]
            moved = await app_client.post(
                f"/api/v1/admin/users/{user.id}/status",
                json={"status": then, "reason": "test"},
                headers=admin,
            )
            assert moved.json()["status"] == then, moved.text


async def test_review_flags_for_pending_and_rejected_applicants(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    pending, rejected = await register(ctx, 1), await register(ctx, 2)
    await accounts_status.do_reject(ctx, staff, rejected.id, "documents missing")
    admin = await bearer(app_client, "operator")

    u = await row(app_client, admin, pending.username, "pending")
    assert offered(u) == ([], None, True, True)  # review first: no enforcement yet
    await check_withheld_refused(app_client, admin, u)
    u = await row(app_client, admin, rejected.username, "rejected")
    assert offered(u) == ([], None, True, False)  # a rejected applicant may be approved later
    await check_withheld_refused(app_client, admin, u)
    approved = await app_client.post(f"/api/v1/admin/users/{rejected.id}/approve", headers=admin)
    assert approved.json()["status"] == "active"
    assert offered(await row(app_client, admin, rejected.username, "active"))[0] == [
        "warned",
        "limited",
        "suspended",
        "terminated",
    ]


async def test_staff_are_moved_only_by_an_operator_admin_and_never_by_themselves(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await make_staff(ctx, "agent", "support_agent")
    await make_staff(ctx, "agent2", "support_agent")
    admin, agent = await bearer(app_client, "operator"), await bearer(app_client, "agent")

    for viewer, username, moves in [
        (admin, "operator", []),  # oneself
        (admin, "agent", ["warned", "limited", "suspended", "terminated"]),
        (agent, "agent", []),  # oneself
        (agent, "agent2", []),  # other staff: only an operator admin
        (agent, "operator", []),
    ]:
        u = await row(app_client, viewer, username, "active")
        assert offered(u) == (moves, moves[0] if moves else None, False, False), username
        await check_withheld_refused(app_client, viewer, u)
    subscriber = await active_user(ctx, staff, 3)
    u = await row(app_client, agent, subscriber.username, "active")
    assert offered(u)[:2] == (["warned", "limited", "suspended", "terminated"], "warned")
