"""A server whose ring time-out and reconnect grace are long, so "at once" can be told apart
from "after the grace period" or "when the ring time-out fires" (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import own_database
from tests.integration.calls.conftest import connect  # noqa: F401  (the fixture, on `server`)
from tests.support.server import ServerProcess

RING_TIMEOUT_S = 30
GRACE_S = 20


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def patient_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServerProcess]:
    async with own_database(request.param, tmp_path_factory.mktemp("db")) as url:
        server = ServerProcess(
            tmp_path_factory.mktemp("server") / "var",
            url,
            YUNTONG_RING_TIMEOUT_S=str(RING_TIMEOUT_S),
            YUNTONG_RECONNECT_GRACE_S=str(GRACE_S),
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()
            await server.aclose()


@pytest.fixture
def server(patient_server: ServerProcess) -> ServerProcess:
    return patient_server
