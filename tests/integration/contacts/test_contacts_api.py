"""Address book over the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from yuntong.accounts import registration
from yuntong.core.context import Context

PASSWORD = "correct horse battery"


async def user(ctx: Context, client: httpx.AsyncClient, name: str) -> dict[str, str]:
    await registration.do_create_admin(ctx, name, PASSWORD, "subscriber")
    resp = await client.post(
        "/api/v1/auth/login", json={"username": name, "password": PASSWORD, "kind": "api"}
    )
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def test_add_edit_favourite_search_and_delete(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    me = await user(ctx, app_client, "owner")
    for name in ("li.na", "wang.wei", "zhao.min"):
        await user(ctx, app_client, name)
    for name, label in (("li.na", "Li Na"), ("wang.wei", "Wang Wei"), ("zhao.min", "Zhao Min")):
        resp = await app_client.post(
            "/api/v1/contacts", json={"query": name, "name": label}, headers=me
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["status"] == "offline"
    wang = next(
        c
        for c in (await app_client.get("/api/v1/contacts", headers=me)).json()
        if c["username"] == "wang.wei"
    )
    resp = await app_client.patch(
        f"/api/v1/contacts/{wang['id']}",
        json={"favourite": True, "notes": "大学同学 — call after 6pm"},
        headers=me,
    )
    assert resp.json()["notes"] == "大学同学 — call after 6pm"
    listed = (await app_client.get("/api/v1/contacts", headers=me)).json()
    assert [c["name"] for c in listed] == ["Wang Wei", "Li Na", "Zhao Min"]  # favourites first
    found = (await app_client.get("/api/v1/contacts", params={"q": "同学"}, headers=me)).json()
    assert [c["username"] for c in found] == ["wang.wei"]
    favs = (await app_client.get("/api/v1/contacts", params={"favourite": True}, headers=me)).json()
    assert [c["username"] for c in favs] == ["wang.wei"]
    assert (
        await app_client.delete(f"/api/v1/contacts/{wang['id']}", headers=me)
    ).status_code == 204
    names = [c["username"] for c in (await app_client.get("/api/v1/contacts", headers=me)).json()]
    assert names == ["li.na", "zhao.min"]


@pytest.mark.parametrize(
    ("query", "code", "status"),
    [
        ("nobody", "user_not_found", 404),
        ("owner", "contact_self", 400),
        ("peer", "contact_exists", 409),
    ],
)
async def test_adding_a_contact_that_cannot_be_added(
    ctx: Context, app_client: httpx.AsyncClient, query: str, code: str, status: int
) -> None:
    me = await user(ctx, app_client, "owner")
    await user(ctx, app_client, "peer")
    await app_client.post("/api/v1/contacts", json={"query": "peer"}, headers=me)
    resp = await app_client.post("/api/v1/contacts", json={"query": query}, headers=me)
    assert (resp.status_code, resp.json()["error"]["code"]) == (status, code)
    assert len((await app_client.get("/api/v1/contacts", headers=me)).json()) == 1


async def test_one_users_contacts_are_invisible_and_untouchable_to_another(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    alice = await user(ctx, app_client, "alice")
    mallory = await user(ctx, app_client, "mallory")
    await user(ctx, app_client, "bob")
    contact = (
        await app_client.post("/api/v1/contacts", json={"query": "bob"}, headers=alice)
    ).json()
    assert (await app_client.get("/api/v1/contacts", headers=mallory)).json() == []
    for method in ("patch", "delete"):
        kwargs = {"json": {"name": "pwned"}} if method == "patch" else {}
        resp = await getattr(app_client, method)(
            f"/api/v1/contacts/{contact['id']}", headers=mallory, **kwargs
        )
        assert resp.status_code == 404
    assert (await app_client.get("/api/v1/contacts", headers=alice)).json()[0]["name"] == contact[
        "name"
    ]


async def test_injection_strings_are_stored_verbatim(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    me = await user(ctx, app_client, "owner")
    await user(ctx, app_client, "peer")
    evil = "Robert'); DROP TABLE contacts;-- <script>alert(1)</script>"
    resp = await app_client.post(
        "/api/v1/contacts", json={"query": "peer", "name": evil[:64], "notes": evil}, headers=me
    )
    assert resp.status_code == 201
    listed = (
        await app_client.get("/api/v1/contacts", params={"q": "DROP TABLE"}, headers=me)
    ).json()
    assert listed[0]["notes"] == evil
    assert listed[0]["name"] == evil[:64]


async def test_block_and_unblock(ctx: Context, app_client: httpx.AsyncClient) -> None:
    me = await user(ctx, app_client, "owner")
    await user(ctx, app_client, "pest")
    resp = await app_client.post("/api/v1/blocks", json={"query": "pest"}, headers=me)
    assert resp.status_code == 201
    pest_id = resp.json()["user_id"]
    again = await app_client.post("/api/v1/blocks", json={"user_id": pest_id}, headers=me)
    assert again.status_code == 201  # idempotent
    assert [b["username"] for b in (await app_client.get("/api/v1/blocks", headers=me)).json()] == [
        "pest"
    ]
    bad = await app_client.post(
        "/api/v1/blocks", json={"user_id": pest_id, "query": "pest"}, headers=me
    )
    assert bad.status_code == 422
    assert (await app_client.delete(f"/api/v1/blocks/{pest_id}", headers=me)).status_code == 204
    assert (await app_client.delete(f"/api/v1/blocks/{pest_id}", headers=me)).status_code == 404
    assert (await app_client.get("/api/v1/blocks", headers=me)).json() == []


async def test_contacts_need_a_session(app_client: httpx.AsyncClient) -> None:
    resp = await app_client.get("/api/v1/contacts")
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "unauthenticated")
