"""The numbers API: a customer selects and keeps a number, sees only its own, and cannot reach
the staff routes; staff import a block and block numbers over the API."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.accounts.conftest import bearer, error_code
from tests.integration.numbers.conftest import STANDARD_FEN, fresh_range
from yuntong.accounts.auth import Principal

pytestmark = pytest.mark.usefixtures("tiers")


async def test_a_customer_selects_a_number_and_sees_only_its_own(
    app_client: httpx.AsyncClient, staff: Principal, customer: Principal, other: Principal
) -> None:
    start, end = fresh_range(10)
    as_staff = await bearer(app_client, staff.username)
    as_customer = await bearer(app_client, customer.username)
    as_other = await bearer(app_client, other.username)
    block = {
        "carrier": "中国移动",
        "source_ref": "工信部码号〔2026〕7号",
        "start": start,
        "end": end,
    }
    resp = await app_client.post("/api/v1/admin/numbers/blocks", json=block, headers=as_customer)
    assert resp.status_code == 403 and error_code(resp) == "forbidden"
    resp = await app_client.post("/api/v1/admin/numbers/blocks", json=block, headers=as_staff)
    assert resp.status_code == 200, resp.text
    assert resp.json()["imported"] == 10
    again = await app_client.post("/api/v1/admin/numbers/blocks", json=block, headers=as_staff)
    assert again.json() | {"invalid": []} == {
        "block_id": None,
        "imported": 0,
        "skipped": 10,
        "invalid": [],
    }

    found = await app_client.get(
        "/api/v1/numbers/search",
        params={"prefix": start[:7], "ends_with": "1"},
        headers=as_customer,
    )
    assert found.status_code == 200, found.text
    [plain] = found.json()
    assert plain["national"] == start[:-1] + "1"
    assert plain["monthly_rent_fen"] == STANDARD_FEN and plain["place"]
    number = plain["e164"]
    path = f"/api/v1/numbers/{number.removeprefix('+86')}"
    assert (await app_client.post(f"{path}/reserve", headers=as_customer)).status_code == 200
    taken = await app_client.post(f"{path}/reserve", headers=as_other)
    assert taken.status_code == 409 and error_code(taken) == "number_taken"
    done = await app_client.post(f"{path}/assign", headers=as_customer)
    assert done.status_code == 200 and done.json()["state"] == "assigned"

    mine = await app_client.get("/api/v1/numbers/mine", headers=as_customer)
    assert [n["e164"] for n in mine.json()] == [number]
    assert (await app_client.get("/api/v1/numbers/mine", headers=as_other)).json() == []
    refused = await app_client.post(f"{path}/release", headers=as_other)
    assert refused.status_code == 404 and error_code(refused) == "number_not_found"
    listed = await app_client.get("/api/v1/admin/numbers", headers=as_other)
    assert listed.status_code == 403
    blocked = await app_client.post(
        f"/api/v1/admin/numbers/{start}/block", json={"reason": "kept back"}, headers=as_staff
    )
    assert blocked.json()["state"] == "blocked"
    trail = await app_client.get(f"/api/v1/admin/numbers/{start}/events", headers=as_staff)
    assert [e["action"] for e in trail.json()] == ["import", "block"]
    released = await app_client.post(f"{path}/release", headers=as_customer)
    assert released.json()["state"] == "quarantined"


async def test_the_openapi_document_describes_the_number_routes(
    app_client: httpx.AsyncClient,
) -> None:
    paths = (await app_client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/numbers/search",
        "/api/v1/numbers/mine",
        "/api/v1/numbers/{number}/reserve",
        "/api/v1/numbers/{number}/assign",
        "/api/v1/numbers/{number}/release",
        "/api/v1/numbers/{number}/member",
        "/api/v1/admin/numbers/blocks",
        "/api/v1/admin/numbers/tiers/{code}",
    ):
        assert path in paths
