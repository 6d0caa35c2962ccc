"""A real Janus on free loopback ports with a generated config, and a sink for its HTTP events."""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import wait_listening
from tests.support.server import free_port
from yuntong.media.janus import VIDEOROOM, janus_token
from yuntong.media.janus_config import write_janus_config
from yuntong.media.supervisor import SupervisedProcess

JANUS_BINARY = "janus"

needs_janus = pytest.mark.skipif(
    shutil.which(JANUS_BINARY) is None and not os.environ.get("CI"),
    reason="Janus not installed (Debian package `janus`); CI requires it",
)


class EventSink:
    """An HTTP endpoint on 127.0.0.1 that keeps what Janus's sample event handler posts.

    ``events`` holds every event object (Janus groups several into one JSON array);
    ``authorizations`` the ``Authorization`` header of each POST.
    """

    user = "janus-events"

    def __init__(self) -> None:
        self.password = secrets.token_urlsafe(12)
        self.events: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/janus/events"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self, authorization: str | None, body: bytes) -> None:
        posted = json.loads(body)
        with self._lock:
            self.authorizations.append(authorization)
            self.events.extend(posted if isinstance(posted, list) else [posted])

    async def wait_for_session(
        self, session_id: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """The events about ``session_id``, once there is at least one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [e for e in self.events if e.get("session_id") == session_id]
            if found:
                return found
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no event about session {session_id}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers libcurl's "Expect: 100-continue"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.record(self.headers.get("Authorization"), body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@dataclass
class Janus:
    directory: Path
    process: SupervisedProcess
    ws_port: int
    admin_key: str
    token_secret: str

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def log(self) -> str:
        return (self.directory / "janus.log").read_text(errors="replace")

    def token(self, ttl_s: int = 600, plugins: Iterable[str] = (VIDEOROOM,)) -> str:
        return janus_token(self.token_secret, datetime.now(UTC), ttl_s, plugins)

    def node(self, name: str) -> dict[str, str]:
        """This Janus as one item of ``YUNTONG_JANUS_NODES`` (a node Yuntong does not run)."""
        return {
            "name": name,
            "url": self.url,
            "token_secret": self.token_secret,
            "videoroom_admin_key": self.admin_key,
        }


async def start_janus(
    directory: Path,
    *,
    session_timeout_s: int = 60,
    event_url: str | None = None,
    event_user: str | None = None,
    event_password: str | None = None,
    rtp_ports: int = 100,
) -> Janus:
    """Janus with token auth, started as ``yuntong serve`` does (a SupervisedProcess) and
    listening; the caller stops ``janus.process``.

    It is not restarted if it dies: a test (or a benchmark) should see that, not a fresh Janus.
    """
    binary = shutil.which(JANUS_BINARY)
    if binary is None:
        raise RuntimeError(f"{JANUS_BINARY} is not installed")
    rtp_low = random.randrange(40000, 58000, 100)
    ws_port = free_port()
    admin_key, token_secret = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    conf = write_janus_config(
        directory,
        ws_port=ws_port,
        admin_port=free_port(),
        admin_secret=secrets.token_urlsafe(16),
        videoroom_admin_key=admin_key,
        rtp_range=(rtp_low, rtp_low + rtp_ports - 1),
        token_auth_secret=token_secret,
        event_url=event_url,
        event_user=event_user,
        event_password=event_password,
        session_timeout_s=session_timeout_s,
    )
    process = SupervisedProcess(
        "janus",
        [binary, "-C", str(conf), "-F", str(directory)],
        log_path=directory / "janus.log",
        cwd=directory,
        min_backoff_s=3600,
    )
    janus = Janus(directory, process, ws_port, admin_key, token_secret)
    await process.start()
    if not await wait_listening(janus.ws_port, alive=lambda: process.state == "running"):
        await janus.process.stop()
        raise RuntimeError(
            f"Janus did not open port {janus.ws_port}; its log:\n{janus.log[-3000:]}"
        )
    return janus


@asynccontextmanager
async def running_janus(
    directory: Path, *, session_timeout_s: int = 60, events: EventSink | None = None
) -> AsyncIterator[Janus]:
    """:func:`start_janus`, stopped afterwards."""
    janus = await start_janus(
        directory,
        session_timeout_s=session_timeout_s,
        event_url=events.url if events else None,
        event_user=events.user if events else None,
        event_password=events.password if events else None,
    )
    try:
        yield janus
    finally:
        await janus.process.stop()


def frozen(pid: int) -> bool:
    """Every thread of ``pid`` is stopped (after SIGSTOP): kill() returns before a busy
    process's threads are, and a thread still running may answer one more request."""
    tasks = Path(f"/proc/{pid}/task")
    states = [(t / "stat").read_text().rsplit(") ", 1)[1][:1] for t in tasks.iterdir()]
    return all(state in "Tt" for state in states)
