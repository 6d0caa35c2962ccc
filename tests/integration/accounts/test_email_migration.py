"""Migration 0005 moves clear e-mail addresses (users and meeting invitees) into ciphertext and
a blind index, on SQLite and PostgreSQL, with the key ring the ``yuntong`` command hands it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from tests.conftest import make_settings, own_database
from yuntong.accounts import directory, identity
from yuntong.cli import app as cli_app
from yuntong.core.crypto import PiiCipher
from yuntong.core.db import UTCDateTime
from yuntong.core.migrate import downgrade, upgrade
from yuntong.services import build_context

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("display_name", sa.String),
    sa.column("email", sa.String),
    sa.column("password_hash", sa.String),
    sa.column("role", sa.String),
    sa.column("status", sa.String),
    sa.column("locale", sa.String),
    sa.column("full_name_enc", sa.Text),
    sa.column("failed_logins", sa.Integer),
    sa.column("dnd", sa.Boolean),
    sa.column("created_at", UTCDateTime()),
)
meetings = sa.table(
    "meetings",
    sa.column("id", sa.String),
    sa.column("number", sa.String),
    sa.column("title", sa.String),
    sa.column("host_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("start_at", UTCDateTime()),
    sa.column("duration_min", sa.Integer),
    sa.column("time_zone", sa.String),
    sa.column("settings", sa.JSON),
    sa.column("sequence", sa.Integer),
    sa.column("created_at", UTCDateTime()),
)
invitations = sa.table(
    "meeting_invitations",
    sa.column("id", sa.Integer),
    sa.column("meeting_id", sa.String),
    sa.column("user_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("created_at", UTCDateTime()),
)


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, not migrated at all."""
    async with own_database(request.param, tmp_path) as url:
        yield url


def user_row(n: int, email: str | None) -> dict[str, Any]:
    return {
        "id": n,
        "username": f"person{n}",
        "display_name": f"Person {n}",
        "email": email,
        "password_hash": "x",
        "role": "subscriber",
        "status": "active",
        "locale": "zh-CN",
        "full_name_enc": "",
        "failed_logins": 0,
        "dnd": False,
        "created_at": NOW,
    }


async def seed_0004(url: str) -> None:
    """A database at 0004 holding addresses in clear, as every installation before 0005."""
    upgrade(url, "0004")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                users.insert(),
                [
                    user_row(1, "person1@example.com"),
                    user_row(2, "Mixed.Case@Example.com"),
                    user_row(3, None),
                ],
            )
            await conn.execute(
                meetings.insert().values(
                    id="m1",
                    number="123456789",
                    title="季度评审",
                    host_id=1,
                    kind="instant",
                    status="scheduled",
                    start_at=NOW,
                    duration_min=60,
                    time_zone="Asia/Shanghai",
                    settings={},
                    sequence=0,
                    created_at=NOW,
                )
            )
            guest = {"meeting_id": "m1", "created_at": NOW}
            await conn.execute(
                invitations.insert(),
                [
                    {**guest, "id": 1, "email": "guest@example.org", "user_id": None},
                    {**guest, "id": 2, "email": None, "user_id": 3},
                ],
            )
    finally:
        await engine.dispose()


async def select_all(url: str, table: str) -> list[dict[str, Any]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


async def version(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return str(
                (
                    await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                ).scalar_one()
            )
    finally:
        await engine.dispose()


def flat(rows: list[dict[str, Any]]) -> str:
    return " ".join(str(v) for row in rows for v in row.values()).lower()


async def test_0005_moves_clear_addresses_into_ciphertext_and_index_and_back(
    empty_url: str, tmp_path: Path
) -> None:
    cipher = PiiCipher.from_settings(make_settings(tmp_path / "var", empty_url))
    await seed_0004(empty_url)

    upgrade(empty_url, "0005", cipher=cipher)

    assert await version(empty_url) == "0005"
    people = await select_all(empty_url, "users")
    invited = await select_all(empty_url, "meeting_invitations")
    assert "email" not in people[0] and "email" not in invited[0]  # the clear columns are gone
    assert "example" not in flat(people) and "example" not in flat(invited)
    expected = {1: "person1@example.com", 2: "mixed.case@example.com", 3: None}
    for row in people:
        address = expected[row["id"]]
        if address is None:
            assert row["email_enc"] is None and row["email_index"] is None
            continue
        assert cipher.decrypt(row["email_enc"], context="user:email") == address
        assert row["email_index"] == cipher.email_index(address)
    guest, member = invited
    assert cipher.decrypt(guest["email_enc"], context="meeting_invitation:email") == (
        "guest@example.org"
    )
    assert guest["email_index"] == cipher.email_index("guest@example.org")
    assert member["email_enc"] is None and member["email_index"] is None

    downgrade(empty_url, "0004", cipher=cipher)

    assert await version(empty_url) == "0004"
    assert [r["email"] for r in await select_all(empty_url, "users")] == [
        "person1@example.com",
        "mixed.case@example.com",
        None,
    ]
    assert [r["email"] for r in await select_all(empty_url, "meeting_invitations")] == [
        "guest@example.org",
        None,
    ]


async def test_0005_without_the_key_ring_refuses_before_changing_anything(
    empty_url: str,
) -> None:
    await seed_0004(empty_url)
    with pytest.raises(RuntimeError, match="key ring"):
        upgrade(empty_url, "0005")
    assert await version(empty_url) == "0004"
    assert [r["email"] for r in await select_all(empty_url, "users")] == [
        "person1@example.com",
        "Mixed.Case@Example.com",
        None,
    ]


async def test_0005_on_an_empty_database_needs_no_keys(empty_url: str) -> None:
    upgrade(empty_url, "0005")
    assert await version(empty_url) == "0005"


async def test_yuntong_db_upgrade_hands_its_keys_to_the_migration(
    empty_url: str, tmp_path: Path
) -> None:
    await seed_0004(empty_url)
    var_dir = tmp_path / "var"
    env = {
        "YUNTONG_VAR_DIR": str(var_dir),
        "YUNTONG_DATABASE_URL": empty_url,
        "YUNTONG_START_COTURN": "false",
        "YUNTONG_START_JANUS": "false",
        "YUNTONG_START_SIP": "false",
    }
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output

    assert "example" not in flat(await select_all(empty_url, "users"))
    ctx = build_context(make_settings(var_dir, empty_url))
    try:
        found = await directory.lookup_active_user(ctx, " Mixed.Case@EXAMPLE.com")
        assert found is not None and found.id == 2
        assert identity.user_email(ctx, found) == "mixed.case@example.com"
    finally:
        await ctx.db.dispose()
