"""Calls through the SIP edge that a stopped node left open. A node's Kamailio runs beside it
and keeps the dialogs in its memory: when the node stops (or dies), so do they, and their end
is never reported. At a node's start-up its previous run's open calls are closed, and the sweep
of dead nodes' rows (:mod:`yuntong.cluster.recovery`) closes a dead node's, as
``interrupted`` (cause 41); an answered one is billed up to its answer only, never for time
nobody can vouch for (docs/sip.md)."""

from __future__ import annotations

from sqlalchemy import select, update

from yuntong.calls import causes
from yuntong.calls.models import CallOutcome
from yuntong.cluster import nodes
from yuntong.core.context import Context
from yuntong.sip.models import SipCall

OPEN = ("routing", "answered")


async def do_close_interrupted_sip_calls(ctx: Context, *, at_start: bool = True) -> int:
    """Close the open SIP calls of this node's previous run (at start-up) and of dead nodes;
    returns how many. A live node's calls are never touched."""
    async with ctx.db.session() as s:
        query = select(SipCall.node_id).where(SipCall.state.in_(OPEN)).distinct()
        found = set((await s.execute(query)).scalars())
    owners = await nodes.recoverable(ctx, found, at_start=at_start)
    if not owners:
        return 0
    now = ctx.clock.now()
    closed = 0
    async with ctx.db.session() as s:
        rows = (
            await s.execute(
                select(SipCall.id, SipCall.node_id, SipCall.answered_at).where(
                    SipCall.state.in_(OPEN)
                )
            )
        ).all()
        for call_id, node_id, answered_at in rows:
            if not (node_id in owners.nodes or (owners.unowned and node_id is None)):
                continue
            result = await s.execute(
                update(SipCall)
                .where(SipCall.id == call_id, SipCall.state.in_(OPEN))
                .values(
                    state="ended",
                    outcome=CallOutcome.INTERRUPTED,
                    cause=causes.TEMPORARY_FAILURE,
                    ended_at=answered_at or now,
                    billable_seconds=0,
                )
            )
            closed += result.rowcount or 0  # type: ignore[attr-defined]
    return closed
