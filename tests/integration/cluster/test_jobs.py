"""Singleton jobs (issue 13): a job runs on one node at a time, is taken over after its
holder dies (kill -9) once the lease expires, a holder that lost its lease is stopped, and the
billing daily run happens once per business day across the workers of several nodes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.cluster.conftest import LEASE_S
from yuntong.billing import worker
from yuntong.cluster import jobs, nodes
from yuntong.cluster.jobs import LeaseLost, lease_done, singleton, try_take
from yuntong.core.clock import FakeClock, FrozenClock

SLACK_S = 2.0


async def test_two_contenders_never_run_the_job_at_once(node_factory: Any) -> None:
    a, b = await node_factory(), await node_factory()
    async with singleton(a, "report") as held:
        assert held is not None and held.holder == a.node_id
        async with singleton(b, "report") as other:
            assert other is None  # held by A: B does not wait, it skips
    async with singleton(b, "report") as taken:  # freed at the end of A's run
        assert taken is not None and taken.fence == held.fence + 1

    running: set[str] = set()
    overlaps = 0
    runs = {a.node_id: 0, b.node_id: 0}

    async def contend(ctx: Any) -> None:
        nonlocal overlaps
        for _ in range(15):
            async with singleton(ctx, "report") as lease:
                if lease is not None:
                    overlaps += bool(running)
                    running.add(ctx.node_id)
                    await asyncio.sleep(0.01)
                    running.discard(ctx.node_id)
                    runs[ctx.node_id] += 1
            await asyncio.sleep(0)

    await asyncio.gather(contend(a), contend(b))
    assert overlaps == 0
    assert sum(runs.values()) > 0


async def test_a_killed_holder_is_taken_over_once_its_lease_expires(
    node_factory: Any, child_node: Any
) -> None:
    holder = await node_factory()
    child = child_node(holder.settings, job="nightly")
    fence = int((await child.ready()).split()[1])
    b = await node_factory()
    deadline = time.monotonic() + 2 * LEASE_S
    while time.monotonic() < deadline:  # the holder renews: held well past one lease
        assert await try_take(b, "nightly") is None
        await asyncio.sleep(0.1)

    child.kill()
    killed = time.monotonic()
    while (lease := await try_take(b, "nightly")) is None:
        assert time.monotonic() - killed < LEASE_S + SLACK_S, "not taken over in time"
        await asyncio.sleep(0.05)
    assert lease.holder == b.node_id
    assert lease.fence == fence + 1


async def test_a_holder_that_lost_its_lease_is_stopped_and_cannot_mark_its_run_done(
    node_factory: Any,
) -> None:
    """A's clock stands still (A is stalled: it cannot renew) while B's runs past A's lease:
    B takes the job over. When A renews it finds the lease gone: its job is cancelled with
    LeaseLost, and the run it would mark done is refused."""
    start = datetime.now(UTC)
    a_clock, b_clock = FakeClock(start), FakeClock(start + timedelta(seconds=2 * LEASE_S))
    a, b = await node_factory(), await node_factory()
    nodes.node_of(a).clock, nodes.node_of(b).clock = a_clock, b_clock
    entered = asyncio.Event()

    async def a_job() -> None:
        async with singleton(a, "close") as lease:
            assert lease is not None
            entered.set()
            await asyncio.Event().wait()  # a long run

    job = asyncio.create_task(a_job())
    await entered.wait()
    stale = await try_take(a, "close")
    assert stale is None  # A holds it (and may not take it twice)
    taken = await try_take(b, "close")  # on B's clock, A's lease has expired
    assert taken is not None and taken.holder == b.node_id

    a_clock.advance(seconds=LEASE_S / 3)  # A's renewal falls due and finds the lease gone
    with pytest.raises(LeaseLost):
        await asyncio.wait_for(job, 10)

    lost = jobs.Lease("close", a.node_id, taken.fence - 1, start, None)
    with pytest.raises(LeaseLost):
        await lease_done(a, lost, "2026-01-05")
    await lease_done(b, taken, "2026-01-05")
    assert await jobs.last_done(a, "close") == "2026-01-05"


async def test_the_daily_billing_run_runs_once_per_business_day_across_workers(
    node_factory: Any,
) -> None:
    """Two worker contexts (two nodes' billing workers) pass at once, again and again: one
    runs the day's jobs, once; a worker started later that day does not run them again; the
    next business day one of them runs them again."""
    day_one = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, after the run hour
    clocks = [FrozenClock(day_one), FrozenClock(day_one)]
    a, b = [await node_factory(clock=c, billing_daily_run_hour=1) for c in clocks]

    async def both() -> list[Any]:
        return list(await asyncio.gather(worker.do_daily_if_due(a), worker.do_daily_if_due(b)))

    first = await both()
    assert sum(r is not None for r in first) == 1
    assert next(r for r in first if r is not None).day.isoformat() == "2026-03-02"
    assert await both() == [None, None]
    late = await node_factory(clock=FrozenClock(day_one + timedelta(hours=3)))
    assert await worker.do_daily_if_due(late) is None
    assert await jobs.last_done(a, worker.DAILY_JOB) == "2026-03-02"

    for clock in clocks:
        clock.advance(days=1)
    second = await both()
    assert sum(r is not None for r in second) == 1
    assert await jobs.last_done(b, worker.DAILY_JOB) == "2026-03-03"


async def test_before_the_run_hour_no_worker_runs_the_day(node_factory: Any) -> None:
    early = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # 00:30 on 3 March in Shanghai
    a = await node_factory(clock=FrozenClock(early), billing_daily_run_hour=1)
    assert await worker.do_daily_if_due(a) is None
    assert await jobs.last_done(a, worker.DAILY_JOB) is None
