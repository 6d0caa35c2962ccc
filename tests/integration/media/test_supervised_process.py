"""SupervisedProcess with plain programs: back-off restarts and a stop that cannot be ignored."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from tests.support.server import wait_for
from yuntong.media.supervisor import SupervisedProcess

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)",
]


async def test_restarts_with_growing_back_off(tmp_path: Path) -> None:
    crasher = [sys.executable, "-c", "raise SystemExit(3)"]
    proc = SupervisedProcess(
        "crasher", crasher, log_path=tmp_path / "crasher.log", min_backoff_s=0.1, max_backoff_s=0.4
    )
    started = time.monotonic()
    await proc.start()
    await wait_for(lambda: proc.restarts >= 4, timeout=10, interval=0.01)
    # waits 0.1 + 0.2 + 0.4 (+ 0.4 capped) between runs
    assert time.monotonic() - started >= 0.7
    assert proc.last_exit_code == 3
    await proc.stop()
    assert proc.state == "stopped"


async def test_stop_kills_a_program_that_ignores_sigterm(tmp_path: Path) -> None:
    log_path = tmp_path / "stubborn.log"
    proc = SupervisedProcess("stubborn", STUBBORN, log_path=log_path, stop_timeout_s=0.5)
    await proc.start()
    await wait_for(lambda: b"ready" in log_path.read_bytes(), timeout=10)
    pid = proc.pid
    assert pid is not None
    started = time.monotonic()
    await proc.stop()
    assert 0.4 <= time.monotonic() - started < 5
    assert proc.last_exit_code == -signal.SIGKILL
    assert proc.restarts == 0


async def test_a_missing_program_is_retried_not_raised(tmp_path: Path) -> None:
    proc = SupervisedProcess(
        "ghost", [str(tmp_path / "nope")], log_path=tmp_path / "ghost.log", min_backoff_s=0.05
    )
    await proc.start()
    await wait_for(lambda: proc.restarts >= 2, timeout=5, interval=0.01)
    assert proc.pid is None
    await proc.stop()


async def test_killed_program_comes_back_with_a_new_pid(tmp_path: Path) -> None:
    proc = SupervisedProcess("sleeper", SLEEPER, log_path=tmp_path / "s.log", min_backoff_s=0.05)
    await proc.start()
    async with asyncio.timeout(5):
        first = await proc.wait_running()
    os.kill(first, signal.SIGKILL)
    async with asyncio.timeout(5):
        second = await proc.wait_running(new_pid_than=first)
    assert second != first
    await proc.stop()
    assert proc.pid is None
