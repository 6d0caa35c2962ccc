"""Singleton jobs: work that must run on one node at a time (the billing daily run, rating
passes, e-mail delivery, the sweep of dead nodes' rows), whichever nodes try.

A job is held under a lease, a row of ``job_leases``: the holder's node id, an expiry
``job_lease_s`` ahead, and a fencing counter bumped at every take. A node takes a free or
expired lease in one conditional ``UPDATE`` (PostgreSQL re-checks the condition against the
committed row, SQLite has one writer, so two nodes never both take it), renews it every third
of ``job_lease_s`` while the job runs, and frees it at the end. A holder that dies (``kill
-9``, a lost machine) stops renewing: another node takes the job over once the lease expires.
The same table works on SQLite, where the CLI and the server share the file.

A holder that could not renew in time may have lost the lease to another node: the job is
cancelled (:class:`LeaseLost`), and anything it marks done is written only while its fence is
still the lease's (:func:`lease_done`), so a late holder never records a run as its own.
Leases compare moments of different nodes: their clocks are assumed synchronised (NTP) to well
under ``job_lease_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from yuntong.cluster.models import JobLease
from yuntong.cluster.nodes import node_of
from yuntong.core.context import Context
from yuntong.core.db import insert_ignoring_duplicates
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger

log = get_logger(__name__)


class LeaseLost(RuntimeError):
    """The job's lease expired before it could be renewed: another node may run it now."""


@dataclass
class Lease:
    """A job held by this node: its fence, and the key of the last run marked done."""

    name: str
    holder: str
    fence: int
    expires_at: datetime
    done: str | None
    lost: bool = False

    def held(self) -> tuple[ColumnElement[bool], ...]:
        """The lease's row while this holder still holds it."""
        return (
            JobLease.name == self.name,
            JobLease.fence == self.fence,
            JobLease.holder == self.holder,
        )


@asynccontextmanager
async def singleton(ctx: Context, name: str) -> AsyncIterator[Lease | None]:
    """Hold the job ``name`` for the body, or yield None at once when another node holds it::

        async with singleton(ctx, "billing.daily") as lease:
            if lease is not None and lease.done != today:
                ...
                await lease_done(ctx, lease, today)

    The body is cancelled, and :class:`LeaseLost` raised, if the lease is lost meanwhile."""
    lease = await try_take(ctx, name)
    if lease is None:
        yield None
        return
    task = asyncio.current_task()
    renewer = asyncio.create_task(_keep(ctx, lease, task), name=f"lease-{name}")
    try:
        yield lease
    except asyncio.CancelledError:
        if lease.lost and task is not None and task.uncancel() == 0:
            raise LeaseLost(name) from None
        raise
    else:
        if lease.lost and task is not None and task.cancelling():  # lost as the body ended
            task.uncancel()
            raise LeaseLost(name)
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        if not lease.lost:
            try:
                await _release(ctx, lease)
            except SQLAlchemyError:  # it expires by itself
                log.exception("job_lease_not_released", job=name)


@asynccontextmanager
async def singleton_when_free(ctx: Context, name: str) -> AsyncIterator[Lease]:
    """:func:`singleton` for a job started by hand (the CLI, just another node): while another
    node runs the job, wait for its run to end (or, if that node died, for its lease to expire:
    at most ``job_lease_s``) and then hold it; ``job_running_elsewhere`` if it is still held
    after that (a live holder with a long run)."""
    clock = node_of(ctx).clock
    deadline = clock.now() + timedelta(seconds=ctx.settings.job_lease_s)
    while True:
        async with singleton(ctx, name) as lease:
            if lease is not None:
                yield lease
                return
        if clock.now() >= deadline:
            raise YuntongError("job_running_elsewhere", job=name)
        await clock.sleep(min(0.5, ctx.settings.job_lease_s / 3))


async def try_take(ctx: Context, name: str) -> Lease | None:
    """Take the job's lease if it is free or expired (None: another holds it)."""
    now = node_of(ctx).clock.now()
    expires = now + timedelta(seconds=ctx.settings.job_lease_s)
    async with ctx.db.session() as s:
        await s.execute(insert_ignoring_duplicates(s, JobLease).values(name=name, fence=0))
        taken = await s.execute(
            update(JobLease)
            .where(
                JobLease.name == name,
                or_(
                    JobLease.holder.is_(None),
                    JobLease.expires_at.is_(None),
                    JobLease.expires_at <= now,
                ),
            )
            .values(holder=ctx.node_id, fence=JobLease.fence + 1, expires_at=expires)
        )
        if not getattr(taken, "rowcount", 0):
            return None
        row = (await s.execute(select(JobLease).where(JobLease.name == name))).scalar_one()
        lease = Lease(name, ctx.node_id, row.fence, expires, row.done_key)
    log.debug("job_lease_taken", job=name, node=ctx.node_id, fence=lease.fence)
    return lease


async def _keep(ctx: Context, lease: Lease, job: asyncio.Task[object] | None) -> None:
    """Renew every third of the lease; once it could not be renewed in time (taken over, or
    the database unreachable until it expired), cancel the job."""
    clock = node_of(ctx).clock
    period = ctx.settings.job_lease_s
    while True:
        await clock.sleep(period / 3)
        now = clock.now()
        expires = now + timedelta(seconds=period)
        try:
            async with ctx.db.session() as s:
                renewed = await s.execute(
                    update(JobLease).where(*lease.held()).values(expires_at=expires)
                )
            held = bool(getattr(renewed, "rowcount", 0))
        except SQLAlchemyError:
            log.exception("job_lease_not_renewed", job=lease.name)
            held = now < lease.expires_at
        else:
            if held:
                lease.expires_at = expires
        if not held:
            lease.lost = True
            log.warning("job_lease_lost", job=lease.name, node=lease.holder, fence=lease.fence)
            if job is not None:
                job.cancel()
            return


async def _release(ctx: Context, lease: Lease) -> None:
    async with ctx.db.session() as s:
        await s.execute(update(JobLease).where(*lease.held()).values(holder=None, expires_at=None))


async def lease_done(ctx: Context, lease: Lease, key: str) -> None:
    """Record the run ``key`` (e.g. a business day) as done, while the lease is still ours."""
    async with ctx.db.session() as s:
        marked = await s.execute(
            update(JobLease)
            .where(*lease.held())
            .values(done_key=key, done_at=node_of(ctx).clock.now())
        )
        if not getattr(marked, "rowcount", 0):
            raise LeaseLost(lease.name)
    lease.done = key


async def last_done(ctx: Context, name: str) -> str | None:
    """The key of the job's last run marked done (a read, no lease)."""
    async with ctx.db.session() as s:
        done = await s.scalar(select(JobLease.done_key).where(JobLease.name == name))
    return None if done is None else str(done)
