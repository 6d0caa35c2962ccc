"""The billing background work: rate new usage every few seconds, run the daily jobs once a
day (after ``billing_daily_run_hour`` in the business time zone) and e-mail pending notices.

Where it runs (issue 20): by default in a process of its own, ``yuntong billing worker``, which
the server starts and supervises like its media children (restarted when it exits, stopped
with the server, and ended by the kernel if the server dies: ``PR_SET_PDEATHSIG``). Rating
hundreds of calls a second in the server's own event loop held back the signaling that loop
carries; in its own process it runs on the other core. What it changes reaches the server
through the change feed (``core/changes.py``: prices, and standings, which the server renews)
within ``change_poll_s``. With ``billing_worker_process`` false it runs in the server's loop,
as one process doing everything. The server keeps only the reconciliation of the notes of
calls that ended on it (``credit``), which needs its memory.

With several nodes each server has its worker; rating passes, the daily run and e-mail delivery
are singleton jobs (``cluster/jobs.py``), so one worker at a time does each, another takes
over when it dies, and the daily run happens once per business day (the day it was done for is
in the database, not in a worker's memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from yuntong.billing.catalog.catalog import business_tz
from yuntong.billing.collections.dunning import DailyResult, do_daily_run
from yuntong.billing.ledger import credit
from yuntong.billing.ledger.rating import do_rate_pending
from yuntong.billing.ledger.usage import do_collect_call_usage
from yuntong.cluster import nodes
from yuntong.cluster.jobs import last_done, lease_done, singleton, singleton_when_free
from yuntong.config import Settings
from yuntong.core import changes
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.logging import get_logger
from yuntong.files import private_dir
from yuntong.media.supervisor import SupervisedProcess, stop_stale
from yuntong.notifications.notices import do_deliver_pending

log = get_logger(__name__)
MAIL_EVERY = 30  # rating passes between two notice deliveries
# singleton jobs (yuntong.cluster.jobs): one worker at a time, across nodes
RATING_JOB = "billing.rating"
DAILY_JOB = "billing.daily"
MAIL_JOB = "billing.mail"
PROCESS_NAME = "billing-worker"
_PR_SET_PDEATHSIG = 1


# what other domains run on each of the worker's passes, handed over when the context is built
# (billing imports none of them): the daily backup's check (yuntong.backup.schedule)
PassJob = Callable[[Context], Awaitable[None]]
PASS_JOBS = Piece(
    "billing.pass_jobs",
    "node-owned live state",
    lambda ctx: list[PassJob](),
    "what other domains run on each pass of the billing worker (the daily backup's check)",
)


def run_on_each_pass(ctx: Context, job: PassJob) -> None:
    """Hand the worker a job for each of its passes (``yuntong.services``)."""
    ctx.services.get(PASS_JOBS).append(job)


async def run_once(ctx: Context) -> int:
    """Collect finished calls and rate everything pending; returns records rated."""
    await do_collect_call_usage(ctx)
    return await do_rate_pending(ctx)


async def do_pass(ctx: Context, passes: int) -> None:
    """One pass of the worker: rate, then the daily run when it is due, else every
    :data:`MAIL_EVERY` passes the pending e-mail; each a singleton job, so that of the workers
    beside several servers one rates at a time and one runs the day's jobs, once. Then what
    other domains handed over (:func:`run_on_each_pass`)."""
    async with singleton(ctx, RATING_JOB) as rating:
        if rating is not None:
            await run_once(ctx)
    if await do_daily_if_due(ctx) is None and passes % MAIL_EVERY == 0:
        async with singleton(ctx, MAIL_JOB) as mail:
            if mail is not None:
                await do_deliver_pending(ctx)
    for job in ctx.services.get(PASS_JOBS):
        await job(ctx)


async def do_daily_if_due(ctx: Context) -> DailyResult | None:
    """The daily run, once per business day from ``billing_daily_run_hour``, whichever worker
    gets there first (None: not due, done already, or running elsewhere). The day it was done
    for is kept with its lease, so a worker (re)started later that day does not run it again."""
    local = ctx.clock.now().astimezone(business_tz(ctx))
    if local.hour < ctx.settings.billing_daily_run_hour:
        return None
    day = local.date().isoformat()
    if await last_done(ctx, DAILY_JOB) == day:  # a read: most passes stop here
        return None
    async with singleton(ctx, DAILY_JOB) as lease:
        if lease is None or lease.done == day:
            return None
        result = await do_daily_run(ctx)
        await lease_done(ctx, lease, day)
        return result


async def do_daily_run_now(
    ctx: Context, on_progress: Callable[[int, int], None] | None = None
) -> DailyResult:
    """The daily run started by a person (``yuntong billing daily``, the staff desk): under the
    daily run's lease like a worker's, so it never runs beside one — while a worker runs it,
    this waits for that run to end (``job_running_elsewhere`` if it takes longer than a lease).
    The day is not marked done: the scheduled run still happens."""
    async with singleton_when_free(ctx, DAILY_JOB):
        return await do_daily_run(ctx, on_progress)


async def _loop(ctx: Context) -> None:
    interval = ctx.settings.billing_rating_interval_s
    passes = 0
    while True:
        await asyncio.sleep(interval)
        passes += 1
        try:
            await do_pass(ctx, passes)
        except Exception:
            log.exception("billing_worker_failed")


async def _reconcile_loop(ctx: Context) -> None:
    """The notes of calls ended here are forgotten once rated (``credit``). Runs even where
    rating is off (another node rates). Standings changed by another process reach this
    process's bus through the change feed (``core/changes.py``), not here."""
    while True:
        await asyncio.sleep(credit.RECONCILE_EVERY_S)
        try:
            await credit.do_reconcile_unrated(ctx)
        except Exception:
            log.exception("billing_reconcile_failed")


def runs_here(settings: Settings) -> bool:
    """Whether the server's own loop rates (else its worker process does, or nobody)."""
    return settings.billing_rating_interval_s > 0 and not settings.billing_worker_process


def start(ctx: Context) -> asyncio.Task[None]:
    """The server's background billing tasks (the worker itself only when it runs here)."""
    loops = [_reconcile_loop(ctx)]
    if runs_here(ctx.settings):
        loops.append(_loop(ctx))
    return asyncio.create_task(_run_all(loops), name="billing-worker")


async def _run_all(loops: list[Coroutine[Any, Any, None]]) -> None:
    await asyncio.gather(*loops)


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# -- the worker process --------------------------------------------------------------------


WORKER = Piece(
    "billing.worker_process",
    "node-owned live state",
    lambda ctx: Slot[SupervisedProcess](),
    "the billing worker process this server supervises (None: it rates in its own loop, or "
    "rating is off)",
)


def pid_file(settings: Settings) -> Path:
    return private_dir(settings.var_dir / "billing") / "worker.pid"


async def start_process(settings: Settings) -> SupervisedProcess | None:
    """Start and supervise ``yuntong billing worker`` for this server (None: it rates in its
    own loop, or rating is off). A worker left by a server that died is ended first."""
    if settings.billing_rating_interval_s <= 0 or runs_here(settings):
        return None
    path = pid_file(settings)
    await stop_stale(path, str(path))
    argv = [sys.executable, "-m", "yuntong", "billing", "worker"]
    argv += ["--pid-file", str(path), "--parent", str(os.getpid())]
    process = SupervisedProcess(
        PROCESS_NAME, argv, log_path=private_dir(settings.var_dir / "logs") / "billing-worker.log"
    )
    await process.start()
    return process


def die_with_parent(parent: int | None) -> None:
    """Have the kernel end this process when the server that started it dies (Linux)."""
    if parent is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request was made
        raise SystemExit(0)


async def run_process(ctx: Context) -> None:
    """The worker process's main: the loop, and the change feed (so that a price changed on a
    server is rated with here), until SIGTERM."""
    feed = await changes.start(ctx)
    await nodes.start(ctx, "billing-worker")
    task = asyncio.create_task(_loop(ctx), name="billing-worker")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    log.info("billing_worker_started", pid=os.getpid())
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await nodes.stop(ctx)
        await changes.stop(feed)
