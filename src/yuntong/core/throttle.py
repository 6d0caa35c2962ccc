"""Throttles: count what a key does in a sliding window and hold the key off at a limit.

One mechanism for every guessable thing (passwords, meeting passcodes, look-ups by phone or
e-mail): a :class:`Throttle` per purpose, keyed by strings such as ``"u42|203.0.113.0"``,
answering how many seconds a key must wait (``Retry-After``).

The state is per process, in memory: with several nodes each node counts on its own, so an
attacker spread over N nodes gets N times the budget, and a restart forgets every count. The
whole interface is :class:`Throttle` (``wait``, ``hit``, ``check``, ``take``, ``clear``) and
:func:`throttle` (which one a purpose uses), so that a later issue can keep the same interface
on Redis and share the counts between nodes.
"""

from __future__ import annotations

import ipaddress
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from yuntong.core.clock import Clock
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError

MAX_KEYS = 100_000  # per throttle: the memory a spray of keys may take (~20 MB at most)


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


class Throttle:
    """Events per key in a sliding window, with lock-out (one process; see the module doc)."""

    def __init__(self, clock: Clock, limit: Limit, max_keys: int = MAX_KEYS) -> None:
        self.clock = clock
        self.limit = limit
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

    def wait(self, key: str) -> int:
        """Whole seconds before ``key`` may act again; 0: now."""
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

    def hit(self, key: str) -> int:
        """Count one event of ``key``; the wait it leads to (0: the key may go on)."""
        if self.limit.count <= 0:
            return 0  # 0 turns the throttle off
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
        return self.wait(key)

    def check(self, key: str, code: str = "rate_limited", **params: Any) -> None:
        """Raise ``code`` (429 unless the code says otherwise) with the wait if ``key`` waits.

        A ``minutes`` parameter, if the message has one, is filled with the minutes left.
        """
        if self.limit.count <= 0:
            return
        seconds = self.wait(key)
        if seconds > 0:
            raise YuntongError(
                code, retry_after=seconds, **{"minutes": math.ceil(seconds / 60), **params}
            )

    def take(self, key: str, code: str = "rate_limited") -> None:
        """Check, then count: for actions limited whether they succeed or not (look-ups)."""
        self.check(key, code)
        self.hit(key)

    def clear(self, key: str) -> None:
        """Forget ``key``'s events (a success); a lock-out in force stays."""
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


THROTTLES = Piece(
    "core.throttles",
    "shared state",
    lambda ctx: dict[str, Throttle](),
    "this process's throttles by name: log-in, look-up, registration, meeting passcodes "
    "(counted per node until issue 13 moves them to Redis)",
)


def throttle(ctx: Context, name: str, limit: Limit) -> Throttle:
    """The throttle ``name`` of this process, with ``limit`` (a new one when the limit
    changed: the settings of a test)."""
    throttles = ctx.services.get(THROTTLES)
    found = throttles.get(name)
    if found is None or found.limit != limit:
        found = throttles[name] = Throttle(ctx.clock, limit)
    return found


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
