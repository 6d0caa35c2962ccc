"""A real Yuntong server in a child process, for integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from yuntong.config import Settings
from yuntong.core.context import Context, build_context
from yuntong.core.migrate import upgrade


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
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
            "YUNTONG_PORT": str(self.port),
            "YUNTONG_START_COTURN": "false",
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

    def start(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.settings  # noqa: B018  (generates var/secrets.toml before the child reads it)
        upgrade(self.database_url)
        code = (
            "from yuntong.cli import run_server\n"
            "from yuntong.config import load_settings\n"
            "run_server(load_settings())\n"
        )
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    async def context(self) -> Context:
        """A Context on the server's database, for setting up users from the test process."""
        if self._ctx is None:
            self._ctx = build_context(self.settings)
        return self._ctx

    async def create_user(
        self,
        username: str,
        password: str = "correct horse battery",
        role: str = "subscriber",
    ) -> int:
        from yuntong.accounts import service as accounts

        ctx = await self.context()
        user = await accounts.do_create_admin(ctx, username, password, role)
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
        if self._ctx is not None:
            await self._ctx.db.dispose()
            self._ctx = None


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
