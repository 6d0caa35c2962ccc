"""The billing worker runs in a process of its own, beside the server (issue 20).

Rating in the server's event loop held back the signaling it carries; `yuntong serve` now
starts `yuntong billing worker` and supervises it. What a customer sees is unchanged: a call
that ended is in the ledger a few seconds later. What an operator sees: the worker in
`/readyz`, restarted when it dies, and gone with the server when the server is killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import own_server, unique
from tests.support.server import ServerProcess
from yuntong.billing.ledger.usage import UsageInput, do_record_usage
from yuntong.billing.models import EntryKind, LedgerEntry

WITHIN_S = 15.0
T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgres"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    async with own_server(
        request.param, tmp_path, YUNTONG_BILLING_RATING_INTERVAL_S="0.5"
    ) as started:
        yield started


def worker_pid(server: ServerProcess) -> int | None:
    path = server.var_dir / "billing" / "worker.pid"
    pids = [p for p in server.children() if path.exists() and str(p) in path.read_text()]
    return pids[0] if pids else None


async def wait_for(what: str, probe: Callable[[], Awaitable[T | None]]) -> T:
    deadline = time.monotonic() + WITHIN_S
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {WITHIN_S:.0f} s: {what}")


async def a_worker(server: ServerProcess, other_than: int | None = None) -> int:
    async def probe() -> int | None:
        pid = worker_pid(server)
        return pid if pid != other_than else None

    return await wait_for("a worker process", probe)


def command_line(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


async def rated_usage(server: ServerProcess) -> int:
    """Record 70 s of video for a new user, as the collector would, and wait until the worker
    process has rated it; returns the ledger entry's id."""
    ctx = await server.context()
    user_id = await server.create_user(unique("w"))
    started = ctx.clock.now() - timedelta(minutes=5)
    usage = UsageInput("call", unique("call"), user_id, "call.video", 70, started)
    record = await do_record_usage(ctx, usage)
    assert record is not None

    async def entry() -> int | None:
        async with ctx.db.session() as s:
            found = await s.scalar(
                select(func.max(LedgerEntry.id)).where(
                    LedgerEntry.usage_id == record.id, LedgerEntry.kind == EntryKind.USAGE
                )
            )
        return int(found) if found else None

    return await wait_for("the usage rated", entry)


async def test_the_server_rates_in_a_worker_process_it_supervises(server: ServerProcess) -> None:
    pid = await a_worker(server)
    assert server.proc is not None and pid != server.proc.pid
    cmdline = command_line(pid)
    assert cmdline[cmdline.index(b"billing") :][:2] == [b"billing", b"worker"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        ready = (await http.get("/readyz", timeout=5)).json()
    assert ready["checks"]["billing_worker"] == "running"
    await rated_usage(server)

    os.kill(pid, signal.SIGKILL)  # the worker dies: the server starts another
    assert await a_worker(server, other_than=pid) != pid
    await rated_usage(server)  # and rating goes on


async def test_a_killed_server_takes_its_worker_with_it(server: ServerProcess) -> None:
    pid = await a_worker(server)
    server.stop(signal.SIGKILL)  # a crash: nothing runs the server's shutdown

    async def gone() -> bool:
        return not alive(pid)

    await wait_for("the worker gone", gone)
    server.start()  # a new server on the same folder starts one worker, not a second
    assert await a_worker(server, other_than=pid) != pid
    await rated_usage(server)
