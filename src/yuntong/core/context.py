"""The running service's shared objects, built once by ``create_app`` and passed to services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from starlette.requests import HTTPConnection

from yuntong.config import Settings
from yuntong.core import changes
from yuntong.core.bus import Bus, InProcessBus
from yuntong.core.clock import Clock
from yuntong.core.crypto import PiiCipher
from yuntong.core.db import Database
from yuntong.core.groupcommit import GroupCommitter


@dataclass
class Context:
    settings: Settings
    db: Database
    clock: Clock
    cipher: PiiCipher
    bus: Bus
    writer: GroupCommitter
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    # filled by create_app: realtime hub, call engine, supervised children
    extras: dict[str, Any] = field(default_factory=dict)


def build_context(settings: Settings, clock: Clock | None = None) -> Context:
    cipher = PiiCipher.from_b64(
        {kid: key.get_secret_value() for kid, key in settings.pii_keys.items()},
        settings.pii_active_key,
        settings.secret_key.get_secret_value(),
    )
    db = Database(settings.effective_database_url)
    ctx = Context(
        settings=settings,
        db=db,
        writer=GroupCommitter(db),
        clock=clock or Clock(),
        cipher=cipher,
        bus=InProcessBus(),
    )
    changes.attach(ctx)  # cache invalidations reach the other processes (the CLI's too)
    return ctx


def get_context(connection: HTTPConnection) -> Context:
    """FastAPI dependency: the Context stored on the app at start-up (works for HTTP and WS)."""
    ctx: Context = connection.app.state.ctx
    return ctx
