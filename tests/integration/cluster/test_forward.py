"""A request forwarded to the node that owns what it concerns: answered, refused with the
owner's error as the owner would refuse it, or ``node_unreachable`` when the owner is gone.
Two nodes in the test's loop on one database and one (private) Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.nodes import Nodes, two_nodes
from tests.support.redis import RedisServer
from yuntong.cluster import forward
from yuntong.core.errors import YuntongError


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with two_nodes("postgres", tmp_path, redis_server.url, forward_timeout_s=0.5) as n:
        yield n


async def test_the_owner_answers_and_its_errors_reach_the_asking_node(nodes: Nodes) -> None:
    a, b = nodes.a.app_context, nodes.b.app_context
    seen: list[tuple[str, dict[str, Any]]] = []

    async def echo(payload: dict[str, Any]) -> dict[str, Any]:
        seen.append((b.node_id, payload))
        if payload.get("refuse"):
            raise YuntongError("invalid_transition", state="ended")
        return {"doubled": payload["n"] * 2}

    forward.serve(b, "test.echo", echo)
    assert await forward.ask(a, b.node_id, "test.echo", {"n": 21}) == {"doubled": 42}
    with pytest.raises(YuntongError) as refused:
        await forward.ask(a, b.node_id, "test.echo", {"n": 1, "refuse": True})
    assert refused.value.code == "invalid_transition"
    assert refused.value.message("en") == "Not allowed in the current state (ended)"
    assert seen == [("node-b", {"n": 21}), ("node-b", {"n": 1, "refuse": True})]


async def test_a_request_to_this_node_runs_here_without_the_bus(nodes: Nodes) -> None:
    a = nodes.a.app_context

    async def here(payload: dict[str, Any]) -> dict[str, Any]:
        return {"node": a.node_id, **payload}

    forward.serve(a, "test.here", here)
    assert await forward.ask(a, a.node_id, "test.here", {"x": 1}) == {"node": "node-a", "x": 1}


async def test_a_node_that_does_not_answer_is_unreachable_with_a_retry_hint(
    nodes: Nodes,
) -> None:
    with pytest.raises(YuntongError) as unanswered:
        await forward.ask(nodes.a.app_context, "node-gone", "test.echo", {"n": 1})
    assert unanswered.value.code == "node_unreachable"
    assert unanswered.value.status == 503 and unanswered.value.retry_after == 1
    # a kind the owner does not serve is no hang either
    with pytest.raises(YuntongError) as unserved:
        await forward.ask(nodes.a.app_context, nodes.b.app_context.node_id, "test.nobody", {})
    assert unserved.value.code == "node_unreachable"


async def test_a_handler_of_a_message_from_another_node_may_wait_for_a_forwarded_answer(
    nodes: Nodes,
) -> None:
    """The Redis bus hands received messages out off its reader: a handler that forwards a
    request and awaits the answer (which arrives through the same reader) gets it."""
    a, b = nodes.a.app_context, nodes.b.app_context
    answers: asyncio.Queue[Any] = asyncio.Queue()

    async def echo(payload: dict[str, Any]) -> dict[str, Any]:
        return {"echo": payload["n"]}

    async def on_topic(message: dict[str, Any]) -> None:
        try:
            answers.put_nowait(await forward.ask(a, b.node_id, "test.echo2", message))
        except YuntongError as exc:
            answers.put_nowait(exc.code)

    forward.serve(b, "test.echo2", echo)
    a.bus.subscribe("test.topic", on_topic)
    await asyncio.sleep(0.3)  # a's subscription reaches Redis
    await b.bus.publish("test.topic", {"n": 7})
    assert await asyncio.wait_for(answers.get(), 5) == {"echo": 7}
