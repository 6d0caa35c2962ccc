"""Throttles: count what a key does in a sliding window and hold the key off at a limit.

One mechanism for every guessable thing (passwords, meeting passcodes, look-ups by phone or
e-mail): a :class:`Throttle` per purpose, keyed by strings such as ``"u42|203.0.113.0"``,
answering how many seconds a key must wait (``Retry-After``).

Two implementations of one interface, chosen when the context is built: :class:`MemoryThrottle`
counts in this process (the embedded single node), :class:`RedisThrottle` counts in Redis, so
that the limits hold across every node (an attacker spread over N nodes gets no more guesses
than on one). While Redis is unreachable a node counts on its own, in memory, as a single node
would: an outage neither locks everyone out nor lets guesses through unlimited
(docs/operations.md, "Throttles").
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import secrets
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from yuntong.core.clock import Clock
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.shared import RedisLink, SharedUnavailable, redis_link

MAX_KEYS = 100_000  # per throttle: the memory a spray of keys may take (~20 MB at most)
KEY = "yuntong:throttle:{}:{}:{}"  # name, key, "events" | "held"


@dataclass(frozen=True)
class Limit:
    """``count`` events in ``window_s`` seconds are allowed; then the key waits.

    With ``lockout_s`` the key is held off that long from the event that reached the limit
    (and its count starts afresh afterwards); without it, until its oldest counted event
    leaves the window.
    """

    count: int
    window_s: float
    lockout_s: float | None = None

    @classmethod
    def locking(cls, count: int, seconds: float) -> Limit:
        """``count`` failures in ``seconds``, then held off ``seconds`` (the guessing limits)."""
        return cls(count, window_s=seconds, lockout_s=seconds)


class Throttle(ABC):
    """Events per key in a sliding window, with lock-out."""

    def __init__(self, clock: Clock, limit: Limit) -> None:
        self.clock = clock
        self.limit = limit

    @abstractmethod
    async def wait(self, key: str) -> int:
        """Whole seconds before ``key`` may act again; 0: now."""

    async def hit(self, key: str) -> int:
        """Count one event of ``key``; the wait it leads to (0: the key may go on)."""
        if self.limit.count <= 0:
            return 0  # 0 turns the throttle off
        return await self._hit(key)

    @abstractmethod
    async def _hit(self, key: str) -> int: ...

    @abstractmethod
    async def clear(self, key: str) -> None:
        """Forget ``key``'s events (a success); a lock-out in force stays."""

    async def check(self, key: str, code: str = "rate_limited", **params: Any) -> None:
        """Raise ``code`` (429 unless the code says otherwise) with the wait if ``key`` waits.

        A ``minutes`` parameter, if the message has one, is filled with the minutes left.
        """
        if self.limit.count <= 0:
            return
        seconds = await self.wait(key)
        if seconds > 0:
            raise YuntongError(
                code, retry_after=seconds, **{"minutes": math.ceil(seconds / 60), **params}
            )

    async def take(self, key: str, code: str = "rate_limited") -> None:
        """Check, then count: for actions limited whether they succeed or not (look-ups)."""
        await self.check(key, code)
        await self.hit(key)


class MemoryThrottle(Throttle):
    """Counted in this process (the embedded single node, and any node while Redis is down)."""

    def __init__(self, clock: Clock, limit: Limit, max_keys: int = MAX_KEYS) -> None:
        super().__init__(clock, limit)
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._held: dict[str, float] = {}  # key -> held off until (epoch seconds)

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] + self.limit.window_s <= now:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    async def wait(self, key: str) -> int:
        now = self._now()
        until = self._held.get(key)
        if until is not None:
            if until > now:
                return math.ceil(until - now)
            del self._held[key]
        events = self._recent(key, now)
        if events is None or len(events) < self.limit.count:
            return 0
        return max(1, math.ceil(events[-self.limit.count] + self.limit.window_s - now))

    async def _hit(self, key: str) -> int:
        now = self._now()
        events = self._recent(key, now)
        if events is None:
            if len(self._events) >= self.max_keys:
                self._sweep(now)
            events = self._events[key] = deque(maxlen=self.limit.count)
        events.append(now)
        if len(events) >= self.limit.count and self.limit.lockout_s is not None:
            self._held[key] = now + self.limit.lockout_s
            del self._events[key]
            if len(self._held) > self.max_keys:
                self._sweep(now)
        return await self.wait(key)

    async def clear(self, key: str) -> None:
        self._events.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Drop what has expired; if a spray of keys still fills the table, the oldest half."""
        for key in [k for k, until in self._held.items() if until <= now]:
            del self._held[key]
        for key in list(self._events):
            self._recent(key, now)
        for table in (self._events, self._held):
            if len(table) >= self.max_keys:
                for key in list(table)[: len(table) // 2]:
                    del table[key]


# KEYS: events (a sorted set of event times, ms), held (until when, ms); ARGV: now, window,
# count (and for a hit: the lock-out, 0 for none, and a name for the event)
_ARGS = """
local now, window, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
"""
_COUNT = """
local lockout = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(count + 1))
if lockout > 0 and redis.call('ZCARD', KEYS[1]) >= count then
  redis.call('SET', KEYS[2], string.format('%d', now + lockout), 'PX', lockout)
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], window)
end
"""
# the wait in ms (0: none), as MemoryThrottle.wait computes it
_WAIT_FOR = """
local held = redis.call('GET', KEYS[2])
if held then
  if tonumber(held) > now then return tonumber(held) - now end
  redis.call('DEL', KEYS[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < count then return 0 end
local oldest = redis.call('ZRANGE', KEYS[1], -count, -count, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""
_WAIT = _ARGS + _WAIT_FOR
_HIT = _ARGS + _COUNT + _WAIT_FOR


class RedisThrottle(Throttle):
    """Counted in Redis, across every node, by one script per question (atomic); counted in
    :attr:`fallback` while Redis is unreachable."""

    def __init__(self, name: str, clock: Clock, limit: Limit, link: RedisLink) -> None:
        super().__init__(clock, limit)
        self.name = name
        self.link = link
        self.fallback = MemoryThrottle(clock, limit)
        self._wait = link.script(_WAIT)
        self._hit_script = link.script(_HIT)
        self._window_ms = math.ceil(limit.window_s * 1000)
        self._lockout_ms = math.ceil((limit.lockout_s or 0) * 1000)

    def _keys(self, key: str) -> list[str]:
        return [KEY.format(self.name, key, "events"), KEY.format(self.name, key, "held")]

    def _args(self) -> list[int]:
        return [round(self.clock.now().timestamp() * 1000), self._window_ms, self.limit.count]

    async def wait(self, key: str) -> int:
        keys, args = self._keys(key), self._args()
        try:
            ms = await self.link.run(lambda r: self._wait(keys=keys, args=args, client=r))
        except SharedUnavailable:
            return await self.fallback.wait(key)
        return math.ceil(int(ms) / 1000)

    async def _hit(self, key: str) -> int:
        keys = self._keys(key)
        args: list[int | str] = [*self._args(), self._lockout_ms, secrets.token_hex(6)]
        try:
            ms = await self.link.run(lambda r: self._hit_script(keys=keys, args=args, client=r))
        except SharedUnavailable:
            return await self.fallback.hit(key)
        return math.ceil(int(ms) / 1000)

    async def clear(self, key: str) -> None:
        await self.fallback.clear(key)
        events = self._keys(key)[0]

        async def forget(r: Redis) -> None:
            await r.delete(events)

        with contextlib.suppress(SharedUnavailable):  # the events leave the window anyway
            await self.link.run(forget)


class Throttles:
    """A context's throttles by name: in Redis when the context has a link to it."""

    def __init__(self, clock: Clock, link: RedisLink | None) -> None:
        self.clock = clock
        self.link = link
        self.by_name: dict[str, Throttle] = {}

    def get(self, name: str, limit: Limit) -> Throttle:
        """The throttle ``name`` with ``limit`` (a new one when the limit changed: the
        settings of a test)."""
        found = self.by_name.get(name)
        if found is None or found.limit != limit:
            if self.link is None:
                found = MemoryThrottle(self.clock, limit)
            else:
                found = RedisThrottle(name, self.clock, limit, self.link)
            self.by_name[name] = found
        return found


THROTTLES = Piece(
    "core.throttles",
    "shared state",
    lambda ctx: Throttles(ctx.clock, redis_link(ctx)),
    "the throttles by name (log-in, look-up, registration, meeting passcodes): counted in "
    "Redis across nodes with several nodes (in memory while Redis is down), else in memory",
)


def throttle(ctx: Context, name: str, limit: Limit) -> Throttle:
    """The throttle ``name``, with ``limit``."""
    return ctx.services.get(THROTTLES).get(name, limit)


def client_key(address: str | None) -> str:
    """The key of a client address: IPv4 as is, IPv6 by its /64 (a host owns a whole /64)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_of(connection: HTTPConnection) -> str:
    """The throttle key of a request's client (the proxy's X-Forwarded-For is resolved by
    uvicorn for the addresses in ``FORWARDED_ALLOW_IPS``)."""
    return client_key(connection.client.host if connection.client else None)
