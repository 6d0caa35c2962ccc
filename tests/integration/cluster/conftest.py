"""Nodes on one database: contexts of their own (each a node id, a var folder, short keepalive
and lease times), a database per module and backend, and a node in a child process that a
test can kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import make_settings, own_database, unique
from yuntong.cluster import nodes
from yuntong.config import Settings
from yuntong.core.clock import Clock, FrozenClock
from yuntong.core.context import Context, close_context
from yuntong.core.migrate import upgrade
from yuntong.models import Base
from yuntong.services import build_context

KEEPALIVE_S = 0.1
DEAD_AFTER_S = 0.6
LEASE_S = 1.0
FAST = {
    "node_keepalive_s": KEEPALIVE_S,
    "node_dead_after_s": DEAD_AFTER_S,
    "job_lease_s": LEASE_S,
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def cluster_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated database of each backend for this module's nodes alone (no server of
    another test runs jobs or sweeps on it)."""
    async with own_database(request.param, tmp_path_factory.mktemp("cluster")) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def node_factory(cluster_db: str, tmp_path: Path) -> AsyncIterator[Any]:
    """``await make(**settings)``: a context as a separate node on ``cluster_db`` (not started
    as a node: a test starts it with ``nodes.start``). Every one is stopped and closed, and
    the database emptied, afterwards."""
    made: list[Context] = []

    async def make(clock: Clock | None = None, **overrides: Any) -> Context:
        node_id = overrides.pop("node_id", unique("node"))
        settings = make_settings(
            tmp_path / node_id, cluster_db, node_id=node_id, **{**FAST, **overrides}
        )
        ctx = build_context(settings, clock=clock or FrozenClock())
        made.append(ctx)
        return ctx

    try:
        yield make
    finally:
        for ctx in made:
            await nodes.stop(ctx)
        if made:
            async with made[0].db.session() as s:
                for table in reversed(Base.metadata.sorted_tables):
                    await s.execute(text(f"DELETE FROM {table.name}"))
        for ctx in made:
            await close_context(ctx)


CHILD = """
import asyncio, sys
from yuntong.cluster import jobs, nodes
from yuntong.config import load_settings
from yuntong.services import build_context

async def main() -> None:
    ctx = build_context(load_settings())
    await nodes.start(ctx, "serve")
    job = sys.argv[1]
    if job:
        async with jobs.singleton(ctx, job) as lease:
            assert lease is not None, "the job is held elsewhere"
            print(f"holding {lease.fence}", flush=True)
            await asyncio.Event().wait()
    print("alive", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


class ChildNode:
    """A node in a process of its own (optionally holding a singleton job), to be killed."""

    def __init__(self, settings: Settings, job: str = "") -> None:
        src = Path(__file__).resolve().parents[3] / "src"
        env = {
            **os.environ,
            "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "YUNTONG_VAR_DIR": str(settings.var_dir),
            "YUNTONG_DATABASE_URL": settings.database_url,
            "YUNTONG_REDIS_URL": settings.redis_url,
            "YUNTONG_NODE_ID": settings.node_id,
            "YUNTONG_NODE_KEEPALIVE_S": str(settings.node_keepalive_s),
            "YUNTONG_NODE_DEAD_AFTER_S": str(settings.node_dead_after_s),
            "YUNTONG_JOB_LEASE_S": str(settings.job_lease_s),
            "YUNTONG_LOG_LEVEL": "WARNING",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, job], stdout=subprocess.PIPE, env=env
        )

    async def ready(self, timeout: float = 60.0) -> str:
        """The child's first line (``alive``, or ``holding <fence>``)."""
        assert self.proc.stdout is not None
        while True:  # log lines come first
            line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)
            if not line:
                raise RuntimeError(f"the child node exited ({self.proc.wait()})")
            text = line.decode().strip()
            if text == "alive" or text.startswith("holding "):
                return text

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def child_node() -> Iterator[Any]:
    """``child_node(settings, job="")``: a node with these settings (those of a context the
    test does not start itself) in a child process, killed afterwards."""
    started: list[ChildNode] = []

    def start(settings: Settings, job: str = "") -> ChildNode:
        child = ChildNode(settings, job)
        started.append(child)
        return child

    yield start
    for child in started:
        with contextlib.suppress(Exception):
            child.kill()
