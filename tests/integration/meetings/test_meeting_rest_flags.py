"""A meeting in the REST API says what the viewer may do with it now (``can_join``,
``can_edit``, ``can_invite``, ``can_end``, ``can_see_history``): what a flag offers the route
accepts, what it withholds the route refuses, for the host and for an invitee, before, at and
after the meeting's time. On SQLite and PostgreSQL (no media here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import unique
from yuntong.accounts import registration
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context

PASSWORD = "correct horse battery"
FLAGS = ("can_join", "can_edit", "can_invite", "can_see_history")


async def signed_in(ctx: Context, client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    name = unique("m")
    await registration.do_create_admin(ctx, name, PASSWORD, "subscriber")
    resp = await client.post(
        "/api/v1/auth/login", json={"username": name, "password": PASSWORD, "kind": "api"}
    )
    assert resp.status_code == 200, resp.text
    return name, {"Authorization": f"Bearer {resp.json()['token']}"}


def code(resp: httpx.Response) -> str:
    """What a route answered: ``ok`` or the error's code."""
    if resp.is_success:
        return "ok"
    return str(resp.json()["error"]["code"])


async def answers(
    client: httpx.AsyncClient, headers: dict[str, str], meeting: dict[str, Any]
) -> dict[str, str]:
    """What each route behind a flag answers the viewer (none of them changes much: a ticket,
    the same title again, an invitation to an address no mail goes to, a read)."""
    path = f"/api/v1/meetings/{meeting['id']}"
    requests = {
        "can_join": client.post(
            f"/api/v1/meetings/by-number/{meeting['number']}/tickets", json={}, headers=headers
        ),
        "can_edit": client.patch(path, json={"title": meeting["title"]}, headers=headers),
        "can_invite": client.post(
            f"{path}/invitations", json={"emails": ["guest@example.com"]}, headers=headers
        ),
        "can_see_history": client.get(f"{path}/attendance", headers=headers),
    }
    return {flag: code(await request) for flag, request in requests.items()}


async def seen(
    client: httpx.AsyncClient, headers: dict[str, str], meeting_id: str
) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/meetings/{meeting_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    meeting: dict[str, Any] = resp.json()
    return meeting


async def check_flags_agree(
    client: httpx.AsyncClient, headers: dict[str, str], meeting_id: str
) -> dict[str, Any]:
    """The viewer's flags, each offered action accepted and each withheld one refused (and
    ending, which cannot be undone, refused when withheld)."""
    meeting = await seen(client, headers, meeting_id)
    told = await answers(client, headers, meeting)
    assert {f: told[f] == "ok" for f in FLAGS} == {f: meeting[f] for f in FLAGS}, told
    if not meeting["can_end"]:
        ended = await client.post(f"/api/v1/meetings/{meeting_id}/end", headers=headers)
        assert ended.status_code in (403, 410), ended.text
    return meeting


async def test_meeting_flags_say_what_the_routes_accept(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    client = app_client
    _, host = await signed_in(ctx, client)
    bob, member = await signed_in(ctx, client)
    _, stranger = await signed_in(ctx, client)
    start = ctx.clock.now() + timedelta(hours=2)
    resp = await client.post(
        "/api/v1/meetings",
        json={"title": "评审 review", "kind": "scheduled", "start_at": start.isoformat()},
        headers=host,
    )
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert (await client.post("/api/v1/contacts", json={"query": bob}, headers=host)).is_success
    bob_id = (await client.get("/api/v1/contacts", headers=host)).json()[0]["user_id"]
    invited = await client.post(
        f"/api/v1/meetings/{made['id']}/invitations", json={"user_ids": [bob_id]}, headers=host
    )
    assert invited.json()["users"] == 1, invited.text

    # two hours ahead: the host may change, invite, cancel, but not start it yet
    mine = await check_flags_agree(client, host, made["id"])
    assert {f: mine[f] for f in (*FLAGS, "can_end", "is_host")} == {
        "can_join": False,  # a scheduled meeting opens 30 minutes before its start
        "can_edit": True,
        "can_invite": True,
        "can_see_history": True,
        "can_end": True,  # not live: ending it cancels it
        "is_host": True,
    }
    theirs = await check_flags_agree(client, member, made["id"])
    assert {f: theirs[f] for f in (*FLAGS, "can_end", "is_host")} == dict.fromkeys(
        (*FLAGS, "can_end", "is_host"), False
    )
    assert (await client.get(f"/api/v1/meetings/{made['id']}", headers=stranger)).status_code == 404
    listed = (await client.get("/api/v1/meetings", headers=host)).json()
    assert [{f: m[f] for f in FLAGS} for m in listed] == [{f: mine[f] for f in FLAGS}]

    # twenty minutes ahead: both may join
    ctx.clock.advance(minutes=100)
    assert (await check_flags_agree(client, host, made["id"]))["can_join"] is True
    assert (await check_flags_agree(client, member, made["id"]))["can_join"] is True

    # the host cancels it: nobody may do anything with it but read its history
    assert mine["can_end"]
    assert (
        await client.post(f"/api/v1/meetings/{made['id']}/end", headers=host)
    ).status_code == 204
    mine = await check_flags_agree(client, host, made["id"])
    assert (mine["status"], mine["end_reason"]) == ("ended", "cancelled")
    assert {f: mine[f] for f in (*FLAGS, "can_end")} == {
        "can_join": False,
        "can_edit": False,
        "can_invite": False,
        "can_see_history": True,
        "can_end": False,
    }
    theirs = await check_flags_agree(client, member, made["id"])
    assert not any(theirs[f] for f in (*FLAGS, "can_end"))
    past = (await client.get("/api/v1/meetings", params={"scope": "past"}, headers=member)).json()
    assert [(m["id"], m["can_join"]) for m in past] == [(made["id"], False)]


async def test_a_meeting_a_day_ahead_can_be_cancelled(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    """Cancelling is not held back until the meeting opens (it used to be: the host could
    cancel a meeting only from 30 minutes before its start)."""
    _, host = await signed_in(ctx, app_client)
    start = ctx.clock.now() + timedelta(days=1)
    resp = await app_client.post(
        "/api/v1/meetings",
        json={"title": "明天 tomorrow", "kind": "scheduled", "start_at": start.isoformat()},
        headers=host,
    )
    meeting = resp.json()
    assert meeting["can_end"] is True and meeting["can_join"] is False
    ended = await app_client.post(f"/api/v1/meetings/{meeting['id']}/end", headers=host)
    assert ended.status_code == 204, ended.text
    ticket = await app_client.post(
        f"/api/v1/meetings/by-number/{meeting['number']}/tickets", json={}, headers=host
    )
    assert code(ticket) == "meeting_ended"
