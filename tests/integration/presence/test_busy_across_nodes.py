"""Busy is decided once for every node: two nodes on one database and one (private) Redis.

The callee keeps a device on each node, so whichever node rings reaches them; a call placed on
one node makes the callee busy on the other, and ending it frees them there. A node that stops
renewing its marks (stopped, or as good as dead) frees its users within the marks' lifetime.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.support.inprocess import InProcessServer
from tests.support.nodes import Nodes, two_nodes
from tests.support.redis import RedisServer
from tests.support.wsclient import FAKE_SDP, WsClient
from yuntong.core.shared import RedisLink
from yuntong.presence.busy import BUSY_TTL_CHECKPOINTS, RedisBusy
from yuntong.presence.service import status_of

# busy marks live 3 s (real time) unless renewed (a loaded CI machine stalls a loop for a second)
CHECKPOINT_S = 1.0


@pytest.fixture(params=["sqlite", "postgres"])
async def nodes(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> AsyncIterator[Nodes]:
    async with two_nodes(
        request.param, tmp_path, redis_server.url, call_checkpoint_s=CHECKPOINT_S
    ) as started:
        yield started


async def invite(caller: WsClient, callee: str) -> dict:
    ack: dict = await caller.request(
        "call.invite", {"to": callee, "media": "audio", "sdp": FAKE_SDP}
    )
    return ack


async def outcomes(node: InProcessServer, token: str) -> dict[str, str | None]:
    async with httpx.AsyncClient(base_url=node.url) as http:
        resp = await http.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return {item["id"]: item["outcome"] for item in resp.json()["items"]}


async def test_of_two_calls_placed_at_once_on_two_nodes_to_one_user_exactly_one_rings(
    nodes: Nodes,
) -> None:
    bob = await nodes.user("bob")
    bob_a = await nodes.connect(nodes.a, bob, "bob-a")
    bob_b = await nodes.connect(nodes.b, bob, "bob-b")
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    carol = await nodes.connect(nodes.b, await nodes.user("carol"), "carol")
    for _ in range(5):
        acks = await asyncio.gather(invite(alice, bob), invite(carol, bob))
        ringing = [ack for ack in acks if "ended" not in ack]
        refused = [ack for ack in acks if "ended" in ack]
        assert len(ringing) == 1, acks
        (busy,) = refused
        assert (busy["ended"]["outcome"], busy["ended"]["reason"]) == ("busy", "in_call")
        winner, winner_device = (alice, bob_a) if ringing[0] is acks[0] else (carol, bob_b)
        call_id = ringing[0]["call_id"]
        await winner_device.expect("call.incoming", call_id=call_id)
        assert not bob_a.has("call.incoming", call_id=busy["call_id"])
        assert not bob_b.has("call.incoming", call_id=busy["call_id"])
        await winner.request("call.cancel", {"call_id": call_id})
        await winner_device.expect("call.ended", call_id=call_id)
    records = await outcomes(nodes.a, bob_a.token)
    assert sorted(records.values()) == ["busy"] * 5 + ["canceled"] * 5


async def test_a_call_on_one_node_makes_the_callee_busy_on_the_other_until_it_ends(
    nodes: Nodes,
) -> None:
    bob = await nodes.user("bob")
    bob_a = await nodes.connect(nodes.a, bob, "bob-a")
    bob_b = await nodes.connect(nodes.b, bob, "bob-b")
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    carol = await nodes.connect(nodes.b, await nodes.user("carol"), "carol")
    bob_id = bob_a.hello["user"]["user_id"]
    on_b = nodes.b.app_context

    call_id = (await invite(alice, bob))["call_id"]
    await bob_a.expect("call.incoming", call_id=call_id)
    await bob_a.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    assert await status_of(on_b, bob_id) == "busy"
    refused = await invite(carol, bob)
    assert (refused["ended"]["outcome"], refused["ended"]["reason"]) == ("busy", "in_call")

    await alice.request("call.hangup", {"call_id": call_id})
    await alice.expect("call.ended", call_id=call_id)
    assert await status_of(on_b, bob_id) == "online"
    again = await invite(carol, bob)
    assert "ended" not in again
    await bob_b.expect("call.incoming", call_id=again["call_id"])


async def test_a_nodes_busy_marks_live_while_it_renews_them_and_vanish_when_it_stops(
    nodes: Nodes,
) -> None:
    bob = await nodes.user("bob")
    bob_a = await nodes.connect(nodes.a, bob, "bob-a")
    await nodes.connect(nodes.b, bob, "bob-b")
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob_id = bob_a.hello["user"]["user_id"]
    on_b = nodes.b.app_context
    lifetime = BUSY_TTL_CHECKPOINTS * CHECKPOINT_S

    call_id = (await invite(alice, bob))["call_id"]
    await bob_a.expect("call.incoming", call_id=call_id)
    await bob_a.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    for _ in range(int(2 * lifetime / CHECKPOINT_S)):  # twice the lifetime, renewed
        await asyncio.sleep(CHECKPOINT_S)
        await nodes.advance(CHECKPOINT_S)
        assert await status_of(on_b, bob_id) == "busy"

    # node A renews no more (its clock stands still: as a hung or dead node would)
    await asyncio.sleep(lifetime + 0.5)
    assert await status_of(on_b, bob_id) == "online"


async def test_without_redis_each_node_decides_busy_from_its_own_calls_and_shares_them_again_when_it_returns(  # noqa: E501
    nodes: Nodes, redis_server: RedisServer
) -> None:
    bob = await nodes.user("bob")
    bob_a = await nodes.connect(nodes.a, bob, "bob-a")
    await nodes.connect(nodes.b, bob, "bob-b")
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    dave = await nodes.connect(nodes.a, await nodes.user("dave"), "dave")
    carol = await nodes.connect(nodes.b, await nodes.user("carol"), "carol")
    erin = await nodes.connect(nodes.b, await nodes.user("erin"), "erin")
    bob_id = bob_a.hello["user"]["user_id"]
    on_b = nodes.b.app_context
    call_id = (await invite(alice, bob))["call_id"]
    await bob_a.expect("call.incoming", call_id=call_id)
    await bob_a.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})

    redis_server.stop(kill=True)
    # node A still knows its own call; node B cannot see it (docs/operations.md)
    refused = await invite(dave, bob)
    assert (refused["ended"]["outcome"], refused["ended"]["reason"]) == ("busy", "in_call")
    assert await status_of(on_b, bob_id) == "online"
    # and calls go on being placed and answered on either node
    other = await invite(carol, erin.username)  # type: ignore[attr-defined]
    assert "ended" not in other
    await erin.expect("call.incoming", call_id=other["call_id"])

    redis_server.start()  # empty: the marks of live calls come back at their next renewal

    async def shared_again() -> bool:
        await nodes.advance(CHECKPOINT_S)
        return await status_of(on_b, bob_id) == "busy"

    for _ in range(40):
        if await shared_again():
            break
        await asyncio.sleep(0.25)
    else:
        raise AssertionError("node A's busy mark did not come back after Redis returned")
    await alice.request("call.hangup", {"call_id": call_id})
    await alice.expect("call.ended", call_id=call_id)
    assert await status_of(on_b, bob_id) == "online"


async def test_a_renewal_under_way_when_a_call_ends_does_not_keep_its_parties_busy(
    redis_server: RedisServer,
) -> None:
    redis = Redis.from_url(redis_server.url)
    try:
        busy = RedisBusy(RedisLink(redis), ttl_s=60)
        assert await busy.take("c1", [1, 2]) is None
        renew = busy._renew

        async def late(**kwargs: Any) -> Any:  # the call ends while the renewal is on its way
            await busy.release("c1", [1, 2])
            return await renew(**kwargs)

        busy._renew = late  # type: ignore[method-assign]
        await busy.renew()
        assert await redis.mget(["yuntong:busy:1", "yuntong:busy:2"]) == [None, None]
        assert await busy.take("c2", [1, 3]) is None  # user 1 may call again
    finally:
        await redis.aclose()
