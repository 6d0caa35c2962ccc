"""The generated turnserver.conf and the children's status when coturn cannot run."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from yuntong.config import Settings
from yuntong.media import supervisor
from yuntong.media.supervisor import (
    CHILDREN,
    coturn_config,
    start_media_children,
    write_coturn_config,
)
from yuntong.services import build_context


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


def values(text: str, key: str) -> list[str]:
    """Every value of a repeatable option (denied-peer-ip, allowed-peer-ip)."""
    return [line.partition("=")[2] for line in text.splitlines() if line.partition("=")[0] == key]


def test_loopback_coturn_listens_and_relays_on_loopback_but_refuses_loopback_peers(
    tmp_path: Path,
) -> None:
    conf = options(coturn_config(settings(tmp_path), tmp_path))
    assert conf["listening-ip"] == "127.0.0.1"
    assert conf["relay-ip"] == "127.0.0.1"
    assert "allow-loopback-peers" not in conf


def test_loopback_peers_only_when_the_operator_lists_them(tmp_path: Path) -> None:
    text = coturn_config(settings(tmp_path, turn_allowed_peer_ips=["127.0.0.1"]), tmp_path)
    assert "allow-loopback-peers" in options(text)
    assert values(text, "allowed-peer-ip") == ["127.0.0.1"]
    assert "127.0.0.0-127.255.255.255" in values(text, "denied-peer-ip")  # the rest of 127/8


def test_public_coturn_never_relays_to_loopback_peers(tmp_path: Path) -> None:
    conf = options(coturn_config(settings(tmp_path, host="0.0.0.0"), tmp_path))
    assert "listening-ip" not in conf
    assert "allow-loopback-peers" not in conf
    conf = options(coturn_config(settings(tmp_path, host="192.0.2.10"), tmp_path))
    assert conf["listening-ip"] == "192.0.2.10"
    assert "allow-loopback-peers" not in conf


def test_private_networks_and_tcp_relays_are_refused_by_default(tmp_path: Path) -> None:
    text = coturn_config(settings(tmp_path, host="0.0.0.0"), tmp_path)
    denied = values(text, "denied-peer-ip")
    for expected in (
        "10.0.0.0-10.255.255.255",
        "172.16.0.0-172.31.255.255",
        "192.168.0.0-192.168.255.255",
        "100.64.0.0-100.127.255.255",
        "169.254.0.0-169.254.255.255",
        "127.0.0.0-127.255.255.255",
        "::1",
        "::ffff:0:0-::ffff:ffff:ffff",
        "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ):
        assert expected in denied
    # coturn reads a range starting at "::" as unbounded, which would match every IPv4 peer
    assert not [item for item in denied if item.startswith("::-")]
    assert values(text, "allowed-peer-ip") == []
    conf = options(text)
    assert "no-tcp-relay" in conf and "no-multicast-peers" in conf


def test_the_servers_own_public_address_is_refused(tmp_path: Path) -> None:
    s = settings(tmp_path, host="0.0.0.0", public_url="https://203.0.114.9:8443/")
    assert "203.0.114.9" in values(coturn_config(s, tmp_path), "denied-peer-ip")


def test_operator_ranges_are_allowed_as_networks(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        host="0.0.0.0",
        turn_allowed_peer_ips=["10.8.0.0/16", "192.168.7.7", "172.16.0.2-172.16.0.5", "fd00::/64"],
        turn_tcp_relay=True,
    )
    text = coturn_config(s, tmp_path)
    assert values(text, "allowed-peer-ip") == [
        "10.8.0.0-10.8.255.255",
        "192.168.7.7",
        "172.16.0.2-172.16.0.3",
        "172.16.0.4-172.16.0.5",
        "fd00::-fd00::ffff:ffff:ffff:ffff",
    ]
    conf = options(text)
    assert "allow-loopback-peers" not in conf
    assert "no-tcp-relay" not in conf


@pytest.mark.parametrize("bad", ["10.0.0", "10.0.0.9-10.0.0.1", "10.0.0.1-::1", "example.com"])
def test_a_malformed_allowed_peer_is_refused_at_start(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValidationError):
        settings(tmp_path, turn_allowed_peer_ips=[bad])


def test_config_file_is_private(tmp_path: Path) -> None:
    path = write_coturn_config(settings(tmp_path))
    assert path == tmp_path / "coturn" / "turnserver.conf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def test_disabled_coturn_is_reported(tmp_path: Path) -> None:
    ctx = build_context(settings(tmp_path, start_coturn=False))
    children = await start_media_children(ctx)
    assert children.status() == {"coturn": "disabled", "janus": "disabled"}
    assert ctx.services.get(CHILDREN).value is children
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
