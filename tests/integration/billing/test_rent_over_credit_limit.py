"""A postpaid order whose monthly rent exceeds the credit limit (issue 14, item 19c): the rent
alone would exhaust the limit at every cycle's first charge. ``billing_rent_over_credit_limit``
raises the limit by the rent (default), refuses the order, or allows it as it is. The default
limit is 500.00; a business package costs 1,000.00 a month."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.integration.billing.conftest import account_of, beijing, move_to, person, product
from yuntong.accounts.auth import Principal
from yuntong.billing.ledger.accounts import do_set_credit_limit
from yuntong.billing.models import LedgerEntry, Order, Subscription
from yuntong.billing.orders.orders import do_place_order
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError

MODE = "billing_rent_over_credit_limit"


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    extra = getattr(request, "param", {})
    return {"billing_close_day": 1, **extra}


async def rows(ctx: Context, account_id: int) -> list[int]:
    """How many orders, subscriptions and ledger entries the account has."""
    counts = []
    async with ctx.db.session() as s:
        for model in (Order, Subscription, LedgerEntry):
            query = select(func.count()).select_from(model).where(model.account_id == account_id)
            counts.append(int((await s.execute(query)).scalar_one()))
    return counts


async def business(ctx: Context, fee_fen: int = 100_000) -> tuple[Principal, str]:
    move_to(ctx, beijing(2026, 12, 1))
    staff = await person(ctx, "operator_admin")
    package = await product(ctx, staff, fee_fen=fee_fen)
    return await person(ctx), package.code


async def test_by_default_the_limit_is_raised_by_the_rent(ctx: Context) -> None:
    assert ctx.settings.billing_rent_over_credit_limit == "raise"
    customer, code = await business(ctx)
    assert (await account_of(ctx, customer)).credit_limit_fen == 50_000

    order = await do_place_order(ctx, customer, None, [code])
    account = await account_of(ctx, customer)
    assert account.credit_limit_fen == 150_000  # 1,000.00 rent + the 500.00 it had
    assert order.document["terms"]["credit_limit_fen"] == 150_000
    assert order.document["terms"]["rent_over_credit_limit"] == "raise"
    assert order.document["terms"]["terminated_free_calls"] is False
    assert order.document["terms"]["payment_order"] == "due_first_charges_before_late_fees"
    assert order.document["credit_limit_rule"] == {
        "mode": "raise",
        "rent_fen": 100_000,
        "limit_fen": 50_000,
        "raised_to_fen": 150_000,
    }


async def test_rent_within_the_limit_changes_nothing(ctx: Context) -> None:
    customer, code = await business(ctx, fee_fen=50_000)  # exactly the limit: not above it
    order = await do_place_order(ctx, customer, None, [code])
    assert (await account_of(ctx, customer)).credit_limit_fen == 50_000
    assert "credit_limit_rule" not in order.document


@pytest.mark.parametrize("settings_overrides", [{MODE: "refuse"}], indirect=True)
async def test_refused_until_the_customer_raises_the_limit(ctx: Context) -> None:
    customer, code = await business(ctx)
    account = await account_of(ctx, customer)
    with pytest.raises(YuntongError) as refused:
        await do_place_order(ctx, customer, None, [code])
    assert refused.value.code == "rent_over_credit_limit"
    assert refused.value.status == 422
    assert "(1,000.00 yuan) exceeds your credit limit (500.00 yuan)" in refused.value.message("en")
    assert "信用额度" in refused.value.message("zh-CN")
    assert await rows(ctx, account.id) == [0, 0, 0]  # no order, subscription or charge

    await do_set_credit_limit(ctx, customer, None, 120_000)
    order = await do_place_order(ctx, customer, None, [code])
    assert order.document["terms"]["credit_limit_fen"] == 120_000
    assert (await account_of(ctx, customer)).credit_limit_fen == 120_000


@pytest.mark.parametrize("settings_overrides", [{MODE: "allow"}], indirect=True)
async def test_allowed_as_it_is_and_recorded(ctx: Context) -> None:
    customer, code = await business(ctx)
    order = await do_place_order(ctx, customer, None, [code])
    assert (await account_of(ctx, customer)).credit_limit_fen == 50_000
    assert order.document["credit_limit_rule"] == {
        "mode": "allow",
        "rent_fen": 100_000,
        "limit_fen": 50_000,
    }


@pytest.mark.parametrize(
    "settings_overrides", [{"billing_credit_limit_max_fen": 120_000}], indirect=True
)
async def test_raised_at_most_to_the_maximum_and_refused_beyond_it(ctx: Context) -> None:
    customer, code = await business(ctx)
    await do_place_order(ctx, customer, None, [code])
    assert (await account_of(ctx, customer)).credit_limit_fen == 120_000

    other, dear = await business(ctx, fee_fen=130_000)
    with pytest.raises(YuntongError) as refused:
        await do_place_order(ctx, other, None, [dear])
    assert refused.value.code == "rent_over_credit_limit"


# -- the published terms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings_overrides",
    [{}, {MODE: "refuse", "billing_rent_during_arrears_suspension": True}],
    indirect=True,
)
async def test_the_price_list_prints_the_terms_in_force(
    ctx: Context, app_client: Any, settings_overrides: dict[str, Any]
) -> None:
    english = (await app_client.get("/prices", headers={"Accept-Language": "en"})).text
    chinese = (await app_client.get("/prices", headers={"Accept-Language": "zh-CN"})).text
    assert 'id="billing-terms"' in english
    assert "Overdue fees cost 0.3% of the amount a day" in english
    assert "at a competent authority&#39;s request, the monthly fee is still charged" in english
    assert "charges before late fees, so no late fee accrues on charges you have paid" in english
    assert "先抵扣费用，后抵扣滞纳金" in chinese
    assert "no call can be placed, free calls included" in english
    assert "服务终止后不能再发起任何通话" in chinese
    if settings_overrides.get(MODE) == "refuse":
        assert "While service is suspended for non-payment, the monthly fee is still" in english
        assert "is refused: raise the credit limit first" in english
        assert "因欠费暂停服务期间，月租照常收取" in chinese
    else:
        assert "No monthly fee is charged for the days service is suspended" in english
        assert "the limit is raised by those fees (to at most 100,000.00 yuan)" in english
        assert "因欠费暂停服务期间不收取月租" in chinese
