"""Every dispute in the API says which steps the caller may take now (``actions``): each step
listed is accepted, each step not listed is refused with the error the step gives."""

from __future__ import annotations

import httpx

from tests.integration.billing.conftest import person
from tests.integration.billing.test_disputes import api, customer, login, statement_with
from yuntong.core.context import Context

__all__ = ["api"]  # the fixture

ALL = ("investigate", "resolve_credit", "resolve_explanation")


async def _take(
    client: httpx.AsyncClient, base: str, action: str, headers: dict[str, str]
) -> httpx.Response:
    if action == "investigate":
        return await client.post(f"{base}/investigate", json={"note": "looking"}, headers=headers)
    body: dict[str, object] = {"by": "explanation", "note": "checked: correct"}
    if action == "resolve_credit":
        body = {"by": "credit", "amount_fen": 100, "note": "wrongly rated"}
    return await client.post(f"{base}/resolve", json=body, headers=headers)


async def test_actions_are_what_the_steps_accept(ctx: Context, api: httpx.AsyncClient) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    _statement, lines = await statement_with(ctx, account, 3000, 2000, 1000)
    mine, op = await login(api, me), await login(api, staff)

    ids = []
    for line in lines:
        opened = await api.post(
            "/api/v1/billing/disputes",
            json={"entry_id": line.id, "reason": "Never called"},
            headers=mine,
        )
        assert opened.status_code == 201, opened.text
        assert opened.json()["actions"] == []  # the customer takes no step on it
        ids.append(opened.json()["id"])

    # open: every step; investigating: the two resolutions; resolved: none
    paths = [["investigate", "resolve_credit"], ["resolve_explanation"], ["investigate"]]
    for dispute_id, path in zip(ids, paths, strict=True):
        base = f"/api/v1/billing/disputes/{dispute_id}"
        for step in [*path, None]:
            offered = (await api.get(base, headers=op)).json()["actions"]
            assert (await api.get(base, headers=mine)).json()["actions"] == []
            for refused in set(ALL) - set(offered):
                resp = await _take(api, base, refused, op)
                assert resp.json()["error"]["code"] == "invalid_transition", (refused, offered)
            for action in offered:  # the customer is refused what staff are offered
                resp = await _take(api, base, action, mine)
                assert resp.json()["error"]["code"] == "forbidden"
            if step is None:
                state = (await api.get(base, headers=op)).json()["state"]
                expected = {
                    "open": list(ALL),
                    "investigating": ["resolve_credit", "resolve_explanation"],
                }.get(state, [])
                assert offered == expected, state
                continue
            assert step in offered
            resp = await _take(api, base, step, op)
            assert resp.status_code == 200, resp.text

    listed = await api.get("/api/v1/billing/disputes", headers=op)
    by_id = {d["id"]: d["actions"] for d in listed.json()}
    assert by_id[ids[2]] == ["resolve_credit", "resolve_explanation"]
    assert by_id[ids[0]] == by_id[ids[1]] == []
