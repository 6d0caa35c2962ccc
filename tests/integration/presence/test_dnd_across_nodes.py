"""Do-not-disturb switched on one node is seen at once on every other (two nodes, one database,
one private Redis), also while Redis is down (then read from the user's row)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.nodes import Nodes, two_nodes
from tests.support.redis import RedisServer
from tests.support.wsclient import FAKE_SDP
from yuntong.presence.service import status_of


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with two_nodes("postgres", tmp_path, redis_server.url) as started:
        yield started


async def test_do_not_disturb_set_on_one_node_turns_callers_away_on_the_other_at_once(
    nodes: Nodes,
) -> None:
    bob = await nodes.user("bob")
    bob_a = await nodes.connect(nodes.a, bob, "bob-a")
    bob_b = await nodes.connect(nodes.b, bob, "bob-b")
    carol = await nodes.connect(nodes.b, await nodes.user("carol"), "carol")
    bob_id = bob_a.hello["user"]["user_id"]
    on_b = nodes.b.app_context
    assert await status_of(on_b, bob_id) == "online"

    assert (await bob_a.request("presence.set", {"status": "dnd"}))["status"] == "dnd"
    assert await status_of(on_b, bob_id) == "dnd"
    ack = await carol.request("call.invite", {"to": bob, "media": "audio", "sdp": FAKE_SDP})
    assert (ack["ended"]["outcome"], ack["ended"]["reason"]) == ("busy", "dnd")
    assert not bob_b.has("call.incoming", call_id=ack["call_id"])

    assert (await bob_a.request("presence.set", {"status": "online"}))["status"] == "online"
    assert await status_of(on_b, bob_id) == "online"
    ack = await carol.request("call.invite", {"to": bob, "media": "audio", "sdp": FAKE_SDP})
    assert "ended" not in ack
    await bob_b.expect("call.incoming", call_id=ack["call_id"])


async def test_while_redis_is_down_do_not_disturb_is_read_from_the_users_row(
    nodes: Nodes, redis_server: RedisServer
) -> None:
    bob = await nodes.user("bob")
    bob_a = await nodes.connect(nodes.a, bob, "bob-a")
    await nodes.connect(nodes.b, bob, "bob-b")
    bob_id = bob_a.hello["user"]["user_id"]
    on_b = nodes.b.app_context
    assert await status_of(on_b, bob_id) == "online"  # cached in Redis as "off"

    redis_server.stop(kill=True)
    assert (await bob_a.request("presence.set", {"status": "dnd"}))["status"] == "dnd"
    assert await status_of(on_b, bob_id) == "dnd"

    redis_server.start()  # empty: filled again from the users' rows
    assert (await bob_a.request("presence.set", {"status": "online"}))["status"] == "online"
    assert await status_of(on_b, bob_id) == "online"
