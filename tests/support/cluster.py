"""Several Yuntong nodes for one test: N ``yuntong serve`` children on one PostgreSQL database
and one private Redis, behind a real HAProxy (Debian's) doing round-robin with health checks on
``/readyz`` and WebSocket support, no sticky sessions — the set-up docs/operations.md
("Several nodes") describes, on loopback. Everything started is stopped on every path."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.redis import RedisServer
from tests.support.server import ServerProcess, free_port
from yuntong.config import SECRETS_FILE

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

# a dead node is seen in 2 s and swept within 2 s more, its leases lapse in 3 s: what a test
# that kills a node mid-call runs with (the defaults take 15 s)
FAST_FAILOVER = {
    "YUNTONG_NODE_KEEPALIVE_S": "0.5",
    "YUNTONG_NODE_DEAD_AFTER_S": "2",
    "YUNTONG_JOB_LEASE_S": "3",
}

# maxconn: bench/cluster.py's failover holds 5,000 sessions through it; each connection takes
# two descriptors, so 2 × maxconn stays under the usual open-files limit (20,000)
HAPROXY_CONFIG = """\
global
    maxconn 9000
defaults
    mode http
    maxconn 9000
    option http-server-close
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout check 2s
    option redispatch
    retries 2
frontend yuntong
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""


class LoadBalancer:
    """HAProxy in the foreground (``-db``), its config written into ``folder``."""

    def __init__(self, folder: Path, backends: list[tuple[str, int]]) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.backends = backends
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} check inter 300ms fall 2 rise 1"
            for name, port in self.backends
        )
        config = self.folder / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=servers))
        log = (self.folder / "haproxy.log").open("ab")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy exited: " + (self.folder / "haproxy.log").read_text())
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("haproxy did not forward in time")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Cluster:
    """``nodes`` (ServerProcess, each its own var dir but the same secrets), ``redis``,
    ``balancer``; ``url`` is the balancer's."""

    def __init__(self, folder: Path, database_url: str, count: int, **env: str) -> None:
        self.folder = folder
        self.redis = RedisServer(folder / "redis")
        self.nodes: list[ServerProcess] = []
        self.database_url = database_url
        self.count = count
        self.env = env
        self.balancer: LoadBalancer | None = None

    @property
    def url(self) -> str:
        assert self.balancer is not None
        return self.balancer.url

    def node_id(self, node: ServerProcess) -> str:
        return f"node{self.nodes.index(node) + 1}"

    def node(self, node_id: str) -> ServerProcess:
        return self.nodes[int(node_id.removeprefix("node")) - 1]

    async def holder(self, user_id: int, device_id: str) -> str | None:
        """The node whose socket holds the user's device, as the device directory says."""
        async with Redis.from_url(self.redis.url) as shared:
            value = await shared.hget(f"yuntong:dev:{user_id}", device_id)
        return value.decode().split("|")[0] if value else None

    async def owner(self, call_id: str) -> str | None:
        """The node that owns the call (its record's ``node_id``)."""
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as db:
                owner: str | None = (
                    await db.execute(
                        text("SELECT node_id FROM call_records WHERE id = :id"), {"id": call_id}
                    )
                ).scalar_one()
        finally:
            await engine.dispose()
        return owner

    async def taken_over(self, call_id: str, dead: str, timeout: float = 20.0) -> str | None:
        """The survivor that took the call over from the ``dead`` node (waited for)."""
        deadline = time.monotonic() + timeout
        while (owner := await self.owner(call_id)) == dead:
            assert time.monotonic() < deadline, f"nobody took {call_id} over from {dead}"
            await asyncio.sleep(0.2)
        return owner

    def start(self) -> None:
        self.redis.start()
        secrets: Path | None = None
        for index in range(self.count):
            var_dir = self.folder / f"node{index + 1}"
            if secrets is not None:  # every node shares the first node's keys
                var_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(secrets, var_dir / secrets.name)
            node = ServerProcess(
                var_dir,
                self.database_url,
                YUNTONG_REDIS_URL=self.redis.url,
                YUNTONG_NODE_ID=f"node{index + 1}",
                **self.env,
            )
            self.nodes.append(node)
            if secrets is None:
                node.settings  # noqa: B018  (generates var/secrets.toml)
                secrets = var_dir / SECRETS_FILE
        for node in self.nodes:  # start side by side (migrating is not thread-safe)
            node.spawn()
        for node in self.nodes:
            node.wait_started()
        self.balancer = LoadBalancer(
            self.folder / "haproxy", [(f"node{i + 1}", n.port) for i, n in enumerate(self.nodes)]
        )
        self.balancer.start()

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()
        for node in self.nodes:
            node.stop()
        self.redis.stop()


@asynccontextmanager
async def cluster(
    folder: Path, database_url: str, count: int = 3, **env: str
) -> AsyncIterator[Cluster]:
    """A started cluster, stopped (nodes, balancer, Redis) on every path."""
    nodes = Cluster(folder, database_url, count, **env)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()
        for node in nodes.nodes:
            # shown only when the test failed (pytest shows a failed test's captured output)
            print(f"--- the end of {node.var_dir.name}'s log ---\n{node.log_tail()}")
            await node.aclose()
