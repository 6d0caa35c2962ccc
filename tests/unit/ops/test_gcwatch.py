"""The collector policy: frozen objects are out of the collector's sight until the sweep."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from yuntong.ops import gcwatch


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    # no automatic collection may move the test's objects between generations meanwhile
    gc.disable()
    yield
    gc.unfreeze()  # leave the test runner as it was
    gc.enable()


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_a_frozen_garbage_cycle_waits_for_the_sweep(unfrozen: None) -> None:
    ref = cycle()  # a cycle that is already garbage, but young: freeze() collects it first
    gcwatch.freeze()
    assert ref() is None
    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    gcwatch.freeze()  # alive now: frozen
    del a, b  # garbage from now on, but frozen: ordinary collections do not see it
    gc.collect()
    assert ref() is not None
    assert gcwatch.sweep() >= 2
    assert ref() is None
    assert gc.get_freeze_count() > 0  # the survivors of the sweep are frozen again


def test_every_collection_is_measured() -> None:
    gcwatch.install()
    gcwatch.install()  # once per process, however often the app starts
    assert gc.callbacks.count(gcwatch._WATCH) == 1
    labels = {"generation": "2"}
    before = REGISTRY.get_sample_value("yuntong_gc_pause_seconds_count", labels) or 0.0
    gc.collect()
    after = REGISTRY.get_sample_value("yuntong_gc_pause_seconds_count", labels)
    assert after == before + 1
