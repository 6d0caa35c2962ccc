"""Builders for the inventory's tests: staff, customers (individual, an organisation and its
member), price tiers, and blocks of numbers no other test uses."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import unique
from tests.integration.accounts.conftest import register_org
from yuntong.accounts import registration, status
from yuntong.accounts.auth import Principal, principal_for
from yuntong.accounts.models import User
from yuntong.core.context import Context
from yuntong.numbers.inventory import BlockSource, ImportResult, do_import_block
from yuntong.numbers.tiers import do_set_tier

PASSWORD = "correct horse battery"
# ranges of 100 numbers in a mobile segment (139 + 4 digits + 4 digits), one per test
_ranges = itertools.count(random.randrange(1000, 9000))
STANDARD_FEN = 500  # 5.00 yuan a month
AABB_FEN = 5_000


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"billing_close_day": 1}


async def person(ctx: Context, role: str = "subscriber") -> Principal:
    user = await registration.do_create_admin(ctx, unique("n"), PASSWORD, role)
    return principal_for(user, "", "cli")


@pytest.fixture
async def staff(ctx: Context) -> Principal:
    return await person(ctx, "operator_admin")


@pytest.fixture
async def customer(ctx: Context) -> Principal:
    return await person(ctx)


@pytest.fixture
async def other(ctx: Context) -> Principal:
    return await person(ctx)


async def org_with_member(ctx: Context, staff: Principal) -> tuple[Principal, Principal]:
    """An approved organisation's administrator and one member of it."""
    admin, org = await register_org(ctx, random.randrange(1, 10_000))
    admin = await status.do_approve(ctx, staff, admin.id)
    member = await registration.do_create_admin(ctx, unique("m"), PASSWORD, "subscriber")
    async with ctx.db.session() as s:
        await s.execute(update(User).where(User.id == member.id).values(organisation_id=org.id))
        member.organisation_id = org.id
    return principal_for(admin, "", "cli"), principal_for(member, "", "cli")


@pytest.fixture
async def tiers(ctx: Context, staff: Principal) -> None:
    """Plain numbers and AAA tails at 5 yuan a month; AABB and AAAA at 50."""
    await do_set_tier(
        ctx,
        staff,
        "standard",
        name_zh="普通号",
        name_en="Standard",
        patterns=["", "AAA"],
        monthly_rent_fen=STANDARD_FEN,
    )
    await do_set_tier(
        ctx,
        staff,
        "gold",
        name_zh="金号",
        name_en="Gold",
        patterns=["AABB", "AAAA"],
        monthly_rent_fen=AABB_FEN,
    )


def fresh_range(size: int = 100) -> tuple[str, str]:
    """A range of mobile numbers no other test of this run imports: 139 nnnn 0000..size-1."""
    head = f"139{next(_ranges):04d}"
    while head.endswith("0"):  # …0 0000 would be AAAAA, a class in no tier
        head = f"139{next(_ranges):04d}"
    return f"{head}0000", f"{head}{size - 1:04d}"


async def import_range(
    ctx: Context, staff: Principal, start: str, end: str, **source: Any
) -> ImportResult:
    from yuntong.numbers.inventory import expand_range

    given = BlockSource(
        carrier=source.pop("carrier", "中国移动"),
        source_ref=source.pop("source_ref", "工信部码号〔2026〕1号"),
        **source,
    )
    return await do_import_block(ctx, staff, expand_range(start, end), given)
