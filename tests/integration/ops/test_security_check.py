"""``yuntong security check``: what an operator is told about the configuration, the audit
trail's chain and the packages; a problem makes the command fail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from tests.integration.accounts.conftest import active_user, make_staff, run_cli
from yuntong.accounts.auth import Principal
from yuntong.accounts.models import AuditEvent
from yuntong.core.context import Context


@pytest.fixture
async def staff(ctx: Context) -> Principal:
    return await make_staff(ctx)


async def _check(ctx: Context, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = await run_cli(
        ctx, "security", "check", "--no-packages", "--locale", "en", *args, env=env
    )
    return result.exit_code, result.output


async def test_a_sound_installation_passes_with_its_warnings(
    ctx: Context, staff: Principal
) -> None:
    await active_user(ctx, staff, 60)
    code, output = await _check(ctx)
    assert code == 0, output
    assert "Every secret is set and strong" not in output  # no backup key: a warning
    assert "No backup key (YUNTONG_BACKUP_KEY)" in output
    assert "The data and secret folders are owner-only" in output
    assert "The audit trail's chain is intact" in output
    assert "0 problems" in output


async def test_weak_secrets_open_folders_and_cookies_without_https_are_problems(
    ctx: Context,
) -> None:
    (ctx.settings.var_dir / "recordings").mkdir(mode=0o755)
    (ctx.settings.var_dir / "recordings").chmod(0o755)
    env = {
        "YUNTONG_SECRET_KEY": "changeme",
        "YUNTONG_PUBLIC_URL": "https://rtc.example.com",
        "YUNTONG_TURN_ALLOWED_PEER_IPS": '["127.0.0.1", "10.0.0.0/8", "192.168.5.0/24"]',
    }
    code, output = await _check(ctx, env=env)
    assert code == 1
    assert "The secret secret_key is short or an example value" in output
    assert "recordings has mode 755" in output
    assert "cookies are not marked Secure" in output
    assert "TURN may relay to loopback (127.0.0.1)" in output
    assert "The TURN relay range 10.0.0.0/8 is very wide" in output
    assert "TURN may relay into the private range 192.168.5.0/24" in output

    code, output = await _check(
        ctx, env={"YUNTONG_PUBLIC_URL": "http://rtc.example.com", "YUNTONG_HOST": "0.0.0.0"}
    )
    assert "http://rtc.example.com is not HTTPS" in output
    assert "listens on 0.0.0.0, beyond loopback" in output


async def test_an_altered_audit_event_fails_the_check(ctx: Context, staff: Principal) -> None:
    await active_user(ctx, staff, 61)
    code, _ = await _check(ctx)
    assert code == 0
    async with ctx.db.session() as s:
        first = await s.scalar(select(AuditEvent.id).order_by(AuditEvent.id).limit(1))
        await s.execute(update(AuditEvent).where(AuditEvent.id == first).values(action="x"))
    code, output = await _check(ctx, "--json")
    assert code == 1
    findings = json.loads(output)
    assert {"level": "error", "code": "audit_altered"}.items() <= findings[-1].items()
    assert findings[-1]["params"]["event"] == first


async def test_without_pip_audit_the_packages_are_said_unchecked(ctx: Context) -> None:
    result = await run_cli(ctx, "security", "check", "--locale", "en")
    assert "packages were not checked" in result.output
