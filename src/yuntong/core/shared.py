"""Shared truth in Redis: how the pieces kept there (busy marks, do-not-disturb, throttles)
reach it — every call bounded by a time-out, and after a failure Redis is left alone for a
moment while each piece answers from its fallback (docs/operations.md, "Shared truth").

Only the pieces' fallbacks differ; noticing an outage, logging it once and its end once, and
trying again is the same for all of them, so it lives here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from yuntong.core.context import Context, Piece
from yuntong.core.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")

CALL_TIMEOUT_S = 2.0  # a Redis that hangs costs one caller this long per retry period
RETRY_S = 1.0  # after a failure, callers use their fallback this long before Redis is tried


class SharedUnavailable(Exception):
    """Redis could not be asked (down, unreachable, too slow): use the fallback."""


class RedisLink:
    """``ctx.redis`` as the shared pieces use it: :meth:`run` raises
    :class:`SharedUnavailable` instead of hanging or leaking a connection error."""

    def __init__(
        self, redis: Redis, timeout_s: float = CALL_TIMEOUT_S, retry_s: float = RETRY_S
    ) -> None:
        self.redis = redis
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.down_since: float | None = None  # monotonic, while an outage lasts
        self._retry_at = 0.0

    @property
    def up(self) -> bool:
        """Whether the last call reached Redis."""
        return self.down_since is None

    def script(self, lua: str) -> AsyncScript:
        """A Lua script, run by its digest (and loaded again after Redis restarted)."""
        return self.redis.register_script(lua)

    async def run(self, call: Callable[[Redis], Awaitable[T]]) -> T:
        """``call(redis)``, or :class:`SharedUnavailable` at once while Redis is being left
        alone after a failure."""
        if self.down_since is not None and time.monotonic() < self._retry_at:
            raise SharedUnavailable
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await call(self.redis)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            raise SharedUnavailable from exc
        if self.down_since is not None:
            log.warning("redis_back", down_s=round(time.monotonic() - self.down_since, 1))
            self.down_since = None
        return result

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._retry_at = now + self.retry_s
        if self.down_since is None:
            self.down_since = now
            log.warning("redis_unavailable", error=type(exc).__name__, detail=str(exc)[:200])


REDIS_LINK = Piece(
    "core.redis_link",
    "node-owned live state",
    lambda ctx: RedisLink(ctx.redis) if ctx.redis is not None else None,
    "how the shared pieces reach Redis (None on the embedded single node): time-outs, and "
    "whether Redis is down right now",
)


def redis_link(ctx: Context) -> RedisLink | None:
    """This node's link to the shared Redis; None on the embedded single node."""
    return ctx.services.get(REDIS_LINK)
