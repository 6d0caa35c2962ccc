"""The bus of several nodes: Redis pub/sub (``YUNTONG_REDIS_URL``), reconnected by itself.

- **Publish** hands the message to this node's handlers at once (exactly once: the copy that
  comes back from Redis is recognised by its origin and skipped) and queues it for Redis; one
  task sends the queue in order, pipelined, so a caller never waits for Redis. A durable
  topic's message is also written to the change feed, as :meth:`Bus.publish` does.
- **Receive**: the listener reads what the other nodes published and hands it to this node's
  handlers in order from a task of its own, so a handler that waits never holds up reading;
  messages on the node's own channel (requests forwarded between nodes and their answers,
  ``cluster/forward.py``) are handed out at once, so an answer is never stuck behind a handler
  that awaits it.
- **Subscribe** keeps the handler here; the channel is subscribed in Redis when its first
  handler comes and unsubscribed when its last goes (one listener connection per node, which
  also always listens on the node's own channel, :func:`node_channel`).
- **Redis down**: the listener notices (the connection closes, or a PING on an idle connection
  goes unanswered for ``bus_ping_s``), reconnects with a jittered back-off on the injected
  clock (0.1 s doubling to ``bus_reconnect_max_s``) and subscribes every channel that has
  handlers again. Meanwhile publishing still reaches this node's handlers; what was meant for
  the other nodes is dropped and counted (``yuntong_bus_publish_failures_total``): pub/sub is
  at-most-once, and what must not be lost is written to the database first (cache
  invalidations also go through the change feed, which the other nodes poll).

The bus has a Redis client of its own (``ctx.redis`` is for presence, leases and the like):
one that never retries by itself and gives up after ``redis_timeout_s``, so that a lost Redis
is noticed here and handled in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
from collections import deque
from typing import Any

from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from yuntong.config import Settings
from yuntong.core.bus.inprocess import InProcessBus
from yuntong.core.bus.interface import Bus, Handler, node_channel
from yuntong.core.clock import Clock
from yuntong.core.logging import get_logger

log = get_logger(__name__)

RECONNECTS = Counter(
    "yuntong_bus_reconnects_total", "Times the Redis bus got its subscriptions back after a loss"
)
PUBLISH_FAILURES = Counter(
    "yuntong_bus_publish_failures_total",
    "Messages that reached this node's handlers but not Redis, by reason",
    ["reason"],
)
CONNECTED = Gauge("yuntong_bus_connected", "1 while the Redis bus listens, else 0")

BACKOFF_FIRST_S = 0.1
MAX_OUTBOX = 10_000  # messages queued for Redis; beyond, new ones are dropped (and counted)
MAX_BATCH = 256  # messages sent in one pipeline
# a connection that failed for one of these is lost: reconnect (anything else is a bug,
# logged with its trace, and reconnected from just the same)
LOST = (RedisError, OSError, TimeoutError)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class RedisBus(Bus):
    """A node's bus on Redis; :meth:`start` the listener in a server, not in the CLI."""

    def __init__(
        self,
        url: str,
        node_id: str,
        clock: Clock,
        *,
        timeout_s: float = 2.0,
        reconnect_max_s: float = 5.0,
        ping_s: float = 5.0,
    ) -> None:
        self.node_id = node_id
        self.origin = secrets.token_hex(8)  # this bus, not the node: the CLI may share an id
        self._local = InProcessBus()
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._clock = clock
        self._timeout_s = timeout_s
        self._reconnect_max_s = reconnect_max_s
        self._ping_s = ping_s
        self._listener: asyncio.Task[None] | None = None
        self._connected = False
        self._why = "not connected yet"
        self._lost_once = False
        self._sent: set[str] = set()  # channels subscribed on the current connection
        self._confirmed: set[str] = set()  # … and confirmed by Redis
        self._changed: set[str] = set()  # channels whose first handler came or last went
        self._wanted_changed = asyncio.Event()
        self._progress = asyncio.Event()
        self._outbox: deque[tuple[str, str]] = deque()
        self._inbox: deque[tuple[str, dict[str, Any]]] = deque()  # received, to hand out
        self._dispatcher: asyncio.Task[None] | None = None
        self._own = node_channel(node_id)
        self._sender: asyncio.Task[None] | None = None
        self._failing: str | None = None  # the reason publishing fails, logged once a streak

    @classmethod
    def from_settings(cls, settings: Settings, node_id: str, clock: Clock) -> RedisBus:
        return cls(
            settings.redis_url,
            node_id,
            clock,
            timeout_s=settings.redis_timeout_s,
            reconnect_max_s=settings.bus_reconnect_max_s,
            ping_s=settings.bus_ping_s,
        )

    # -- what the node subscribes ------------------------------------------------------------

    def subscribe(self, channel: str, handler: Handler) -> None:
        first = not self._local.listens(channel)
        self._local.subscribe(channel, handler)
        if first:
            self._changed.add(channel)
            self._wanted_changed.set()

    def unsubscribe(self, channel: str, handler: Handler) -> None:
        self._local.unsubscribe(channel, handler)
        if not self._local.listens(channel):
            self._changed.add(channel)
            self._wanted_changed.set()

    def wanted(self) -> set[str]:
        """The channels this node listens on in Redis: those with handlers, and its own."""
        return self._local.channels | {node_channel(self.node_id)}

    @property
    def connected(self) -> bool:
        """The listener holds a connection on which Redis confirmed a subscription."""
        return self._connected

    async def synced(self, timeout: float) -> bool:
        """Wait (up to ``timeout`` s) until Redis has confirmed a subscription to every channel
        that has handlers here: from then on, what any node publishes on them reaches this
        node. False if that did not happen in time."""
        try:
            async with asyncio.timeout(timeout):
                while not (self._connected and self.wanted() <= self._confirmed):
                    self._progress.clear()
                    await self._progress.wait()
        except TimeoutError:
            return False
        return True

    # -- publishing --------------------------------------------------------------------------

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Queue ``message`` for the other nodes, then deliver it here (and write a durable
        topic's message to the change feed). Never waits for Redis, never raises for it."""
        self._enqueue(channel, message)
        await super().publish(channel, message)

    async def deliver(self, channel: str, message: dict[str, Any]) -> None:
        await self._local.deliver(channel, message)

    def _enqueue(self, channel: str, message: dict[str, Any]) -> None:
        try:
            payload = json.dumps(
                {"o": self.origin, "m": message}, separators=(",", ":"), ensure_ascii=False
            )
        except (TypeError, ValueError):
            log.exception("bus_message_not_json", channel=channel)
            PUBLISH_FAILURES.labels("not_json").inc()
            return
        if len(self._outbox) >= MAX_OUTBOX:
            self._dropped("overflow", 1, f"more than {MAX_OUTBOX} messages waiting for Redis")
            return
        self._outbox.append((channel, payload))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send(), name="bus-redis-publish")

    async def _send(self) -> None:
        """Send what is queued, in order, a pipeline at a time, until the queue is empty."""
        while self._outbox:
            batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), MAX_BATCH))]
            if self._listener is not None and not self._connected:
                self._dropped("redis_down", len(batch), self._why)
                continue
            try:
                async with asyncio.timeout(self._timeout_s):
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for channel, payload in batch:
                            pipe.publish(channel, payload)
                        await pipe.execute()
            except TimeoutError:
                self._dropped("timeout", len(batch), f"no answer within {self._timeout_s:g} s")
            except LOST as exc:
                self._dropped("error", len(batch), _describe(exc))
            else:
                if self._failing is not None:
                    log.info("bus_publish_recovered")
                    self._failing = None

    def _dropped(self, reason: str, count: int, why: str) -> None:
        PUBLISH_FAILURES.labels(reason).inc(count)
        if self._failing is None:
            log.warning("bus_publish_failed", reason=reason, why=why, messages=count)
        self._failing = reason

    # -- listening ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the listener and wait (at most ``redis_timeout_s``) for its subscriptions; a
        node whose Redis is down starts all the same, and the listener keeps trying."""
        if self._listener is not None:
            return
        self._listener = asyncio.create_task(self._listen(), name="bus-redis-listen")
        if not await self.synced(self._timeout_s):
            log.warning("bus_not_connected_at_start", why=self._why)

    async def close(self) -> None:
        """Stop the listener, give what is queued ``redis_timeout_s`` to go out, disconnect."""
        listener, self._listener = self._listener, None
        for task in (listener, self._dispatcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._inbox.clear()
        sender = self._sender
        if sender is not None and not sender.done():
            try:
                await asyncio.wait_for(asyncio.shield(sender), self._timeout_s + 1)
            except TimeoutError:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
        self._set_connected(False)
        await self._redis.aclose()

    async def _listen(self) -> None:
        failures = 0
        while True:
            pubsub = self._redis.pubsub()
            try:
                await self._connect(pubsub)
                await self._run(pubsub)
            except LOST as exc:
                self._down(_describe(exc))
            except Exception as exc:
                log.exception("bus_listener_failed")
                self._down(_describe(exc))
            finally:
                was_up = self._connected
                self._set_connected(False)
                self._sent.clear()
                self._confirmed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            failures = 1 if was_up else failures + 1
            delay = min(self._reconnect_max_s, BACKOFF_FIRST_S * 2 ** (failures - 1))
            jitter = random.uniform(0.5, 1.0)  # no two nodes retrying in step
            await self._clock.sleep(delay * jitter)

    async def _connect(self, pubsub: PubSub) -> None:
        self._changed.clear()  # all of them, now
        wanted = self.wanted()
        await pubsub.subscribe(*wanted)
        self._sent = wanted

    def _up(self) -> None:
        """Redis confirmed a subscription on this connection: it answers."""
        self._set_connected(True)
        if self._lost_once:
            RECONNECTS.inc()
            log.info("bus_reconnected", channels=len(self._sent))

    def _down(self, why: str) -> None:
        self._why = why
        self._lost_once = True
        if self._connected:
            log.warning("bus_redis_lost", why=why)

    def _set_connected(self, up: bool) -> None:
        self._connected = up
        CONNECTED.set(1 if up else 0)

    async def _run(self, pubsub: PubSub) -> None:
        """Read and keep the subscriptions in step with the handlers, until either fails."""
        tasks = [
            asyncio.create_task(self._read(pubsub), name="bus-redis-read"),
            asyncio.create_task(self._sync(pubsub), name="bus-redis-sync"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
            raise RuntimeError("the bus listener stopped")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _sync(self, pubsub: PubSub) -> None:
        """Subscribe the channels whose first handler came, unsubscribe those whose last went
        (only those: a node may listen on many users' channels)."""
        own = node_channel(self.node_id)
        while True:
            await self._wanted_changed.wait()
            self._wanted_changed.clear()
            changed, self._changed = self._changed, set()
            wanted = {c for c in changed if c == own or self._local.listens(c)}
            missing, extra = wanted - self._sent, (changed - wanted) & self._sent
            if missing:
                await pubsub.subscribe(*missing)
                self._sent |= missing
            if extra:
                await pubsub.unsubscribe(*extra)
                self._sent -= extra

    async def _read(self, pubsub: PubSub) -> None:
        pinged = False
        while True:
            reply = await pubsub.get_message(timeout=self._ping_s)
            if reply is None:  # quiet for ping_s: is Redis still there?
                if pinged:
                    raise TimeoutError(f"no answer to PING within {self._ping_s:g} s")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            kind = reply["type"]
            if kind == "message":
                await self._receive(reply["channel"].decode(), reply["data"])
            elif kind == "subscribe":
                if not self._connected:
                    self._up()
                self._confirmed.add(reply["channel"].decode())
                self._progress.set()
            elif kind == "unsubscribe":
                self._confirmed.discard(reply["channel"].decode())

    async def _receive(self, channel: str, data: bytes) -> None:
        try:
            envelope = json.loads(data)
            origin, message = envelope["o"], envelope["m"]
        except (ValueError, TypeError, KeyError):
            log.warning("bus_message_unreadable", channel=channel)
            return
        if origin == self.origin:  # published here: delivered already
            return
        if channel == self._own:  # requests and answers between nodes: quick handlers, at once
            await self._local.deliver(channel, message)
            return
        self._inbox.append((channel, message))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="bus-redis-dispatch")

    async def _dispatch(self) -> None:
        """Hand what was received to this node's handlers, in order, off the reader: a handler
        that waits (a socket slow to take an event, a command forwarded to another node and
        awaiting its answer) never keeps the reader from the node channel's answers."""
        while self._inbox:
            channel, message = self._inbox.popleft()
            await self._local.deliver(channel, message)

    # -- health ------------------------------------------------------------------------------

    async def status(self) -> str:
        """``ok`` when the listener is connected (or not started) and Redis answers a PING
        within ``redis_timeout_s``, else ``unavailable: <why>``."""
        if self._listener is not None and not self._connected:
            return f"unavailable: {self._why}"
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._redis.ping()
        except TimeoutError:
            return f"unavailable: no answer within {self._timeout_s:g} s"
        except LOST as exc:
            return f"unavailable: {_describe(exc)}"
        return "ok"
