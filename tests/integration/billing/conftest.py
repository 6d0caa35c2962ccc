"""Builders for the billing tests: people, a small catalog, usage, moments in Beijing time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import unique
from yuntong.accounts import registration
from yuntong.accounts.auth import Principal, principal_for
from yuntong.billing.catalog import catalog
from yuntong.billing.ledger.accounts import account_for_user
from yuntong.billing.ledger.usage import UsageInput, do_record_usage
from yuntong.billing.models import BillingAccount, Product
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context

PASSWORD = "correct horse battery"
BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING)


def move_to(ctx: Context, moment: datetime) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.set(moment)


async def person(ctx: Context, role: str = "subscriber") -> Principal:
    user = await registration.do_create_admin(ctx, unique("b"), PASSWORD, role)
    return principal_for(user, "", "cli")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Calendar-month cycles (close day 1) keep the worked examples easy to check by hand."""
    return {"billing_close_day": 1}


@pytest.fixture
async def staff(ctx: Context) -> Principal:
    return await person(ctx, "operator_admin")


@pytest.fixture
async def customer(ctx: Context) -> Principal:
    return await person(ctx)


async def account_of(ctx: Context, who: Principal) -> BillingAccount:
    return await account_for_user(ctx, who.user_id)


async def product(
    ctx: Context,
    staff: Principal,
    *,
    fee_fen: int,
    rates: dict[str, Any] | None = None,
    allowances: dict[str, int] | None = None,
    kind: str = "package",
    effective_on: date | None = None,
    is_default: bool = False,
) -> Product:
    made = await catalog.do_create_product(
        ctx,
        staff,
        code=unique("p"),
        kind=kind,
        name_zh="测试套餐",
        name_en="Test package",
        is_default=is_default,
    )
    await catalog.do_set_price(
        ctx,
        staff,
        made.id,
        effective_on=effective_on or catalog.local_day(ctx, ctx.clock.now()),
        monthly_fee_fen=fee_fen,
        allowances=allowances or {},
        rates=rates or {},
    )
    return made


def rate(per_minute_fen: str, increment: str, connect_fee_fen: int = 0) -> dict[str, Any]:
    return {
        "per_minute_fen": per_minute_fen,
        "increment": increment,
        "connect_fee_fen": connect_fee_fen,
    }


async def use(
    ctx: Context, who: Principal, usage_type: str, seconds: int, at: datetime | None = None
) -> None:
    usage = UsageInput(
        source="test",
        source_id=unique("use"),
        user_id=who.user_id,
        usage_type=usage_type,
        quantity_s=seconds,
        started_at=at or ctx.clock.now(),
        other_party="zh***",
    )
    assert await do_record_usage(ctx, usage) is not None
