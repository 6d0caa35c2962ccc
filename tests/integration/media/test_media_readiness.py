"""``/readyz`` and the Janus a node runs (issue 12): never ready while that Janus is not
healthy, not ready at once when it dies, ready again once it is back; a node that runs no
Janus (turned off, or not installed) does not need one to be ready."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.janus import needs_janus
from tests.support.meetings import janus_env, janus_pid
from tests.support.server import ServerProcess, private_server, wait_for
from yuntong.core.context import Context
from yuntong.media import supervisor

# the default health interval: without the fix, a Janus that is down is noticed only by the
# next 5-s probe
ENV = janus_env(YUNTONG_JANUS_HEALTH_INTERVAL_S="5")


async def readyz(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        reply = await client.get("/readyz")
    return reply.status_code, reply.json()


def local_janus_healthy(body: dict[str, Any]) -> bool:
    healthy: bool = body["checks"].get("janus_nodes", {}).get("local", {}).get("healthy", False)
    return healthy


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    """A server with its own Janus, started just now (Janus may still be starting)."""
    async with private_server(tmp_path, **ENV) as started:
        yield started


@needs_janus
async def test_ready_only_while_the_local_janus_is_healthy(server: ServerProcess) -> None:
    # from the first answer on: ready only with a healthy Janus, and ready within seconds
    seen: list[tuple[int, str, bool]] = []

    async def ready() -> bool:
        status, body = await readyz(server)
        seen.append((status, body["checks"]["janus"], local_janus_healthy(body)))
        return status == 200

    await wait_for(ready, timeout=15, interval=0.05)
    assert all(healthy for status, _, healthy in seen if status == 200), seen
    assert all(check == "unhealthy" for status, check, _ in seen if status == 503), seen
    assert seen[-1][:2] == (200, "ok")

    # Janus dies: not ready at once, not after the next probe; ready again once restarted
    pid = janus_pid(server)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()

    async def unready() -> bool:
        status, body = await readyz(server)
        return status == 503 and body["checks"]["janus"] == "unhealthy"

    await wait_for(unready, timeout=1, interval=0.05)
    assert time.monotonic() - killed < 1

    await wait_for(ready, timeout=15, interval=0.1)
    assert janus_pid(server) != pid
    status, body = await readyz(server)
    assert status == 200 and local_janus_healthy(body)
    assert "billing_worker" in body["checks"]  # still reported beside it


@pytest.mark.parametrize(
    ("settings_overrides", "janus_binary"),
    [({"start_janus": False}, None), ({"start_janus": True}, "no-such-janus-binary")],
    ids=["turned_off", "not_installed"],
)
async def test_a_node_without_a_janus_of_its_own_does_not_need_one_to_be_ready(
    settings_overrides: dict[str, Any],
    janus_binary: str | None,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from yuntong.app import create_app

    if janus_binary is not None:
        monkeypatch.setattr(supervisor, "JANUS_BINARY", janus_binary)
    app = create_app(ctx.settings, clock=ctx.clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        reply = await client.get("/readyz")
    assert reply.status_code == 200
    checks = reply.json()["checks"]
    assert checks["janus"] == "not_required"
    assert checks["media"]["janus"] == ("disabled" if janus_binary is None else "unavailable")
    assert "janus_nodes" not in checks  # no node to place meetings on
