"""Three ``yuntong serve`` nodes on one PostgreSQL database and one Redis, behind a real
HAProxy doing round-robin without sticky sessions (the set-up of docs/operations.md, "Several
nodes"): a user logs in through the balancer and every node serves the session; a node killed
with SIGKILL is taken out of rotation by the health checks and no request fails for long,
and the survivors see it dead."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from tests.conftest import own_database, unique
from tests.support.cluster import cluster


async def test_any_node_serves_a_session_and_a_killed_node_leaves_rotation(
    tmp_path: Path,
) -> None:
    async with (
        own_database("postgres", tmp_path) as url,
        cluster(tmp_path / "cluster", url, count=3) as nodes,
    ):
        name = unique("lb")
        await nodes.nodes[0].create_user(name)
        async with httpx.AsyncClient(base_url=nodes.url, timeout=5) as lb:
            resp = await lb.post(
                "/api/v1/auth/login",
                json={"username": name, "password": "correct horse battery", "kind": "api"},
            )
            assert resp.status_code == 200, resp.text
            auth = {"Authorization": f"Bearer {resp.json()['token']}"}

            # the session made through one node works on each node, directly and round-robin;
            # each node is on Redis and sees the three servers alive
            servers = {"node1", "node2", "node3"}
            for index, node in enumerate(nodes.nodes):
                async with httpx.AsyncClient(base_url=node.url, timeout=5) as direct:
                    me = await direct.get("/api/v1/me", headers=auth)
                    assert me.status_code == 200, me.text
                    assert me.json()["user"]["username"] == name
                    checks = (await direct.get("/readyz")).json()["checks"]
                    assert checks["redis"] == "ok"
                    assert checks["nodes"]["self"] == f"node{index + 1}"
                    assert servers <= set(checks["nodes"]["live"])
            for _ in range(6):
                assert (await lb.get("/api/v1/me", headers=auth)).status_code == 200

            # a node dies: within the health checks' fall time the balancer stops sending to it
            nodes.nodes[1].stop(signal.SIGKILL)
            await asyncio.sleep(1.0)  # 2 failed checks, 300 ms apart
            started = time.monotonic()
            statuses = [(await lb.get("/api/v1/me", headers=auth)).status_code for _ in range(12)]
            assert statuses == [200] * 12, statuses
            assert time.monotonic() - started < 10

            # the survivors see it dead once its keepalive lapsed (node_dead_after_s, 5 s)
            async with httpx.AsyncClient(base_url=nodes.nodes[0].url, timeout=5) as survivor:
                deadline = time.monotonic() + 15
                while True:
                    live = (await survivor.get("/readyz")).json()["checks"]["nodes"]["live"]
                    if "node2" not in live or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.25)
            assert "node2" not in live
            assert {"node1", "node3"} <= set(live)
