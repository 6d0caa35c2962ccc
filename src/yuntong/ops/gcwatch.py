"""Garbage-collector pauses as metrics, and the collector policy the server runs with.

A full (generation 2) collection stops the event loop while it walks every tracked object, so
with thousands of sessions held it shows up directly as signaling latency. The pauses are
exported as ``yuntong_gc_pause_seconds{generation}`` so that they can be seen, and the server
freezes what it allocated at start-up (modules, routes, settings) so that no collection walks it
again (``gc.freeze``: those objects live as long as the process anyway).
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

GC_PAUSE = Histogram(
    "yuntong_gc_pause_seconds",
    "Time the garbage collector stopped the process, by generation",
    ["generation"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
_started: list[float] = []


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        GC_PAUSE.labels(str(info.get("generation", "?"))).observe(
            time.perf_counter() - _started.pop()
        )


def install() -> None:
    """Measure every collection (once per process)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def freeze_startup_objects() -> None:
    """Collect once, then move every surviving object out of the collector's sight."""
    gc.collect()
    gc.freeze()
