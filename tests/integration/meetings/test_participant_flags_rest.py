"""``GET /meetings/{id}/participants`` tells the host (or a co-host) what it may do to each
participant through the API (``can_mute``, ``can_remove``, ``can_make_cohost``,
``can_make_participant``), computed by the room's policy as the socket's entries are: what a
flag offers the route accepts, what it withholds the route refuses. Someone removed is told
the meeting is closed to them (``can_join``). On a real Janus, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import own_server, unique
from tests.support.janus import needs_janus
from tests.support.meetings import api, create_meeting, janus_env, janus_ready, participant
from tests.support.server import ServerProcess

pytestmark = needs_janus

TARGET_FLAGS = ("can_mute", "can_remove", "can_make_cohost", "can_make_participant")
QUIET = {"publish_audio": False, "publish_video": False}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServerProcess]:
    folder = tmp_path_factory.mktemp(f"flags-{request.param}")
    async with own_server(request.param, folder, **janus_env()) as started:
        await janus_ready(started)
        yield started


async def person(server: ServerProcess) -> tuple[str, str]:
    """A new user's name and bearer token."""
    name = unique("p")
    await server.create_user(name)
    return name, await server.login(name)


async def invite(server: ServerProcess, host: str, meeting_id: str, username: str) -> None:
    """``username`` invited (a contact of the host's first): the meeting's API is open to it."""
    contact = await api(server, host, "POST", "/api/v1/contacts", json={"query": username})
    assert contact.status_code == 201, contact.text
    path = f"/api/v1/meetings/{meeting_id}/invitations"
    sent = await api(server, host, "POST", path, json={"user_ids": [contact.json()["user_id"]]})
    assert sent.json()["users"] == 1, sent.text


async def listed(server: ServerProcess, token: str, meeting_id: str) -> dict[str, dict[str, Any]]:
    """The participant list as ``token``'s user gets it, by participant id."""
    resp = await api(server, token, "GET", f"/api/v1/meetings/{meeting_id}/participants")
    assert resp.status_code == 200, resp.text
    return {p["id"]: p for p in resp.json()}


def flags(entry: dict[str, Any]) -> dict[str, bool]:
    return {f: entry[f] for f in TARGET_FLAGS}


async def act(
    server: ServerProcess, token: str, meeting_id: str, pid: str, action: str
) -> httpx.Response:
    base = f"/api/v1/meetings/{meeting_id}/participants/{pid}"
    if action == "can_mute":
        return await api(server, token, "POST", f"{base}/mute", json={"audio": True})
    if action == "can_remove":
        return await api(server, token, "POST", f"{base}/remove")
    role = "cohost" if action == "can_make_cohost" else "participant"
    return await api(server, token, "POST", f"{base}/role", json={"role": role})


async def check_withheld_refused(
    server: ServerProcess, token: str, meeting_id: str, entry: dict[str, Any]
) -> None:
    for flag in TARGET_FLAGS:
        if entry[flag] or (flag == "can_make_participant" and entry["role"] == "guest"):
            continue  # (a guest "made participant" is accepted and changes nothing)
        resp = await act(server, token, meeting_id, entry["id"], flag)
        assert resp.status_code in (403, 409), (flag, entry["name"], resp.text)


async def test_participant_flags_say_what_the_routes_accept(server: ServerProcess) -> None:
    (_, host), (bob_name, member) = await person(server), await person(server)
    meeting = await create_meeting(server, host, waiting_room=True)
    mid = meeting["id"]
    await invite(server, host, mid, bob_name)
    async with (
        participant(server, meeting, token=host, **QUIET) as alice,
        participant(server, meeting, token=member, join=False, **QUIET) as bob,
        participant(server, meeting, name="Carol", join=False, **QUIET) as carol,
    ):
        assert (await bob.join())["state"] == "waiting"
        assert (await carol.join())["state"] == "waiting"

        # in the lobby: may be removed or given a role, not muted (not in the room yet)
        seen = await listed(server, host, mid)
        assert flags(seen[alice.participant_id]) == dict.fromkeys(TARGET_FLAGS, False)
        assert (seen[bob.participant_id]["state"], flags(seen[bob.participant_id])) == (
            "waiting",
            {
                "can_mute": False,
                "can_remove": True,
                "can_make_cohost": True,
                "can_make_participant": False,
            },
        )
        for entry in seen.values():
            await check_withheld_refused(server, host, mid, entry)

        admitted = await api(server, host, "POST", f"/api/v1/meetings/{mid}/admit-all")
        assert admitted.json() == {"admitted": 2}
        await bob.join_when_admitted()
        await carol.join_when_admitted()
        seen = await listed(server, host, mid)
        assert flags(seen[bob.participant_id]) == {
            "can_mute": True,
            "can_remove": True,
            "can_make_cohost": True,
            "can_make_participant": False,
        }
        assert flags(seen[carol.participant_id])["can_make_participant"] is False  # a guest
        for entry in seen.values():
            await check_withheld_refused(server, host, mid, entry)
        bob_id, carol_id = bob.participant_id, carol.participant_id
        assert (await act(server, host, mid, bob_id, "can_mute")).status_code == 204
        assert (await act(server, host, mid, bob_id, "can_make_cohost")).status_code == 204

        # bob co-hosts: through the API he controls the others but the host, changes no roles
        await bob.wait_until(lambda: _role(bob) == "cohost", 10)
        by_bob = await listed(server, member, mid)
        assert flags(by_bob[alice.participant_id]) == dict.fromkeys(TARGET_FLAGS, False)
        assert flags(by_bob[carol_id]) == {
            "can_mute": True,
            "can_remove": True,
            "can_make_cohost": False,  # only the meeting's host changes roles
            "can_make_participant": False,
        }
        for entry in by_bob.values():
            await check_withheld_refused(server, member, mid, entry)
        assert (await act(server, member, mid, carol_id, "can_mute")).status_code == 204
        seen = await listed(server, host, mid)
        assert flags(seen[bob_id])["can_make_participant"] is True
        assert flags(seen[bob_id])["can_make_cohost"] is False

        # the host removes bob: he may not join again, and is told so
        assert (await act(server, host, mid, bob_id, "can_remove")).status_code == 204
        await bob.wait_event("meeting.removed")
        again = await api(server, member, "GET", f"/api/v1/meetings/{mid}")
        assert again.json()["can_join"] is False
        ticket = await api(
            server,
            member,
            "POST",
            f"/api/v1/meetings/by-number/{meeting['number']}/tickets",
            json={"passcode": meeting["passcode"]},
        )
        assert ticket.json()["error"]["code"] == "meeting_removed"
        assert (await api(server, host, "GET", f"/api/v1/meetings/{mid}")).json()["can_join"]


def _role(client: Any) -> str | None:
    me: dict[str, Any] = client.room.get("me", {}) if client.room else {}
    for event in client.events:
        person_ = event.data.get("participant") if event.type == "meeting.participant" else None
        if person_ and person_["id"] == client.participant_id:
            me = person_
    role: str | None = me.get("role")
    return role
