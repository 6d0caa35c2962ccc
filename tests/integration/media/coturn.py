"""A private coturn run by the real supervisor, on free ports, for tests that need TURN."""

from __future__ import annotations

import random
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import wait_listening
from yuntong.config import Settings
from yuntong.core.context import Context
from yuntong.media.supervisor import Children, SupervisedProcess, start_media_children
from yuntong.services import build_context

needs_coturn = pytest.mark.skipif(shutil.which("turnserver") is None, reason="coturn not installed")


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


@dataclass
class Coturn:
    settings: Settings
    ctx: Context
    children: Children

    @property
    def process(self) -> SupervisedProcess:
        return self.children.processes["coturn"]

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.settings.coturn_port)


def coturn_settings(var_dir: Path, **overrides: Any) -> Settings:
    base = random.randrange(50000, 60000, 100)
    values: dict[str, Any] = {
        "var_dir": var_dir,
        "database_url": f"sqlite+aiosqlite:///{var_dir / 'unused.db'}",
        "start_coturn": True,
        "start_janus": False,
        "coturn_port": free_udp_tcp_port(),
        "coturn_min_port": base,
        "coturn_max_port": base + 99,
        # everything here runs on 127.0.0.1: tests relay to loopback peers, which the default
        # refuses (test_turn_peer_policy.py); a test may override this
        "turn_allowed_peer_ips": ["127.0.0.1"],
        **overrides,
    }
    return Settings(**values).with_generated_secrets()


@asynccontextmanager
async def running_coturn(var_dir: Path, **overrides: Any) -> AsyncIterator[Coturn]:
    settings = coturn_settings(var_dir, **overrides)
    ctx = build_context(settings)
    children = await start_media_children(ctx)
    try:
        await children.processes["coturn"].wait_running()
        if not await wait_listening(settings.coturn_port):
            raise TimeoutError(f"coturn did not open port {settings.coturn_port}")
        yield Coturn(settings, ctx, children)
    finally:
        await children.stop()
        await ctx.db.dispose()
