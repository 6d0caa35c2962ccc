"""Servers on Redis (issue 13): ``/readyz`` says whether Redis is there, a Redis outage does not
make a node unready and passes by itself, and a cache invalidation published by another
process reaches a running server over Redis (with the change feed's poller switched off)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import own_database
from tests.integration.core.test_cache_changes_across_processes import block_is_honoured_within
from tests.support.inprocess import Served, inprocess_server
from tests.support.redis import RedisServer
from tests.support.server import ServerProcess, wait_for


async def readyz(server: Served) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        reply = await client.get("/readyz")
        return reply.status_code, reply.json()


async def metric(server: Served, name: str) -> float:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_readyz_reports_a_redis_outage_stays_ready_and_recovers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """On a server whose clock the test moves: the bus's back-off runs on the server's
    clock, so Redis is retried only when time is moved (a real clock just waits)."""
    settings = {"redis_url": redis_server.url, "redis_timeout_s": 1.0, "bus_ping_s": 1.0}
    url = f"sqlite+aiosqlite:///{tmp_path / 'yuntong.db'}"
    async with inprocess_server(tmp_path / "var", url, **settings) as server:
        status, body = await readyz(server)
        assert (status, body["status"], body["checks"]["redis"]) == (200, "ready", "ok")

        redis_server.stop(kill=True)

        async def outage_reported() -> dict[str, Any] | None:
            status, body = await readyz(server)
            assert (status, body["status"]) == (200, "ready")  # serving what it can
            return body if body["checks"]["redis"] != "ok" else None

        body = await wait_for(outage_reported, timeout=10)
        assert body["checks"]["redis"].startswith("unavailable: ")

        redis_server.start()

        async def recovered() -> bool:
            await server.advance(1.0)  # the back-off: 0.1 s, doubling, jittered
            _, body = await readyz(server)
            return bool(body["checks"]["redis"] == "ok")

        await wait_for(recovered, timeout=10)
        assert await metric(server, "yuntong_bus_reconnects_total") >= 1.0
        assert await metric(server, "yuntong_bus_connected") == 1.0


async def test_a_node_without_redis_reports_no_redis_check(live_server: ServerProcess) -> None:
    status, body = await readyz(live_server)
    assert status == 200
    assert "redis" not in body["checks"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_block_by_another_process_reaches_a_server_over_redis_alone(
    backend: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """As test_cache_changes_across_processes, with the server's change-feed poller off
    (``change_poll_s`` 0): only the Redis bus can tell it the block list changed."""
    settings = {"redis_url": redis_server.url, "change_poll_s": 0}
    async with (
        own_database(backend, tmp_path) as url,
        inprocess_server(tmp_path / "var", url, **settings) as server,
    ):
        await block_is_honoured_within(server, 3.0)
