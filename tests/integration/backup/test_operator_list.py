"""Operator staff see the recent backups and their verification, read-only, on the console
and through the API; customers do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique
from tests.integration.accounts.conftest import PASSWORD, bearer
from tests.integration.backup.conftest import KEY
from yuntong.accounts import registration
from yuntong.backup import service
from yuntong.core.context import Context


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return {"backup_key": KEY, "backup_dir": tmp_path / "backups"}


async def test_staff_see_recent_backups_and_whether_they_were_verified(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    checked = await service.do_create(ctx)
    await service.do_verify(ctx, checked.name)
    ctx.clock.advance(minutes=5)  # type: ignore[attr-defined]
    unchecked = await service.do_create(ctx)

    staff, customer = unique("ops"), unique("c")
    await registration.do_create_admin(ctx, staff, PASSWORD, "operator_admin")
    await registration.do_create_admin(ctx, customer, PASSWORD, "subscriber")

    listed = await app_client.get("/api/v1/admin/backups", headers=await bearer(app_client, staff))
    assert listed.status_code == 200, listed.text
    assert [(b["name"], b["verified_ok"]) for b in listed.json()] == [
        (unchecked.name, None),
        (checked.name, True),
    ]
    refused = await app_client.get(
        "/api/v1/admin/backups", headers=await bearer(app_client, customer)
    )
    assert refused.status_code == 403

    login = await app_client.post(
        "/api/v1/auth/login", json={"username": staff, "password": PASSWORD, "kind": "web"}
    )
    assert login.status_code == 200
    await app_client.get("/lang/en")
    page = await app_client.get("/operator")
    assert page.status_code == 200
    assert 'id="backups-table"' in page.text
    assert checked.name in page.text and "Verified 20" in page.text
    assert unchecked.name in page.text and "Not verified" in page.text
