"""Server restart mid-call, and presence pushed live to contacts only.

The presence tests run on the in-process server, on a clock that moves only by hand: a device
that says goodbye is offline at once, without a grace period to wait out (a dropped one waits
it out: realtime/test_leaving); the restart needs a server in a child process to kill."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from tests.conftest import unique
from tests.integration.calls.conftest import Connect
from tests.support.inprocess import InProcessServer
from tests.support.server import ServerProcess
from tests.support.wsclient import FAKE_SDP, WsClient


async def test_server_killed_mid_call_leaves_an_interrupted_record(
    fresh_server: ServerProcess,
) -> None:
    names = [unique("rs"), unique("rs")]
    for name in names:
        await fresh_server.create_user(name)
    tokens = [await fresh_server.login(n) for n in names]
    alice = await WsClient(fresh_server.ws_url, tokens[0]).connect()
    bob = await WsClient(fresh_server.ws_url, tokens[1]).connect()
    ack = await alice.request("call.invite", {"to": names[1], "media": "video", "sdp": FAKE_SDP})
    await bob.expect("call.incoming", call_id=ack["call_id"])
    await bob.request("call.answer", {"call_id": ack["call_id"], "sdp": FAKE_SDP})
    await asyncio.sleep(1.0)
    fresh_server.restart(signal.SIGKILL)
    async with httpx.AsyncClient(base_url=fresh_server.url) as http:
        resp = await http.get("/api/v1/calls", headers={"Authorization": f"Bearer {tokens[0]}"})
    (record,) = resp.json()["items"]
    assert record["id"] == ack["call_id"]
    assert (record["outcome"], record["end_reason"]) == ("interrupted", "server_restart")
    assert record["ended_at"] is not None
    # killed 1 s after the answer, before its first checkpoint (every 30 s): the server last
    # knew the call alive at its answer, so nothing is billed (see test_interrupted_call_billing)
    assert record["ended_at"] == record["answered_at"]
    assert record["billable_seconds"] == 0
    await fresh_server.aclose()


@pytest.fixture
def server(inprocess_server_any: InProcessServer) -> InProcessServer:
    return inprocess_server_any


async def _add_contact(server: InProcessServer, owner: WsClient, other: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/contacts",
            json={"query": other},
            headers={"Authorization": f"Bearer {owner.token}"},
        )
        assert resp.status_code == 201, resp.text


async def test_presence_is_pushed_live_to_contacts_only(
    server: InProcessServer, connect: Connect
) -> None:
    alice, stranger = await connect(), await connect()
    bob_name = unique("pb")
    await server.create_user(bob_name)
    await _add_contact(server, alice, bob_name)
    bob = await connect(bob_name)
    assert (await alice.expect("presence", status="online"))["user_id"] == bob.hello["user"][
        "user_id"
    ]
    await bob.request("presence.set", {"status": "dnd"})
    await alice.expect("presence", status="dnd")
    await bob.request("presence.set", {"status": "online"})
    await alice.expect("presence", status="online")
    carol = await connect()
    await carol.request("call.invite", {"to": bob_name, "media": "audio", "sdp": FAKE_SDP})
    await alice.expect("presence", status="busy")
    await bob.close()  # a goodbye: offline at once, the clock does not move
    await alice.expect("presence", status="offline")
    assert not stranger.has("presence")


async def test_snapshot_on_connect_lists_contacts_status(
    server: InProcessServer, connect: Connect
) -> None:
    bob = await connect()
    alice_name = unique("ps")
    await server.create_user(alice_name)
    token = await server.login(alice_name)
    alice = WsClient(server.ws_url, token)
    await alice.connect()
    await _add_contact(server, alice, bob.username)
    await alice.close()
    alice.events.clear()
    await alice.connect()
    snap = await alice.expect("presence.snapshot")
    assert snap["contacts"] == [{"user_id": bob.hello["user"]["user_id"], "status": "online"}]
    await alice.close()


async def test_adding_an_online_contact_shows_their_presence_at_once(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/contacts",
            json={"query": bob.username},
            headers={"Authorization": f"Bearer {alice.token}"},
        )
    assert resp.json()["status"] == "online"
    bob_id = bob.hello["user"]["user_id"]
    assert (await alice.expect("presence", user_id=bob_id))["status"] == "online"


async def test_blocking_a_watcher_hides_your_presence_from_them(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    await _add_contact(server, alice, bob.username)
    bob_id = bob.hello["user"]["user_id"]
    await alice.expect("presence", user_id=bob_id, status="online")
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.post(
            "/api/v1/blocks",
            json={"query": alice.username},
            headers={"Authorization": f"Bearer {bob.token}"},
        )
        listed = await http.get(
            "/api/v1/contacts", headers={"Authorization": f"Bearer {alice.token}"}
        )
    await alice.expect("presence", user_id=bob_id, status="offline")
    assert listed.json()[0]["status"] == "offline"
    await bob.request("presence.set", {"status": "dnd"})
    await asyncio.sleep(0.3)
    assert not alice.has("presence", user_id=bob_id)


async def test_a_new_devices_snapshot_follows_contact_changes_made_while_online(
    server: InProcessServer, connect: Connect
) -> None:
    """The node keeps an online user's contacts for the snapshots of the user's next devices:
    a contact added, and a contact who blocks the user, show in the next device's snapshot."""
    alice, bob = await connect(), await connect()
    bob_id = bob.hello["user"]["user_id"]

    async def next_devices_snapshot() -> list[dict[str, object]]:
        device = WsClient(server.ws_url, alice.token, device="tab")
        await device.connect()
        snap = await device.expect("presence.snapshot")
        await device.close()
        return list(snap["contacts"])

    assert await next_devices_snapshot() == []
    await _add_contact(server, alice, bob.username)
    await alice.expect("presence", user_id=bob_id, status="online")
    assert await next_devices_snapshot() == [{"user_id": bob_id, "status": "online"}]
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/blocks",
            json={"query": alice.username},
            headers={"Authorization": f"Bearer {bob.token}"},
        )
        assert resp.status_code == 201, resp.text
    await alice.expect("presence", user_id=bob_id, status="offline")
    assert await next_devices_snapshot() == []
