"""Group commit: concurrent small writes share one transaction, each caller still waits for it.

Under load the signaling hot path issues hundreds of one-row writes a second (call record
insert and state updates). Committing each alone costs a transaction apiece; here whatever
is queued while a transaction runs goes into the next one. A caller's ``execute`` returns only
after its statement is committed, so nothing is acknowledged before it is durable. If a
batch fails, its statements are retried one per transaction so only the bad one fails.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.sql import Executable

from yuntong.core.db import Database
from yuntong.core.logging import get_logger

log = get_logger(__name__)
MAX_BATCH = 500


class GroupCommitter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: asyncio.Queue[tuple[Executable, asyncio.Future[None]]] = asyncio.Queue()
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

    async def execute(self, statement: Executable) -> None:
        """Run ``statement`` in the next group transaction; returns once it is committed."""
        if self._task is None:  # not started (tools, tests): a transaction of its own
            async with self.db.connection() as conn:
                await conn.execute(statement)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((statement, future))
        await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch)
            for _ in batch:
                self._queue.task_done()

    async def _commit(self, batch: list[tuple[Executable, asyncio.Future[None]]]) -> None:
        try:
            async with self.db.connection() as conn:
                for statement, _ in batch:
                    await conn.execute(statement)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            log.warning("group_commit_retrying_singly", size=len(batch))
            for item in batch:
                await self._commit([item])
            return
        self.batches += 1
        self.statements += len(batch)
        for _, future in batch:
            if not future.done():
                future.set_result(None)
