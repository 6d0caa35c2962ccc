"""Identity data never reaches the logs, whatever the account goes through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from tests.integration.accounts.conftest import (
    PASSWORD,
    bearer,
    individual,
    organisation,
)
from yuntong.accounts import identity, status
from yuntong.accounts.auth import Principal
from yuntong.core.context import Context
from yuntong.core.logging import configure_logging


@pytest.fixture
def captured(app_client: httpx.AsyncClient) -> Iterator[list[dict[str, Any]]]:
    """Every structlog event (before redaction), at every level, while the test runs."""
    saved = structlog.get_config()
    configure_logging("DEBUG", json=True)
    try:
        with capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(**saved)


async def test_account_life_cycle_logs_ids_but_no_personal_data(
    ctx: Context,
    app_client: httpx.AsyncClient,
    staff: Principal,
    captured: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")  # aiosqlite logs query parameters at DEBUG (reported to lead)
    person, org = individual(5), organisation(6)
    resp = await app_client.post("/api/v1/accounts/register/individual", json=person)
    user_id = resp.json()["user"]["id"]
    await app_client.post("/api/v1/accounts/register/organisation", json=org)
    bad = {**individual(7), "id_number": "110105194912310021", "password": "Secret-Pass-99"}
    await app_client.post("/api/v1/accounts/register/individual", json=bad)
    await status.do_approve(ctx, staff, user_id)
    await app_client.post(
        "/api/v1/auth/login", json={"username": "person5", "password": "wrong password!"}
    )
    headers = await bearer(app_client, "person5")
    await app_client.get("/api/v1/me/identity", headers=headers)
    await app_client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "another fine passphrase"},
        headers=headers,
    )
    await status.do_set_status(ctx, staff, user_id, "warned", "first warning")
    await identity.get_identity(ctx, staff, user_id)

    events = {e["event"] for e in captured}
    assert {"account_registered", "login", "login_failed", "account_status_changed"} <= events
    logged = repr(captured) + caplog.text
    secrets = [
        person["full_name"],
        person["id_number"],
        person["address"],
        person["employer"],
        person["email"],
        person["birth_date"],
        "13800000005",
        org["uscc"],
        org["legal_representative"],
        org["contact_name"],
        org["address"],
        bad["id_number"],
        "Secret-Pass-99",
        PASSWORD,
        "another fine passphrase",
        headers["Authorization"].removeprefix("Bearer "),
    ]
    for value in secrets:
        assert value not in logged, value
