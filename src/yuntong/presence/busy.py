"""Who is busy: a mark per user in a call, taken for both parties at once when a call is
placed and released when it ends — in this process on the embedded single node, in Redis
(``SET NX`` with the call id) when several nodes share one, so that of two calls placed to one
user at the same moment on two nodes exactly one rings.

Call waiting (TS 22.083) adds a second mark per user, the call waiting behind the one they are
in (at most one): taken with the caller's busy mark only while the user is still in that call,
moved into the busy mark when that call ends first (``RENAME``: the same atomic step that
releases it), and released with its call like any mark.

Redis marks expire (``BUSY_TTL_CHECKPOINTS`` checkpoint intervals) unless the node that took
them renews them, so a dead node's marks vanish. While Redis is unreachable a node decides
busy from its own calls only (docs/operations.md, "Shared truth").
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

from redis.asyncio import Redis

from yuntong.core.context import Context, Piece
from yuntong.core.logging import get_logger
from yuntong.core.shared import RedisLink, SharedUnavailable, redis_link

log = get_logger(__name__)

BUSY_TTL_CHECKPOINTS = 3  # a mark outlives its node by at most 3 × call_checkpoint_s
KEY = "yuntong:busy:{}"
WAITING_KEY = "yuntong:waiting:{}"  # the call waiting for a user in a call (call waiting)

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
# call waiting, all or nothing: KEYS[1..n-2] the busy marks to take, KEYS[n-1] and KEYS[n] the
# busy and waiting marks of the user the call waits for, who must still be in call ARGV[3]
# with no call waiting; the index of the first key that stops it, or 0 when all were taken
_TAKE_WAITING = """
local n = #KEYS
for i = 1, n - 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then return i end
end
if redis.call('GET', KEYS[n - 1]) ~= ARGV[3] or redis.call('EXISTS', KEYS[n]) == 1 then
  return n - 1
end
for i = 1, n - 2 do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
redis.call('SET', KEYS[n], ARGV[1], 'PX', ARGV[2])
return 0
"""
# compare-and-delete: a mark is released only by the call that holds it. KEYS: (busy mark,
# waiting mark) per user; a call waiting behind a released busy mark takes its place (RENAME
# keeps its expiry). Returns {pair index, call moved up, ...}
_RELEASE = """
local moved = {}
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    if redis.call('EXISTS', KEYS[i + 1]) == 1 then
      redis.call('RENAME', KEYS[i + 1], KEYS[i])
      table.insert(moved, (i + 1) / 2)
      table.insert(moved, redis.call('GET', KEYS[i]))
    else
      redis.call('DEL', KEYS[i])
    end
  elseif redis.call('GET', KEYS[i + 1]) == ARGV[1] then
    redis.call('DEL', KEYS[i + 1])
  end
end
return moved
"""
# KEYS: (busy mark, waiting mark) per user, the pair's call ARGV[i + 1]: extend whichever mark
# it holds, take one again if Redis lost it (a restart); returns the indexes of the pairs where
# other calls hold both marks now
_RENEW = """
local lost = {}
for i = 1, #KEYS / 2 do
  local busy, waiting, call = KEYS[2 * i - 1], KEYS[2 * i], ARGV[i + 1]
  if redis.call('GET', busy) == call then
    redis.call('PEXPIRE', busy, ARGV[1])
  elseif redis.call('GET', waiting) == call then
    redis.call('PEXPIRE', waiting, ARGV[1])
  elseif redis.call('EXISTS', busy) == 0 then
    redis.call('SET', busy, call, 'PX', ARGV[1])
  elseif redis.call('EXISTS', waiting) == 0 then
    redis.call('SET', waiting, call, 'PX', ARGV[1])
  else
    table.insert(lost, i)
  end
end
return lost
"""


def _pairs(user_ids: Sequence[int]) -> list[str]:
    """Each user's busy and waiting marks, in turn."""
    return [key.format(user_id) for user_id in user_ids for key in (KEY, WAITING_KEY)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class BusyMarks(ABC):
    """The busy marks every node sees; ``take`` decides busy for a new call."""

    renew_every_s: float | None = None  # None: nothing to renew

    @abstractmethod
    async def take(self, call_id: str, user_ids: Sequence[int]) -> int | None:
        """Mark all of ``user_ids`` busy with ``call_id``, or none of them: None when taken,
        else the first user who is busy already."""

    @abstractmethod
    async def take_waiting(
        self, call_id: str, busy_ids: Sequence[int], waiting_id: int, behind: str
    ) -> int | None:
        """Call waiting: mark ``busy_ids`` busy and ``call_id`` waiting for ``waiting_id``, all
        or nothing, while ``waiting_id`` is still in call ``behind`` with no call waiting yet:
        None when taken, else the first user who stops it (``waiting_id``: in another call,
        or one is waiting already)."""

    @abstractmethod
    async def release(self, call_id: str, user_ids: Sequence[int]) -> list[tuple[int, str]]:
        """Free the users' marks still held by ``call_id`` (never another call's mark). A call
        waiting behind a released busy mark takes its place: returns those (user, call)."""

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
    async def calls_of(self, user_id: int) -> list[str]:
        """The user's calls on any node: the one they are busy with, and the one waiting."""

    @abstractmethod
    async def adopt(self, call_id: str, user_ids: Sequence[int]) -> None:
        """Renew from now on the marks of a call this node took over from a dead one."""


class LocalBusy(BusyMarks):
    """One process: dicts, changed without awaiting anything, so a take is atomic."""

    def __init__(self) -> None:
        self.calls: dict[int, str] = {}  # user id -> the call they are in
        self.waiting: dict[int, str] = {}  # user id -> the call waiting for them

    async def take(self, call_id: str, user_ids: Sequence[int]) -> int | None:
        for user_id in user_ids:
            if user_id in self.calls:
                return user_id
        for user_id in user_ids:
            self.calls[user_id] = call_id
        return None

    async def take_waiting(
        self, call_id: str, busy_ids: Sequence[int], waiting_id: int, behind: str
    ) -> int | None:
        for user_id in busy_ids:
            if user_id in self.calls:
                return user_id
        if self.calls.get(waiting_id) != behind or waiting_id in self.waiting:
            return waiting_id
        self.note(call_id, busy_ids, waiting_id)
        return None

    def note(self, call_id: str, busy_ids: Sequence[int], waiting_id: int) -> None:
        for user_id in busy_ids:
            self.calls[user_id] = call_id
        self.waiting[waiting_id] = call_id

    async def release(self, call_id: str, user_ids: Sequence[int]) -> list[tuple[int, str]]:
        moved = []
        for user_id in user_ids:
            if self.calls.get(user_id) == call_id:
                waiting = self.waiting.pop(user_id, None)
                if waiting is None:
                    del self.calls[user_id]
                else:
                    self.calls[user_id] = waiting
                    moved.append((user_id, waiting))
            elif self.waiting.get(user_id) == call_id:
                del self.waiting[user_id]
        return moved

    async def busy_among(self, user_ids: Sequence[int]) -> set[int]:
        return {user_id for user_id in user_ids if user_id in self.calls}

    async def call_of(self, user_id: int) -> str | None:
        return self.calls.get(user_id)

    async def calls_of(self, user_id: int) -> list[str]:
        return self.held_by(user_id)

    def held_by(self, user_id: int) -> list[str]:
        found = (self.calls.get(user_id), self.waiting.get(user_id))
        return [call_id for call_id in found if call_id is not None]

    async def adopt(self, call_id: str, user_ids: Sequence[int]) -> None:
        for user_id in user_ids:
            if self.calls.setdefault(user_id, call_id) != call_id:
                self.waiting.setdefault(user_id, call_id)

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
        self._take_waiting = link.script(_TAKE_WAITING)
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

    async def take_waiting(
        self, call_id: str, busy_ids: Sequence[int], waiting_id: int, behind: str
    ) -> int | None:
        for user_id in busy_ids:
            if user_id in self.own.calls:
                return user_id
        users = [*busy_ids, waiting_id, waiting_id]
        keys = [KEY.format(user_id) for user_id in busy_ids] + _pairs([waiting_id])
        args: list[str | int] = [call_id, self.ttl_ms, behind]
        try:
            held = await self.link.run(lambda r: self._take_waiting(keys=keys, args=args, client=r))
        except SharedUnavailable:
            return await self.own.take_waiting(call_id, busy_ids, waiting_id, behind)
        if held:
            return users[int(held) - 1]
        self.own.note(call_id, busy_ids, waiting_id)
        return None

    async def release(self, call_id: str, user_ids: Sequence[int]) -> list[tuple[int, str]]:
        moved_here = await self.own.release(call_id, user_ids)
        keys = _pairs(user_ids)
        try:
            moved = await self.link.run(
                lambda r: self._release(keys=keys, args=[call_id], client=r)
            )
        except SharedUnavailable:
            log.warning("busy_mark_left_to_expire", call_id=call_id)
            return moved_here
        return [
            (user_ids[int(index) - 1], _text(moved_up))
            for index, moved_up in zip(moved[::2], moved[1::2], strict=True)
        ]

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
        return None if held is None else _text(held)

    async def calls_of(self, user_id: int) -> list[str]:
        found = self.own.held_by(user_id)

        async def marks(r: Redis) -> list[bytes | str | None]:
            held: list[bytes | str | None] = await r.mget(_pairs([user_id]))
            return held

        with contextlib.suppress(SharedUnavailable):
            for mark in await self.link.run(marks):
                if mark is not None and _text(mark) not in found:
                    found.append(_text(mark))
        return found

    async def adopt(self, call_id: str, user_ids: Sequence[int]) -> None:
        await self.own.adopt(call_id, user_ids)
        await self.renew()

    async def renew(self) -> None:
        marks = [
            (user_id, call_id)
            for mine in (self.own.calls, self.own.waiting)
            for user_id, call_id in mine.items()
        ]
        if not marks:
            return
        keys = _pairs([user_id for user_id, _ in marks])
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
            if call_id not in self.own.held_by(user_id):
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
