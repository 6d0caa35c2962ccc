"""Message bus between nodes: publish to a channel, every subscriber on every node receives it.

:class:`InProcessBus` serves a single node; a Redis pub/sub implementation can follow with the
same three methods.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[dict[str, Any]], Awaitable[None]]
log = logging.getLogger(__name__)


class Bus(ABC):
    @abstractmethod
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    @abstractmethod
    def subscribe(self, channel: str, handler: Handler) -> None: ...

    @abstractmethod
    def unsubscribe(self, channel: str, handler: Handler) -> None: ...


class InProcessBus(Bus):
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
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
