"""Yuntong's data is private to its user: var/ is 0700, the database and secrets 0600.

The SQLite database holds password hashes, sessions, encrypted identity data and chat; the
folder holds the keys. Checked under the common umask 022, which would leave them readable.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.support.server import START_DEADLINE_S, free_port
from yuntong.config import load_settings
from yuntong.core.db import Database
from yuntong.core.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(var: Path, *names: str) -> dict[str, int]:
    return {name: mode(var / name) for name in names}


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_yuntong_serve_creates_private_data_from_an_empty_folder(tmp_path: Path) -> None:
    var = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNTONG_")}
    env.update(
        YUNTONG_VAR_DIR=str(var),
        YUNTONG_PORT=str(port),
        YUNTONG_START_COTURN="false",
        YUNTONG_START_JANUS="false",
        YUNTONG_START_SIP="false",
        YUNTONG_LOG_LEVEL="WARNING",
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from yuntong.cli import app; app()", "serve"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            umask=0o022,
        )
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        # the server holds the database open in WAL mode: -wal and -shm exist now
        names = ("yuntong.db", "yuntong.db-wal", "yuntong.db-shm", "secrets.toml")
        assert mode(var) == 0o700
        assert modes(var, *names) == dict.fromkeys(names, 0o600)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_an_older_installs_readable_files_are_made_private(
    tmp_path: Path, umask_022: None
) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    db_file = var / "yuntong.db"
    # what an earlier Yuntong left: files readable by everyone (and a WAL not yet checkpointed)
    keep = sqlite3.connect(db_file)
    keep.execute("PRAGMA journal_mode=WAL")
    keep.execute("CREATE TABLE t (x)")
    keep.execute("INSERT INTO t VALUES (1)")
    keep.commit()
    names = ("yuntong.db", "yuntong.db-wal", "yuntong.db-shm")
    assert modes(var, *names) == dict.fromkeys(names, 0o644)

    settings = load_settings(var_dir=var)
    db = Database(settings.effective_database_url)
    try:
        async with db.connection() as conn:
            assert (await conn.execute(text("SELECT x FROM t"))).scalar() == 1
        assert mode(var) == 0o700
        assert modes(var, *names, "secrets.toml") == dict.fromkeys((*names, "secrets.toml"), 0o600)
    finally:
        await db.dispose()
        keep.close()


async def test_a_database_outside_var_is_private_too(tmp_path: Path, umask_022: None) -> None:
    """Migrations create the file first (``yuntong db upgrade``), then the server opens it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}"
    upgrade(url)
    assert mode(tmp_path / "elsewhere.db") == 0o600
    db = Database(url)
    try:
        async with db.connection() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar()
        names = ("elsewhere.db", "elsewhere.db-wal", "elsewhere.db-shm")
        assert modes(tmp_path, *names) == dict.fromkeys(names, 0o600)
    finally:
        await db.dispose()
