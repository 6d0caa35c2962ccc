"""What every bus does: publish to a channel, subscribe handlers, start and close.

A message is a JSON object (a dict of JSON values). Pub/sub is at-most-once: a message
published while a node is unreachable is lost for that node, so nothing that must not be lost
travels only by the bus. Messages on the topics that invalidate caches (``core/changes.py``
``DURABLE_TOPICS``) are therefore also written to the durable change feed by
:meth:`Bus.publish`, so that other processes on the same database (the ``yuntong`` command,
other nodes) see them too: their pollers hand them to :meth:`Bus.deliver` of their own bus.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Feed = Callable[[str, dict[str, Any]], Awaitable[None]]


def node_channel(node_id: str) -> str:
    """The channel only node ``node_id`` listens on (commands forwarded to an owner node)."""
    return f"node:{node_id}"


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
        """Hand ``message`` to this process's subscribers, and nothing else (the change
        feed's poller delivers what another process published)."""

    @abstractmethod
    def subscribe(self, channel: str, handler: Handler) -> None: ...

    @abstractmethod
    def unsubscribe(self, channel: str, handler: Handler) -> None: ...

    @abstractmethod
    async def start(self) -> None:
        """Start receiving what other nodes publish (a server, early in its start-up). A
        process that only publishes (the ``yuntong`` command) never starts its bus."""

    @abstractmethod
    async def close(self) -> None:
        """Stop receiving and release connections; may be called more than once."""

    @abstractmethod
    async def status(self) -> str:
        """``ok`` when the bus reaches the other nodes, else ``unavailable: <why>``."""
