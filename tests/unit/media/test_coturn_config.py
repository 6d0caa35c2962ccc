"""The generated turnserver.conf and the children's status when coturn cannot run."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from yuntong.config import Settings
from yuntong.core.context import build_context
from yuntong.media import supervisor
from yuntong.media.supervisor import coturn_config, start_media_children, write_coturn_config


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "var_dir": tmp_path,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "turn_secret": SecretStr("north"),
        "start_janus": False,
        **overrides,
    }
    return Settings(**values).with_generated_secrets()


def options(text: str) -> dict[str, str]:
    pairs = (line.partition("=") for line in text.splitlines())
    return {key: value for key, _, value in pairs}


def test_config_uses_rest_auth_with_the_turn_secret(tmp_path: Path) -> None:
    conf = options(coturn_config(settings(tmp_path), tmp_path))
    assert conf["use-auth-secret"] == ""
    assert conf["static-auth-secret"] == "north"
    assert conf["realm"] == "yuntong"
    assert conf["listening-port"] == "3478"
    assert (conf["min-port"], conf["max-port"]) == ("49160", "49400")
    for flag in ("no-cli", "no-tls", "no-dtls", "fingerprint", "no-multicast-peers"):
        assert flag in conf
    assert conf["pidfile"] == str(tmp_path / "turnserver.pid")


def test_loopback_coturn_relays_to_loopback_peers(tmp_path: Path) -> None:
    conf = options(coturn_config(settings(tmp_path), tmp_path))
    assert conf["listening-ip"] == "127.0.0.1"
    assert conf["relay-ip"] == "127.0.0.1"
    assert "allow-loopback-peers" in conf


def test_public_coturn_never_relays_to_loopback_peers(tmp_path: Path) -> None:
    conf = options(coturn_config(settings(tmp_path, host="0.0.0.0"), tmp_path))
    assert "listening-ip" not in conf
    assert "allow-loopback-peers" not in conf
    conf = options(coturn_config(settings(tmp_path, host="192.0.2.10"), tmp_path))
    assert conf["listening-ip"] == "192.0.2.10"
    assert "allow-loopback-peers" not in conf


def test_config_file_is_private(tmp_path: Path) -> None:
    path = write_coturn_config(settings(tmp_path))
    assert path == tmp_path / "coturn" / "turnserver.conf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_disabled_coturn_is_reported(tmp_path: Path) -> None:
    ctx = build_context(settings(tmp_path, start_coturn=False))
    children = await start_media_children(ctx)
    assert children.status() == {"coturn": "disabled", "janus": "disabled"}
    assert ctx.extras["children"] is children
    await children.stop()


async def test_missing_binary_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "COTURN_BINARY", "no-such-turnserver-binary")
    ctx = build_context(settings(tmp_path))
    children = await start_media_children(ctx)
    assert children.status() == {"coturn": "unavailable", "janus": "disabled"}
    await children.stop()


async def test_unwritable_var_dir_is_reported_not_fatal(tmp_path: Path) -> None:
    s = settings(tmp_path)
    (tmp_path / "coturn").write_text("a file where the coturn folder should be")
    children = await start_media_children(build_context(s))
    assert children.status() == {"coturn": "unavailable", "janus": "disabled"}
