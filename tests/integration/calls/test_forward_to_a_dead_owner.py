"""A node that remembers which node owns a call (from the call's set-up) while that node dies
and a survivor takes the call over: the next command of a party on it goes to the survivor at
once, instead of waiting out the forward time-out on the dead owner first (a hang-up held that
long was recorded, and billed, that much too late: tests/e2e/test_call_across_nodes.py)."""

from __future__ import annotations

import time

from tests.integration.calls.test_calls_across_nodes import answered, nodes
from tests.support.nodes import Nodes
from yuntong.calls.engine import engine_of

__all__ = ["nodes"]  # the fixture


async def test_a_command_skips_a_remembered_owner_that_is_not_alive(nodes: Nodes) -> None:
    alice = await nodes.connect(nodes.a, await nodes.user("alice"), "alice")
    bob = await nodes.connect(nodes.b, await nodes.user("bob"), "bob")
    call_id = await answered(alice, bob)  # owned by node a; node b knows it from the set-up
    on_b = engine_of(nodes.b.app_context)
    # as if node b had learnt the owner before it died and node a then took the call over
    on_b.note_owner(call_id, "node-gone")

    started = time.monotonic()
    await bob.request("call.hangup", {"call_id": call_id})
    took = time.monotonic() - started
    await alice.expect("call.ended", call_id=call_id)
    assert took < nodes.b.app_context.settings.forward_timeout_s / 2, took
    assert "node-gone" not in on_b.owners.values()
