"""``yuntong billing daily`` by hand runs under the daily run's lease, like the servers'
workers (the CLI is just another node): while a worker holds it, the command waits for that
run to end — or, if the worker died, for its lease to expire — and runs nothing beside it; a
holder that keeps the lease longer than a lease's length makes it give up, touching nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from tests.integration.accounts.conftest import run_cli
from yuntong.billing.worker import DAILY_JOB
from yuntong.cluster.models import JobLease
from yuntong.core.context import Context

SHORT_LEASE = {"YUNTONG_JOB_LEASE_S": "1"}


async def held_elsewhere(ctx: Context, for_s: float) -> None:
    """A worker on another node holds the daily run's lease for ``for_s`` more seconds."""
    async with ctx.db.session() as s:
        await s.execute(delete(JobLease).where(JobLease.name == DAILY_JOB))
        until = datetime.now(UTC) + timedelta(seconds=for_s)
        s.add(JobLease(name=DAILY_JOB, holder="worker-elsewhere", fence=7, expires_at=until))


async def daily_lease(ctx: Context) -> JobLease:
    async with ctx.db.session() as s:
        found = await s.execute(select(JobLease).where(JobLease.name == DAILY_JOB))
        return found.scalar_one()


async def test_the_daily_run_by_hand_gives_up_on_a_worker_that_keeps_it(ctx: Context) -> None:
    await held_elsewhere(ctx, 300)
    refused = await run_cli(ctx, "billing", "daily", env=SHORT_LEASE)
    assert refused.exit_code == 1, refused.output
    assert "job_running_elsewhere" in refused.output
    lease = await daily_lease(ctx)
    assert (lease.holder, lease.fence) == ("worker-elsewhere", 7)  # not taken from it


async def test_the_daily_run_by_hand_runs_once_a_dead_workers_lease_expired(ctx: Context) -> None:
    await held_elsewhere(ctx, 0.5)  # its worker died: nobody renews it
    done = await run_cli(ctx, "billing", "daily", env=SHORT_LEASE)
    assert done.exit_code == 0, done.output
    assert "accounts reviewed" in done.output
    lease = await daily_lease(ctx)
    assert lease.holder is None and lease.fence == 8  # taken once by the command, freed
