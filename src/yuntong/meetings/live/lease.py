"""The owner lease of a live meeting: which node runs its room, so that two nodes never open
two Janus rooms for one meeting (issue 13, "a live meeting is owned by one node").

The lease is the meeting's own row: ``node_id`` (the holder), ``owner_until`` (its expiry)
and ``owner_fence`` (bumped at every take). A node opens a room only after taking the lease
in one conditional ``UPDATE`` — free, expired, or its own previous run's — which PostgreSQL
re-checks against the committed row and SQLite runs alone, so of two nodes opening a meeting
at once one wins. The room renews it every third of ``meeting_lease_s``; a renewal that finds
another fence (taken over after this node stalled) or cannot reach the database until it
expired loses it, and the room stops acting (:meth:`~.room.Room.abandon`). Another node takes
a meeting over only once its lease has expired. The row, not Redis, holds it: the writes the
fence must guard (the meeting marked live or ended) are in the database, the lease works the
same without Redis (one node on SQLite), and a renewal is one ``UPDATE`` per room every few
seconds. Moments are the node clock's (``cluster.nodes.NodeState.clock``): leases compare
moments written by different nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from yuntong.cluster.nodes import node_of
from yuntong.core.context import Context
from yuntong.core.logging import get_logger
from yuntong.meetings import store

log = get_logger(__name__)


@dataclass
class MeetingLease:
    """This node's hold on a meeting: the fence it took, and until when it holds it."""

    meeting_id: str
    fence: int
    until: datetime
    lost: bool = False


def _until(ctx: Context) -> tuple[datetime, datetime]:
    now = node_of(ctx).clock.now()
    return now, now + timedelta(seconds=ctx.settings.meeting_lease_s)


async def take(ctx: Context, meeting_id: str) -> MeetingLease | None:
    """This node's lease on the meeting, or None while another node holds it (or it ended)."""
    now, until = _until(ctx)
    async with ctx.db.session() as s:
        fence = await store.take_owner_lease(s, meeting_id, ctx.node_id, now, until)
    if fence is None:
        return None
    log.debug("meeting_lease_taken", meeting=meeting_id, node=ctx.node_id, fence=fence)
    return MeetingLease(meeting_id, fence, until)


async def renew(ctx: Context, lease: MeetingLease) -> bool:
    """Extend the lease; False once it is lost (taken over, or expired while the database
    could not be reached)."""
    if lease.lost:
        return False
    now, until = _until(ctx)
    try:
        async with ctx.db.session() as s:
            held = await store.renew_owner_lease(
                s, lease.meeting_id, ctx.node_id, lease.fence, until
            )
    except SQLAlchemyError:
        log.exception("meeting_lease_not_renewed", meeting=lease.meeting_id)
        held = now < lease.until
    else:
        if held:
            lease.until = until
    if not held:
        lease.lost = True
        log.warning("meeting_lease_lost", meeting=lease.meeting_id, fence=lease.fence)
    return held


async def release(ctx: Context, lease: MeetingLease) -> None:
    """Let the meeting go (its room ended, or could not open): any node may take it now."""
    if lease.lost:
        return
    lease.lost = True
    try:
        async with ctx.db.session() as s:
            await store.release_owner_lease(s, lease.meeting_id, ctx.node_id, lease.fence)
    except SQLAlchemyError:  # it expires by itself
        log.exception("meeting_lease_not_released", meeting=lease.meeting_id)


async def owner(ctx: Context, meeting_id: str) -> str | None:
    """The node running the meeting's room now (None: nobody; the lease is free)."""
    now = node_of(ctx).clock.now()
    async with ctx.db.session() as s:
        return await store.owner_of(s, meeting_id, now)


async def owners(ctx: Context, meeting_ids: set[str]) -> dict[str, str | None]:
    """:func:`owner` of several meetings, in one query."""
    now = node_of(ctx).clock.now()
    async with ctx.db.session() as s:
        return await store.owners_of(s, meeting_ids, now)
