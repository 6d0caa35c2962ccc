"""A real Yuntong served by uvicorn inside the test's own event loop, on a clock moved by hand.

A server in a child process (:mod:`tests.support.server`) runs on the wall clock: a test of a
ring time-out or a reconnect grace period has to really wait for it. This server is
``create_app(settings, clock=FakeClock(...))`` served on a free port in the test process, so
the test reaches the same HTTP and WebSocket endpoints as a client would and moves time with
``server.clock.advance(seconds=...)`` (or ``await server.clock.run_for(seconds=...)``).

The database is set up as for the child-process servers (migrated with ``upgrade`` before the
start); Janus, coturn and the billing worker are not started, the rater does not run (tests
rate when they choose), and the garbage collector of the test runner is never frozen. The
server is stopped on every path, also when its start fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from tests.support.server import ServerProcess, ServerUsers, free_port, wait_for
from tests.support.wsclient import WsClient
from yuntong.app import create_app
from yuntong.config import Settings
from yuntong.core.clock import FakeClock
from yuntong.core.context import Context
from yuntong.core.migrate import upgrade
from yuntong.realtime.connection import hub_of

START_DEADLINE_S = 30.0
STOP_DEADLINE_S = 15.0


class InProcessServer(ServerUsers):
    """Like :class:`~tests.support.server.ServerProcess` for a test (``url``, ``ws_url``,
    ``create_user``, ``login``, ``context``), plus ``clock``: the server's :class:`FakeClock`."""

    def __init__(
        self, var_dir: Path, database_url: str, clock: FakeClock | None = None, **overrides: Any
    ) -> None:
        self.var_dir = var_dir
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        # starts at the wall clock's now: sessions and records get believable times
        self.clock = clock or FakeClock(datetime.now(UTC))
        values: dict[str, Any] = {
            "var_dir": var_dir,
            "database_url": database_url,
            "database_pool_size": 4,  # many servers at once on one PostgreSQL
            "port": self.port,
            "start_coturn": False,
            "start_sip": False,
            "start_janus": False,
            "gc_freeze_interval_s": 0,  # never freeze the test runner's garbage
            "billing_rating_interval_s": 0,  # no worker process, no rating loop
            **overrides,
        }
        self.settings: Settings = Settings(**values).with_generated_secrets()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._ctx: Context | None = None
        self._app_ctx: Context | None = None

    async def start(self) -> None:
        """Migrate the database, then serve until :meth:`stop`; stopped again if the start
        fails."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(upgrade, self.database_url)
        app = create_app(self.settings, clock=self.clock)
        self._app_ctx = app.state.ctx
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            ws_max_size=self.settings.ws_max_message_bytes * 2,
            ws_per_message_deflate=self.settings.ws_compression,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(), name="inprocess-server")
        try:
            await wait_for(
                lambda: self._server is not None and (self._server.started or self._task.done()),
                timeout=START_DEADLINE_S,
                interval=0.01,
            )
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the in-process server stopped while starting")
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop serving (the app's shutdown runs: live calls checkpointed, sockets closed)."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is not None and task is not None:
            server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(task), STOP_DEADLINE_S)
            except TimeoutError:
                server.force_exit = True
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            except Exception:  # a failed start: its error was raised already
                pass
        await self.aclose()

    @property
    def app_context(self) -> Context:
        """The serving app's own Context (its hub, live calls, ...)."""
        assert self._app_ctx is not None, "not started"
        return self._app_ctx

    async def advance(self, seconds: float) -> None:
        """Move the server's clock: first let what is under way arm its timers, then fire the
        timers that fall due and let the tasks they start run."""
        await self.clock.run_for(seconds=0)
        await self.clock.run_for(seconds=seconds)

    async def seen_dropped(self, client: WsClient) -> None:
        """Wait until the server has noticed that ``client``'s socket dropped (its device now
        waits out the reconnect grace period)."""
        hub = hub_of(self.app_context)
        user_id = client.hello["user"]["user_id"]

        def waiting() -> bool:
            channel = hub.devices.get(user_id, {}).get(client.device)
            return channel is not None and channel.ws is None and channel.gone_task is not None

        await wait_for(waiting)


Served = ServerProcess | InProcessServer
"""A server a test talks to: in a child process or in the test's own loop."""


@asynccontextmanager
async def inprocess_server(
    var_dir: Path, database_url: str, **overrides: Any
) -> AsyncIterator[InProcessServer]:
    """A started in-process server on ``database_url`` with a :class:`FakeClock`, stopped
    afterwards whatever happens."""
    server = InProcessServer(var_dir, database_url, **overrides)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
