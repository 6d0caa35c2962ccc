"""Message bus between nodes: publish to a channel, every subscriber on every node receives it.

:class:`InProcessBus` serves a single node; a Redis pub/sub implementation can follow with the
same methods. Messages on the topics that invalidate caches (``core/changes.py``
``DURABLE_TOPICS``) are also written to the durable change feed by :meth:`Bus.publish`, so that
other processes on the same database (the ``yuntong`` command, other nodes) see them too: their
pollers hand them to :meth:`Bus.deliver` of their own bus.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Feed = Callable[[str, dict[str, Any]], Awaitable[None]]
log = logging.getLogger(__name__)


class Bus(ABC):
    _feed: Feed | None = None
    _durable: frozenset[str] = frozenset()

    def attach_feed(self, topics: Iterable[str], feed: Feed) -> None:
        """Also hand every message on ``topics`` to ``feed`` (the durable change feed)."""
        self._durable = frozenset(topics)
        self._feed = feed

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver ``message`` to the subscribers; a durable topic's message is then written
        to the change feed (publish after the commit of the change it announces)."""
        await self.deliver(channel, message)
        if self._feed is not None and channel in self._durable:
            await self._feed(channel, message)

    @abstractmethod
    async def deliver(self, channel: str, message: dict[str, Any]) -> None:
        """Hand ``message`` to the subscribers this bus reaches, and nothing else (the change
        feed's poller delivers what another process published)."""

    @abstractmethod
    def subscribe(self, channel: str, handler: Handler) -> None: ...

    @abstractmethod
    def unsubscribe(self, channel: str, handler: Handler) -> None: ...


class InProcessBus(Bus):
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    async def deliver(self, channel: str, message: dict[str, Any]) -> None:
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
