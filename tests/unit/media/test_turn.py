"""TURN REST API credentials and the ICE server list handed to clients."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from yuntong.config import Settings
from yuntong.media.turn import ice_servers, turn_credentials

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 1767578400


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"var_dir": tmp_path, "turn_secret": SecretStr("north"), **overrides}
    return Settings(**values)


def test_credentials_match_an_independently_computed_example() -> None:
    # printf '1767664800:42' | openssl dgst -sha1 -hmac north -binary | base64
    creds = turn_credentials("north", 42, NOW, 86400)
    assert creds.username == "1767664800:42"
    assert creds.credential == "mGaP+QRZdAv60Z/wqM4nmKVcLdw="
    assert creds.expires_at == 1767664800


def test_credentials_for_a_string_user_id_and_short_ttl() -> None:
    # printf '1767582000:alice' | openssl dgst -sha1 -hmac s3cr3t -binary | base64
    creds = turn_credentials("s3cr3t", "alice", NOW, 3600)
    assert creds.username == "1767582000:alice"
    assert creds.credential == "BDW4BrYLuO6oS851natk2jnRY/c="


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        turn_credentials("north", 1, datetime(2026, 1, 5), 60)


def test_managed_coturn_is_offered_on_loopback_when_nothing_is_configured(tmp_path: Path) -> None:
    servers = ice_servers(settings(tmp_path, coturn_port=3479), 42, NOW)
    assert servers == [
        {"urls": ["stun:127.0.0.1:3479"]},
        {
            "urls": ["turn:127.0.0.1:3479?transport=udp", "turn:127.0.0.1:3479?transport=tcp"],
            "username": "1767664800:42",
            "credential": "mGaP+QRZdAv60Z/wqM4nmKVcLdw=",
        },
    ]


def test_managed_coturn_uses_the_public_host(tmp_path: Path) -> None:
    s = settings(tmp_path, public_url="https://call.example.cn", turn_credential_ttl_s=3600)
    servers = ice_servers(s, "alice", NOW)
    assert servers[0] == {"urls": ["stun:call.example.cn:3478"]}
    assert servers[1]["urls"][0] == "turn:call.example.cn:3478?transport=udp"
    assert servers[1]["username"] == "1767582000:alice"


def test_configured_urls_win_over_the_managed_coturn(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        stun_urls=["stun:stun.example.cn:3478"],
        turn_urls=["turns:turn.example.cn:5349?transport=tcp"],
    )
    servers = ice_servers(s, 42, NOW)
    assert servers[0] == {"urls": ["stun:stun.example.cn:3478"]}
    assert servers[1]["urls"] == ["turns:turn.example.cn:5349?transport=tcp"]
    assert servers[1]["credential"] == "mGaP+QRZdAv60Z/wqM4nmKVcLdw="


def test_no_servers_without_configuration_or_managed_coturn(tmp_path: Path) -> None:
    assert ice_servers(settings(tmp_path, start_coturn=False), 42, NOW) == []


def test_only_stun_without_turn_urls_when_coturn_is_not_managed(tmp_path: Path) -> None:
    s = settings(tmp_path, start_coturn=False, stun_urls=["stun:stun.example.cn"])
    assert ice_servers(s, 42, NOW) == [{"urls": ["stun:stun.example.cn"]}]
