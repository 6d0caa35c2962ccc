"""STUN/TURN servers handed to clients, with short-lived TURN REST API credentials.

The credentials follow coturn's ``use-auth-secret`` scheme: ``username`` is
``"<expiry unix time>:<user id>"`` and ``credential`` is base64(HMAC-SHA1(secret, username)),
so coturn can check them without asking us.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from yuntong.config import Settings
from yuntong.core.context import Context

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    credential: str
    expires_at: int  # unix seconds


def turn_credentials(secret: str, user_id: int | str, now: datetime, ttl_s: int) -> TurnCredentials:
    """Credentials for ``user_id`` that coturn accepts until ``now + ttl_s``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    expires_at = int(now.timestamp()) + ttl_s
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredentials(username, base64.b64encode(digest).decode(), expires_at)


def managed_coturn_host(settings: Settings) -> str:
    """The host clients use to reach the coturn that ``yuntong serve`` runs itself."""
    if settings.public_url:
        host = urlsplit(settings.public_url).hostname
        if host:
            return host
    return LOOPBACK


def local_stun_urls(settings: Settings) -> list[str]:
    return [f"stun:{managed_coturn_host(settings)}:{settings.coturn_port}"]


def local_turn_urls(settings: Settings) -> list[str]:
    base = f"turn:{managed_coturn_host(settings)}:{settings.coturn_port}"
    return [f"{base}?transport=udp", f"{base}?transport=tcp"]


def ice_servers(settings: Settings, user_id: int | str, now: datetime) -> list[dict[str, Any]]:
    """RTCIceServer-shaped dicts (``urls``, and for TURN ``username``/``credential``).

    Configured ``stun_urls``/``turn_urls`` win; when a list is empty and Yuntong manages a
    local coturn (``start_coturn``), that coturn fills it in.
    """
    stun = list(settings.stun_urls)
    turn = list(settings.turn_urls)
    if settings.start_coturn:
        stun = stun or local_stun_urls(settings)
        turn = turn or local_turn_urls(settings)
    servers: list[dict[str, Any]] = []
    if stun:
        servers.append({"urls": stun})
    if turn:
        creds = turn_credentials(
            settings.turn_secret.get_secret_value(), user_id, now, settings.turn_credential_ttl_s
        )
        servers.append({"urls": turn, "username": creds.username, "credential": creds.credential})
    return servers


def ice_servers_for(ctx: Context, user_id: int | str) -> list[dict[str, Any]]:
    """What calls and meetings hand a client for its peer connections, valid from now."""
    return ice_servers(ctx.settings, user_id, ctx.clock.now())
