"""Who is busy: a mark per user in a call, taken for both parties at once when a call is
placed and released when it ends — in this process on the embedded single node, in Redis
(``SET NX`` with the call id) when several nodes share one, so that of two calls placed to one
user at the same moment on two nodes exactly one rings.

Redis marks expire (``BUSY_TTL_CHECKPOINTS`` checkpoint intervals) unless the node that took
them renews them, so a dead node's marks vanish. While Redis is unreachable a node decides
busy from its own calls only (docs/operations.md, "Shared truth").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from redis.asyncio import Redis

from yuntong.core.context import Context, Piece
from yuntong.core.logging import get_logger
from yuntong.core.shared import RedisLink, SharedUnavailable, redis_link

log = get_logger(__name__)

BUSY_TTL_CHECKPOINTS = 3  # a mark outlives its node by at most 3 × call_checkpoint_s
KEY = "yuntong:busy:{}"

# all or nothing: the 1-based index of the first key already held, or 0 when all were taken
_TAKE = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return 0
"""
# compare-and-delete: a mark is released only by the call that holds it
_RELEASE = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""
# KEYS[i] held by call ARGV[i + 1]: extend it, take it again if Redis lost it (a restart);
# returns the indexes of marks another call holds now
_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  if held == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
  elseif not held then
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
  else
    table.insert(lost, i)
  end
end
return lost
"""


class BusyMarks(ABC):
    """The busy marks every node sees; ``take`` decides busy for a new call."""

    renew_every_s: float | None = None  # None: nothing to renew

    @abstractmethod
    async def take(self, call_id: str, user_ids: Sequence[int]) -> int | None:
        """Mark all of ``user_ids`` busy with ``call_id``, or none of them: None when taken,
        else the first user who is busy already."""

    @abstractmethod
    async def release(self, call_id: str, user_ids: Sequence[int]) -> None:
        """Free the users still marked busy with ``call_id`` (never another call's mark)."""

    @abstractmethod
    async def busy_among(self, user_ids: Sequence[int]) -> set[int]:
        """Which of ``user_ids`` are in a call, on any node."""

    @abstractmethod
    async def renew(self) -> None:
        """Keep this node's marks alive (every ``renew_every_s``)."""

    @abstractmethod
    async def call_of(self, user_id: int) -> str | None:
        """The call the user is marked busy with, on any node."""

    @abstractmethod
    async def adopt(self, call_id: str, user_ids: Sequence[int]) -> None:
        """Renew from now on the marks of a call this node took over from a dead one."""


class LocalBusy(BusyMarks):
    """One process: a dict, changed without awaiting anything, so a take is atomic."""

    def __init__(self) -> None:
        self.calls: dict[int, str] = {}  # user id -> the call they are in

    async def take(self, call_id: str, user_ids: Sequence[int]) -> int | None:
        for user_id in user_ids:
            if user_id in self.calls:
                return user_id
        for user_id in user_ids:
            self.calls[user_id] = call_id
        return None

    async def release(self, call_id: str, user_ids: Sequence[int]) -> None:
        for user_id in user_ids:
            if self.calls.get(user_id) == call_id:
                del self.calls[user_id]

    async def busy_among(self, user_ids: Sequence[int]) -> set[int]:
        return {user_id for user_id in user_ids if user_id in self.calls}

    async def call_of(self, user_id: int) -> str | None:
        return self.calls.get(user_id)

    async def adopt(self, call_id: str, user_ids: Sequence[int]) -> None:
        for user_id in user_ids:
            self.calls.setdefault(user_id, call_id)

    async def renew(self) -> None:
        """Nothing expires in one process."""


class RedisBusy(BusyMarks):
    """Marks in Redis, shared by every node; this node's own marks are also kept here, to be
    renewed, to answer for its own calls without a round trip, and to fall back on."""

    def __init__(self, link: RedisLink, ttl_s: float) -> None:
        self.link = link
        self.ttl_ms = max(1, round(ttl_s * 1000))
        self.renew_every_s = ttl_s / BUSY_TTL_CHECKPOINTS
        self.own = LocalBusy()
        self._take = link.script(_TAKE)
        self._release = link.script(_RELEASE)
        self._renew = link.script(_RENEW)

    async def take(self, call_id: str, user_ids: Sequence[int]) -> int | None:
        for user_id in user_ids:
            if user_id in self.own.calls:
                return user_id
        keys = [KEY.format(user_id) for user_id in user_ids]
        try:
            held = await self.link.run(
                lambda r: self._take(keys=keys, args=[call_id, self.ttl_ms], client=r)
            )
        except SharedUnavailable:
            return await self.own.take(call_id, user_ids)  # this node's calls only
        if held:
            return user_ids[int(held) - 1]
        await self.own.take(call_id, user_ids)
        return None

    async def release(self, call_id: str, user_ids: Sequence[int]) -> None:
        await self.own.release(call_id, user_ids)
        keys = [KEY.format(user_id) for user_id in user_ids]
        try:
            await self.link.run(lambda r: self._release(keys=keys, args=[call_id], client=r))
        except SharedUnavailable:
            log.warning("busy_mark_left_to_expire", call_id=call_id)

    async def busy_among(self, user_ids: Sequence[int]) -> set[int]:
        busy = await self.own.busy_among(user_ids)
        others = [user_id for user_id in user_ids if user_id not in busy]
        if not others:
            return busy
        keys = [KEY.format(user_id) for user_id in others]

        async def marks(r: Redis) -> list[bytes | str | None]:
            found: list[bytes | str | None] = await r.mget(keys)
            return found

        try:
            held = await self.link.run(marks)
        except SharedUnavailable:
            return busy
        return busy | {user_id for user_id, mark in zip(others, held, strict=True) if mark}

    async def call_of(self, user_id: int) -> str | None:
        own = await self.own.call_of(user_id)
        if own is not None:
            return own

        async def mark(r: Redis) -> bytes | str | None:
            found: bytes | str | None = await r.get(KEY.format(user_id))
            return found

        try:
            held = await self.link.run(mark)
        except SharedUnavailable:
            return None
        if held is None:
            return None
        return held.decode() if isinstance(held, bytes) else held

    async def adopt(self, call_id: str, user_ids: Sequence[int]) -> None:
        await self.own.adopt(call_id, user_ids)
        await self.renew()

    async def renew(self) -> None:
        marks = list(self.own.calls.items())
        if not marks:
            return
        keys = [KEY.format(user_id) for user_id, _ in marks]
        args: list[str | int] = [self.ttl_ms, *(call_id for _, call_id in marks)]
        try:
            lost = await self.link.run(lambda r: self._renew(keys=keys, args=args, client=r))
        except SharedUnavailable:
            return  # taken again at the first renewal after Redis is back
        for index in lost:
            user_id, call_id = marks[int(index) - 1]
            log.warning("busy_mark_taken_by_another_call", user_id=user_id, call_id=call_id)
        # a call that ended while the renewal was on its way had its marks deleted before the
        # renewal set them again (Redis lost them, or the release got there first): delete
        # them again, or its parties stay busy for a mark's lifetime
        ended: dict[str, list[int]] = {}
        for user_id, call_id in marks:
            if self.own.calls.get(user_id) != call_id:
                ended.setdefault(call_id, []).append(user_id)
        for call_id, user_ids in ended.items():
            await self.release(call_id, user_ids)


def _build(ctx: Context) -> BusyMarks:
    link = redis_link(ctx)
    if link is None:
        return LocalBusy()
    return RedisBusy(link, BUSY_TTL_CHECKPOINTS * ctx.settings.call_checkpoint_s)


BUSY = Piece(
    "presence.busy",
    "shared state",
    _build,
    "who is in a call: a mark per user taken atomically by the call engine, in Redis with "
    "several nodes (expiring unless renewed), else in this process",
)


def busy_marks(ctx: Context) -> BusyMarks:
    return ctx.services.get(BUSY)
