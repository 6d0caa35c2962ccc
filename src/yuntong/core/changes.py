"""The durable change feed: cache invalidations that every process sees.

Each server keeps what the call path needs in memory (account statuses, block lists, presence
watchers, the price catalogue, credit standings) and drops a copy when a message arrives on the
bus. The in-process bus reaches only the process that made the change, and the Redis bus
reaches other nodes at most once (not while one of them, or Redis, is away); the ``yuntong``
command and other nodes change the same database. So every message on a topic of
:data:`DURABLE_TOPICS` is also written as a row of ``cache_changes`` (topic, payload, the
writing process), and every server polls the table every ``change_poll_s`` (1 s) — off the call
path — and delivers the rows other processes wrote to its own bus's subscribers, exactly as if
they had been published there.

Where the row is written: by :meth:`yuntong.core.bus.Bus.publish`, right after the caller's
commit (callers publish after committing), in a transaction of its own. One place for every
topic, and no caller has to pass its session along. The price: a process that dies, or a
database that fails, between the commit and this insert (milliseconds) leaves the other
processes' copies stale until the next change of the same thing or their restart. A server
keeps a row it could not write and writes it at its next poll; the CLI logs it
(``cache_change_not_written``). Writing inside the caller's transaction would close that
window but means threading a session through every publisher (the daily run alone has many
transactions); not worth it for a window of milliseconds.

Ids are handed out when a row is inserted, not when it commits: on PostgreSQL a row can become
visible after a higher id was already read. The poller remembers the ids it skipped over
(``holes``) for :data:`HOLE_WAIT_S` and reads them again until they appear (a rolled-back insert
never does). SQLite commits one writer at a time, and its ``AUTOINCREMENT`` never hands an id
out twice even once old rows are pruned (every :data:`PRUNE_EVERY_S`, rows older than
:data:`PRUNE_AFTER`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, String, delete, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.context import Context, Piece
from yuntong.core.db import Base, UTCDateTime
from yuntong.core.logging import get_logger

log = get_logger(__name__)

# Bus topics that invalidate something kept in memory, with the module that keeps it. A topic
# listed here is written to the feed by every publish (tests/unit/core/test_changes.py checks
# the owners' constants are here).
DURABLE_TOPICS = frozenset(
    {
        "accounts.status",  # accounts/parties.py: statuses on the call path; realtime/ws.py
        "contacts.changed",  # contacts/service.py block lists; presence/service.py watchers
        "billing.catalog",  # billing/catalog/catalog.py: products and prices
        "billing.account",  # billing/ledger/credit.py: credit standings
        "numbers.changed",  # numbers/directory.py: numbers' state and user for calls by number
        "supplementary.changed",  # supplementary/profile.py: users' services for call set-up
        "presence.dnd",  # presence/dnd.py: users' do-not-disturb (switch, schedules, pause)
        "tariffs.changed",  # tariffs/tables.py: the versions of the tariff tables
    }
)
HOLE_WAIT_S = 60.0  # an id skipped over is looked for again this long (a late commit)
PRIME_WINDOW = 64  # at start-up, missing ids this far below the highest are holes
MAX_HOLES = 1000
MAX_PENDING = 1000  # rows this process could not write, kept to retry
PRUNE_EVERY_S = 600.0
PRUNE_AFTER = timedelta(hours=1)


class CacheChange(Base):
    """A message on a durable topic, as published by some process (migration 0009)."""

    __tablename__ = "cache_changes"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids never reused after a prune

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(32))  # the writing process (skips its own)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@dataclass
class Feed:
    """This process's side of the feed: its name, and what its poller has read."""

    origin: str = field(default_factory=lambda: uuid.uuid4().hex)
    cursor: int | None = None  # the highest id read (None: not primed yet)
    holes: dict[int, float] = field(default_factory=dict)  # id below the cursor → missed since
    pending: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    pruned_at: float = 0.0


FEED = Piece(
    "changes.feed",
    "node-owned live state",
    lambda ctx: Feed(),
    "this process's name in the change feed, its poller's cursor and the rows it could not "
    "write yet",
)


def feed_of(ctx: Context) -> Feed:
    return ctx.services.get(FEED)


def attach(ctx: Context) -> None:
    """Make ``ctx.bus`` write every durable message to the feed (``build_context`` does)."""

    async def write(topic: str, payload: dict[str, Any]) -> None:
        await do_publish_change(ctx, topic, payload)

    ctx.bus.attach_feed(DURABLE_TOPICS, write)


async def do_publish_change(ctx: Context, topic: str, payload: dict[str, Any]) -> None:
    """Write ``payload`` on ``topic`` for the other processes, in a transaction of its own
    (after the change it announces was committed). Never raises: a row that cannot be written
    is kept for this process's poller to retry."""
    feed = feed_of(ctx)
    try:
        await _insert(ctx, feed, [(topic, payload)])
    except SQLAlchemyError:
        log.exception("cache_change_not_written", topic=topic)
        if len(feed.pending) < MAX_PENDING:
            feed.pending.append((topic, payload))


async def _insert(ctx: Context, feed: Feed, rows: list[tuple[str, dict[str, Any]]]) -> None:
    now = datetime.now(UTC)  # the wall clock: rows are pruned by age
    async with ctx.db.session() as s:
        s.add_all(
            CacheChange(topic=t, payload=p, origin=feed.origin, created_at=now) for t, p in rows
        )


async def do_prime(ctx: Context) -> None:
    """Start reading after the newest row: what is in memory now was read after it. Run at
    start-up, before anything is cached."""
    feed = feed_of(ctx)
    async with ctx.db.session() as s:
        top = int(await s.scalar(select(func.max(CacheChange.id))) or 0)
        present = set(
            (
                await s.execute(select(CacheChange.id).where(CacheChange.id > top - PRIME_WINDOW))
            ).scalars()
        )
    moment = time.monotonic()
    feed.holes = {i: moment for i in range(max(1, top - PRIME_WINDOW + 1), top) if i not in present}
    feed.cursor = top


async def do_poll(ctx: Context) -> int:
    """Deliver to this process's bus the changes other processes wrote since the last poll;
    retry rows this process could not write; now and then delete old rows. Returns the
    changes delivered."""
    feed = feed_of(ctx)
    if feed.pending:
        unsent, feed.pending = feed.pending, []
        try:
            await _insert(ctx, feed, unsent)
        except SQLAlchemyError:
            feed.pending = unsent + feed.pending
            raise
    if feed.cursor is None:
        await do_prime(ctx)
        return 0
    cursor = feed.cursor
    moment = time.monotonic()
    feed.holes = {i: t for i, t in feed.holes.items() if moment - t < HOLE_WAIT_S}
    query = select(CacheChange.id, CacheChange.topic, CacheChange.payload, CacheChange.origin)
    if feed.holes:
        query = query.where(or_(CacheChange.id > cursor, CacheChange.id.in_(list(feed.holes))))
    else:
        query = query.where(CacheChange.id > cursor)
    async with ctx.db.session() as s:
        rows = (await s.execute(query.order_by(CacheChange.id))).all()
    delivered = 0
    for change_id, topic, payload, origin in rows:
        feed.holes.pop(change_id, None)
        if change_id > cursor:
            for missing in range(max(cursor + 1, change_id - MAX_HOLES), change_id):
                feed.holes.setdefault(missing, moment)
            cursor = change_id
        if origin != feed.origin and topic in DURABLE_TOPICS:  # its own went through the bus
            await ctx.bus.deliver(topic, dict(payload))
            delivered += 1
    feed.cursor = cursor
    if len(feed.holes) > MAX_HOLES:  # keep the newest
        feed.holes = dict(sorted(feed.holes.items())[-MAX_HOLES:])
    if moment - feed.pruned_at >= PRUNE_EVERY_S:
        feed.pruned_at = moment
        async with ctx.db.session() as s:
            await s.execute(
                delete(CacheChange).where(CacheChange.created_at < datetime.now(UTC) - PRUNE_AFTER)
            )
    return delivered


async def _poll_loop(ctx: Context) -> None:
    while True:
        await asyncio.sleep(ctx.settings.change_poll_s)
        try:
            await do_poll(ctx)
        except Exception:
            log.exception("cache_change_poll_failed")


async def start(ctx: Context) -> asyncio.Task[None] | None:
    """Prime the feed and start this node's poller (``change_poll_s`` 0: none — one process
    does everything)."""
    if ctx.settings.change_poll_s <= 0:
        return None
    await do_prime(ctx)
    return asyncio.create_task(_poll_loop(ctx), name="cache-changes")


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
