"""``yuntong backup restore`` never overwrites a live database: not while a node runs on it,
not over data unless asked (--replace), and then what was there is set aside."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import own_server, unique
from tests.integration.backup.conftest import backup_cli, backup_settings
from yuntong.accounts.models import User
from yuntong.backup import service
from yuntong.core.context import close_context
from yuntong.services import build_context


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_restore_refuses_a_live_database_then_replaces_a_stopped_one(
    backend: str, tmp_path: Path
) -> None:
    async with own_server(backend, tmp_path) as server:
        username = unique("r")
        await server.create_user(username)
        await server.aclose()
        settings = backup_settings(server.var_dir, server.database_url, tmp_path / "backups")
        ctx = build_context(settings)
        try:
            made = await backup_cli(ctx, "create")  # online: the server is running
            assert made.exit_code == 0, made.output
            name = service.list_backups(settings)[0].name

            live = await backup_cli(ctx, "restore", name)
            assert live.exit_code == 1 and "backup_restore_live" in live.output
            forced = await backup_cli(ctx, "restore", name, "--replace", "--yes")
            assert forced.exit_code == 1 and "backup_restore_live" in forced.output

            server.stop()
            full = await backup_cli(ctx, "restore", name)
            assert full.exit_code == 1 and "backup_restore_not_empty" in full.output

            replaced = await backup_cli(ctx, "restore", name, "--replace", "--yes")
            assert replaced.exit_code == 0, replaced.output
            assert "restored" in replaced.output
            if backend == "sqlite":
                assert "set aside" in replaced.output and ".before-restore-" in replaced.output
            async with ctx.db.session() as s:
                back = await s.scalar(select(User.id).where(User.username == username))
            assert back is not None
        finally:
            await close_context(ctx)
