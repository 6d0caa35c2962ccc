"""The daily backup: when ``backup_dir`` is set, once per business day from ``backup_hour``,
made and verified by whichever billing worker gets there first, under the cluster's job lease
(``cluster/jobs.py``); then the backups retention does not keep are deleted.

The worker hands every pass here (``billing/worker.py``, ``run_on_each_pass``); the backup runs
as a task of its own, so rating goes on meanwhile.
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from yuntong.backup import service
from yuntong.cluster.jobs import last_done, lease_done, singleton
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger

log = get_logger(__name__)
JOB = "backup.daily"

RUNNING = Piece(
    "backup.running",
    "node-owned live state",
    lambda ctx: Slot[asyncio.Task[None]](),
    "the daily backup this node is making (None: none yet)",
)


def _due_day(ctx: Context) -> str | None:
    if ctx.settings.backup_dir is None:
        return None
    local = ctx.clock.now().astimezone(ZoneInfo(ctx.settings.business_timezone))
    if local.hour < ctx.settings.backup_hour:
        return None
    return local.date().isoformat()


async def do_backup_if_due(ctx: Context) -> None:
    """Start the day's backup unless it is not due, done, or being made (here or elsewhere)."""
    day = _due_day(ctx)
    if day is None or await last_done(ctx, JOB) == day:
        return
    slot = ctx.services.get(RUNNING)
    if slot.value is not None and not slot.value.done():
        return
    slot.value = asyncio.create_task(do_daily_backup(ctx, day), name="backup-daily")


async def do_daily_backup(ctx: Context, day: str) -> None:
    """Make, verify and prune under the job's lease; the day is marked done even when it
    fails (logged as ``backup_failed``, and missing from ``yuntong backup list``), so a wrong
    setting is not retried every few seconds."""
    async with singleton(ctx, JOB) as lease:
        if lease is None or lease.done == day:
            return
        try:
            made = await service.do_create(ctx)
            await service.do_verify(ctx, made.name)
            await asyncio.to_thread(service.do_prune, ctx.settings)
        except (YuntongError, OSError) as exc:
            code = exc.code if isinstance(exc, YuntongError) else repr(exc)
            log.error("backup_failed", day=day, problem=code)
        await lease_done(ctx, lease, day)
