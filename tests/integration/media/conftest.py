from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.integration.media.coturn import Coturn, running_coturn
from tests.support.janus import EventSink, Janus, running_janus
from yuntong.media.janus import JanusClient


@pytest.fixture
async def coturn(tmp_path: Path) -> AsyncIterator[Coturn]:
    """A coturn started by ``start_media_children`` in a private var dir on free ports."""
    if shutil.which("turnserver") is None:
        pytest.skip("coturn not installed")
    async with running_coturn(tmp_path / "var") as server:
        yield server


@pytest.fixture(scope="session")
def janus_events() -> Iterator[EventSink]:
    """Where the shared Janus posts its events (every test's sessions; filter by id)."""
    sink = EventSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
async def janus(
    tmp_path_factory: pytest.TempPathFactory, janus_events: EventSink
) -> AsyncIterator[Janus]:
    """A Janus shared by the session: token auth on, sessions time out after 5 s of silence."""
    async with running_janus(
        tmp_path_factory.mktemp("janus"), session_timeout_s=5, events=janus_events
    ) as server:
        yield server


@pytest.fixture
async def disposable_janus(tmp_path: Path) -> AsyncIterator[Janus]:
    """A Janus of the test's own, for tests that freeze or kill it."""
    async with running_janus(tmp_path / "janus") as server:
        yield server


@pytest.fixture
async def janus_client(janus: Janus) -> AsyncIterator[JanusClient]:
    """A client of the shared Janus holding a valid token."""
    client = await JanusClient.connect(janus.url, janus.token())
    yield client
    await client.close()
