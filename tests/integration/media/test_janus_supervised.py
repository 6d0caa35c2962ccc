"""The Janus that ``yuntong serve`` runs: generated config, loopback only, token auth, restart
after SIGKILL, and how readiness reports it."""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.integration.media.coturn import coturn_settings
from tests.support.janus import needs_janus
from tests.support.net import wait_listening
from tests.support.server import free_port
from yuntong.config import Settings
from yuntong.core.context import Context
from yuntong.media import supervisor
from yuntong.media.janus import VIDEOROOM, JanusClient, JanusError
from yuntong.media.pool import pool_nodes
from yuntong.media.supervisor import LOCAL_JANUS, Children, LocalJanus, start_media_children
from yuntong.services import build_context


def janus_settings(var_dir: Path, **overrides: Any) -> Settings:
    base = random.randrange(30000, 40000, 100)
    values: dict[str, Any] = {
        "start_coturn": False,
        "start_janus": True,
        "janus_ws_port": free_port(),
        "janus_admin_port": free_port(),
        "janus_rtp_min_port": base,
        "janus_rtp_max_port": base + 99,
        **overrides,
    }
    return coturn_settings(var_dir, **values)


@dataclass
class Node:
    ctx: Context
    children: Children
    janus: LocalJanus


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    """A node's media children with only Janus on, once Janus listens."""
    ctx = build_context(janus_settings(tmp_path / "var"))
    children = await start_media_children(ctx)
    try:
        assert await wait_listening(ctx.settings.janus_ws_port)
        yield Node(ctx, children, ctx.services.get(LOCAL_JANUS).value)
    finally:
        await children.stop()


async def create_room(local: LocalJanus) -> int:
    client = await JanusClient.connect(local.url, local.token(datetime.now(UTC)))
    try:
        session = await client.create_session()
        handle = await session.attach(VIDEOROOM)
        room = secrets.randbelow(2**31) + 1
        body = {"request": "create", "room": room, "admin_key": local.videoroom_admin_key}
        created = await handle.request(body)
        assert created["room"] == room
        await session.destroy()
        return room
    finally:
        await client.close()


@needs_janus
async def test_serve_runs_janus_on_loopback_with_token_auth(node: Node) -> None:
    ctx, children, local = node.ctx, node.children, node.janus
    assert children.status() == {"coturn": "disabled", "janus": "running"}

    assert await create_room(local) > 0  # with this node's token and admin key

    # without the token Janus refuses the session; without the admin key, the room
    client = await JanusClient.connect(local.url)
    with pytest.raises(JanusError) as refused:
        await client.create_session()
    assert refused.value.janus_code == 403
    await client.close()
    client = await JanusClient.connect(local.url, local.token(datetime.now(UTC)))
    handle = await (await client.create_session()).attach(VIDEOROOM)
    with pytest.raises(JanusError) as unauthorised:
        await handle.request({"request": "create", "room": 7})
    assert unauthorised.value.janus_code in {429, 433}  # missing / wrong admin key
    await client.close()

    # the generated config is private and binds both APIs to loopback
    directory = ctx.settings.var_dir / "janus"
    for name in ("janus.jcfg", "janus.transport.websockets.jcfg"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
    transports = (directory / "janus.transport.websockets.jcfg").read_text()
    assert 'ws_ip = "127.0.0.1"' in transports and 'admin_ws_ip = "127.0.0.1"' in transports
    assert local.admin_secret in (directory / "janus.jcfg").read_text()


@needs_janus
async def test_janus_killed_is_restarted_and_serves_again(node: Node) -> None:
    ctx, local = node.ctx, node.janus
    janus = node.children.processes["janus"]
    first = janus.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)

    async with asyncio.timeout(10):
        second = await janus.wait_running(new_pid_than=first)
        assert await wait_listening(ctx.settings.janus_ws_port)
    assert second != first and janus.restarts == 1
    assert await create_room(local) > 0


async def test_disabled_and_missing_janus_are_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    off = await start_media_children(
        build_context(janus_settings(tmp_path / "a", start_janus=False))
    )
    assert off.status() == {"coturn": "disabled", "janus": "disabled"}
    monkeypatch.setattr(supervisor, "JANUS_BINARY", "no-such-janus-binary")
    ctx = build_context(janus_settings(tmp_path / "b"))
    missing = await start_media_children(ctx)
    assert missing.status() == {"coturn": "disabled", "janus": "unavailable"}
    assert ctx.services.get(LOCAL_JANUS).value is None


async def test_remote_nodes_from_the_environment_replace_the_local_janus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = [
        {
            "name": "sfu-1",
            "url": "wss://sfu-1.example.cn/janus",
            "videoroom_admin_key": "s3cr3t-key",
        }
    ]
    monkeypatch.setenv("YUNTONG_JANUS_NODES", json.dumps(remote))
    ctx = build_context(janus_settings(tmp_path / "var"))
    children = await start_media_children(ctx)
    assert children.status()["janus"] == "disabled"  # no Janus of our own
    (node,) = pool_nodes(ctx)
    assert (node.name, node.url, node.token_secret) == ("sfu-1", remote[0]["url"], None)
    assert node.videoroom_admin_key.get_secret_value() == "s3cr3t-key"
    assert "s3cr3t-key" not in repr(node)  # secrets stay out of logs

    monkeypatch.setenv("YUNTONG_JANUS_NODES", json.dumps([{**remote[0], "url": "http://x"}]))
    with pytest.raises(ValidationError):
        janus_settings(tmp_path / "var")
