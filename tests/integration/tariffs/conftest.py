"""Builders for the tariffs' tests: staff, a customer, and the tables imported."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.conftest import unique
from yuntong.accounts import registration
from yuntong.accounts.auth import Principal, principal_for
from yuntong.core.context import Context
from yuntong.tariffs.charges import ChargeResult, do_charge_outside_call

PASSWORD = "correct horse battery"
PRICES = (
    "prefix,category,name_zh,name_en,price_per_minute_fen,increment_s\n"
    "86,domestic,国内固话,Mainland fixed lines,20,60\n"
    "8610,domestic,北京固话,Beijing fixed lines,15,60\n"
    "86,local,本地固话,Local fixed lines,10,60\n"
    "861,mobile,国内手机,Mainland mobiles,12,60\n"
    "86400,premium,400 号码,400 numbers,50,60\n"
    "1,international,美国和加拿大,USA and Canada,80,6\n"
)
COSTS = "trunk,prefix,cost_per_minute_fen\nct-bj,86,6\nct-bj,8613,5\nct-bj,1,40\n"


async def person(ctx: Context, role: str = "subscriber") -> Principal:
    user = await registration.do_create_admin(ctx, unique("t"), PASSWORD, role)
    return principal_for(user, "", "cli")


@pytest.fixture
async def staff(ctx: Context) -> Principal:
    return await person(ctx, "operator_admin")


@pytest.fixture
async def customer(ctx: Context) -> Principal:
    return await person(ctx)


async def charge(
    ctx: Context,
    payer: Principal,
    call_id: str,
    to: str,
    seconds: float,
    *,
    trunk: str = "ct-bj",
    home_area: str | None = None,
    answered: datetime | None = None,
) -> ChargeResult:
    """Charge ``payer`` for a call to ``to`` answered at ``answered`` (now) that lasted
    ``seconds``."""
    start = answered or ctx.clock.now()
    return await do_charge_outside_call(
        ctx,
        call_id=call_id,
        user_id=payer.user_id,
        trunk=trunk,
        destination=to,
        home_area=home_area,
        answered_at=start,
        ended_at=start + timedelta(seconds=seconds),
    )
