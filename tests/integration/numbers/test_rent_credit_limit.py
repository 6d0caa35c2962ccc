"""A number's rent meets the same credit-limit rule as any order: with the operator's
``refuse``, a rent above a postpaid account's limit is refused and the number stays held."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.numbers.conftest import fresh_range, import_range
from yuntong.accounts.auth import Principal
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers import assignment, selection
from yuntong.numbers.models import NumberState

pytestmark = pytest.mark.usefixtures("tiers")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "billing_close_day": 1,
        "billing_rent_over_credit_limit": "refuse",
        "billing_default_credit_limit_fen": 100,  # below the standard tier's 5 yuan
    }


async def test_a_rent_above_the_credit_limit_is_refused(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    plain = fresh_range()[0][:-1] + "1"
    await import_range(ctx, staff, plain, plain)
    await selection.do_reserve(ctx, customer, plain)
    with pytest.raises(YuntongError) as caught:
        await assignment.do_assign(ctx, customer, plain)
    assert caught.value.code == "rent_over_credit_limit"
    [held] = await assignment.my_numbers(ctx, customer)
    assert held.state == NumberState.RESERVED
