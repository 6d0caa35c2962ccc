"""The server of these tests runs in the test's loop on a clock the test moves: no ring
time-out and no reconnect grace passes unless the test advances the clock, so "at once" is told
apart exactly from "after the grace period" or "when the ring time-out fires" (SQLite and
PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.integration.calls.conftest import connect  # noqa: F401  (the fixture, on `server`)
from tests.support.inprocess import InProcessServer


@pytest.fixture
def server(inprocess_server_any: InProcessServer) -> InProcessServer:
    return inprocess_server_any
