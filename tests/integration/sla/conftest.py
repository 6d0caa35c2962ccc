"""Builders for the status page's tests: staff, and the components of a small page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import unique
from yuntong.accounts import registration
from yuntong.accounts.auth import Principal, principal_for
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.sla import status
from yuntong.sla.models import Maintenance, StatusComponent

PASSWORD = "correct horse battery"
BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING)


def move_to(ctx: Context, moment: datetime) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.set(moment)


@pytest.fixture
async def operator(ctx: Context) -> Principal:
    user = await registration.do_create_admin(ctx, unique("op"), PASSWORD, "operator_admin")
    return principal_for(user, "", "cli")


@pytest.fixture
async def components(ctx: Context, operator: Principal) -> dict[str, StatusComponent]:
    """Web & API, Video calls, Meetings, created on 2026-03-01 (Beijing)."""
    move_to(ctx, beijing(2026, 3, 1, 9))
    made = {}
    for n, (key, zh, en) in enumerate(
        [
            ("web", "网站与 API", "Web & API"),
            ("video", "视频通话", "Video calls"),
            ("meet", "会议", "Meetings"),
        ]
    ):
        made[key] = await status.do_create_component(ctx, operator, key, zh, en, n * 10)
    return made


async def schedule(
    ctx: Context,
    operator: Principal,
    starts_at: datetime,
    ends_at: datetime,
    component_ids: list[int],
    title: tuple[str, str] = ("数据库升级", "Database upgrade"),
    description: tuple[str, str] = ("升级 PostgreSQL。", "PostgreSQL is upgraded."),
) -> Maintenance:
    """A maintenance window announced by ``operator``: title and description (zh, en)."""
    return await status.do_schedule_maintenance(
        ctx,
        operator,
        title_zh=title[0],
        title_en=title[1],
        description_zh=description[0],
        description_en=description[1],
        starts_at=starts_at,
        ends_at=ends_at,
        component_ids=component_ids,
    )
