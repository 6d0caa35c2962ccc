"""A backup taken while a server writes, the database destroyed, restored: every row back, the
files and the secrets with them (CS 6.2)."""

from __future__ import annotations

import asyncio
import shutil

from tests.conftest import make_settings
from tests.integration.backup.conftest import (
    DOCUMENT,
    RECORDING,
    Writer,
    all_rows,
    backup_cli,
    destroy,
    keep_writing,
    make_data,
)
from yuntong.backup import service
from yuntong.backup.manifest import read_manifest
from yuntong.config import SECRETS_FILE
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context, close_context
from yuntong.numbers import port_documents
from yuntong.services import build_context


async def test_backup_while_writing_then_destroy_and_restore_finds_every_row(
    own_ctx: Context,
) -> None:
    ctx = own_ctx
    made = await make_data(ctx)
    before = await all_rows(ctx.settings.effective_database_url)
    assert before["statements"] and before["usage_records"] and before["call_records"]
    secrets_text = (ctx.settings.var_dir / SECRETS_FILE).read_text()

    writer = Writer(asyncio.Event(), asyncio.Event(), [])
    writing = asyncio.create_task(keep_writing(ctx, made.caller, made.callee, writer))
    await writer.started.wait()  # under way before the backup starts
    created = await backup_cli(ctx, "create")
    writer.stop.set()
    await writing
    written = writer.written
    assert created.exit_code == 0, created.output
    assert "backup yuntong-" in created.output

    (made_backup,) = service.list_backups(ctx.settings)
    await destroy(ctx)
    shutil.rmtree(ctx.settings.var_dir / "recordings")
    shutil.rmtree(ctx.settings.var_dir / "porting")
    (ctx.settings.var_dir / SECRETS_FILE).unlink()

    restored = await backup_cli(ctx, "restore", made_backup.name, "--secrets")
    assert restored.exit_code == 0, restored.output
    assert f"restored {made_backup.name}" in restored.output

    after = await all_rows(ctx.settings.effective_database_url)
    calls_back = [r for r in after["call_records"] if r["id"].startswith("w")]
    # the writer's calls up to one moment, none after it: a consistent snapshot taken while
    # calls kept being written (some before the backup started, some after its snapshot)
    taken = len(calls_back)
    assert [r["id"] for r in calls_back] == written[:taken]
    assert 0 < taken < len(written)
    after["call_records"] = [r for r in after["call_records"] if not r["id"].startswith("w")]
    assert after == before  # every row of every table, equal
    listed = read_manifest(made_backup.path)["database"]["tables"]
    assert listed["call_records"] == len(before["call_records"]) + taken
    assert listed["statements"] == len(before["statements"])

    # the files and the secrets: the restored key ring reads the encrypted porting document
    assert made.recording.read_bytes() == RECORDING
    assert (ctx.settings.var_dir / SECRETS_FILE).read_text() == secrets_text
    restarted = make_settings(ctx.settings.var_dir, ctx.settings.effective_database_url)
    again = build_context(restarted, clock=FrozenClock())
    try:
        assert await port_documents.read_document(again, made.port_ref) == DOCUMENT
    finally:
        await close_context(again)
