"""One Yuntong with its own supervised Janus for the meeting tests (SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import unique
from tests.support.meetings import janus_env, janus_ready
from tests.support.server import ServerProcess


@pytest.fixture(scope="session")
async def meeting_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServerProcess]:
    var = tmp_path_factory.mktemp("meetings")
    server = ServerProcess(var / "var", f"sqlite+aiosqlite:///{var / 'yuntong.db'}", **janus_env())
    server.start()
    try:
        await janus_ready(server)
        yield server
    finally:
        server.stop()
        await server.aclose()


@pytest.fixture
async def host(meeting_server: ServerProcess) -> str:
    """A bearer token of a new user who will host."""
    name = unique("host")
    await meeting_server.create_user(name)
    return await meeting_server.login(name)


@pytest.fixture
async def member(meeting_server: ServerProcess) -> str:
    """A bearer token of another signed-in user."""
    name = unique("member")
    await meeting_server.create_user(name)
    return await meeting_server.login(name)
