"""The Janus nodes this node places meetings on, their health and load.

A meeting lives on one node; a new one goes to the least-loaded healthy node (load: the
participants in its VideoRoom rooms). Each node is probed every
``janus_health_interval_s`` over a Janus session of its own: a node that does not answer is
unhealthy until it answers again. A node is also found out without waiting for that interval:
when the probe's own connection to it is lost it is probed at once, and a connection it
refuses (nothing listens: the process died) marks it unhealthy at once. An unhealthy node is
probed every :data:`RETRY_S`, so a Janus that restarts is back in the pool soon after it
listens again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from yuntong.config import JanusNode
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.media.janus import (
    VIDEOROOM,
    JanusClient,
    JanusHandle,
    JanusSession,
    JanusUnavailable,
    janus_token,
)
from yuntong.media.supervisor import LOCAL_JANUS, LOCAL_NODE

log = get_logger(__name__)
TOKEN_TTL_S = 24 * 3600
RETRY_S = 0.5  # an unhealthy node is probed this often (at most every health interval)
MIN_GAP_S = 0.1  # between two probes of one node, whatever wakes it
PLACE_WAIT_S = 5.0  # a new meeting waits this long for a healthy node (a Janus starting)


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
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

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
            self.mark_down(str(exc))
            await self.disconnect()
            return
        rooms = listed.get("list", [])
        self.healthy, self.last_error = True, ""
        self.rooms = len(rooms)
        self.load = sum(int(room.get("num_participants", 0)) for room in rooms)

    def mark_down(self, reason: str) -> None:
        """Unhealthy until a probe finds the node answering; its counts are no longer known."""
        self.healthy, self.last_error = False, reason
        self.load = self.rooms = 0

    def wake(self) -> None:
        """Probe this node now rather than at the end of its interval."""
        self._wake.set()

    async def nap(self, delay_s: float) -> None:
        """Wait until the next probe: ``delay_s``, or less when woken or when the probe's own
        connection to the node is lost (the node died or restarted)."""
        await asyncio.sleep(MIN_GAP_S)
        waits = [asyncio.ensure_future(self._wake.wait())]
        if self._client is not None:
            waits.append(asyncio.ensure_future(self._client.closed_event.wait()))
        try:
            await asyncio.wait(
                waits, timeout=max(delay_s - MIN_GAP_S, 0), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for wait in waits:
                wait.cancel()
        self._wake.clear()

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
    """The nodes, each probed in the background; :meth:`pick` chooses where a meeting goes."""

    def __init__(self, nodes: list[JanusNode], interval_s: float) -> None:
        if len({n.name for n in nodes}) != len(nodes):
            raise ValueError("Janus node names must be unique")
        timeout_s = min(3.0, interval_s)
        self.nodes = {n.name: NodeState(n, timeout_s) for n in nodes}
        self.interval_s = interval_s
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()  # set (and replaced) whenever a node's health may change

    async def refresh(self) -> None:
        await asyncio.gather(*(node.probe() for node in self.nodes.values()))
        self._notify()

    def pick(self) -> NodeState:
        """The healthy node with the fewest participants (then the fewest rooms, then name)."""
        healthy = [n for n in self.nodes.values() if n.healthy]
        if not healthy:
            raise YuntongError("janus_unavailable")
        return min(healthy, key=lambda n: (n.load, n.rooms, n.name))

    async def connect(self, node: NodeState, *, timeout_s: float) -> JanusClient:
        """A connection to ``node``; one it refuses marks it unhealthy at once."""
        try:
            return await JanusClient.connect(node.config.url, node.token(), timeout_s=timeout_s)
        except JanusUnavailable as exc:
            if exc.refused:
                if node.healthy:
                    log.warning("janus_node_refused", node=node.name)
                node.mark_down(str(exc))
                node.wake()  # the probe confirms it, and finds it again once it is back
                self._notify()
            raise

    async def place(
        self,
        connect: Callable[[NodeState], Awaitable[None]],
        wait_s: float = PLACE_WAIT_S,
    ) -> NodeState:
        """Pick a node and ``connect`` to it. While no node is healthy (a Janus starting or
        restarting), or the one picked refuses the connection, wait up to ``wait_s`` for a
        healthy one instead of failing at once; with no node at all, fail at once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        for node in self.nodes.values():
            if not node.healthy:
                node.wake()
        while True:
            changed = self._changed
            try:
                node = self.pick()
            except YuntongError:
                if not self.nodes or loop.time() >= deadline:
                    raise
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await changed.wait()
                continue
            try:
                await connect(node)
            except JanusUnavailable as exc:
                if not exc.refused or loop.time() >= deadline:
                    raise
                continue  # ``connect`` marked it unhealthy: another node, or wait
            return node

    def status(self) -> dict[str, dict[str, object]]:
        """Each node's health and, while it is healthy, its counts at the last probe."""
        return {
            n.name: (
                {"healthy": True, "participants": n.load, "rooms": n.rooms}
                if n.healthy
                else {"healthy": False}
            )
            for n in self.nodes.values()
        }

    async def start(self) -> None:
        await self.refresh()
        self._tasks = [
            asyncio.create_task(self._watch(node), name=f"janus-pool-{node.name}")
            for node in self.nodes.values()
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await asyncio.gather(*(node.disconnect() for node in self.nodes.values()))

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _watch(self, node: NodeState) -> None:
        while True:
            await node.nap(self.interval_s if node.healthy else min(self.interval_s, RETRY_S))
            was_healthy = node.healthy
            try:
                await node.probe()
            except Exception:  # a probe must never end the loop
                log.exception("janus_pool_probe_failed", node=node.name)
            if node.healthy and not was_healthy:
                log.info("janus_node_healthy", node=node.name)
            elif was_healthy and not node.healthy:
                log.warning("janus_node_unhealthy", node=node.name, error=node.last_error)
            self._notify()


POOL = Piece(
    "media.janus_pool",
    "node-owned live state",
    lambda ctx: Slot[JanusPool](),
    "the Janus nodes this node places meetings on, with their health and load (set when "
    "the pool is started)",
)


def pool_nodes(ctx: Context) -> list[JanusNode]:
    """The configured remote nodes, or the local Janus this node runs."""
    if ctx.settings.janus_nodes:
        return list(ctx.settings.janus_nodes)
    local = ctx.services.get(LOCAL_JANUS).value
    if local is None:
        return []
    return [local.as_node()]


def janus_healthy(ctx: Context) -> bool:
    """Whether a meeting's room could be placed now: a Janus node of the pool answers."""
    pool = ctx.services.get(POOL).value
    return pool is not None and any(node.healthy for node in pool.nodes.values())


def media_check(ctx: Context) -> str:
    """What meetings need of this node's media for it to be ready.

    ``ok``: the Janus this node runs answers the pool's probe. ``unhealthy``: it runs one, and
    it is starting, restarting or not answering: not ready (a meeting could not start here).
    ``not_required``: it runs none (``YUNTONG_START_JANUS=false``, Janus not installed, or
    remote nodes in ``YUNTONG_JANUS_NODES``): calls and chat need no Janus, so media never
    holds such a node back; remote nodes are listed in ``janus_nodes``.
    """
    if ctx.services.get(LOCAL_JANUS).value is None or ctx.settings.janus_nodes:
        return "not_required"
    pool = ctx.services.get(POOL).value
    local = pool.nodes.get(LOCAL_NODE) if pool is not None else None
    return "ok" if local is not None and local.healthy else "unhealthy"
