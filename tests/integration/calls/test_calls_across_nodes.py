"""Users on different nodes call each other as if they shared one: two nodes on one
PostgreSQL and one (private) Redis, the caller's socket on one, the callee's on the other.

The call is owned by the node that took the invite; the callee's commands (ringing, answer,
ICE, hang-up) reach it through the callee's node (``cluster/forward.py``), who is online is
read from the device directory (``realtime/devices.py``), and a device that moves to the other
node with its resume token keeps its call and gets what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from tests.conftest import unique
from tests.integration.calls.test_credit_control import Desk, connected_call
from tests.support.inprocess import InProcessServer
from tests.support.nodes import Nodes, two_nodes
from tests.support.numbers import number_for
from tests.support.redis import RedisServer
from tests.support.wsclient import FAKE_SDP, WsClient, WsError
from yuntong.accounts import directory
from yuntong.accounts.auth import principal_for
from yuntong.billing.orders.orders import do_place_order
from yuntong.calls.engine import do_watch_devices, engine_of
from yuntong.calls.models import CallRecord
from yuntong.calls.store import legs_of
from yuntong.cluster import nodes as cluster_nodes
from yuntong.cluster.forward import forwarding_of
from yuntong.cluster.nodes import in_doubt, live_view, node_of
from yuntong.presence.service import status_of
from yuntong.realtime.connection import forget_dead_devices
from yuntong.realtime.hub import HAND_OVER
from yuntong.supplementary import products

GRACE_S = 20.0
# nodes that see each other dead within a second, and a sweep lease a stopped node lets go of
# soon (its holder may be the node a test stops)
MORTAL = {"node_keepalive_s": 0.2, "node_dead_after_s": 1.0, "job_lease_s": 2.0}
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 192.0.2.1 40000 typ host", "sdpMid": "0"}


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with two_nodes(
        "postgres", tmp_path, redis_server.url, reconnect_grace_s=GRACE_S
    ) as started:
        yield started


@pytest.fixture
async def mortal_nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    """Two nodes that see each other dead within a second (a test stops one)."""
    async with two_nodes(
        "postgres",
        tmp_path,
        redis_server.url,
        reconnect_grace_s=GRACE_S,
        **MORTAL,
    ) as started:
        yield started


async def place(caller: WsClient, callee: WsClient) -> str:
    """``caller`` calls ``callee`` (audio); the call's id once it rings on the callee's device."""
    ack = await caller.request(
        "call.invite", {"to": callee.username, "media": "audio", "sdp": FAKE_SDP}
    )
    assert "ended" not in ack, ack
    call_id: str = ack["call_id"]
    await callee.expect("call.incoming", call_id=call_id)
    return call_id


async def answered(caller: WsClient, callee: WsClient) -> str:
    """A call ``callee`` answered; its id once the caller heard the answer."""
    call_id = await place(caller, callee)
    await callee.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await caller.expect("call.answered", call_id=call_id)
    return call_id


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
    call_id = await place(alice, bob)
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
    call_id = await answered(alice, bob)
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


async def test_an_answered_call_outlives_the_node_that_owned_it_and_is_recorded_in_full(
    mortal_nodes: Nodes,
) -> None:
    nodes = mortal_nodes
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    ringing_bob = await nodes.connect(nodes.b, await nodes.user("carol"), "carol")
    kept = await answered(alice, bob)
    await bob.request("call.media", {"call_id": kept, "state": "connected"})
    await alice.expect("call.connected", call_id=kept)
    ringing = await nodes.connect(nodes.a, await nodes.user("dave"), "dave")
    still_ringing = await place(ringing, ringing_bob)
    await nodes.advance(4)

    await nodes.a.stop()  # node a is gone with both calls it owned
    await alice.closed.wait()
    alice.ws_url = nodes.b.ws_url  # the load balancer sends alice to node b
    await alice.connect(resume=True)
    assert alice.hello["resumed"] is True

    # node b sweeps node a once it is dead: the ringing call ends, the answered one goes on
    ended = await ringing_bob.expect("call.ended", call_id=still_ringing, timeout=10)
    assert ended["outcome"] == "interrupted"
    for _ in range(100):
        if kept in engine_of(nodes.b.app_context).calls:
            break
        await asyncio.sleep(0.1)
    assert kept in engine_of(nodes.b.app_context).calls
    assert not bob.has("call.ended", call_id=kept)
    await nodes.advance(6)
    await alice.request("call.hangup", {"call_id": kept})
    done = await bob.expect("call.ended", call_id=kept)
    assert (done["outcome"], done["reason"]) == ("answered", "hangup")
    await alice.expect("call.ended", call_id=kept)
    found = await record(nodes.b, bob.token, kept)
    # billed from the answer to the hang-up, the node's death included: the media never
    # went through it
    assert found["outcome"] == "answered" and found["billable_seconds"] == 10


async def test_a_call_whose_party_was_on_a_node_that_died_ends_when_they_do_not_come_back(
    mortal_nodes: Nodes, redis_server: RedisServer
) -> None:
    nodes = mortal_nodes
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    call_id = await answered(bob, alice)  # node b owns it
    await alice.request("call.media", {"call_id": call_id, "state": "connected"})
    await bob.expect("call.connected", call_id=call_id)

    await nodes.a.stop()  # alice's node dies, and alice never comes back
    on_b = nodes.b.app_context
    for _ in range(100):  # node b sees node a dead
        if "node-a" not in await live_view(on_b):
            break
        await asyncio.sleep(0.1)
    # the owner's check (run by every checkpoint, here also by hand so that the test does
    # not depend on when the loop gets to run): alice's device is gone …
    assert await do_watch_devices(on_b) == 0
    assert not bob.has("call.ended", call_id=call_id)
    await nodes.advance(GRACE_S)  # … for the whole grace period: the call ends
    await do_watch_devices(on_b)
    ended = await bob.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "connection_lost")
    found = await record(nodes.b, bob.token, call_id)
    assert found["billable_seconds"] == GRACE_S
    assert await status_of(on_b, alice.hello["user"]["user_id"]) == "offline"


async def test_a_dead_nodes_directory_entries_go_once_its_devices_had_their_grace_period(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """The sweep keeps a dead node's device entries (offline) for the reconnect grace period,
    so that a device resuming on another node is still recognised, then deletes them."""
    async with two_nodes(
        "postgres",
        tmp_path,
        redis_server.url,
        reconnect_grace_s=1.5,
        **MORTAL,
    ) as nodes:
        alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
        bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
        await nodes.a.stop()
        shared = Redis.from_url(redis_server.url)
        try:
            alice_key = f"yuntong:dev:{alice.hello['user']['user_id']}"
            assert await shared.hkeys(alice_key) == [b"alice"]  # kept, offline
            assert await status_of(nodes.b.app_context, alice.hello["user"]["user_id"]) == (
                "offline"
            )
            for _ in range(100):  # the sweep runs every dead-after period (1 s here)
                if not await shared.exists("yuntong:devnode:node-a"):
                    break
                await asyncio.sleep(0.1)
            assert await shared.hkeys(alice_key) == []
            assert not await shared.exists("yuntong:devnode:node-a")
            assert await shared.hkeys(f"yuntong:dev:{bob.hello['user']['user_id']}") == [b"bob"]
        finally:
            await shared.aclose()


async def test_a_device_back_from_a_dead_node_is_told_the_calls_that_ended_meanwhile(
    mortal_nodes: Nodes,
) -> None:
    nodes = mortal_nodes
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    call_id = await answered(bob, alice)

    await nodes.a.stop()  # alice's node dies …
    await alice.closed.wait()
    await nodes.advance(2)
    await bob.request("call.hangup", {"call_id": call_id})  # … and the hang-up finds no one
    await bob.expect("call.ended", call_id=call_id)
    # the sweep has seen node a dead before alice is back: her entry is kept (grace period)
    on_b = nodes.b.app_context
    for _ in range(100):
        if "node-a" not in await live_view(on_b):
            break
        await asyncio.sleep(0.1)
    await forget_dead_devices(on_b, at_start=False)

    alice.ws_url = nodes.b.ws_url
    await alice.connect(resume=True)
    assert (alice.hello["resumed"], alice.hello["resync"]) == (True, True)
    ended = await alice.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"], ended["billable_seconds"]) == (
        "answered",
        "hangup",
        2,
    )


async def test_users_on_the_other_node_can_be_called_again_soon_after_redis_restarted_empty(
    nodes: Nodes, redis_server: RedisServer
) -> None:
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    bob_id = bob.hello["user"]["user_id"]
    assert await status_of(nodes.a.app_context, bob_id) == "online"
    redis_server.restart()  # nothing on disk: the device directory is gone
    # node b puts bob's device back within a keepalive or two: he is online, and rings (the
    # buses reconnect on the test's clock)
    for _ in range(50):
        await nodes.advance(1)
        if await _online(nodes.a, bob_id) and all(
            getattr(n.app_context.bus, "connected", False) for n in (nodes.a, nodes.b)
        ):
            break
        await asyncio.sleep(0.2)
    assert await _online(nodes.a, bob_id)
    ack = await alice.request(
        "call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP}
    )
    assert "ended" not in ack, ack
    await bob.expect("call.incoming", call_id=ack["call_id"])
    await alice.request("call.cancel", {"call_id": ack["call_id"]})
    await bob.expect("call.ended", call_id=ack["call_id"])


async def _online(node: InProcessServer, user_id: int) -> bool:
    return await status_of(node.app_context, user_id) == "online"


async def test_a_device_moving_while_its_old_node_is_slow_to_hand_over_still_hears_the_end(
    nodes: Nodes,
) -> None:
    """A resume asks the node the device left for its buffer: a node that died a moment ago
    still counts as alive and is asked until the forward times out. A call that ends in those
    seconds is told to the device once it is here."""
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    call_id = await answered(alice, bob)
    await bob.request("call.media", {"call_id": call_id, "state": "connected"})
    await bob.expect("call.connected", call_id=call_id)
    b_handlers = forwarding_of(nodes.b.app_context).handlers
    hand_over = b_handlers[HAND_OVER]
    asked = asyncio.Event()

    async def slow(payload: dict[str, Any]) -> dict[str, Any] | None:
        asked.set()
        await asyncio.sleep(1.0)
        return None  # as if it had died: nothing handed over

    b_handlers[HAND_OVER] = slow
    try:
        await bob.drop()
        bob.ws_url = nodes.a.ws_url
        resuming = asyncio.create_task(bob.connect(resume=True))
        await asyncio.wait_for(asked.wait(), 5)
        await alice.request("call.hangup", {"call_id": call_id})  # while node a waits for b
        await resuming
    finally:
        b_handlers[HAND_OVER] = hand_over
    assert bob.hello["resumed"] is True
    ended = await bob.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "hangup")


async def test_a_callee_logged_out_through_the_other_node_ends_the_call_at_once(
    nodes: Nodes,
) -> None:
    """The logout reaches the callee's node through the bus; ending the call there means
    asking the owner node, whose answer comes through the bus too (it must not wait behind
    the logout it answers)."""
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    call_id = await answered(alice, bob)
    async with httpx.AsyncClient(base_url=nodes.a.url) as http:  # node a, not bob's node
        resp = await http.post(
            "/api/v1/auth/logout", headers={"Authorization": f"Bearer {bob.token}"}
        )
    assert resp.status_code in (200, 204), resp.text
    await bob.closed.wait()
    ended = await alice.expect("call.ended", call_id=call_id, timeout=2)
    assert (ended["outcome"], ended["reason"]) == ("failed", "connection_lost")


async def taken_over(nodes: Nodes, call_id: str) -> None:
    """Wait until node b runs ``call_id``, taken over from node a (the sweep, every second)."""
    for _ in range(100):
        if call_id in engine_of(nodes.b.app_context).calls:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"node b did not take {call_id} over")


async def stall_keepalive(node: InProcessServer) -> None:
    """Node ``node`` stops renewing its keepalive, as a stalled process (SIGSTOP, a long pause)
    would: the others take it for dead. Its sockets and the rest of it go on."""
    state = node_of(node.app_context)
    assert state.task is not None
    state.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await state.task


def resume_keepalive(node: InProcessServer) -> None:
    state = node_of(node.app_context)
    state.task = asyncio.create_task(cluster_nodes._keepalive(node.app_context))


async def test_a_node_taken_for_dead_while_stalled_lets_the_survivor_end_its_call(
    mortal_nodes: Nodes,
) -> None:
    """Node a owns a call and stalls past its keepalive: node b takes the call over. When node
    a comes back it still holds the call in memory; the caller's hang-up, on node a, must
    reach the call's owner now (node b) and end it once, billed from the answer to the
    hang-up — node a must not end it on its own record (fenced) nor leave node b holding it."""
    nodes = mortal_nodes
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    call_id = await answered(alice, bob)  # node a took the invite: it owns the call
    await bob.request("call.media", {"call_id": call_id, "state": "connected"})
    await alice.expect("call.connected", call_id=call_id)
    await nodes.advance(2)

    await stall_keepalive(nodes.a)
    await taken_over(nodes, call_id)
    on_a = nodes.a.app_context
    assert call_id in engine_of(on_a).calls  # node a does not know yet …
    assert in_doubt(on_a)  # … but knows it may have been taken for dead
    await nodes.advance(3)

    resume_keepalive(nodes.a)
    await alice.request("call.hangup", {"call_id": call_id})  # alice's socket is on node a
    ended = await bob.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "hangup")
    assert ended["hung_up_by"] == alice.hello["user"]["user_id"]
    assert (await alice.expect("call.ended", call_id=call_id))["billable_seconds"] == 5
    assert call_id not in engine_of(on_a).calls
    assert call_id not in engine_of(nodes.b.app_context).calls
    found = await record(nodes.a, alice.token, call_id)
    assert (found["outcome"], found["billable_seconds"]) == ("answered", 5)
    await asyncio.sleep(0.3)  # nothing else comes: the call ended once
    assert not alice.has("call.ended", call_id=call_id)
    assert not bob.has("call.ended", call_id=call_id)
    for _ in range(50):  # and node a, settled, is no longer in doubt
        if not in_doubt(on_a):
            break
        await asyncio.sleep(0.1)
    assert not in_doubt(on_a)


async def test_a_prepaid_call_taken_over_from_a_dead_node_is_still_cut_off_on_time(
    mortal_nodes: Nodes,
) -> None:
    """60.00 a minute, 1/1 increments, 10.00 in hand: the call may last 10 s. Its node dies
    4 s in; the node that takes it over warns and ends it when the balance runs out, 10 s
    after the answer — not never."""
    nodes = mortal_nodes
    desk = await Desk(nodes.a).start()
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    await desk.prepaid(alice, await desk.package("6000"), "10.00")
    call_id = await connected_call(alice, bob)  # a video call: charged on this package
    await alice.expect("call.connected", call_id=call_id)
    await nodes.advance(4)

    await nodes.a.stop()  # the call's node dies; alice comes back on node b
    await alice.closed.wait()
    alice.ws_url = nodes.b.ws_url
    await alice.connect(resume=True)
    await taken_over(nodes, call_id)
    await nodes.advance(5.9)
    assert not bob.has("call.ended", call_id=call_id)
    await nodes.advance(0.1)
    ended = await bob.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "credit_exhausted")
    assert ended["billable_seconds"] == 10
    await alice.expect("call.ended", call_id=call_id)
    found = await record(nodes.b, bob.token, call_id)
    assert (found["outcome"], found["billable_seconds"]) == ("answered", 10)


async def test_a_stalled_nodes_late_end_of_a_call_closed_by_the_survivor_changes_nothing(
    mortal_nodes: Nodes,
) -> None:
    """The fence itself: node a owns a ringing call and stalls; node b closes the call as
    interrupted and tells both parties. Node a then ends the call on its own (its ring
    time-out) without having noticed the lapse: its write finds the record closed by another
    node and changes nothing, and nobody is told a second, different outcome."""
    nodes = mortal_nodes
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    call_id = await place(alice, bob)  # ringing, owned by node a

    await stall_keepalive(nodes.a)
    ended = await bob.expect("call.ended", call_id=call_id, timeout=10)  # node b's sweep
    assert ended["outcome"] == "interrupted"
    assert (await alice.expect("call.ended", call_id=call_id))["outcome"] == "interrupted"
    on_a = nodes.a.app_context
    assert call_id in engine_of(on_a).calls
    state = node_of(on_a)
    # node a has not noticed it stalled (and does not before its timer fires)
    state.renewed_at = state.clock.now() + timedelta(hours=1)
    state.unsettled = False
    assert not in_doubt(on_a)

    fenced_before = _fenced_ends()
    await nodes.advance(60)  # node a's ring time-out fires, and its end is fenced
    for _ in range(100):
        if _fenced_ends() > fenced_before:
            break
        await asyncio.sleep(0.1)
    assert _fenced_ends() == fenced_before + 1
    assert call_id not in engine_of(on_a).calls
    await asyncio.sleep(0.3)
    assert not alice.has("call.ended", call_id=call_id)
    assert not bob.has("call.ended", call_id=call_id)
    found = await record(nodes.b, bob.token, call_id)
    assert found["outcome"] == "interrupted"
    resume_keepalive(nodes.a)


def _fenced_ends() -> float:
    """Call ends refused by the fence, on every node of this process (``/metrics``)."""
    return REGISTRY.get_sample_value("yuntong_calls_end_fenced_total") or 0.0


async def test_a_forwarded_call_taken_over_goes_on_with_whom_it_reached_and_bills_its_leg(
    mortal_nodes: Nodes,
) -> None:
    """Alice (node a) calls Bob's number; Bob forwards everything to Carol (node b), who
    answers. Node a dies: node b takes the call over with its forwarded leg, Carol (not Bob,
    whom Alice dialled) is its callee, her hang-up ends it, and Bob's leg is billed the same
    10 s as Alice's call."""
    nodes = mortal_nodes
    ctx = nodes.a.app_context
    staff_name = unique("staff")
    await nodes.a.create_user(staff_name, role="operator_admin")
    staff = principal_for(await directory.find_user_by_username(ctx, staff_name), "", "cli")
    await products.do_add_products(ctx, staff)
    bob_name, carol_name = await nodes.user("bob"), await nodes.user("carol")
    bob = await directory.find_user_by_username(ctx, bob_name)
    carol = await directory.find_user_by_username(ctx, carol_name)
    bob_number = await number_for(nodes.a, bob.id)
    carol_number = await number_for(nodes.a, carol.id)
    await do_place_order(
        ctx, principal_for(bob, "", "web"), None, [products.BY_SERVICE["forwarding"].code]
    )
    async with httpx.AsyncClient(base_url=nodes.a.url) as http:
        resp = await http.put(
            "/api/v1/services",
            json={"cfu": carol_number},
            headers={"Authorization": f"Bearer {await nodes.a.login(bob_name)}"},
        )
    assert resp.status_code == 200, resp.text
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    carol_ws = await nodes.connect(nodes.b, carol_name, "carol")
    ack = await alice.request("call.invite", {"to": bob_number, "media": "audio", "sdp": FAKE_SDP})
    call_id = str(ack["call_id"])
    await carol_ws.expect("call.incoming", call_id=call_id)
    await carol_ws.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.expect("call.answered", call_id=call_id)
    await nodes.advance(4)

    await nodes.a.stop()
    await alice.closed.wait()
    alice.ws_url = nodes.b.ws_url
    await alice.connect(resume=True)
    await taken_over(nodes, call_id)
    await nodes.advance(6)
    await carol_ws.request("call.hangup", {"call_id": call_id})
    done = await alice.expect("call.ended", call_id=call_id)
    assert (done["outcome"], done["reason"]) == ("answered", "hangup")

    async with nodes.b.app_context.db.session() as s:
        call = await s.get(CallRecord, call_id)
        [leg] = await legs_of(s, call_id)
    assert call is not None and call.billable_seconds == 10
    assert (leg.caller_id, leg.callee_id, leg.forwarding) == (bob.id, carol.id, "cfu")
    assert (leg.outcome, leg.end_reason, leg.billable_seconds) == ("answered", "hangup", 10)
