"""Group commit: concurrent small writes share one transaction, each caller still waits for it.

Under load the signaling hot path issues hundreds of one-row writes a second (call record
insert and state updates). Committing each alone costs a transaction apiece; here whatever
is queued while a transaction runs goes into the next one, and writes of the same statement
with the same parameter names go to the driver as one ``executemany``. A caller's ``execute``
returns only after its write is committed, so nothing is acknowledged before it is durable;
writes within one batch are therefore independent of each other (a dependent write is only
issued once the one it depends on has returned) and may run in any order. If a batch fails,
its writes are retried one per transaction so only the bad one fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from prometheus_client import Histogram
from sqlalchemy.sql import Executable

from yuntong.core.db import Database
from yuntong.core.logging import get_logger

log = get_logger(__name__)
COMMIT_SECONDS = Histogram(
    "yuntong_db_group_commit_seconds",
    "Time of one group-commit transaction (what every hot-path write waits for)",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
MAX_BATCH = 500
Params = dict[str, Any] | None
# a statement, its parameters, whether its own row count is wanted, and the future that gets it
Item = tuple[Executable, Params, bool, "asyncio.Future[int]"]


class GroupCommitter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.statements = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def execute(self, statement: Executable, params: Params = None) -> None:
        """Run ``statement`` (with ``params``) in the next group transaction; returns once it
        is committed. Pass a statement built once (a module constant) with bound parameters so
        that concurrent writes share its compiled form and one ``executemany``."""
        await self._submit(statement, params, counted=False)

    async def execute_counted(self, statement: Executable, params: Params = None) -> int:
        """As :meth:`execute`, for a conditional write whose caller must know whether it took
        effect: run on its own within the group transaction (not in an ``executemany``, whose
        row count covers every row), it returns the rows it changed."""
        return await self._submit(statement, params, counted=True)

    async def _submit(self, statement: Executable, params: Params, *, counted: bool) -> int:
        if self._task is None:  # not started (tools, tests): a transaction of its own
            async with self.db.connection() as conn:
                result = await conn.execute(statement, params)
            return _rowcount(result)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((statement, params, counted, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch)
            for _ in batch:
                self._queue.task_done()

    async def _commit(self, batch: list[Item]) -> None:
        started = time.perf_counter()
        counts: dict[int, int] = {}
        try:
            async with self.db.connection() as conn:
                for statement, rows, item in _grouped(batch):
                    result = await conn.execute(statement, rows)
                    if item is not None:
                        counts[item] = _rowcount(result)
            COMMIT_SECONDS.observe(time.perf_counter() - started)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][3].done():
                    batch[0][3].set_exception(exc)
                return
            log.warning("group_commit_retrying_singly", size=len(batch))
            for one in batch:
                await self._commit([one])
            return
        self.batches += 1
        self.statements += len(batch)
        for index, (_, _, _, future) in enumerate(batch):
            if not future.done():
                future.set_result(counts.get(index, 0))


def _grouped(batch: list[Item]) -> list[tuple[Executable, Any, int | None]]:
    """One entry per statement and parameter names: its rows, for one ``executemany``; a
    counted write alone, with its index in the batch (its row count is its caller's)."""
    groups: dict[tuple[int, tuple[str, ...]], tuple[Executable, list[dict[str, Any]]]] = {}
    single: list[tuple[Executable, Any, int | None]] = []
    for index, (statement, params, counted, _) in enumerate(batch):
        if params is None or counted:
            single.append((statement, params, index if counted else None))
            continue
        key = (id(statement), tuple(params))
        group = groups.get(key)
        if group is None:
            groups[key] = (statement, [params])
        else:
            group[1].append(params)
    return single + [
        (stmt, rows[0] if len(rows) == 1 else rows, None) for stmt, rows in groups.values()
    ]


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
