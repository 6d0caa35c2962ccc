"""Calls a stopped node left open: closed as ``interrupted`` (at a node's start-up, and by the
sweep of dead nodes' rows in :mod:`yuntong.cluster.recovery`), billed up to the last moment
their node knew them alive."""

from __future__ import annotations

import math
from typing import Any

from yuntong.calls import engine, store
from yuntong.calls.causes import cause_for
from yuntong.calls.models import CallOutcome, CallRecord, CallState
from yuntong.cluster import nodes
from yuntong.core.context import Context


async def do_close_interrupted_calls(ctx: Context, *, at_start: bool = True) -> int:
    """Close (or, with several nodes, take over) the calls a stopped node left open; returns
    how many: at start-up this node's previous run's, a dead node's and those without a node,
    in a sweep a dead node's only (``cluster.nodes.recoverable``; a live node's calls are never
    touched).

    On the embedded single node every such call is closed as ``interrupted``: an answered one
    billed up to the last moment its server knew it was alive (its last checkpoint, or its
    answer when there was none), never for the time the server was down, and recorded as having
    ended then. With several nodes (Redis) the parties' sockets come back on the surviving
    nodes and a peer-to-peer call's media never went through the dead one: an answered call is
    *taken over* by this node (fenced: one node wins) and goes on, ended later by its parties
    or by their devices not coming back (``engine.do_watch_devices``); a ringing one is closed
    as ``interrupted`` and its parties are told."""
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        found = await store.open_record_owners(session)
    owners = await nodes.recoverable(ctx, found, at_start=at_start)
    if not owners:
        return 0
    several = ctx.redis is not None
    adopted: list[CallRecord] = []
    closed: list[CallRecord] = []
    async with ctx.db.session() as session:
        records = await store.open_records(session, owners.nodes, owners.unowned)
        session.expunge_all()  # closed by fenced statements below, never by a flush
        for record in records:
            leg_of = record.parent_call_id if record.answered_at is not None else None
            if several and leg_of is not None and await store.is_open(session, leg_of):
                continue  # an answered forwarded leg goes with its call (engine.do_adopt)
            if several and record.node_id is not None and record.answered_at is not None:
                if record.node_id == ctx.node_id or await store.take_over(
                    session, record.id, record.node_id, ctx.node_id
                ):
                    adopted.append(record)
                continue
            answered = record.answered_at
            duration_ms = 0
            ended = now
            if answered is not None:
                ended = max(answered, record.alive_at or answered)
                duration_ms = int((ended - answered).total_seconds() * 1000)
            values: dict[str, Any] = {
                "state": CallState.ENDED,
                "outcome": CallOutcome.INTERRUPTED,
                "end_reason": "server_restart",
                "ended_at": ended,
                "duration_ms": duration_ms,
                "billable_seconds": math.ceil(duration_ms / 1000),
                "cause": cause_for(CallOutcome.INTERRUPTED, "server_restart"),
            }
            if await store.close_open(session, record, **values):
                await store.close_holds(session, record.id, ended)  # held until the end
                for name, value in values.items():
                    setattr(record, name, value)
                closed.append(record)
    for record in adopted:
        await engine.do_adopt(ctx, record)
    if several:
        for record in closed:
            if record.parent_call_id is None:  # a leg's parties are told with its call
                await engine.tell_ended(ctx, record)
    return len(adopted) + len(closed)
