"""``yuntong billing daily`` by hand runs under the daily run's lease, like the workers: while
another node holds it, the command is refused (and runs nothing twice); once free, it runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.integration.accounts.conftest import run_cli
from yuntong.billing.worker import DAILY_JOB
from yuntong.cluster.models import JobLease
from yuntong.core.context import Context


async def test_the_daily_run_by_hand_waits_for_a_worker_that_holds_it(ctx: Context) -> None:
    held_until = datetime.now(UTC) + timedelta(minutes=5)
    async with ctx.db.session() as s:
        s.add(JobLease(name=DAILY_JOB, holder="worker-elsewhere", fence=7, expires_at=held_until))
    refused = await run_cli(ctx, "billing", "daily")
    assert refused.exit_code == 1, refused.output
    assert "job_running_elsewhere" in refused.output
    async with ctx.db.session() as s:
        lease = (await s.execute(select(JobLease).where(JobLease.name == DAILY_JOB))).scalar_one()
        assert (lease.holder, lease.fence) == ("worker-elsewhere", 7)  # not taken from it
        lease.holder, lease.expires_at = None, None  # the worker finished
    done = await run_cli(ctx, "billing", "daily")
    assert done.exit_code == 0, done.output
    assert "accounts reviewed" in done.output
    async with ctx.db.session() as s:
        lease = (await s.execute(select(JobLease).where(JobLease.name == DAILY_JOB))).scalar_one()
        assert lease.holder is None and lease.fence == 8  # taken once by the command, freed
