"""A real Yuntong server in a child process, for integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from tests.support import fast_hash
from yuntong.accounts import registration
from yuntong.config import Settings
from yuntong.core.clock import Clock
from yuntong.core.context import Context
from yuntong.core.db import private_sqlite_files
from yuntong.core.migrate import upgrade
from yuntong.services import build_context

# A loaded 2-core machine (a suite with Janus, coturn and Chromium running) can take tens of
# seconds to import and migrate; a deadline that is too short turns load into failures.
START_DEADLINE_S = float(os.environ.get("YUNTONG_TEST_START_S", "90"))


def child_pid(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process is alive and was started from the same folder."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if str(pidfile.parent) in cmdline else None


_sqlite_template: Path | None = None


def migrated(url: str) -> None:
    """Bring the database at ``url`` to the newest revision. A SQLite file that does not exist
    yet starts as a copy of one migrated once in this process: the 25 migrations took 1–6 s
    a server on a loaded machine (one commit, and fsync, per step), the copy a few ms. The
    copy is what migrating an empty file gives (no migration writes anything random or tied to
    a server); ``upgrade`` then finds nothing to do."""
    global _sqlite_template
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database and not Path(database).exists():
        if _sqlite_template is None:
            template = Path(tempfile.mkdtemp(prefix="yt-template-")) / "migrated.db"
            upgrade(f"sqlite+aiosqlite:///{template}")
            _sqlite_template = template
        private_sqlite_files(url)  # an empty 0600 file, as the server's own first start makes
        with (
            contextlib.closing(sqlite3.connect(_sqlite_template)) as source,
            contextlib.closing(sqlite3.connect(database)) as copy,
        ):
            source.backup(copy)
    upgrade(url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerUsers:
    """What a test does on a server it started (a child process or in-process): users made
    through the accounts service on the server's database, logged in over HTTP."""

    settings: Settings
    url: str
    clock: Clock | None = None
    _ctx: Context | None = None

    async def context(self) -> Context:
        """A Context on the server's database (and clock), for setting up users from the test."""
        if self._ctx is None:
            self._ctx = build_context(self.settings, clock=self.clock)
        return self._ctx

    async def create_user(
        self,
        username: str,
        password: str = "correct horse battery",
        role: str = "subscriber",
    ) -> int:
        user = await registration.do_create_admin(await self.context(), username, password, role)
        return user.id

    async def login(self, username: str, password: str = "correct horse battery") -> str:
        """An API bearer token for the user."""
        async with httpx.AsyncClient(base_url=self.url) as client:
            resp = await client.post(
                "/api/v1/auth/login",
                json={"username": username, "password": password, "kind": "api"},
            )
            resp.raise_for_status()
            token: str = resp.json()["token"]
            return token

    async def aclose(self) -> None:
        """Close the test's Context (its database connections); the server keeps running."""
        if self._ctx is not None:
            await self._ctx.db.dispose()
            self._ctx = None


class ServerProcess(ServerUsers):
    """``yuntong serve``-equivalent child: uvicorn on a free port with a private var dir."""

    def __init__(self, var_dir: Path, database_url: str, **env: str) -> None:
        self.var_dir = var_dir
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.env = {
            **os.environ,
            "YUNTONG_VAR_DIR": str(var_dir),
            "YUNTONG_DATABASE_URL": database_url,
            # several servers per test, two test workers: PostgreSQL's 100 connections last
            "YUNTONG_DATABASE_POOL_SIZE": "4",
            "YUNTONG_PORT": str(self.port),
            "YUNTONG_START_COTURN": "false",
            "YUNTONG_START_SIP": "false",
            "YUNTONG_START_JANUS": "false",
            "YUNTONG_LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = var_dir / "server.log"
        self._ctx: Context | None = None

    @property
    def settings(self) -> Settings:
        overrides: dict[str, Any] = {"var_dir": self.var_dir, "database_url": self.database_url}
        return Settings(**overrides).with_generated_secrets()

    def start(self, deadline_s: float | None = None) -> None:
        """Start the child and wait until ``/healthz`` answers.

        On any failure (exit, no health in time, an interrupt) the child and the servers it
        supervises are killed before the error is raised, so one slow start cannot leave a
        Yuntong, a Janus and a coturn behind to load the machine for every later test.
        """
        self.spawn()
        self.wait_started(deadline_s)

    def spawn(self) -> None:
        """Migrate the database and start the child, without waiting for it."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.settings  # noqa: B018  (generates var/secrets.toml before the child reads it)
        migrated(self.database_url)
        code = (
            fast_hash.CHILD_CODE  # the tests' password hashing costs (when the tests set them)
            + "from yuntong.cli import run_server\n"
            "from yuntong.config import load_settings\n"
            "run_server(load_settings())\n"
        )
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_started(self, deadline_s: float | None = None) -> None:
        """Wait until ``/healthz`` answers; on any failure kill the child and what it started."""
        try:
            self._wait_healthy(START_DEADLINE_S if deadline_s is None else deadline_s)
        except BaseException:
            self.stop(signal.SIGKILL)
            self.kill_children()
            raise

    def _wait_healthy(self, deadline_s: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + deadline_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not become healthy in {deadline_s:.0f} s: {self.log_tail()}"
                )
            time.sleep(0.1)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the child with ``sig`` (SIGKILL simulates a crash and leaves its children
        running, as a real crash would; the next start or :meth:`kill_children` ends them)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if sig != signal.SIGKILL:
            self.kill_children()

    def children(self) -> list[int]:
        """Live servers (Janus, coturn) started by this server, found by their pid files."""
        return [pid for pid in map(child_pid, self.var_dir.rglob("*.pid")) if pid is not None]

    def kill_children(self) -> None:
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.children() and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()


@asynccontextmanager
async def private_server(folder: Path, **env: str) -> AsyncIterator[ServerProcess]:
    """A started server on its own SQLite database in ``folder``, stopped afterwards."""
    server = ServerProcess(folder / "var", f"sqlite+aiosqlite:///{folder / 'yuntong.db'}", **env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        await server.aclose()


async def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an (async or plain) predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
