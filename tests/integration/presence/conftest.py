"""A server of the presence tests' own, on each backend, on a clock the tests move across days
(a heartbeat period longer than any move, so sockets stay open while hours pass), and the
supplementary tests' subscribers (a number, a socket, services ordered) on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import own_database
from tests.integration.supplementary.conftest import subscriber  # noqa: F401  (a fixture)
from tests.support.inprocess import InProcessServer, inprocess_server
from yuntong.core.clock import FakeClock

BEIJING = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 5, 9, 0, tzinfo=BEIJING)  # a Monday morning


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InProcessServer]:
    folder = tmp_path_factory.mktemp("presence")
    async with (
        own_database(request.param, folder) as url,
        inprocess_server(
            folder / "var",
            url,
            clock=FakeClock(START.astimezone(UTC)),
            heartbeat_interval_s=float(timedelta(days=100).total_seconds()),
        ) as started,
    ):
        yield started


def beijing(text: str) -> datetime:
    """``2026-01-12 21:58`` in Beijing time."""
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


async def move_to(server: InProcessServer, text: str) -> None:
    """Move the server's clock forward to a Beijing time (its timers firing on the way)."""
    seconds = (beijing(text) - server.clock.now()).total_seconds()
    assert seconds >= 0, f"the clock is past {text} already"
    await server.advance(seconds)
