"""Do-not-disturb as every node sees it. The user's row (``users.dnd``) is the truth; on the
embedded single node this process keeps it for its online users (read when first asked for),
and with several nodes Redis caches it per user, written at once by the node where the user
switched it, so that every node's presence says "dnd" at once (docs/operations.md, "Shared
truth").
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

from redis.asyncio import Redis

from yuntong.accounts import directory
from yuntong.core.context import Context, Piece
from yuntong.core.logging import get_logger
from yuntong.core.shared import RedisLink, SharedUnavailable, redis_link
from yuntong.realtime.connection import hub_of

log = get_logger(__name__)

KEY = "yuntong:dnd:{}"
# how long a cached choice is kept: read from the database again after that, which also bounds
# how long a choice written while Redis was unreachable from one node can be missed
CACHE_TTL_S = 300


class DndStates(ABC):
    """Who asked not to be disturbed."""

    @abstractmethod
    async def among(self, ctx: Context, user_ids: Sequence[int]) -> set[int]:
        """Which of ``user_ids`` (online users) asked not to be disturbed."""

    @abstractmethod
    async def note(self, user_id: int, on: bool) -> None:
        """The user switched do-not-disturb (already written to ``users.dnd``)."""

    @abstractmethod
    async def online(self, ctx: Context, user_id: int) -> None:
        """The user's first device here came online."""

    @abstractmethod
    async def offline(self, user_id: int) -> None:
        """The user's last device here is gone."""


class LocalDnd(DndStates):
    """One process: each online user's choice, read from the database when first asked for
    (a user coming online costs nothing until someone looks at their presence)."""

    def __init__(self) -> None:
        self.known: dict[int, bool] = {}

    async def among(self, ctx: Context, user_ids: Sequence[int]) -> set[int]:
        on = {user_id for user_id in user_ids if self.known.get(user_id)}
        missing = [user_id for user_id in user_ids if user_id not in self.known]
        if missing:
            read = await directory.dnd_among(ctx, missing)
            on |= read
            hub = hub_of(ctx)
            for user_id in missing:  # a choice noted meanwhile is newer than the read
                if hub.has_devices_here(user_id):  # bounded by the users online here
                    self.known.setdefault(user_id, user_id in read)
        return on

    async def note(self, user_id: int, on: bool) -> None:
        self.known[user_id] = on

    async def online(self, ctx: Context, user_id: int) -> None:
        """Nothing to load: the choice is read when first asked for."""

    async def offline(self, user_id: int) -> None:
        self.known.pop(user_id, None)


class RedisDnd(DndStates):
    """Every node: the choice cached in Redis per user (``1`` / ``0``), filled from the
    database on a miss; read from the database alone while Redis is unreachable."""

    def __init__(self, link: RedisLink, ttl_s: int = CACHE_TTL_S) -> None:
        self.link = link
        self.ttl_s = ttl_s

    async def among(self, ctx: Context, user_ids: Sequence[int]) -> set[int]:
        if not user_ids:
            return set()
        keys = [KEY.format(user_id) for user_id in user_ids]

        async def cached(r: Redis) -> list[bytes | str | None]:
            found: list[bytes | str | None] = await r.mget(keys)
            return found

        try:
            states = await self.link.run(cached)
        except SharedUnavailable:
            return await self._from_database(ctx, list(user_ids))
        on = {user_id for user_id, state in zip(user_ids, states, strict=True) if state == b"1"}
        missing = [user_id for user_id, state in zip(user_ids, states, strict=True) if not state]
        if missing:
            read = await self._from_database(ctx, missing)
            await self._fill(missing, read)
            on |= read
        return on

    async def _from_database(self, ctx: Context, user_ids: list[int]) -> set[int]:
        return await directory.dnd_among(ctx, user_ids)

    async def _fill(self, user_ids: list[int], on: set[int]) -> None:
        """Cache what was read, unless a node wrote a newer choice meanwhile (``NX``)."""

        async def fill(r: Redis) -> None:
            async with r.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    state = "1" if user_id in on else "0"
                    pipe.set(KEY.format(user_id), state, ex=self.ttl_s, nx=True)
                await pipe.execute()

        with contextlib.suppress(SharedUnavailable):  # read from the database next time
            await self.link.run(fill)

    async def note(self, user_id: int, on: bool) -> None:
        async def write(r: Redis) -> None:
            await r.set(KEY.format(user_id), "1" if on else "0", ex=self.ttl_s)

        try:
            await self.link.run(write)
        except SharedUnavailable:
            log.warning("dnd_not_shared", user_id=user_id, on=on)

    async def online(self, ctx: Context, user_id: int) -> None:
        """Nothing to load: a choice is read from the database when first asked for."""

    async def offline(self, user_id: int) -> None:
        """Kept: the user may still be online on another node."""


def _build(ctx: Context) -> DndStates:
    link = redis_link(ctx)
    return LocalDnd() if link is None else RedisDnd(link)


DND = Piece(
    "presence.dnd",
    "shared state",
    _build,
    "who asked not to be disturbed (the truth is users.dnd): cached per user in Redis with "
    "several nodes, else this process's online users', read when first asked for",
)


def dnd_states(ctx: Context) -> DndStates:
    return ctx.services.get(DND)
