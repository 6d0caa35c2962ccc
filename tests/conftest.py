"""Shared fixtures: real databases (SQLite and PostgreSQL), a migrated Context, live servers."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

# The CLI's rich consoles take their width from COLUMNS when they are created (at import), and
# pytest-xdist workers run with COLUMNS=80: tables in CLI tests would be cut to 80 columns
# whatever COLUMNS the test gives its command. Set before anything imports yuntong.cli.
os.environ["COLUMNS"] = "200"

import asyncpg
import httpx
import pytest
import structlog
from sqlalchemy import text

from tests.support import fast_hash
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.redis import redis_server  # noqa: F401  (a fixture for every test)
from tests.support.server import ServerProcess
from yuntong import strings
from yuntong.config import Settings
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.migrate import upgrade
from yuntong.models import Base
from yuntong.services import build_context

# every string, for tests that translate without building a context
strings.install()
# argon2 at its lowest costs here and in the servers the tests start (tests/support/fast_hash.py)
fast_hash.install()
os.environ[fast_hash.ENV] = "1"

PG_DSN = os.environ.get("YUNTONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_counter = itertools.count()


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A test that runs a CLI command in this process configures logging (WARNING): put it
    back afterwards, so a later test's log capture is not filtered by it."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def unique(prefix: str = "u") -> str:
    """A username no other test in this run uses."""
    return f"{prefix}{next(_counter)}{uuid.uuid4().hex[:6]}"


async def _create_pg_database() -> str:
    name = f"yt_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def _drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def own_database(backend: str, folder: Path) -> AsyncIterator[str]:
    """The URL of an empty database of its own (not migrated): a SQLite file in ``folder``,
    or a new PostgreSQL database dropped afterwards (skipped when PostgreSQL is not reachable,
    except in CI)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'own.db'}"
        return
    try:
        url = await _create_pg_database()
    except OSError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_DSN} ({exc}); CI requires it")
    try:
        yield url
    finally:
        await _drop_pg_database(url)


@asynccontextmanager
async def own_server(backend: str, folder: Path, **env: str) -> AsyncIterator[ServerProcess]:
    """A started server on a database of its own (see :func:`own_database`), stopped after."""
    async with own_database(backend, folder) as url:
        started = ServerProcess(folder / "var", url, **env)
        try:
            started.start()
            yield started
        finally:
            started.stop()
            await started.aclose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A freshly migrated database of each backend, shared by the session."""
    async with own_database(request.param, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        yield url


def make_settings(var_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "var_dir": var_dir,
        "database_url": database_url,
        "database_pool_size": 4,  # many contexts at once on one PostgreSQL (100 connections)
        "start_coturn": False,
        "start_sip": False,
        "start_janus": False,
        "log_json": True,
        "gc_freeze_interval_s": 0,  # in-process apps: never freeze the test runner's garbage
        "billing_rating_interval_s": 0,  # tests rate explicitly, at the moment they choose
        **overrides,
    }
    return Settings(**values).with_generated_secrets()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for `ctx` / `app_client`."""
    return {}


@pytest.fixture
async def ctx(
    db_url: str, tmp_path: Path, settings_overrides: dict[str, Any]
) -> AsyncIterator[Context]:
    """A Context on a migrated database with a movable clock; tables emptied afterwards."""
    settings = make_settings(tmp_path / "var", db_url, **settings_overrides)
    context = build_context(settings, clock=FrozenClock())
    yield context
    async with context.db.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(text(f"DELETE FROM {table.name}"))
    await context.db.dispose()


@pytest.fixture
async def app_client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on create_app() in this process (lifespan run), sharing `ctx`'s database."""
    from yuntong.app import create_app

    app = create_app(ctx.settings, clock=ctx.clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


def _server(tmp_path_factory: pytest.TempPathFactory, url: str, **env: str) -> ServerProcess:
    server = ServerProcess(tmp_path_factory.mktemp("server") / "var", url, **env)
    server.start()
    return server


@pytest.fixture(scope="session")
async def live_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    """A real Yuntong (SQLite) in a child process, shared by the session: use unique() names."""
    var = tmp_path_factory.mktemp("live")
    url = f"sqlite+aiosqlite:///{var / 'yuntong.db'}"
    server = _server(
        tmp_path_factory, url, YUNTONG_RING_TIMEOUT_S="3", YUNTONG_MEDIA_TIMEOUT_S="20"
    )
    yield server
    server.stop()
    await server.aclose()


@pytest.fixture(scope="session")
async def live_server_any(
    db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServerProcess]:
    """A real Yuntong on each database backend (SQLite and PostgreSQL)."""
    server = _server(
        tmp_path_factory, db_url, YUNTONG_RING_TIMEOUT_S="3", YUNTONG_RECONNECT_GRACE_S="2"
    )
    yield server
    server.stop()
    await server.aclose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def inprocess_server_any(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InProcessServer]:
    """A real Yuntong in the test's loop on a FakeClock, on each backend (a database of its
    own): ring time-outs, media time-outs and reconnect grace pass when the test moves the
    clock (``await server.advance(seconds)``), never by waiting. Default time-outs."""
    folder = tmp_path_factory.mktemp("inprocess")
    async with (
        own_database(request.param, folder) as url,
        inprocess_server(folder / "var", url) as server,
    ):
        yield server


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A private server a test may restart or kill."""
    var = tmp_path_factory.mktemp("fresh")
    server = _server(tmp_path_factory, f"sqlite+aiosqlite:///{var / 'yuntong.db'}")
    yield server
    server.stop()
