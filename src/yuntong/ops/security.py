"""``yuntong security check`` (CS 6.2: regular security checks that find and fix weaknesses):
the configuration audited — default or weak secrets, owner-only data and secret folders,
cookies without HTTPS, TURN relay ranges, servers listening beyond loopback —, the audit trail's
chain verified, and known vulnerabilities in the installed packages (pip-audit, when present).

Each finding is a level (error, warning, ok), a stable code and its parameters; the words are
in ``ops/strings.py`` (zh-CN, en). Errors make the command fail.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlalchemy import make_url

from yuntong.accounts import audit_chain
from yuntong.config import SECRETS_FILE, Settings, ip_range
from yuntong.core.context import Context

ERROR, WARNING, OK = "error", "warning", "ok"
# what a secret is never: examples, placeholders and the words people type
KNOWN_WEAK = frozenset(
    {"", "secret", "changeme", "change-me", "password", "yuntong", "admin", "test", "default"}
)
MIN_SECRET_CHARS = 32
PIP_AUDIT_TIMEOUT_S = 300


@dataclass(frozen=True)
class Finding:
    level: str
    code: str
    params: dict[str, str | int] = field(default_factory=dict)


def _weak(value: str) -> bool:
    return value.strip().lower() in KNOWN_WEAK or len(value) < MIN_SECRET_CHARS


def check_secrets(settings: Settings) -> list[Finding]:
    """Secrets set, long, not examples, keys of the right size, no key used twice."""
    found: list[Finding] = []
    named: dict[str, SecretStr | None] = {
        "secret_key": settings.secret_key,
        "turn_secret": settings.turn_secret,
    }
    optional: dict[str, SecretStr | None] = {
        "payment_webhook_secret": settings.payment_webhook_secret,
        "janus_events_password": settings.janus_events_password,
        "numbers_porting_carrier_secret": settings.numbers_porting_carrier_secret,
    }
    for name, secret in named.items():
        if secret is None or _weak(secret.get_secret_value()):
            found.append(Finding(ERROR, "weak_secret", {"name": name}))
    for name, secret in optional.items():
        value = "" if secret is None else secret.get_secret_value()
        if value and _weak(value):
            found.append(Finding(ERROR, "weak_secret", {"name": name}))
    keys = {f"pii_keys.{kid}": key.get_secret_value() for kid, key in settings.pii_keys.items()}
    backup_key = settings.backup_key.get_secret_value()
    if backup_key:
        keys["backup_key"] = backup_key
    else:
        found.append(Finding(WARNING, "no_backup_key"))
    for name, value in keys.items():
        if not _key_of_32_bytes(value):
            found.append(Finding(ERROR, "bad_key", {"name": name}))
    values = [*keys.values(), settings.secret_key.get_secret_value()]
    if len(set(values)) < len(values):
        found.append(Finding(ERROR, "key_reused"))
    if not found:
        found.append(Finding(OK, "secrets_ok"))
    return found


def _key_of_32_bytes(text: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def _private(path: Path) -> bool:
    return not stat.S_IMODE(path.stat().st_mode) & 0o077


def check_file_modes(settings: Settings) -> list[Finding]:
    """The data and secret folders and files owner-only (no group or other access)."""
    paths = [
        settings.var_dir,
        settings.var_dir / SECRETS_FILE,
        settings.var_dir / "recordings",
        settings.var_dir / "porting",
        settings.holidays_path,
    ]
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        paths.append(Path(url.database))
    if settings.backup_dir is not None:
        paths.append(settings.backup_dir)
    config = os.environ.get("YUNTONG_CONFIG")
    if config:
        paths.append(Path(config))
    found = [
        Finding(
            ERROR, "not_private", {"path": str(p), "mode": f"{stat.S_IMODE(p.stat().st_mode):o}"}
        )
        for p in paths
        if p.exists() and not _private(p)
    ]
    return found or [Finding(OK, "modes_ok")]


def _loopback_host(host: str) -> bool:
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_cookies(settings: Settings) -> list[Finding]:
    """Session cookies marked Secure when served over HTTPS; plain HTTP only on loopback."""
    public = urlsplit(settings.public_url) if settings.public_url else None
    if public is None:
        if not _loopback_host(settings.host):
            return [Finding(WARNING, "no_public_url", {"host": settings.host})]
        return [Finding(OK, "cookies_local")]
    if public.scheme == "https" and not settings.cookie_secure:
        return [Finding(ERROR, "cookie_not_secure")]
    if public.scheme != "https" and not _loopback_host(public.hostname or ""):
        return [Finding(ERROR, "no_https", {"url": settings.public_url})]
    return [Finding(OK, "cookies_ok")]


def check_turn(settings: Settings) -> list[Finding]:
    """The relay's extra peers: private ranges are a way into the operator's own network."""
    found: list[Finding] = []
    for entry in settings.turn_allowed_peer_ips:
        low, high = ip_range(entry)
        size = int(high) - int(low) + 1
        wide = size > (1 << 16) if low.version == 4 else size > (1 << 64)
        if low.is_loopback or high.is_loopback:
            found.append(Finding(ERROR, "turn_loopback", {"range": entry}))
        elif wide:
            found.append(Finding(ERROR, "turn_wide", {"range": entry}))
        else:
            found.append(Finding(WARNING, "turn_private", {"range": entry}))
    if settings.turn_tcp_relay:
        found.append(Finding(WARNING, "turn_tcp"))
    return found or [Finding(OK, "turn_ok")]


def check_listening(settings: Settings) -> list[Finding]:
    """What listens beyond loopback: the web server (fine behind a proxy, said), Redis and
    PostgreSQL reached over the network without a password or TLS."""
    found: list[Finding] = []
    if not _loopback_host(settings.host):
        found.append(Finding(WARNING, "web_beyond_loopback", {"host": settings.host}))
    if settings.redis_url:
        redis = urlsplit(settings.redis_url)
        if not _loopback_host(redis.hostname or "") and not redis.password:
            found.append(Finding(ERROR, "redis_open", {"host": redis.hostname or ""}))
    url = make_url(settings.effective_database_url)
    remote = url.get_backend_name() != "sqlite" and not _loopback_host(url.host or "localhost")
    if remote and "ssl" not in url.query and "sslmode" not in url.query:
        found.append(Finding(WARNING, "database_no_tls", {"host": url.host or ""}))
    return found or [Finding(OK, "listening_ok")]


def check_packages() -> list[Finding]:
    """pip-audit on this environment, when installed; it needs its vulnerability database
    (PyPI's advisory service, or OSV) on the network: when unreachable, that is said."""
    tool = shutil.which("pip-audit") or shutil.which(
        "pip-audit", path=str(Path(sys.executable).parent)
    )
    if tool is None:
        return [Finding(WARNING, "pip_audit_missing")]
    try:
        done = subprocess.run(  # noqa: S603
            [tool, "--format", "json", "--progress-spinner", "off", "--local"],
            capture_output=True,
            text=True,
            timeout=PIP_AUDIT_TIMEOUT_S,
            check=False,
        )
        report = json.loads(done.stdout or "{}")
    except (subprocess.TimeoutExpired, OSError, ValueError):
        return [Finding(WARNING, "pip_audit_offline")]
    if done.returncode not in (0, 1) or "dependencies" not in report:
        return [Finding(WARNING, "pip_audit_offline")]
    found = [
        Finding(
            ERROR,
            "vulnerable",
            {
                "package": f"{dep['name']} {dep['version']}",
                "ids": ", ".join(v["id"] for v in dep["vulns"]),
            },
        )
        for dep in report["dependencies"]
        if dep.get("vulns")
    ]
    return found or [Finding(OK, "packages_ok", {"count": len(report["dependencies"])})]


def check_configuration(settings: Settings) -> list[Finding]:
    return [
        *check_secrets(settings),
        *check_file_modes(settings),
        *check_cookies(settings),
        *check_turn(settings),
        *check_listening(settings),
    ]


async def check_audit_chain(ctx: Context) -> list[Finding]:
    """Seal what is new, then walk the chain."""
    await audit_chain.do_seal(ctx)
    report = await audit_chain.check_chain(ctx)
    if report.ok:
        return [Finding(OK, "audit_ok", {"count": report.sealed})]
    params: dict[str, str | int] = {"count": report.sealed}
    if report.broken_event is not None:
        params["event"] = report.broken_event
    return [Finding(ERROR, f"audit_{report.problem}", params)]


async def do_security_check(ctx: Context, *, packages: bool = True) -> list[Finding]:
    """Every check: configuration, the audit chain, and (``packages``) pip-audit."""
    found = check_configuration(ctx.settings)
    found += await check_audit_chain(ctx)
    if packages:
        found += await asyncio.to_thread(check_packages)
    return found
