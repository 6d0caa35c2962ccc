"""Calls a stopped node left open: closed as ``interrupted`` (at a node's start-up, and by the
sweep of dead nodes' rows in :mod:`yuntong.cluster.recovery`), billed up to the last moment
their node knew them alive."""

from __future__ import annotations

import math

from yuntong.calls import store
from yuntong.calls.models import CallOutcome, CallState
from yuntong.cluster import nodes
from yuntong.core.context import Context


async def do_close_interrupted_calls(ctx: Context, *, at_start: bool = True) -> int:
    """Close the calls a stopped node left open as ``interrupted``; returns how many: at
    start-up this node's previous run's, a dead node's and those without a node, in a sweep a
    dead node's only (``cluster.nodes.recoverable``; a live node's calls are never touched).

    An answered call is billed up to the last moment its server knew it was alive (its last
    checkpoint, or its answer when there was none), never for the time the server was down;
    it is recorded as having ended then."""
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        found = await store.open_record_owners(session)
    owners = await nodes.recoverable(ctx, found, at_start=at_start)
    if not owners:
        return 0
    async with ctx.db.session() as session:
        records = await store.open_records(session, owners.nodes, owners.unowned)
        for record in records:
            answered = record.answered_at
            duration_ms = 0
            ended = now
            if answered is not None:
                ended = max(answered, record.alive_at or answered)
                duration_ms = int((ended - answered).total_seconds() * 1000)
            record.state = CallState.ENDED
            record.outcome = CallOutcome.INTERRUPTED
            record.end_reason = "server_restart"
            record.ended_at = ended
            record.duration_ms = duration_ms
            record.billable_seconds = math.ceil(duration_ms / 1000)
    return len(records)
