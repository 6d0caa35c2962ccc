"""The Janus nodes this node places meetings on, their health and load.

A meeting lives on one node; a new one goes to the least-loaded healthy node (load: the
participants in its VideoRoom rooms). Each node is probed every
``janus_health_interval_s`` over a Janus session of its own: a node that does not answer is
unhealthy until it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from yuntong.config import JanusNode
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.media.janus import (
    VIDEOROOM,
    JanusClient,
    JanusHandle,
    JanusSession,
    janus_token,
)

log = get_logger(__name__)
POOL = "media.janus_pool"  # ctx.extras key
TOKEN_TTL_S = 24 * 3600


@dataclass
class NodeState:
    """What the pool knows of one node; ``load`` is its participant count at the last probe."""

    config: JanusNode
    timeout_s: float = 3.0  # a probe not answered in this time marks the node unhealthy
    healthy: bool = False
    load: int = 0
    rooms: int = 0
    last_error: str = ""
    _client: JanusClient | None = field(default=None, repr=False)
    _session: JanusSession | None = field(default=None, repr=False)
    _handle: JanusHandle | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    def token(self) -> str | None:
        secret = self.config.token_secret
        if secret is None:
            return None
        return janus_token(secret.get_secret_value(), datetime.now(UTC), TOKEN_TTL_S)

    async def probe(self) -> None:
        """Count this node's participants; any failure marks it unhealthy.

        The rooms meetings create are private: Janus lists them only to a request that
        carries the VideoRoom ``admin_key`` (and refuses a wrong one, which marks the node
        unhealthy: no meeting could be created there either).
        """
        admin_key = self.config.videoroom_admin_key.get_secret_value()
        try:
            handle = await self._probe_handle()
            listed = await handle.request({"request": "list", "admin_key": admin_key})
        except YuntongError as exc:
            self.healthy, self.last_error = False, str(exc)
            await self.disconnect()
            return
        rooms = listed.get("list", [])
        self.healthy, self.last_error = True, ""
        self.rooms = len(rooms)
        self.load = sum(int(room.get("num_participants", 0)) for room in rooms)

    async def _probe_handle(self) -> JanusHandle:
        if (
            self._handle is not None
            and self._session is not None
            and not self._session.ended.is_set()
        ):
            return self._handle
        await self.disconnect()
        self._client = await JanusClient.connect(
            self.config.url, self.token(), timeout_s=self.timeout_s
        )
        self._session = await self._client.create_session()
        self._handle = await self._session.attach(VIDEOROOM)
        return self._handle

    async def disconnect(self) -> None:
        client, self._client, self._session, self._handle = self._client, None, None, None
        if client is not None:
            with contextlib.suppress(YuntongError, OSError):
                await client.close()


class JanusPool:
    """The nodes, probed in the background; :meth:`pick` chooses where a meeting goes."""

    def __init__(self, nodes: list[JanusNode], interval_s: float) -> None:
        if len({n.name for n in nodes}) != len(nodes):
            raise ValueError("Janus node names must be unique")
        timeout_s = min(3.0, interval_s)
        self.nodes = {n.name: NodeState(n, timeout_s) for n in nodes}
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        await asyncio.gather(*(node.probe() for node in self.nodes.values()))

    def pick(self) -> NodeState:
        """The healthy node with the fewest participants (then the fewest rooms, then name)."""
        healthy = [n for n in self.nodes.values() if n.healthy]
        if not healthy:
            raise YuntongError("janus_unavailable")
        return min(healthy, key=lambda n: (n.load, n.rooms, n.name))

    def status(self) -> dict[str, dict[str, object]]:
        return {
            n.name: {"healthy": n.healthy, "participants": n.load, "rooms": n.rooms}
            for n in self.nodes.values()
        }

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="janus-pool")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*(node.disconnect() for node in self.nodes.values()))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.refresh()
            except Exception:  # a probe must never end the loop
                log.exception("janus_pool_refresh_failed")


def pool_nodes(ctx: Context) -> list[JanusNode]:
    """The configured remote nodes, or the local Janus this node runs."""
    from yuntong.media.supervisor import LOCAL_JANUS, LocalJanus

    if ctx.settings.janus_nodes:
        return list(ctx.settings.janus_nodes)
    local: LocalJanus | None = ctx.extras.get(LOCAL_JANUS)
    if local is None:
        return []
    return [local.as_node()]
