"""Recovery of what dead nodes left open, while the others keep running.

At start-up a node closes the rows its own previous run left open, those of dead nodes and
those written before rows had a node (each domain's start-up recovery, scoped by
:func:`yuntong.cluster.nodes.recoverable`). A node that dies while others run is swept by
them: every ``node_dead_after_s`` one node at a time (the singleton job ``cluster.sweep``)
runs the same recoveries for dead nodes only — never for live ones, never for its own rows,
which are live on it, and never for rows without a node (an older node may still run them
during an upgrade). The domains hand their recoveries over when the app is built, so this
package imports none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from typing import Protocol

from yuntong.cluster import nodes
from yuntong.cluster.jobs import singleton
from yuntong.core.context import Context
from yuntong.core.logging import get_logger

log = get_logger(__name__)
SWEEP_JOB = "cluster.sweep"


class Recovery(Protocol):
    """A domain's recovery: closes the open rows of the owners ``nodes.recoverable`` gives it
    (``at_start``: at this node's start), and says how many."""

    def __call__(self, ctx: Context, *, at_start: bool = True) -> Awaitable[int]: ...


async def do_sweep(ctx: Context, recoveries: Sequence[Recovery]) -> int | None:
    """Close what dead nodes left open, on one node at a time; how many rows (None: another
    node sweeps now)."""
    async with singleton(ctx, SWEEP_JOB) as lease:
        if lease is None:
            return None
        closed = 0
        for recover in recoveries:
            closed += await recover(ctx, at_start=False)
        if closed:
            log.warning("dead_nodes_swept", count=closed)
        await nodes.do_prune(ctx)
        return closed


async def _sweep_loop(ctx: Context, recoveries: Sequence[Recovery]) -> None:
    clock = nodes.node_of(ctx).clock
    while True:
        await clock.sleep(ctx.settings.node_dead_after_s)
        try:
            await do_sweep(ctx, recoveries)
        except Exception:  # the next sweep tries again
            log.exception("dead_nodes_sweep_failed")


def start_sweeping(ctx: Context, recoveries: Sequence[Recovery]) -> asyncio.Task[None]:
    return asyncio.create_task(_sweep_loop(ctx, recoveries), name="dead-nodes-sweep")


async def stop_sweeping(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
