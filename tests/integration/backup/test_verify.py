"""``yuntong backup verify``: the backup restored into a scratch database and checked against
its manifest; an altered archive or manifest, and a wrong or missing key, are told apart."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from tests.integration.accounts.conftest import register
from tests.integration.backup.conftest import backup_cli
from yuntong.backup import service
from yuntong.backup.sealed import new_key
from yuntong.core.context import Context


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


async def _made(ctx: Context) -> Path:
    result = await backup_cli(ctx, "create")
    assert result.exit_code == 0, result.output
    return service.list_backups(ctx.settings)[0].path


async def test_verify_restores_into_a_scratch_database_and_the_list_shows_it(
    own_ctx: Context,
) -> None:
    await register(own_ctx, 3)
    path = await _made(own_ctx)

    listed = await backup_cli(own_ctx, "list")
    assert path.name in listed.output and "not verified" in listed.output

    verified = await backup_cli(own_ctx, "verify", path.name)
    assert verified.exit_code == 0, verified.output
    assert f"backup {path.name} verified" in verified.output
    listed = await backup_cli(own_ctx, "list")
    assert "ok 20" in listed.output and "FAILED" not in listed.output
    if not own_ctx.db.is_sqlite:  # the scratch database was dropped again
        async with own_ctx.db.session() as s:
            names = (await s.execute(text("SELECT datname FROM pg_database"))).scalars()
            assert not [n for n in names if n.startswith("yt_verify_")]


async def test_verify_finds_an_altered_database_archive(own_ctx: Context) -> None:
    await register(own_ctx, 4)
    path = await _made(own_ctx)
    _flip_byte(path / "database.ytb")

    result = await backup_cli(own_ctx, "verify", path.name)
    assert result.exit_code == 1
    assert "backup_tampered" in result.output and "database.ytb" in result.output
    listed = await backup_cli(own_ctx, "list")
    assert "FAILED" in listed.output and "backup_tampered" in listed.output


async def test_verify_finds_an_altered_files_archive_and_manifest(own_ctx: Context) -> None:
    folder = own_ctx.settings.var_dir / "recordings" / "m9"
    folder.mkdir(parents=True)
    (folder / "a.webm").write_bytes(b"recorded" * 1000)
    path = await _made(own_ctx)
    _flip_byte(path / "files.ytb")
    result = await backup_cli(own_ctx, "verify", path.name)
    assert result.exit_code == 1 and "files.ytb" in result.output

    path = await _made(own_ctx)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["database"]["tables"]["users"] += 1  # a row count changed by hand
    (path / "manifest.json").write_text(json.dumps(manifest))
    result = await backup_cli(own_ctx, "verify", path.name)
    assert result.exit_code == 1
    assert "backup_tampered" in result.output and "manifest.json" in result.output


async def test_a_wrong_or_missing_key_is_told_and_leaves_the_backup_unjudged(
    own_ctx: Context,
) -> None:
    path = await _made(own_ctx)

    wrong = await backup_cli(own_ctx, "verify", path.name, env={"YUNTONG_BACKUP_KEY": new_key()})
    assert wrong.exit_code == 1 and "backup_wrong_key" in wrong.output
    missing = await backup_cli(own_ctx, "verify", path.name, env={"YUNTONG_BACKUP_KEY": ""})
    assert missing.exit_code == 1 and "backup_key_missing" in missing.output
    none = await backup_cli(own_ctx, "create", env={"YUNTONG_BACKUP_KEY": ""})
    assert none.exit_code == 1 and "backup_key_missing" in none.output

    listed = await backup_cli(own_ctx, "list")
    assert "not verified" in listed.output and "1 backups" in listed.output
