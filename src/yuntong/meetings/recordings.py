"""Recordings: Janus writes raw ``.mjr`` files while recording is on; afterwards they are
turned into one playable ``.webm`` per participant (``media.recording``), which the host
downloads."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.media.recording import convert_recording
from yuntong.meetings import store
from yuntong.meetings.models import MeetingRecording

log = get_logger(__name__)
TASKS = Piece(
    "meetings.recording_tasks",
    "node-owned live state",
    lambda ctx: set[asyncio.Task[None]](),
    "recordings being converted to WebM on this node",
)


async def do_start(ctx: Context, meeting_id: str, recording_id: str, directory: Path) -> None:
    async with ctx.db.session() as s:
        s.add(
            MeetingRecording(
                id=recording_id,
                meeting_id=meeting_id,
                status="recording",
                started_at=ctx.clock.now(),
                directory=str(directory),
                files=[],
            )
        )


def process_later(ctx: Context, recording_id: str) -> None:
    """Convert in the background; the row says ``processing`` until done."""
    tasks = ctx.services.get(TASKS)
    task = asyncio.create_task(do_process(ctx, recording_id), name=f"recording-{recording_id}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def do_process_abandoned(ctx: Context) -> int:
    """Recordings a stopped or dead node's room left marked as recording, of meetings that were
    not taken over: what was recorded is converted, as when the host stops a recording (with
    ``var/recordings`` on a folder every node shares). How many."""
    async with ctx.db.session() as s:
        claimed = await store.claim_abandoned_recordings(s, ctx.clock.now())
    for recording_id in claimed:
        log.warning("recording_abandoned_processed", recording=recording_id)
        process_later(ctx, recording_id)
    return len(claimed)


async def wait_processing(ctx: Context) -> None:
    """Wait for conversions under way (shutdown, tests)."""
    tasks = ctx.services.get(TASKS)
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


async def do_process(ctx: Context, recording_id: str) -> None:
    async with ctx.db.session() as s:
        row = await s.get(MeetingRecording, recording_id)
        if row is None:
            return
        row.status = "processing"
        row.stopped_at = row.stopped_at or ctx.clock.now()
        directory = Path(row.directory)
    files: list[dict[str, Any]] = []
    error: str | None = None
    try:
        converted = await convert_recording(directory, directory / "out")
        files = [
            {
                "name": f.path.name,
                "publisher": f.publisher,
                "duration_s": round(f.duration_s, 3),
                "size_bytes": f.size_bytes,
                "has_audio": f.has_audio,
                "has_video": f.has_video,
            }
            for f in converted
        ]
    except YuntongError as exc:
        error = str(exc.params.get("reason", exc.code))[:200]
        log.warning("recording_failed", recording=recording_id, error=error)
    async with ctx.db.session() as s:
        row = await s.get(MeetingRecording, recording_id)
        if row is None:
            return
        row.files = files
        row.status = "failed" if error else "ready"
        row.error = error


def file_path(row: MeetingRecording, name: str) -> Path:
    """The path of one converted file of ``row``; nothing outside its directory."""
    if name not in {str(f.get("name")) for f in row.files}:
        raise YuntongError("not_found")
    path = (Path(row.directory) / "out" / name).resolve()
    if not path.is_relative_to(Path(row.directory).resolve()) or not path.is_file():
        raise YuntongError("not_found")
    return path
