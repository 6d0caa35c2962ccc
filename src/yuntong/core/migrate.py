"""Run Alembic migrations programmatically (``yuntong db upgrade``, start-up, tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config

from yuntong.core.crypto import PiiCipher

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str, cipher: PiiCipher | None = None) -> Config:
    """The Alembic configuration for ``url``.

    ``cipher`` is the PII key ring, for migrations that move personal data into or out of
    ciphertext (0005: e-mail addresses); they read it from ``config.attributes["pii_cipher"]``
    and refuse to run without it when there is data to move.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    if cipher is not None:
        cfg.attributes["pii_cipher"] = cipher
    return cfg


def upgrade(url: str, revision: str = "head", *, cipher: PiiCipher | None = None) -> None:
    """Bring the database at ``url`` to ``revision``. Safe to call from inside a running loop."""
    _run(command.upgrade, alembic_config(url, cipher), revision)


def downgrade(url: str, revision: str, *, cipher: PiiCipher | None = None) -> None:
    """Take the database at ``url`` back to ``revision`` (tests of migrations)."""
    _run(command.downgrade, alembic_config(url, cipher), revision)


def _run(action: Callable[[Config, str], None], cfg: Config, revision: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        action(cfg, revision)
        return
    # env.py uses asyncio.run(); give it a thread of its own
    import threading

    errors: list[BaseException] = []

    def _target() -> None:
        try:
            action(cfg, revision)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=_target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
