"""Builders for the accounts tests: valid identities, registered users, staff, CLI runs."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from yuntong.accounts import registration as accounts_registration
from yuntong.accounts import status
from yuntong.accounts.auth import Principal, principal_for
from yuntong.accounts.models import AuditEvent, Organisation, User
from yuntong.accounts.validation import (
    IndividualRegistration,
    OrganisationRegistration,
    resident_id_check_digit,
    uscc_check_character,
)
from yuntong.cli import app as cli_app
from yuntong.core.context import Context

PASSWORD = "correct horse battery"


def resident_id(born: date, seq: int = 1, area: str = "110105") -> str:
    body = f"{area}{born:%Y%m%d}{seq:03d}"
    return body + resident_id_check_digit(body)


def uscc(n: int) -> str:
    body = f"91110108MA{n:07d}"
    return body + uscc_check_character(body)


def phone(n: int) -> str:
    return f"138{n:08d}"


def individual(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid individual registration; different ``n`` never collide."""
    born = date(1980, 1, 1) + timedelta(days=n)
    return {
        "username": f"person{n}",
        "password": PASSWORD,
        "display_name": f"Person {n}",
        "email": f"person{n}@example.com",
        "full_name": f"张{n}号",
        "birth_date": born.isoformat(),
        "address": f"北京市朝阳区建国路 {n} 号",
        "id_type": "resident_id",
        "id_number": resident_id(born, n % 1000),
        "employer": f"单位{n}",
        "phone": phone(n),
        **overrides,
    }


def organisation(n: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "username": f"org{n}",
        "password": PASSWORD,
        "display_name": f"Org {n}",
        "email": f"admin@org{n}.example",
        "legal_name": f"北京第{n}科技有限公司",
        "uscc": uscc(n),
        "legal_representative": f"李{n}",
        "contact_name": f"王{n}",
        "contact_phone": phone(50_000 + n),
        "address": f"北京市海淀区中关村 {n} 号",
        **overrides,
    }


async def register(ctx: Context, n: int = 1, **overrides: Any) -> User:
    form = IndividualRegistration.model_validate(individual(n, **overrides))
    return await accounts_registration.do_register_individual(ctx, form)


async def register_org(ctx: Context, n: int = 1, **overrides: Any) -> tuple[User, Organisation]:
    form = OrganisationRegistration.model_validate(organisation(n, **overrides))
    return await accounts_registration.do_register_organisation(ctx, form)


async def make_staff(
    ctx: Context, username: str = "operator", role: str = "operator_admin"
) -> Principal:
    user = await accounts_registration.do_create_admin(ctx, username, PASSWORD, role)
    return principal_for(user, "", "cli")


async def active_user(ctx: Context, staff: Principal, n: int = 1, **overrides: Any) -> User:
    user = await register(ctx, n, **overrides)
    return await status.do_approve(ctx, staff, user.id)


@pytest.fixture
async def staff(ctx: Context) -> Principal:
    """An operator admin, as the actor of review and enforcement."""
    return await make_staff(ctx)


async def row_counts(ctx: Context) -> tuple[int, int]:
    async with ctx.db.session() as s:
        users = (await s.execute(select(func.count()).select_from(User))).scalar_one()
        orgs = (await s.execute(select(func.count()).select_from(Organisation))).scalar_one()
    return users, orgs


async def audit_of(ctx: Context, user_id: int) -> list[AuditEvent]:
    async with ctx.db.session() as s:
        stmt = select(AuditEvent).where(AuditEvent.target_user_id == user_id)
        return list((await s.execute(stmt.order_by(AuditEvent.id))).scalars())


async def bearer(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password, "kind": "api"}
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def web_login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Log the client in with a cookie; returns the CSRF token."""
    resp = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password, "kind": "web"}
    )
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["csrf_token"]
    return token


def error_code(resp: httpx.Response) -> str:
    code: str = resp.json()["error"]["code"]
    return code


async def run_cli(
    ctx: Context, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    """Run ``yuntong ARGS`` against the test database (in a thread: the CLI runs its own loop),
    with ``env`` added to its environment."""
    env = {
        "YUNTONG_VAR_DIR": str(ctx.settings.var_dir),
        "YUNTONG_DATABASE_URL": ctx.settings.database_url,
        "YUNTONG_START_COTURN": "false",
        "YUNTONG_START_SIP": "false",
        "YUNTONG_START_JANUS": "false",
        "COLUMNS": "200",
        **(env or {}),
    }
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli_app, list(args), input=input, env=env)
