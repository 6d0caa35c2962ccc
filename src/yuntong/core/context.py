"""The running service's shared objects, built once at start-up and passed to services.

Node state (the realtime hub, live calls, caches, supervised children, ...) is not a dict of
string keys: each piece is a typed :class:`Piece`, declared once next to the code that owns
it, with its kind (:data:`Kind`). ``yuntong.services`` lists every piece and builds them all
when a context is made (``yuntong.services.build_context``), so nothing is created lazily on
first use and ``ctx.services.get(PIECE)`` has the piece's type for mypy.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from argon2 import PasswordHasher
from redis.asyncio import BlockingConnectionPool, Redis
from starlette.requests import HTTPConnection

from yuntong.config import Settings
from yuntong.core.bus import Bus, InProcessBus
from yuntong.core.bus.redis import RedisBus
from yuntong.core.clock import Clock
from yuntong.core.crypto import PiiCipher
from yuntong.core.db import Database
from yuntong.core.groupcommit import GroupCommitter

T = TypeVar("T")

Kind = Literal["per-node cache", "node-owned live state", "shared state"]
"""- per-node cache: a copy of what the database holds; may be dropped at any time.
- node-owned live state: what this node runs (calls, rooms, sockets, children); lost with it.
- shared state: truth every node sees (busy, do-not-disturb, throttles): in Redis when the
  context has one, else in this process (the embedded single node)."""


class Piece(Generic[T]):
    """One piece of node state: its name, kind, how it is built, and what it holds."""

    __slots__ = ("build", "doc", "kind", "name")

    def __init__(self, name: str, kind: Kind, build: Callable[[Context], T], doc: str) -> None:
        self.name = name
        self.kind = kind
        self.build = build
        self.doc = doc

    def __repr__(self) -> str:
        return f"Piece({self.name!r}, {self.kind!r})"


@dataclass
class Slot(Generic[T]):
    """A piece that is filled when what it holds is started (a child process, a pool)."""

    value: T | None = None


class Services:
    """Every piece of a context's node state, built together; ``get`` never creates one."""

    def __init__(self) -> None:
        self._built: dict[Piece[Any], Any] = {}

    def build(self, ctx: Context, pieces: Iterable[Piece[Any]]) -> None:
        for piece in pieces:
            if piece in self._built:
                raise ValueError(f"{piece.name} is declared twice")
            self._built[piece] = piece.build(ctx)

    def get(self, piece: Piece[T]) -> T:
        try:
            found: T = self._built[piece]
        except KeyError:
            raise LookupError(f"{piece.name} was not built with this context") from None
        return found

    def replace(self, piece: Piece[T], value: T) -> None:
        """Swap a built piece (tests: a fake in place of a real one)."""
        self.get(piece)
        self._built[piece] = value

    @property
    def pieces(self) -> list[Piece[Any]]:
        return list(self._built)


@dataclass
class Context:
    settings: Settings
    db: Database
    clock: Clock
    cipher: PiiCipher
    bus: Bus
    writer: GroupCommitter
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    services: Services = field(default_factory=Services)
    # this node among the others (``settings.node_id`` or generated; see yuntong.cluster)
    node_id: str = field(default_factory=lambda: new_node_id(""))
    # the shared Redis (``settings.redis_url``); None on the embedded single node
    redis: Redis | None = None


def new_node_id(configured: str) -> str:
    """``configured``, or ``<host>-<pid>-<random>``: unique across restarts of one host."""
    if configured:
        return configured
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _redis(settings: Settings) -> Redis:
    """The node's client for presence, leases and the like: a pool that makes a caller wait
    (up to ``redis_timeout_s``) for a free connection under load, rather than failing at
    once, which the shared pieces would take for Redis being down."""
    pool = BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=100, timeout=settings.redis_timeout_s
    )
    return Redis(connection_pool=pool)


def new_context(settings: Settings, clock: Clock | None = None) -> Context:
    """A context without its node state: use ``yuntong.services.build_context``."""
    cipher = PiiCipher.from_b64(
        {kid: key.get_secret_value() for kid, key in settings.pii_keys.items()},
        settings.pii_active_key,
        settings.secret_key.get_secret_value(),
    )
    db = Database(settings.effective_database_url, settings.database_pool_size)
    clock = clock or Clock()
    node_id = new_node_id(settings.node_id)
    redis = _redis(settings) if settings.redis_url else None
    ctx = Context(
        settings=settings,
        db=db,
        writer=GroupCommitter(db),
        clock=clock,
        cipher=cipher,
        # several nodes: the Redis bus (its own connections); one node: the in-process bus
        bus=RedisBus.from_settings(settings, node_id, clock) if redis else InProcessBus(),
        node_id=node_id,
        redis=redis,
    )
    return ctx


def get_context(connection: HTTPConnection) -> Context:
    """FastAPI dependency: the Context stored on the app at start-up (works for HTTP and WS)."""
    ctx: Context = connection.app.state.ctx
    return ctx


async def close_context(ctx: Context) -> None:
    """Release what a context holds: its bus (what it still has to send goes out first), its
    Redis connections and database pool."""
    await ctx.bus.close()
    if ctx.redis is not None:
        await ctx.redis.aclose()
    await ctx.db.dispose()
