"""Garbage-collector pauses as metrics, and the collector policy the server runs with.

A full (generation 2) collection stops the event loop while it walks every tracked object.
Each held WebSocket session is about 160 tracked objects (the ASGI stack's coroutines, the
socket, its channel), so with 10,000 sessions a full collection walks 1.7 million objects and
stops signaling for more than a second (measured on the 2-core machine: ``bench/RESULTS.md``).

The policy (``gc_freeze_interval_s``, default 1 s; 0 turns it off):

- every interval, collect the young generations, then freeze every survivor (``gc.freeze``):
  every collection walks only what was allocated since the last freeze, so pauses no longer
  grow with the number of sessions held;
- frozen objects are still freed as soon as nothing refers to them; only garbage *cycles* among
  them wait, until the sweep every ``gc_sweep_interval_s`` (default one hour) unfreezes
  everything and collects it once, paying one long pause for all of them.

Every pause is exported as ``yuntong_gc_pause_seconds{generation}``; the frozen population, as
of the last sweep, as ``yuntong_gc_frozen_objects``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from typing import Any

from prometheus_client import Gauge, Histogram

from yuntong.core.logging import get_logger

log = get_logger(__name__)
GC_PAUSE = Histogram(
    "yuntong_gc_pause_seconds",
    "Time the garbage collector stopped the process, by generation",
    ["generation"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
GC_FROZEN = Gauge("yuntong_gc_frozen_objects", "Objects moved out of the collector's sight")
CHECK_INTERVAL_S = 1.0


class _Watch:
    def __init__(self) -> None:
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            generation = str(info.get("generation", "?"))
            GC_PAUSE.labels(generation).observe(time.perf_counter() - self.started)


_WATCH = _Watch()


def install() -> None:
    """Measure every collection (once per process)."""
    if _WATCH not in gc.callbacks:
        gc.callbacks.append(_WATCH)


def freeze(generation: int = 1) -> int:
    """Collect ``generation`` and younger, then freeze every survivor; returns what was
    collected. The default collects only the young generations: a pause of a few ms however
    many sessions are held; cycles that die after surviving that long wait for the sweep."""
    collected = gc.collect(generation)
    gc.freeze()
    return collected


def sweep() -> int:
    """Unfreeze, collect everything once (one long pause), freeze the survivors; logged."""
    started = time.perf_counter()
    gc.unfreeze()
    collected = freeze(2)
    # counting walks the whole frozen list (~0.1 s per million objects): once, only here
    frozen = gc.get_freeze_count()
    GC_FROZEN.set(frozen)
    log.info(
        "gc_sweep",
        collected=collected,
        frozen=frozen,
        pause_ms=round(1000 * (time.perf_counter() - started)),
    )
    return collected


async def run_policy(freeze_interval_s: float, sweep_interval_s: float) -> None:
    """Freeze every ``freeze_interval_s``; sweep every ``sweep_interval_s`` (0: never)."""
    sweep()
    next_sweep = time.monotonic() + sweep_interval_s
    while True:
        await asyncio.sleep(freeze_interval_s)
        if sweep_interval_s > 0 and time.monotonic() >= next_sweep:
            sweep()
            next_sweep = time.monotonic() + sweep_interval_s
        else:
            freeze()


def start(freeze_interval_s: float, sweep_interval_s: float) -> asyncio.Task[None] | None:
    """Start the policy task (only the metrics when ``freeze_interval_s`` is 0)."""
    install()
    if freeze_interval_s <= 0:
        return None
    return asyncio.create_task(run_policy(freeze_interval_s, sweep_interval_s))


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    gc.unfreeze()
    GC_FROZEN.set(0)
