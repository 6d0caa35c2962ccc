"""The operator's command line: staff accounts, review, enforcement, key rotation, first start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.integration.accounts.conftest import (
    PASSWORD,
    active_user,
    audit_of,
    individual,
    make_staff,
    register,
    register_org,
    run_cli,
)
from tests.support.server import free_port
from yuntong.accounts import directory, sessions
from yuntong.accounts import identity as accounts_identity
from yuntong.accounts.auth import Principal
from yuntong.config import load_settings
from yuntong.core.context import Context
from yuntong.services import build_context


async def test_admin_create_reads_the_password_from_stdin(ctx: Context) -> None:
    result = await run_cli(
        ctx, "admin", "create", "--username", "boss", "--password-stdin", input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "operator_admin" in result.output and "boss" in result.output
    assert (await sessions.do_login(ctx, "boss", PASSWORD, "api")).user.role == "operator_admin"


async def test_admin_create_refuses_a_weak_password(ctx: Context) -> None:
    result = await run_cli(
        ctx, "admin", "create", "--username", "boss", "--password-stdin", input="boss\n"
    )
    assert result.exit_code == 1
    assert "validation_failed" in result.output and "weak_password" in result.output


async def test_admin_create_refuses_subscriber_roles(ctx: Context) -> None:
    args = ["admin", "create", "--username", "boss", "--role", "org_admin", "--password-stdin"]
    result = await run_cli(ctx, *args, input=PASSWORD + "\n")
    assert result.exit_code == 2


async def test_user_approve_is_audited_under_the_first_operator_admin(
    ctx: Context, staff: Principal
) -> None:
    user = await register(ctx)
    result = await run_cli(ctx, "user", "approve", "person1")
    assert result.exit_code == 0, result.output
    assert "person1: active" in result.output
    (event,) = [e for e in await audit_of(ctx, user.id) if e.action == "account.approve"]
    assert event.actor_id == staff.user_id


async def test_user_reject_records_the_reason_under_the_named_operator(
    ctx: Context, staff: Principal
) -> None:
    agent = await make_staff(ctx, "agent", "support_agent")
    user = await register(ctx)
    result = await run_cli(
        ctx, "user", "reject", "person1", "--reason", "licence expired", "--as", "agent"
    )
    assert result.exit_code == 0, result.output
    (event,) = [e for e in await audit_of(ctx, user.id) if e.action == "account.reject"]
    assert event.actor_id == agent.user_id
    assert event.detail["reason"] == "licence expired"
    assert (await directory.get_user(ctx, user.id)).status == "rejected"


async def test_user_status_walks_the_ladder_and_refuses_illegal_moves(
    ctx: Context, staff: Principal
) -> None:
    await active_user(ctx, staff)
    ok = await run_cli(ctx, "user", "status", "person1", "suspended", "--reason", "fraud")
    assert ok.exit_code == 0, ok.output
    assert "person1: suspended (fraud)" in ok.output
    await run_cli(ctx, "user", "status", "person1", "terminated", "--reason", "fraud")
    refused = await run_cli(ctx, "user", "status", "person1", "active", "--reason", "appeal")
    assert refused.exit_code == 1
    assert "invalid_transition" in refused.output


async def test_cli_actions_need_a_staff_operator(ctx: Context, staff: Principal) -> None:
    await active_user(ctx, staff, 1)
    await register(ctx, 2)
    result = await run_cli(ctx, "user", "approve", "person2", "--as", "person1")
    assert result.exit_code == 1
    assert "forbidden" in result.output


async def test_cli_actions_without_any_operator_say_how_to_create_one(ctx: Context) -> None:
    await register(ctx)
    result = await run_cli(ctx, "user", "approve", "person1")
    assert result.exit_code == 1
    assert "yuntong admin create" in result.output


async def test_user_list_masks_identity_data(ctx: Context, staff: Principal) -> None:
    await register(ctx, 1)
    await active_user(ctx, staff, 2)
    result = await run_cli(ctx, "user", "list", "--status", "pending")
    assert result.exit_code == 0, result.output
    assert "person1" in result.output and "person2" not in result.output
    assert "+86138****0001" in result.output
    assert individual(1)["full_name"] not in result.output
    assert individual(1)["id_number"] not in result.output


async def test_keys_rotate_re_encrypts_everything_under_a_new_key(
    ctx: Context, staff: Principal
) -> None:
    user = await register(ctx, 1)
    await register_org(ctx, 1)
    old_key = ctx.cipher.active
    result = await run_cli(ctx, "keys", "rotate")
    assert result.exit_code == 0, result.output
    settings = load_settings(var_dir=ctx.settings.var_dir, database_url=ctx.settings.database_url)
    assert settings.pii_active_key != old_key
    assert f"under key {settings.pii_active_key}" in result.output

    async with ctx.db.session() as s:
        users = (await s.execute(text("SELECT full_name_enc, id_number_enc FROM users"))).all()
        orgs = (await s.execute(text("SELECT uscc_enc FROM organisations"))).all()
    for value in [v for row in [*users, *orgs] for v in row if v is not None]:
        assert value.startswith(f"v1:{settings.pii_active_key}:")
    rotated = build_context(settings)
    try:
        view = accounts_identity.decrypt_identity(
            rotated, await directory.get_user(rotated, user.id), None
        )
        assert view.id_number == individual(1)["id_number"]
        assert await accounts_identity.do_reencrypt_pii(rotated) == 0  # nothing left to do
    finally:
        await rotated.db.dispose()


async def test_reencryption_counts_each_value_once(ctx: Context, staff: Principal) -> None:
    await register(ctx, 1)  # 7 identity values (with the e-mail address)
    await register_org(ctx, 1)  # 5 organisation values + 3 of its admin user
    kid = ctx.cipher.active
    assert await accounts_identity.do_reencrypt_pii(ctx) == 0
    from yuntong.config import rotate_pii_key

    rotate_pii_key(ctx.settings.var_dir)
    rotated = build_context(
        load_settings(var_dir=ctx.settings.var_dir, database_url=ctx.settings.database_url)
    )
    try:
        assert rotated.cipher.active != kid
        seen: list[int] = []
        # staff user's (empty) full name counts too
        assert await accounts_identity.do_reencrypt_pii(rotated, seen.append) == 7 + 5 + 3 + 1
        assert sum(seen) == await accounts_identity.count_pii_rows(rotated)
    finally:
        await rotated.db.dispose()


@pytest.fixture
def serve_env(tmp_path: Path) -> dict[str, str]:
    var = tmp_path / "var"
    return {
        **os.environ,
        "YUNTONG_VAR_DIR": str(var),
        "YUNTONG_DATABASE_URL": f"sqlite+aiosqlite:///{var / 'yuntong.db'}",
        "YUNTONG_PORT": str(free_port()),
        "YUNTONG_START_COTURN": "false",
        "YUNTONG_START_JANUS": "false",
        "YUNTONG_START_SIP": "false",
        "YUNTONG_LOG_LEVEL": "WARNING",
    }


def start_serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "yuntong.cli", "serve"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{env['YUNTONG_PORT']}/healthz"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text())
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("yuntong serve did not come up: " + log.read_text())


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_first_serve_creates_an_admin_and_shows_its_password_once(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    proc = start_serve(serve_env, first_log)
    try:
        output = first_log.read_text()
        assert "First operator admin created" in output
        password = output.split("Password: ", 1)[1].split()[0]
        url = f"http://127.0.0.1:{serve_env['YUNTONG_PORT']}"
        assert url in output
        resp = httpx.post(
            url + "/api/v1/auth/login",
            json={"username": "admin", "password": password, "kind": "api"},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["user"]["role"] == "operator_admin"
    finally:
        stop(proc)
    proc = start_serve(serve_env, second_log)
    try:
        assert "Password" not in second_log.read_text()
        assert password not in second_log.read_text()
    finally:
        stop(proc)
