"""Node identity and liveness: which processes serve, and which of them are dead.

A node is a ``yuntong serve`` process or the billing worker it supervises. Its id is
``YUNTONG_NODE_ID``, or one generated once and kept in ``var/node_id``, so a node restarted
after a crash recognises the rows it left open as its own (a billing worker is
``<node>.billing``). Every ``node_keepalive_s`` a running node renews two keepalives:

- with Redis, the key ``yt:node:<id>`` (its start, pid, host, version), set to expire after
  ``node_dead_after_s`` and deleted on a clean stop;
- always, ``last_seen_at`` on its row of ``nodes`` (``stopped_at`` on a clean stop), which an
  operator lists (``yuntong nodes``) and which is the keepalive without Redis.

A node is **alive** while it is heard in either: its Redis key exists, or its row was renewed
within ``node_dead_after_s`` and not stopped. It is **dead** only when neither hears it, so an
unreachable (or restarted, empty) Redis never makes every node look dead, and a node cut off
from Redis alone is not taken for dead while it still writes its rows. A node killed (or
stopped) goes silent in both at once: it is dead within ``node_dead_after_s``.

Moments are the wall clock's (:attr:`NodeState.clock`), not the context's clock: liveness
compares moments written by different processes, and a test's fake clock in one of them must
not make it look dead to the others (a test of the timing replaces it). Nodes' clocks are
assumed synchronised (NTP) to well under ``node_dead_after_s``.

**A node that stalled** (paused, swapped out, a stop-the-world stall) longer than its keepalive
allows may have been taken for dead meanwhile, and what it owned taken over or closed by
another node, while it still holds them in memory. It knows: it is *in doubt*
(:func:`in_doubt`) from the moment its last renewal is ``node_dead_after_s -
node_keepalive_s`` old, and stays unsettled until the hooks registered with
:func:`when_in_doubt` have checked what it holds against the database (each domain drops what
it no longer owns; the calls engine does it before running any command while in doubt). The
database writes of owned things are fenced on the owner as well, so a write that slips through
changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from yuntong import __version__
from yuntong.cluster.models import NODE_ID_LENGTH, Node
from yuntong.config import Settings
from yuntong.core.clock import Clock
from yuntong.core.context import Context, Piece
from yuntong.core.logging import get_logger
from yuntong.files import private_dir, private_file

log = get_logger(__name__)
KEY_PREFIX = "yt:node:"
ID_FILE = "node_id"
PRUNE_AFTER = timedelta(days=7)  # rows of nodes stopped or silent this long are deleted
CLAIM_ATTEMPTS = 3  # dead-after periods a start waits for another process to give its id up


class NodeIdInUse(RuntimeError):
    """Another live process runs as this node id: two nodes must never share one."""


# run when this node may have been taken for dead (it stalled): drop what it no longer owns
DoubtHook = Callable[[Context], Awaitable[object]]


@dataclass
class NodeState:
    """This process as a node: its role once started, its keepalive, and its clock."""

    clock: Clock = field(default_factory=Clock)
    role: str | None = None  # None: not a node (a CLI command, a test's context)
    started_at: datetime | None = None
    task: asyncio.Task[None] | None = None
    redis_failing: bool = False  # the last keepalive could not reach Redis (logged once)
    # the live nodes as last looked up (live_view), and when (on ``clock``)
    alive: frozenset[str] = frozenset()
    alive_at: datetime | None = None
    # when a keepalive was last written (Redis or the row), and whether a lapse since (a stall
    # that may have made the others take this node for dead) is still to be settled
    renewed_at: datetime | None = None
    unsettled: bool = False
    doubt_hooks: list[DoubtHook] = field(default_factory=list)


NODE = Piece(
    "cluster.node",
    "node-owned live state",
    lambda ctx: NodeState(),
    "this process as a node: its role, its keepalive task, the wall clock liveness is told by",
)


def node_of(ctx: Context) -> NodeState:
    return ctx.services.get(NODE)


def own_id(settings: Settings, role: str) -> str:
    """``YUNTONG_NODE_ID``, or the id kept in ``var/node_id`` (generated on first use); the
    billing worker beside a server is ``<id>.billing``."""
    base = settings.node_id or _stored_id(settings)
    return f"{base}.billing" if role == "billing-worker" else base


def as_node(settings: Settings, role: str) -> Settings:
    """``settings`` with this node's id (:func:`own_id`) filled in: a server or a billing
    worker builds its context from these, so the id is its own from the start."""
    return settings.model_copy(update={"node_id": own_id(settings, role)})


def _stored_id(settings: Settings) -> str:
    path = private_dir(settings.var_dir) / ID_FILE
    with contextlib.suppress(FileNotFoundError):
        stored = path.read_text().strip()
        if stored:
            return stored
    generated = f"{socket.gethostname()[:60]}-{secrets.token_hex(4)}"
    path.write_text(generated + "\n")
    private_file(path)
    return generated


# -- this node's keepalive -----------------------------------------------------------------


async def start(ctx: Context, role: str) -> None:
    """Run this process as node ``ctx.node_id`` (see :func:`as_node`): claim the id (waiting
    for another process's keepalive under it to lapse), register it, and renew its keepalive
    until :func:`stop`."""
    node = node_of(ctx)
    if len(ctx.node_id) > NODE_ID_LENGTH:
        raise ValueError(f"node id longer than {NODE_ID_LENGTH} characters: {ctx.node_id!r}")
    await _claim(ctx)
    node.role = role
    node.started_at = node.clock.now()
    await _register(ctx)
    await _renew_redis(ctx)
    node.renewed_at = node.started_at
    node.task = asyncio.create_task(_keepalive(ctx), name="node-keepalive")
    log.info("node_started", node=ctx.node_id, role=role)


async def stop(ctx: Context) -> None:
    """A clean stop: the keepalive ends, the Redis key goes and the row says stopped, so the
    others see this node dead at once."""
    node = node_of(ctx)
    if node.task is None:
        return
    node.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await node.task
    node.task = None
    if ctx.redis is not None:
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(ctx.settings.node_keepalive_s):
                await ctx.redis.delete(KEY_PREFIX + ctx.node_id)
    try:
        async with ctx.db.session() as s:
            await s.execute(
                update(Node).where(Node.id == ctx.node_id).values(stopped_at=node.clock.now())
            )
    except SQLAlchemyError:
        log.exception("node_stop_not_written", node=ctx.node_id)


async def _keepalive(ctx: Context) -> None:
    node = node_of(ctx)
    while True:
        await node.clock.sleep(ctx.settings.node_keepalive_s)
        attempt = node.clock.now()
        heard = await _renew_redis(ctx)
        try:
            async with ctx.db.session() as s:
                renewed = await s.execute(
                    update(Node).where(Node.id == ctx.node_id).values(last_seen_at=attempt)
                )
            if not getattr(renewed, "rowcount", 1):  # the row went (pruned by mistake)
                await _register(ctx)
            heard = True
        except SQLAlchemyError:
            log.exception("node_keepalive_failed", node=ctx.node_id)
        # checked once written: a keepalive late, or written so slowly that the others judged
        # by the previous one meanwhile
        if not node.unsettled and in_doubt(ctx):
            node.unsettled = True
            log.warning("node_keepalive_lapsed", node=ctx.node_id)
        if node.unsettled:
            await _settle_doubt(ctx)
        if heard:
            node.renewed_at = attempt


def in_doubt(ctx: Context) -> bool:
    """Whether this node may have been taken for dead by the others (its keepalive lapsed, or
    a lapse is not settled yet): what it owns must be checked before it acts on it."""
    node = node_of(ctx)
    if node.unsettled:
        return True
    if node.renewed_at is None:
        return False
    lapse = (node.clock.now() - node.renewed_at).total_seconds()
    settings = ctx.settings
    return lapse >= max(settings.node_dead_after_s - settings.node_keepalive_s, 0.0)


def when_in_doubt(ctx: Context, hook: DoubtHook) -> None:
    """Run ``hook`` when this node may have been taken for dead (see the module's docstring)."""
    node_of(ctx).doubt_hooks.append(hook)


async def _settle_doubt(ctx: Context) -> None:
    """Run the doubt hooks; the doubt is settled once they all ran (else the next keepalive
    runs them again)."""
    node = node_of(ctx)
    for hook in node.doubt_hooks:
        try:
            await hook(ctx)
        except Exception:
            log.exception("node_doubt_not_settled", node=ctx.node_id)
            return
    node.unsettled = False


async def _renew_redis(ctx: Context) -> bool:
    """Renew the Redis keepalive; whether it was written (False without Redis)."""
    if ctx.redis is None:
        return False
    node = node_of(ctx)
    value = json.dumps(_description(ctx))
    try:
        async with asyncio.timeout(ctx.settings.node_keepalive_s):
            await ctx.redis.set(
                KEY_PREFIX + ctx.node_id, value, px=int(ctx.settings.node_dead_after_s * 1000)
            )
    except (RedisError, OSError, TimeoutError) as exc:
        if not node.redis_failing:  # once per outage, not every second
            log.warning("node_keepalive_redis_failed", node=ctx.node_id, error=repr(exc))
        node.redis_failing = True
        return False
    if node.redis_failing:
        log.info("node_keepalive_redis_back", node=ctx.node_id)
    node.redis_failing = False
    return True


def _description(ctx: Context) -> dict[str, Any]:
    node = node_of(ctx)
    started = node.started_at.isoformat() if node.started_at else None
    return {
        "role": node.role,
        "started_at": started,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "version": __version__,
    }


async def _register(ctx: Context) -> None:
    node = node_of(ctx)
    assert node.started_at is not None and node.role is not None
    described = _description(ctx)
    async with ctx.db.session() as s:
        row = await s.get(Node, ctx.node_id)
        if row is None:
            row = Node(id=ctx.node_id)
            s.add(row)
        row.role = node.role
        row.host = str(described["host"])[:255]
        row.pid = os.getpid()
        row.version = __version__
        row.started_at = node.started_at
        row.last_seen_at = node.clock.now()
        row.stopped_at = None


async def _claim(ctx: Context) -> None:
    """Wait while another live process keeps this id alive; a predecessor on this host whose
    process is gone (a crash, a kill) is dead already. Refuse when the id stays in use."""
    node = node_of(ctx)
    for _ in range(CLAIM_ATTEMPTS):
        holder = await _holder(ctx)
        if holder is None:
            return
        log.warning("node_id_held", node=ctx.node_id, host=holder[0], pid=holder[1])
        await node.clock.sleep(ctx.settings.node_dead_after_s)
    raise NodeIdInUse(f"node id {ctx.node_id!r} is in use by a live process")


async def _holder(ctx: Context) -> tuple[str, int] | None:
    """(host, pid) of another process alive as this node, if any."""
    if not await is_alive(ctx, ctx.node_id):
        return None
    async with ctx.db.session() as s:
        row = await s.get(Node, ctx.node_id)
    if row is None or row.stopped_at is not None:
        return None  # alive in Redis only: a stop that could not reach Redis; it expires
    if row.host == socket.gethostname() and (row.pid == os.getpid() or not _running(row.pid)):
        return None
    return row.host, row.pid


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- liveness ------------------------------------------------------------------------------


async def live_nodes(ctx: Context) -> set[str]:
    """Every node heard within ``node_dead_after_s`` in Redis or in the database (this one
    included once started). Raises when the database cannot be read; an unreachable Redis only
    leaves the database to answer."""
    now = node_of(ctx).clock.now()
    since = now - timedelta(seconds=ctx.settings.node_dead_after_s)
    async with ctx.db.session() as s:
        heard = set(
            (
                await s.execute(
                    select(Node.id).where(Node.stopped_at.is_(None), Node.last_seen_at >= since)
                )
            ).scalars()
        )
    return heard | await _heard_in_redis(ctx)


async def silent_for(ctx: Context, node_ids: Collection[str]) -> dict[str, float]:
    """Seconds since each of ``node_ids`` was last heard in the database (its last keepalive,
    or its clean stop); a node without a row has been silent for ever."""
    now = node_of(ctx).clock.now()
    silent = dict.fromkeys(node_ids, float("inf"))
    if not silent:
        return silent
    async with ctx.db.session() as s:
        rows = await s.execute(
            select(Node.id, Node.last_seen_at, Node.stopped_at).where(Node.id.in_(list(silent)))
        )
    for node_id, seen, stopped in rows:
        last = stopped if stopped is not None else seen
        if last is not None:
            silent[node_id] = max(0.0, (now - last).total_seconds())
    return silent


async def _heard_in_redis(ctx: Context) -> set[str]:
    if ctx.redis is None:
        return set()
    found: set[str] = set()
    try:
        async with asyncio.timeout(ctx.settings.node_keepalive_s):
            async for key in ctx.redis.scan_iter(match=KEY_PREFIX + "*", count=1000):
                text = key.decode() if isinstance(key, bytes) else str(key)
                found.add(text.removeprefix(KEY_PREFIX))
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("node_liveness_redis_unavailable", error=repr(exc))
        return set()
    return found


async def live_view(ctx: Context) -> frozenset[str]:
    """:func:`live_nodes` as looked up at most ``node_keepalive_s`` ago (what the hot paths
    ask: is a device's node alive); this node is always in it. When the look-up fails the last
    view stands."""
    node = node_of(ctx)
    now = node.clock.now()
    fresh = node.alive_at is not None and (now - node.alive_at).total_seconds() < (
        ctx.settings.node_keepalive_s
    )
    if not fresh:
        node.alive_at = now  # one look-up at a time: the others use the last view meanwhile
        try:
            node.alive = frozenset(await live_nodes(ctx) | {ctx.node_id})
        except (SQLAlchemyError, OSError) as exc:
            log.warning("live_nodes_unavailable", error=repr(exc))
            node.alive = node.alive | {ctx.node_id}
    return node.alive or frozenset({ctx.node_id})


async def is_alive(ctx: Context, node_id: str) -> bool:
    return node_id in await live_nodes(ctx)


async def dead_among(ctx: Context, node_ids: Iterable[str]) -> set[str]:
    """Those of ``node_ids`` heard in neither Redis nor the database (never heard: dead)."""
    wanted = set(node_ids)
    if not wanted:
        return set()
    return wanted - await live_nodes(ctx)


@dataclass(frozen=True)
class Owners:
    """Whose open rows a recovery may close: these nodes' and, if ``unowned``, rows without a
    node (written before node ids existed)."""

    nodes: frozenset[str]
    unowned: bool

    def __bool__(self) -> bool:
        return bool(self.nodes) or self.unowned


async def recoverable(ctx: Context, owners: Collection[str | None], *, at_start: bool) -> Owners:
    """Of the owners of some open rows, those whose rows this node may close: dead nodes'
    always; at start-up also its own (left by its previous run) and rows without a node. Never
    a live node's, and never, in a periodic sweep, this node's own (they are live here)."""
    others = {o for o in owners if o is not None and o != ctx.node_id}
    dead = await dead_among(ctx, others)
    if at_start and ctx.node_id in owners:
        dead.add(ctx.node_id)
    return Owners(frozenset(dead), at_start and None in owners)


async def peers(ctx: Context) -> dict[str, Any]:
    """This node's view of its peers, for ``/readyz``: its id and the live nodes."""
    try:
        async with asyncio.timeout(max(1.0, ctx.settings.node_keepalive_s)):
            live: Any = sorted(await live_nodes(ctx))
    except (SQLAlchemyError, TimeoutError, OSError):
        live = "unavailable"
    return {"self": ctx.node_id, "live": live}


@dataclass(frozen=True)
class NodeView:
    """A node as an operator sees it (``yuntong nodes``)."""

    id: str
    role: str
    host: str
    pid: int
    version: str
    started_at: datetime
    last_seen_at: datetime
    stopped_at: datetime | None
    alive: bool


async def list_nodes(ctx: Context) -> list[NodeView]:
    """Every node the database remembers, newest start first, with whether it is alive."""
    async with ctx.db.session() as s:
        rows = list((await s.execute(select(Node).order_by(Node.started_at.desc()))).scalars())
    live = await live_nodes(ctx)
    return [
        NodeView(
            r.id,
            r.role,
            r.host,
            r.pid,
            r.version,
            r.started_at,
            r.last_seen_at,
            r.stopped_at,
            r.id in live,
        )
        for r in rows
    ]


async def do_prune(ctx: Context) -> int:
    """Forget nodes stopped or silent for :data:`PRUNE_AFTER`; how many."""
    before = node_of(ctx).clock.now() - PRUNE_AFTER
    async with ctx.db.session() as s:
        done = await s.execute(
            delete(Node).where(or_(Node.stopped_at < before, Node.last_seen_at < before))
        )
    return int(getattr(done, "rowcount", 0) or 0)
