"""The billing background loop: rate new usage every few seconds, run the daily jobs once a day
(after ``billing_daily_run_hour`` in the business time zone) and e-mail pending notices."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import date
from typing import Any

from yuntong.billing import credit
from yuntong.billing.catalog import business_tz
from yuntong.billing.dunning import do_daily_run
from yuntong.billing.notices import do_deliver_pending
from yuntong.billing.rating import do_rate_pending
from yuntong.billing.usage import do_collect_call_usage
from yuntong.core.context import Context
from yuntong.core.logging import get_logger

log = get_logger(__name__)
MAIL_EVERY = 30  # rating passes between two notice deliveries


async def run_once(ctx: Context) -> int:
    """Collect finished calls and rate everything pending; returns records rated."""
    await do_collect_call_usage(ctx)
    return await do_rate_pending(ctx)


async def _loop(ctx: Context) -> None:
    interval = ctx.settings.billing_rating_interval_s
    last_daily: date | None = None
    passes = 0
    while True:
        await asyncio.sleep(interval)
        passes += 1
        try:
            await run_once(ctx)
            local = ctx.clock.now().astimezone(business_tz(ctx))
            if local.hour >= ctx.settings.billing_daily_run_hour and last_daily != local.date():
                await do_daily_run(ctx)
                last_daily = local.date()
            elif passes % MAIL_EVERY == 0:
                await do_deliver_pending(ctx)
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


def start(ctx: Context) -> asyncio.Task[None]:
    loops = [_reconcile_loop(ctx)]
    if ctx.settings.billing_rating_interval_s > 0:
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
