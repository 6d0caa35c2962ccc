"""Two Yuntong nodes in the test's loop on one database and one Redis: what several ``yuntong
serve`` processes share, with the clock in the test's hand (one :class:`FakeClock` for both, as
two hosts' clocks agree). Users connect to the node they choose; the bus is still each node's
own, so a test reaches a user on a node through a device on that node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.conftest import own_database, unique
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.wsclient import WsClient
from yuntong.core.clock import FakeClock


@dataclass
class Nodes:
    """Node ``a`` and node ``b``; ``connect`` a user's device to one of them."""

    a: InProcessServer
    b: InProcessServer
    clock: FakeClock
    _tokens: dict[str, str] = field(default_factory=dict)
    _clients: list[WsClient] = field(default_factory=list)

    async def user(self, prefix: str = "n") -> str:
        name = unique(prefix)
        await self.a.create_user(name)
        return name

    async def connect(self, node: InProcessServer, username: str, device: str) -> WsClient:
        if username not in self._tokens:
            self._tokens[username] = await node.login(username)
        client = await WsClient(node.ws_url, self._tokens[username], device).connect()
        client.username = username  # type: ignore[attr-defined]
        self._clients.append(client)
        return client

    async def advance(self, seconds: float) -> None:
        """Move both nodes' clock (their timers fire, the renewal of busy marks among them)."""
        await self.a.advance(seconds)

    async def close_clients(self) -> None:
        for client in self._clients:
            await client.close()
        self._clients.clear()


@asynccontextmanager
async def two_nodes(
    backend: str, folder: Path, redis_url: str, **overrides: Any
) -> AsyncIterator[Nodes]:
    """Two started nodes on a database of their own (``backend``) and the Redis at
    ``redis_url``, with one var folder (so one set of keys), stopped on every path."""
    clock = FakeClock(datetime.now(UTC))
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(own_database(backend, folder))
        servers = []
        for node_id in ("node-a", "node-b"):
            server = await stack.enter_async_context(
                inprocess_server(
                    folder / "var",
                    url,
                    clock=clock,
                    redis_url=redis_url,
                    node_id=node_id,
                    **overrides,
                )
            )
            servers.append(server)
        nodes = Nodes(servers[0], servers[1], clock)
        try:
            yield nodes
        finally:
            await nodes.close_clients()
