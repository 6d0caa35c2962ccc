"""``/readyz`` and the billing desk warn from 60 days before a year whose holiday schedule is
provisional or missing, and stop once the operator imports the official one (clock moved)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from tests.conftest import unique
from yuntong.accounts import registration
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.workdays import import_schedule

PASSWORD = "correct horse battery"


def move_to(ctx: Context, moment: datetime) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.set(moment)


async def test_readiness_warns_before_a_year_without_an_official_schedule(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    move_to(ctx, datetime(2026, 10, 31, 12, tzinfo=UTC))  # 1 Nov 2026 minus 61 days to 2027
    quiet = await app_client.get("/readyz")
    assert (quiet.status_code, quiet.json()["warnings"]) == (200, [])
    assert quiet.json()["checks"]["holidays"] == "ok"

    move_to(ctx, datetime(2026, 11, 10, 12, tzinfo=UTC))  # 52 days before 2027
    warned = await app_client.get("/readyz")
    assert warned.status_code == 200  # still ready: a warning, not a failure
    body = warned.json()
    assert body["status"] == "ready"
    assert body["checks"]["holidays"] == "warning"
    assert [(w["code"], w["year"]) for w in body["warnings"]] == [
        ("holiday_schedule_provisional", 2027)
    ]

    notice = ctx.settings.var_dir / "notice.json"
    notice.write_text(
        json.dumps(
            {"year": 2027, "source": "test", "holidays": {"2027-01-01": "元旦"}, "workdays": {}}
        )
    )
    import_schedule(notice, ctx.settings.holidays_path)
    assert (await app_client.get("/readyz")).json()["warnings"] == []

    move_to(ctx, datetime(2027, 11, 10, 12, tzinfo=UTC))  # 2028: nothing at all
    late = (await app_client.get("/readyz")).json()
    assert [(w["code"], w["year"]) for w in late["warnings"]] == [
        ("holiday_schedule_missing", 2028)
    ]


async def test_the_billing_desk_shows_the_warning(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    move_to(ctx, datetime(2026, 10, 30, 2, tzinfo=UTC))  # 63 days before 2027
    username = unique("ops")
    await registration.do_create_admin(ctx, username, PASSWORD, "operator_admin")
    login = await app_client.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD, "kind": "web"}
    )
    assert login.status_code == 200, login.text
    page = await app_client.get("/operator/billing")
    assert page.status_code == 200
    assert "holiday-warning" not in page.text  # 2027 is still more than 60 days away

    move_to(ctx, datetime(2026, 11, 10, 2, tzinfo=UTC))  # within the session's 14 days
    await app_client.get("/lang/en")
    page = await app_client.get("/operator/billing")
    assert page.status_code == 200
    assert 'id="holiday-warning-2027"' in page.text
    assert "The 2027 holiday schedule is provisional" in page.text
