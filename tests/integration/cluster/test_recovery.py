"""Recovery touches only a node's own rows and dead nodes' (issue 13). Node A is alive with an
open call record, a live meeting and an open stay; node B starts: A's rows are untouched, while
B's own rows from its previous run, a dead node's and rows from before node ids are closed as
interrupted, billed up to their last checkpoint. A node that dies while the others run is swept
by them once its keepalive has lapsed; a live node's rows never are."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from tests.conftest import unique
from tests.integration.cluster.conftest import DEAD_AFTER_S
from yuntong.accounts import registration
from yuntong.app import RECOVERIES, create_app
from yuntong.billing.models import UsageRecord
from yuntong.calls.models import CallRecord
from yuntong.cluster import nodes, recovery
from yuntong.core.clock import Clock
from yuntong.core.context import Context
from yuntong.core.ids import new_id
from yuntong.meetings import recordings
from yuntong.meetings.models import Meeting, MeetingAttendance, MeetingRecording, MeetingStatus

ALIVE_S = 30  # each open call was last checkpointed this long after its answer
STAY_S = 40  # each open stay's seconds at its last checkpoint
SLACK_S = 3.0


@dataclass
class Rows:
    """One node's open call record, live meeting and open stay."""

    call_id: str
    meeting_id: str
    stay_id: str


async def open_rows(ctx: Context, node_id: str | None) -> Rows:
    """What a node running a call and a meeting has written (``node_id`` None: as before)."""
    now = ctx.clock.now()
    users = [
        (
            await registration.do_create_admin(
                ctx, unique("rc"), "correct horse battery", "subscriber"
            )
        ).id
        for _ in range(2)
    ]
    answered = now - timedelta(minutes=2)
    rows = Rows(new_id(), new_id(), new_id())
    async with ctx.db.session() as s:
        s.add(
            CallRecord(
                id=rows.call_id,
                caller_id=users[0],
                callee_id=users[1],
                media="audio",
                state="connected",
                caller_device="d1",
                callee_device="d2",
                created_at=answered - timedelta(seconds=5),
                answered_at=answered,
                connected_at=answered,
                alive_at=answered + timedelta(seconds=ALIVE_S),
                node_id=node_id,
            )
        )
        s.add(
            Meeting(
                id=rows.meeting_id,
                number=f"{secrets.randbelow(10**9):09d}",
                title="standup",
                host_id=users[0],
                kind="instant",
                status=MeetingStatus.LIVE,
                start_at=now - timedelta(minutes=5),
                duration_min=60,
                time_zone="Asia/Shanghai",
                settings={},
                janus_node="local",
                janus_room=4242,
                created_at=now - timedelta(minutes=5),
                started_at=now - timedelta(minutes=3),
                node_id=node_id,
            )
        )
        await s.flush()
        s.add(
            MeetingAttendance(
                id=rows.stay_id,
                meeting_id=rows.meeting_id,
                user_id=users[0],
                name="host",
                role="host",
                joined_at=now - timedelta(minutes=3),
                seconds=STAY_S,
                media="audio",
                node_id=node_id,
            )
        )
    return rows


async def is_open(ctx: Context, rows: Rows) -> tuple[bool, bool, bool]:
    """Whether the call, the meeting and the stay are still open."""
    async with ctx.db.session() as s:
        call = await s.get(CallRecord, rows.call_id, populate_existing=True)
        meeting = await s.get(Meeting, rows.meeting_id, populate_existing=True)
        stay = await s.get(MeetingAttendance, rows.stay_id, populate_existing=True)
    assert call is not None and meeting is not None and stay is not None
    return call.ended_at is None, meeting.status == MeetingStatus.LIVE, stay.left_at is None


async def assert_closed_at_checkpoint(ctx: Context, rows: Rows) -> None:
    """Closed as today's start-up recovery does: the call interrupted and billed from its
    answer to its last checkpoint, the stay closed (and billed) at its last checkpoint, the
    meeting waiting for its participants again."""
    async with ctx.db.session() as s:
        call = await s.get(CallRecord, rows.call_id, populate_existing=True)
        meeting = await s.get(Meeting, rows.meeting_id, populate_existing=True)
        stay = await s.get(MeetingAttendance, rows.stay_id, populate_existing=True)
        usage = await s.scalar(
            select(UsageRecord.quantity_s).where(
                UsageRecord.source == "meeting", UsageRecord.source_id == rows.stay_id
            )
        )
    assert call is not None and meeting is not None and stay is not None
    assert call.answered_at is not None and stay.joined_at is not None
    assert (call.state, call.outcome, call.end_reason) == ("ended", "interrupted", "server_restart")
    assert call.ended_at == call.answered_at + timedelta(seconds=ALIVE_S)
    assert (call.duration_ms, call.billable_seconds) == (ALIVE_S * 1000, ALIVE_S)
    assert stay.left_at == stay.joined_at + timedelta(seconds=STAY_S)
    assert stay.leave_reason == "server_stopped"
    assert usage == STAY_S
    assert meeting.status == MeetingStatus.SCHEDULED and meeting.janus_room is None


async def test_a_starting_node_closes_its_own_dead_and_unowned_rows_but_not_a_live_nodes(
    node_factory: Any,
) -> None:
    a, dead, b = [await node_factory(clock=Clock()) for _ in range(3)]
    await nodes.start(a, "serve")
    await nodes.start(dead, "serve")
    await nodes.stop(dead)  # stopped (a kill is the same once its keepalive lapsed)
    live = await open_rows(a, a.node_id)
    dead_rows = await open_rows(a, dead.node_id)
    own = await open_rows(a, b.node_id)  # left by B's previous run
    unowned = await open_rows(a, None)  # written before node ids

    app = create_app(b.settings)  # node B starts: its lifespan runs the start-up recovery
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http,
    ):
        assert await is_open(a, live) == (True, True, True)
        for rows in (dead_rows, own, unowned):
            await assert_closed_at_checkpoint(a, rows)
        ready = (await http.get("/readyz")).json()
    assert ready["checks"]["nodes"]["self"] == b.node_id
    assert set(ready["checks"]["nodes"]["live"]) == {a.node_id, b.node_id}
    assert await is_open(a, live) == (True, True, True)  # and B's clean stop leaves them too


async def test_the_sweep_closes_a_dead_nodes_rows_only(node_factory: Any) -> None:
    # the dead node stops cleanly (dead at once); the live ones may miss keepalives while the
    # test hashes passwords on their loop, so they are taken for dead only after 5 s
    a, b, dead = [await node_factory(clock=Clock(), node_dead_after_s=5) for _ in range(3)]
    for ctx in (a, b, dead):
        await nodes.start(ctx, "serve")
    await nodes.stop(dead)
    rows = {
        name: await open_rows(a, node_id)
        for name, node_id in (
            ("a", a.node_id),
            ("b", b.node_id),
            ("dead", dead.node_id),
            ("unowned", None),
        )
    }
    assert await recovery.do_sweep(b, RECOVERIES) == 3  # the dead node's call, stay, meeting
    await assert_closed_at_checkpoint(a, rows["dead"])
    for name in ("a", "b", "unowned"):  # live on A and on B (the sweeper's own), or an
        assert await is_open(a, rows[name]) == (True, True, True), name  # older node's
    assert await recovery.do_sweep(a, RECOVERIES) == 0


async def test_a_node_killed_while_others_run_is_swept_once_its_keepalive_lapsed(
    node_factory: Any, child_node: Any
) -> None:
    b = await node_factory(clock=Clock())
    await nodes.start(b, "serve")
    victim_ctx = await node_factory(clock=Clock())
    victim = child_node(victim_ctx.settings)
    assert await victim.ready() == "alive"
    rows = await open_rows(b, victim_ctx.node_id)
    sweeper = recovery.start_sweeping(b, RECOVERIES)
    try:
        await asyncio.sleep(3 * DEAD_AFTER_S)  # several sweeps: the victim is alive
        assert await is_open(b, rows) == (True, True, True)

        victim.kill()
        killed = time.monotonic()
        while await is_open(b, rows) != (False, False, False):
            # dead after DEAD_AFTER_S, swept at the next sweep (every DEAD_AFTER_S)
            assert time.monotonic() - killed < 2 * DEAD_AFTER_S + SLACK_S, "not swept in time"
            await asyncio.sleep(0.05)
    finally:
        await recovery.stop_sweeping(sweeper)
    await assert_closed_at_checkpoint(b, rows)


async def test_a_meeting_no_janus_can_take_over_waits_for_the_next_sweep_within_the_grace(
    node_factory: Any,
) -> None:
    """A dead node's live meeting that people were in, whose lease has just run out: the
    sweeper finds no Janus to open its room on, and tries again at the next sweep while the
    participants' reconnect grace lasts (the meeting stays live, the stay open); once the grace
    since the lease ran out has passed, it is closed as before take-overs were."""
    b, dead = [await node_factory(clock=Clock(), meeting_reconnect_grace_s=30) for _ in range(2)]
    for ctx in (b, dead):
        await nodes.start(ctx, "serve")
    await nodes.stop(dead)
    rows = await open_rows(b, dead.node_id)

    async def lease_ran_out(seconds_ago: float) -> None:
        async with b.db.session() as s:
            meeting = await s.get(Meeting, rows.meeting_id)
            assert meeting is not None
            meeting.owner_until = nodes.node_of(b).clock.now() - timedelta(seconds=seconds_ago)

    await lease_ran_out(1)
    assert await recovery.do_sweep(b, RECOVERIES) == 1  # the call only
    assert await is_open(b, rows) == (False, True, True)
    await lease_ran_out(31)
    assert await recovery.do_sweep(b, RECOVERIES) == 2  # the stay and the meeting
    await assert_closed_at_checkpoint(b, rows)


async def test_a_recording_a_dead_nodes_room_was_making_is_converted_by_the_sweep(
    node_factory: Any, tmp_path: Any
) -> None:
    """The dead node's room was recording; its meeting is not taken over (nobody can open it
    here): the recording is no longer shown as under way — what was recorded is converted, once,
    while a live node's recording is left alone."""
    a, b, dead = [await node_factory(clock=Clock()) for _ in range(3)]
    for ctx in (a, b, dead):
        await nodes.start(ctx, "serve")
    await nodes.stop(dead)
    rows = {name: await open_rows(a, ctx.node_id) for name, ctx in (("a", a), ("dead", dead))}
    for name, row in rows.items():
        async with a.db.session() as s:
            s.add(
                MeetingRecording(
                    id=f"rec{row.meeting_id[:20]}",
                    meeting_id=row.meeting_id,
                    status="recording",
                    started_at=a.clock.now() - timedelta(minutes=2),
                    directory=str(tmp_path / name),
                    files=[],
                )
            )
        (tmp_path / name).mkdir()
    assert await recovery.do_sweep(b, RECOVERIES) == 4  # the call, stay, meeting, recording
    await recordings.wait_processing(b)
    assert await recovery.do_sweep(b, RECOVERIES) == 0  # converted once
    async with a.db.session() as s:
        status = {
            name: (
                await s.get(MeetingRecording, f"rec{row.meeting_id[:20]}", populate_existing=True)
            )
            for name, row in rows.items()
        }
    assert status["a"] is not None and status["a"].status == "recording"
    done = status["dead"]
    assert done is not None and done.status == "ready" and done.stopped_at is not None
