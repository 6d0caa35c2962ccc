"""A held call outlives the node that owned it: who holds it is in the shared store
(``call_holds``), so the node that takes the call over knows it is held and by whom, the
holder's resume works there, and the hold is recorded in full (two nodes on one PostgreSQL and
one private Redis; node a stopped as a dead node is)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.calls.test_calls_across_nodes import (
    GRACE_S,
    MORTAL,
    answered,
    record,
    taken_over,
)
from tests.support.nodes import Nodes, two_nodes
from tests.support.redis import RedisServer
from tests.support.wsclient import FAKE_SDP, WsError
from yuntong.calls.engine import engine_of
from yuntong.supplementary.profile import do_store


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with two_nodes(
        "postgres", tmp_path, redis_server.url, reconnect_grace_s=GRACE_S, **MORTAL
    ) as started:
        yield started


async def test_a_call_held_when_its_node_dies_stays_held_by_its_holder_on_the_node_taking_it_over(
    nodes: Nodes,
) -> None:
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    carol = await nodes.connect(nodes.b, await nodes.user("carol"), "carol")
    bob_id = bob.hello["user"]["user_id"]
    await do_store(nodes.a.app_context, bob_id, {"waiting": True}, "test")
    first = await answered(alice, bob)  # node a owns it
    await bob.request("call.media", {"call_id": first, "state": "connected"})
    await alice.expect("call.connected", call_id=first)
    start = nodes.clock.now()
    await nodes.advance(2)
    second = (
        await carol.request("call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP})  # type: ignore[attr-defined]
    )["call_id"]  # node b owns it
    await bob.expect("call.incoming", call_id=second, waiting=True)
    await bob.request("call.answer", {"call_id": second, "sdp": FAKE_SDP, "mode": "hold"})
    await alice.expect("call.held", call_id=first)  # held on node a, through bob's node b
    await carol.expect("call.answered", call_id=second)
    await nodes.advance(2)

    await nodes.a.stop()  # the held call's node dies; alice comes back on node b
    await alice.closed.wait()
    alice.ws_url = nodes.b.ws_url
    await alice.connect(resume=True)
    await taken_over(nodes, first)
    assert engine_of(nodes.b.app_context).calls[first].holders == {bob_id}
    with pytest.raises(WsError) as refused:  # bob's hold, not alice's, survived
        await alice.request("call.resume", {"call_id": first})
    assert refused.value.code == "call_not_held"
    await nodes.advance(2)

    await bob.request("call.resume", {"call_id": first})  # a swap, on the node that took it
    resumed = await alice.expect("call.resumed", call_id=first)
    assert (resumed["on_hold"], resumed["can_resume"]) == (False, False)
    await carol.expect("call.held", call_id=second)
    await nodes.advance(1)
    await alice.request("call.hangup", {"call_id": first})
    await bob.expect("call.ended", call_id=first)
    await carol.request("call.hangup", {"call_id": second})
    await bob.expect("call.ended", call_id=second)

    def seconds(value: str | None) -> float | None:
        return None if value is None else (datetime.fromisoformat(value) - start).total_seconds()

    found = await record(nodes.b, bob.token, first)
    assert found["billable_seconds"] == 7
    holds = [
        (h["held_by"], seconds(h["started_at"]), seconds(h["ended_at"])) for h in found["holds"]
    ]
    assert holds == [("self", 2, 6)]
    held_second = await record(nodes.b, carol.token, second)
    holds = [
        (h["held_by"], seconds(h["started_at"]), seconds(h["ended_at"]))
        for h in held_second["holds"]
    ]
    assert holds == [("other", 6, 7)]  # bob's hold of carol, closed by her hang-up
