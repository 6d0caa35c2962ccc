"""SIP calls a stopped node left open are closed at its next start, as interrupted, billed
up to their answer only (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from yuntong.core.context import Context
from yuntong.core.ids import new_id
from yuntong.sip.models import SipCall
from yuntong.sip.recovery import do_close_interrupted_sip_calls


def _call(ctx: Context, state: str, answered: bool) -> SipCall:
    now = ctx.clock.now()
    return SipCall(
        id=new_id(),
        sip_call_id=new_id(),
        direction="internal",
        source="phone",
        state=state,
        created_at=now - timedelta(minutes=5),
        answered_at=now - timedelta(minutes=4) if answered else None,
        node_id=ctx.node_id,
        route={},
    )


async def test_open_calls_of_the_previous_run_are_closed_at_start(ctx: Context) -> None:
    ringing, talking = _call(ctx, "routing", False), _call(ctx, "answered", True)
    done = _call(ctx, "ended", True)
    async with ctx.db.session() as s:
        s.add_all([ringing, talking, done])
    assert await do_close_interrupted_sip_calls(ctx, at_start=True) == 2
    assert await do_close_interrupted_sip_calls(ctx, at_start=True) == 0  # once
    async with ctx.db.session() as s:
        got = {c.id: c for c in [await s.get(SipCall, x.id) for x in (ringing, talking, done)] if c}
    assert got[ringing.id].state == "ended" and got[ringing.id].outcome == "interrupted"
    assert got[ringing.id].cause == 41
    assert got[talking.id].ended_at == talking.answered_at  # never billed past what is known
    assert got[talking.id].billable_seconds == 0
    assert got[done.id].outcome is None  # an ended call is left as it was


async def test_a_periodic_sweep_leaves_this_live_nodes_calls_alone(ctx: Context) -> None:
    async with ctx.db.session() as s:
        s.add(_call(ctx, "answered", True))
    assert await do_close_interrupted_sip_calls(ctx, at_start=False) == 0
