"""Users on different nodes call each other as if they shared one: two nodes on one
PostgreSQL and one (private) Redis, the caller's socket on one, the callee's on the other.

The call is owned by the node that took the invite; the callee's commands (ringing, answer,
ICE, hang-up) reach it through the callee's node (``cluster/forward.py``), who is online is
read from the device directory (``realtime/devices.py``), and a device that moves to the other
node with its resume token keeps its call and gets what it missed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.inprocess import InProcessServer
from tests.support.nodes import Nodes, two_nodes
from tests.support.redis import RedisServer
from tests.support.wsclient import FAKE_SDP, WsError
from yuntong.calls.engine import engine_of
from yuntong.presence.service import status_of

GRACE_S = 20.0
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 192.0.2.1 40000 typ host", "sdpMid": "0"}


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with two_nodes(
        "postgres", tmp_path, redis_server.url, reconnect_grace_s=GRACE_S
    ) as started:
        yield started


async def record(node: InProcessServer, token: str, call_id: str) -> dict:
    async with httpx.AsyncClient(base_url=node.url) as http:
        resp = await http.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    (found,) = [item for item in resp.json()["items"] if item["id"] == call_id]
    return found


async def test_a_call_between_users_on_two_nodes_rings_connects_and_ends_from_either_side(
    nodes: Nodes,
) -> None:
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    bob_id = bob.hello["user"]["user_id"]
    # bob's only device is on node b: node a sees him online, and a call rings him there
    assert await status_of(nodes.a.app_context, bob_id) == "online"
    ack = await alice.request(
        "call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP}
    )
    assert "ended" not in ack, ack
    call_id = ack["call_id"]
    await bob.expect("call.incoming", call_id=call_id)
    # node a took the invite and owns the call; bob's commands reach it through node b
    assert call_id in engine_of(nodes.a.app_context).calls
    assert call_id not in engine_of(nodes.b.app_context).calls
    await bob.request("call.ringing", {"call_id": call_id})
    await alice.expect("call.ringing", call_id=call_id)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.expect("call.answered", call_id=call_id)
    await bob.request("call.ice", {"call_id": call_id, "candidate": CANDIDATE})
    assert (await alice.expect("call.ice", call_id=call_id))["candidate"]["sdpMid"] == "0"
    await alice.request("call.ice", {"call_id": call_id, "candidate": CANDIDATE})
    await bob.expect("call.ice", call_id=call_id)
    await bob.request("call.media", {"call_id": call_id, "state": "connected"})
    await alice.expect("call.connected", call_id=call_id)
    await bob.expect("call.connected", call_id=call_id)
    assert await status_of(nodes.b.app_context, bob_id) == "busy"
    # a command the owner refuses is refused the same way from the other node
    with pytest.raises(WsError) as refused:
        await bob.request("call.reject", {"call_id": call_id})
    assert refused.value.code == "invalid_transition"

    await nodes.advance(3)
    await bob.request("call.hangup", {"call_id": call_id})
    ended = await alice.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "hangup")
    assert ended["hung_up_by"] == bob_id
    await bob.expect("call.ended", call_id=call_id)
    assert await status_of(nodes.a.app_context, bob_id) == "online"
    found = await record(nodes.b, bob.token, call_id)
    assert found["outcome"] == "answered" and found["billable_seconds"] == 3


async def test_a_callee_whose_only_device_goes_on_the_other_node_is_unreachable(
    nodes: Nodes,
) -> None:
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    call_id = (
        await alice.request("call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP})
    )["call_id"]
    await bob.expect("call.incoming", call_id=call_id)
    await bob.close()  # the app was closed: gone at once, on node b
    ended = await alice.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("unreachable", "offline")
    bob_id = bob.hello["user"]["user_id"]
    assert await status_of(nodes.a.app_context, bob_id) == "offline"
    # offline everywhere now: the next call ends at once
    again = await alice.request(
        "call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP}
    )
    assert again["ended"]["outcome"] == "unreachable"


async def test_a_device_that_resumes_on_the_other_node_keeps_its_call_and_what_it_missed(
    nodes: Nodes,
) -> None:
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    call_id = (
        await alice.request("call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP})
    )["call_id"]
    await bob.expect("call.incoming", call_id=call_id)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await bob.request("call.media", {"call_id": call_id, "state": "connected"})
    await bob.expect("call.connected", call_id=call_id)
    device = bob.device

    await bob.drop()  # the network changed; the load balancer sends it to node a next
    await alice.request("call.ice", {"call_id": call_id, "candidate": CANDIDATE})  # missed
    bob.ws_url = nodes.a.ws_url
    await bob.connect(resume=True)
    assert bob.hello["resumed"] is True and bob.device == device
    await bob.expect("call.ice", call_id=call_id)  # handed over by node b, replayed by a

    # node b forgot the device without ending its call: past its grace period it goes on
    await nodes.advance(GRACE_S + 1)
    assert not alice.has("call.ended", call_id=call_id)
    await bob.request("call.hangup", {"call_id": call_id})
    ended = await alice.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "hangup")
    await bob.expect("call.ended", call_id=call_id)
