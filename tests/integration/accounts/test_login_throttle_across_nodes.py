"""Wrong passwords are counted across nodes: guesses spread over two nodes (one database, one
private Redis) are held off at the same count, with the same answer, as on one node. While
Redis is down each node counts on its own (never unlimited, never everyone locked out); when
it returns, counting is shared again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.inprocess import InProcessServer
from tests.support.nodes import Nodes, two_nodes
from tests.support.redis import RedisServer
from yuntong.core.shared import RETRY_S

PASSWORD = "correct horse battery"
PAIR = 3  # wrong passwords for one account from one client, then that client waits
LOCKOUT_MINUTES = 15


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with two_nodes(
        "postgres",
        tmp_path,
        redis_server.url,
        login_max_failures=PAIR,
        login_lockout_minutes=LOCKOUT_MINUTES,
    ) as started:
        yield started


async def attempt(node: InProcessServer, username: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=node.url) as http:
        return await http.post(
            "/api/v1/auth/login",
            json={"username": username, "password": password, "kind": "api"},
            headers={"Accept-Language": "en"},
        )


def code(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


async def test_guesses_spread_over_two_nodes_are_held_off_at_the_configured_count(
    nodes: Nodes,
) -> None:
    alice = await nodes.user("alice")
    answers = [
        await attempt(node, alice, f"guess {n}")
        for n, node in enumerate([nodes.a, nodes.b, nodes.a, nodes.b, nodes.a])
    ]
    assert [code(r) for r in answers[:PAIR]] == ["invalid_credentials"] * PAIR
    for held in answers[PAIR:]:
        assert (held.status_code, code(held)) == (429, "rate_limited")
        assert held.json()["error"]["message"] == "Too many attempts; try again later"
        assert 0 < int(held.headers["Retry-After"]) <= LOCKOUT_MINUTES * 60
        assert held.json()["error"]["retry_after"] == int(held.headers["Retry-After"])
    # held off on both nodes, even with the right password, until the lock-out is over
    for node in (nodes.a, nodes.b):
        assert (await attempt(node, alice, PASSWORD)).status_code == 429
    await nodes.advance(LOCKOUT_MINUTES * 60)
    assert (await attempt(nodes.b, alice, PASSWORD)).status_code == 200


async def test_while_redis_is_down_each_node_counts_alone_and_shares_again_when_it_returns(
    nodes: Nodes, redis_server: RedisServer
) -> None:
    bob, carol = await nodes.user("bob"), await nodes.user("carol")
    redis_server.stop(kill=True)
    answers = [await attempt(nodes.a, bob, f"guess {n}") for n in range(PAIR + 1)]
    assert [code(r) for r in answers] == ["invalid_credentials"] * PAIR + ["rate_limited"]
    # node B never saw them: its own count starts at nothing
    assert code(await attempt(nodes.b, bob, "guess on b")) == "invalid_credentials"
    assert (await attempt(nodes.b, carol, PASSWORD)).status_code == 200

    redis_server.start()
    await asyncio.sleep(RETRY_S)  # the nodes try Redis again after this long
    answers = [
        await attempt(node, carol, f"guess {n}")
        for n, node in enumerate([nodes.a, nodes.b, nodes.a, nodes.b])
    ]
    assert [code(r) for r in answers] == ["invalid_credentials"] * PAIR + ["rate_limited"]
