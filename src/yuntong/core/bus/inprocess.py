"""The bus of one process: a handler table, delivery by direct calls (the embedded default).

:class:`~yuntong.core.bus.redis.RedisBus` keeps its node's handlers in one of these too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from yuntong.core.bus.interface import Bus, Handler

log = logging.getLogger(__name__)


class InProcessBus(Bus):
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    async def deliver(self, channel: str, message: dict[str, Any]) -> None:
        """Await every handler of ``channel``; one that raises is logged and does not stop
        the others."""
        handlers = self._handlers.get(channel)
        if not handlers:
            return
        if len(handlers) == 1:  # the common case: one node's hub for one user
            try:
                await handlers[0](message)
            except Exception:
                log.exception("bus handler failed")
            return
        results = await asyncio.gather(
            *(h(message) for h in list(handlers)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Exception):
                log.error("bus handler failed", exc_info=result)

    def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers[channel].append(handler)

    def unsubscribe(self, channel: str, handler: Handler) -> None:
        handlers = self._handlers.get(channel)
        if handlers and handler in handlers:
            handlers.remove(handler)
            if not handlers:
                del self._handlers[channel]

    async def start(self) -> None:
        """Nothing to start: one process."""

    async def close(self) -> None:
        """Nothing to release."""

    async def status(self) -> str:
        return "ok"

    @property
    def channels(self) -> set[str]:
        """The channels that have at least one handler."""
        return set(self._handlers)

    def listens(self, channel: str) -> bool:
        return channel in self._handlers
