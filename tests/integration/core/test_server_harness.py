"""The test harness's server: whatever a test starts is gone afterwards, on every path."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.support.server import ServerProcess, free_port, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("turnserver") is None, reason="coturn (turnserver) is not installed"
)


def processes_of(var_dir: Path) -> list[psutil.Process]:
    """Live processes started for ``var_dir``: the server (by its environment) and its
    supervised children (which inherit that environment and name the folder)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("YUNTONG_VAR_DIR") == str(var_dir) or any(
                str(var_dir) in arg for arg in proc.cmdline()
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def gone(var_dir: Path, timeout: float = 10.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := processes_of(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def coturn_server(tmp_path: Path) -> ServerProcess:
    return ServerProcess(
        tmp_path / "var",
        f"sqlite+aiosqlite:///{tmp_path / 'y.db'}",
        YUNTONG_START_COTURN="true",
        YUNTONG_COTURN_PORT=str(free_port()),
    )


def test_a_server_that_misses_its_start_deadline_is_killed(tmp_path: Path) -> None:
    server = coturn_server(tmp_path)
    with pytest.raises(RuntimeError, match="did not become healthy"):
        server.start(deadline_s=0)
    assert gone(server.var_dir) == []


async def test_a_crashed_server_leaves_no_coturn_behind_once_stopped(tmp_path: Path) -> None:
    server = coturn_server(tmp_path)
    server.start()
    try:
        # the supervised coturn and billing worker are up: they name the folder on their
        # command lines. (Killed while the worker was still importing, the server leaves it to
        # end itself once it runs: seconds later on a loaded machine, past gone()'s 10 s.)
        async def both_up() -> bool:
            return len(server.children()) >= 2

        await wait_for(both_up, timeout=30)
        server.stop(signal.SIGKILL)  # a crash: coturn outlives its parent, as it would
        assert server.children()
    finally:
        server.stop()  # what every fixture does last: the leftover children go too
        await server.aclose()
    assert gone(server.var_dir) == []
