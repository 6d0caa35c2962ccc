"""The message bus between nodes: publish to a channel, every subscriber on every node gets it.

- ``interface``: :class:`Bus` (what every bus does, the change feed hand-off), ``Handler``,
  :func:`node_channel`;
- ``inprocess``: :class:`InProcessBus`, one node (the embedded default);
- ``redis``: ``RedisBus``, several nodes on one Redis (``YUNTONG_REDIS_URL``).
"""

from __future__ import annotations

from yuntong.core.bus.inprocess import InProcessBus
from yuntong.core.bus.interface import Bus, Feed, Handler, node_channel

__all__ = ["Bus", "Feed", "Handler", "InProcessBus", "node_channel"]
