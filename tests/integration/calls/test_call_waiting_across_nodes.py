"""Call waiting across nodes: the callee's first call owned by one node, the waiting call by the
other (two nodes on one PostgreSQL and one private Redis). Waiting is decided by the shared
marks, holding and resuming reach the node that owns the other call, and the first call ending
on its node makes the waiting one ring on as an ordinary call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.nodes import Nodes, two_nodes
from tests.support.redis import RedisServer
from tests.support.wsclient import FAKE_SDP, WsClient
from yuntong.calls.engine import engine_of
from yuntong.supplementary.profile import do_store


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with two_nodes("postgres", tmp_path, redis_server.url) as started:
        yield started


async def invite(caller: WsClient, callee: WsClient) -> dict:
    to = callee.username  # type: ignore[attr-defined]
    ack: dict = await caller.request("call.invite", {"to": to, "media": "audio", "sdp": FAKE_SDP})
    return ack


async def answered(caller: WsClient, callee: WsClient) -> str:
    ack = await invite(caller, callee)
    call_id: str = ack["call_id"]
    await callee.expect("call.incoming", call_id=call_id)
    await callee.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await caller.expect("call.answered", call_id=call_id)
    return call_id


async def people(nodes: Nodes) -> tuple[WsClient, WsClient, WsClient, WsClient]:
    """alice on node a, bob (call waiting on), carol and dave on node b."""
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    carol = await nodes.connect(nodes.b, await nodes.user("carol"), "carol")
    dave = await nodes.connect(nodes.a, await nodes.user("dave"), "dave")
    bob_id = bob.hello["user"]["user_id"]
    await do_store(nodes.a.app_context, bob_id, {"waiting": True}, "test")
    return alice, bob, carol, dave


async def test_a_call_waits_behind_a_call_another_node_owns_and_holding_and_swapping_reach_it(
    nodes: Nodes,
) -> None:
    alice, bob, carol, dave = await people(nodes)
    first = await answered(alice, bob)  # owned by node a
    ack = await invite(carol, bob)  # owned by node b
    second = ack["call_id"]
    assert first in engine_of(nodes.a.app_context).calls
    assert second in engine_of(nodes.b.app_context).calls
    incoming = await bob.expect("call.incoming", call_id=second)
    assert incoming["waiting"] is True
    # one waiting call at most, whichever node a third caller reaches
    refused = await invite(dave, bob)
    assert (refused["ended"]["outcome"], refused["ended"]["reason"]) == ("busy", "in_call")

    await bob.request("call.answer", {"call_id": second, "sdp": FAKE_SDP, "mode": "hold"})
    assert (await alice.expect("call.held", call_id=first))["can_resume"] is False
    assert (await bob.expect("call.held", call_id=first))["can_resume"] is True
    await carol.expect("call.answered", call_id=second)

    await bob.request("call.resume", {"call_id": first})  # swap, across the two nodes
    await alice.expect("call.resumed", call_id=first)
    await carol.expect("call.held", call_id=second)

    await alice.request("call.hangup", {"call_id": first})
    await bob.expect("call.ended", call_id=first)
    await bob.request("call.resume", {"call_id": second})
    await carol.expect("call.resumed", call_id=second)
    await carol.request("call.hangup", {"call_id": second})
    await bob.expect("call.ended", call_id=second)


async def test_the_first_call_ending_on_its_node_makes_the_waiting_call_an_ordinary_one(
    nodes: Nodes,
) -> None:
    alice, bob, carol, _ = await people(nodes)
    first = await answered(alice, bob)
    second = (await invite(carol, bob))["call_id"]
    await bob.expect("call.incoming", call_id=second, waiting=True)
    await alice.request("call.hangup", {"call_id": first})  # on node a
    await bob.expect("call.waiting", call_id=second, waiting=False)
    await bob.request("call.reject", {"call_id": second})  # on node b: declined as usual
    ended = await carol.expect("call.ended", call_id=second)
    assert (ended["outcome"], ended["reason"]) == ("rejected", "rejected")


async def test_of_two_calls_placed_at_once_on_two_nodes_to_a_user_in_a_call_one_waits(
    nodes: Nodes,
) -> None:
    alice, bob, carol, dave = await people(nodes)
    erin = await nodes.connect(nodes.a, await nodes.user("erin"), "erin")
    first = await answered(alice, bob)
    acks = await asyncio.gather(invite(carol, bob), invite(dave, bob))
    waiting = [ack for ack in acks if "ended" not in ack]
    busy = [ack for ack in acks if "ended" in ack]
    assert len(waiting) == 1 and len(busy) == 1, acks
    assert busy[0]["ended"]["outcome"] == "busy"
    await bob.expect("call.incoming", call_id=waiting[0]["call_id"], waiting=True)
    # the waiting call is rejected: a new caller may wait again
    await bob.request("call.reject", {"call_id": waiting[0]["call_id"]})
    again = await invite(erin, bob)
    assert "ended" not in again
    await bob.expect("call.incoming", call_id=again["call_id"], waiting=True)
    await erin.request("call.cancel", {"call_id": again["call_id"]})
    await alice.request("call.hangup", {"call_id": first})
