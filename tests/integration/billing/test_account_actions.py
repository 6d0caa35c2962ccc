"""A billing account in the API says which steps the caller may take on it now (``actions``):
each listed is accepted, each not listed refused; the account says whether its credit is used
up (``credit_exhausted``). The steps the desk offers follow the account's state."""

from __future__ import annotations

import httpx

from tests.integration.billing.conftest import person
from tests.integration.billing.test_disputes import api, customer, login
from yuntong.core.context import Context

__all__ = ["api"]  # the fixture

ALL = ("hold", "release", "suspend")


async def _take(
    client: httpx.AsyncClient, account_id: int, action: str, headers: dict[str, str]
) -> httpx.Response:
    body = None if action == "suspend" else {"reason": "court order"}
    path = f"/api/v1/billing/accounts/{account_id}/{action}"
    return await client.post(path, json=body, headers=headers)


async def test_account_actions_are_what_the_steps_accept(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    mine, op = await login(api, me), await login(api, staff)
    own = (await api.get("/api/v1/billing/account", headers=mine)).json()
    assert own["actions"] == []
    assert own["credit_exhausted"] is False

    expected = {
        "active": ["hold", "suspend"],
        "held": ["release"],
        "suspended": ["hold", "release"],
        "terminating": ["release"],
        "terminated": [],
    }
    for step in ["hold", "release", "suspend", "hold", "release"]:
        seen = await api.get(
            "/api/v1/billing/account", params={"account_id": account.id}, headers=op
        )
        offered = seen.json()["actions"]
        assert offered == expected[seen.json()["state"]]
        for refused in set(ALL) - set(offered):
            resp = await _take(api, account.id, refused, op)
            assert resp.json()["error"]["code"] == "invalid_transition", (refused, offered)
        resp = await _take(api, account.id, offered[0], mine)
        assert resp.json()["error"]["code"] in ("forbidden", "billing_account_not_found")
        assert step in offered
        done = await _take(api, account.id, step, op)
        assert done.status_code == 200, done.text
        assert done.json()["actions"] == expected[done.json()["state"]]

    dunning = await api.get("/api/v1/billing/dunning", headers=op)
    assert all(row["actions"] == expected[row["state"]] for row in dunning.json())
