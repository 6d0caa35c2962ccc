"""Credit control before rating catches up, and who may call at all (issue 14, items 14 and 19).

A call that has just ended is priced by the server that owned it until the worker has rated
it: the examples below note a call's end as the call engine does, and rate it as the worker
does. Calendar-month cycles, Beijing time; every amount is worked out in the docstring.
"""

from __future__ import annotations

from tests.conftest import unique
from tests.integration.billing.conftest import account_of, beijing, move_to, product, rate, use
from yuntong.accounts.auth import Principal
from yuntong.billing.collections import lifecycle
from yuntong.billing.ledger import credit, rating
from yuntong.billing.ledger.accounts import do_set_credit_limit, do_set_kind
from yuntong.billing.ledger.usage import UsageInput, do_record_usage
from yuntong.billing.orders import orders
from yuntong.billing.payments import payments
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError


async def refusal(ctx: Context, who: Principal, usage_type: str = "call.video") -> str | None:
    try:
        await credit.check_may_start(ctx, who.user_id, usage_type)
    except YuntongError as exc:
        return exc.code
    return None


async def end_call(ctx: Context, who: Principal, seconds: int) -> str:
    """A video call of ``who`` ends with ``seconds`` billable: noted at once (as the call
    engine does), its usage recorded later (as the worker collects it). Returns its id."""
    call_id = unique("call")
    await credit.paying_account_id(ctx, who.user_id)  # known since the call's invite
    credit.note_call_ended(ctx, who.user_id, call_id, "call.video", seconds, ctx.clock.now())
    return call_id


async def collect(ctx: Context, who: Principal, call_id: str, seconds: int) -> None:
    usage = UsageInput("call", call_id, who.user_id, "call.video", seconds, ctx.clock.now())
    assert await do_record_usage(ctx, usage) is not None


async def test_an_ended_call_counts_before_it_is_rated_with_the_allowance_left(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Limit 100.00; video 1.00/min at 60/60 with 2 free minutes a month. A rated 100-minute
    call used the 2 free minutes and owes 98.00.

    A call of 150 s ends (180 s billed, none of it free any more: 3.00): 101.00 > 100.00,
    the next call is refused before any rating. Once it is rated the ledger says 101.00 and
    the ended call is not counted again; paying 1.00 leaves 100.00 — the limit: allowed."""
    move_to(ctx, beijing(2026, 11, 2, 9))
    package = await product(
        ctx,
        staff,
        fee_fen=0,
        allowances={"call.video": 120},
        rates={"call.video": rate("100", "60/60")},
    )
    await orders.do_place_order(ctx, customer, None, [package.code])
    await do_set_credit_limit(ctx, customer, None, 10_000)
    await use(ctx, customer, "call.video", 100 * 60)
    await rating.do_rate_pending(ctx)
    assert (await credit.standing(ctx, (await account_of(ctx, customer)).id)).balance_fen == 9800
    assert await refusal(ctx, customer) is None

    call_id = await end_call(ctx, customer, 150)
    assert await refusal(ctx, customer) == "credit_exhausted"

    await collect(ctx, customer, call_id, 150)
    await rating.do_rate_pending(ctx)
    account = await account_of(ctx, customer)
    assert (await credit.standing(ctx, account.id)).balance_fen == 10_100
    assert await refusal(ctx, customer) == "credit_exhausted"
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account.id, 100, "cash", key=unique("pay"))
    )
    assert await refusal(ctx, customer) is None


async def test_back_to_back_calls_reach_the_limit_exactly_then_exceed_it(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Limit 100.00; video 10.00/min at 60/60 (a call of a few seconds costs 10.00). Ten
    ended calls, none rated: 100.00 owed, the limit — the eleventh call may start. Eleven:
    110.00 > 100.00, refused."""
    move_to(ctx, beijing(2026, 11, 2, 9))
    package = await product(ctx, staff, fee_fen=0, rates={"call.video": rate("1000", "60/60")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    await do_set_credit_limit(ctx, customer, None, 10_000)
    for _ in range(10):
        assert await refusal(ctx, customer) is None
        await end_call(ctx, customer, 3)
    assert await refusal(ctx, customer) is None
    await end_call(ctx, customer, 3)
    assert await refusal(ctx, customer) == "credit_exhausted"


async def test_a_prepaid_call_after_another_gets_only_what_is_left(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Prepaid, 5.00 in hand, video 1.00/min at 60/60: a call may last 300 s. One of 100 s
    ends (120 s billed: 2.00), not rated yet: the next may last 180 s (3.00 left)."""
    move_to(ctx, beijing(2026, 11, 2, 9))
    package = await product(ctx, staff, fee_fen=0, rates={"call.video": rate("100", "60/60")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    account = await account_of(ctx, customer)
    await do_set_kind(ctx, staff, account.id, "prepaid")
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account.id, 500, "cash", key=unique("pay"))
    )
    assert await credit.check_may_start(ctx, customer.user_id, "call.video") == 300
    await end_call(ctx, customer, 100)
    assert await credit.check_may_start(ctx, customer.user_id, "call.video") == 180


async def test_a_terminated_account_places_no_call_not_even_a_free_one(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Default package: video 1.00/min, audio free. The customer asks to terminate with
    nothing owed: terminated at once. A video call is refused, and so is an audio call,
    which its tariff does not charge for (``billing_terminated_free_calls``, default off)."""
    move_to(ctx, beijing(2026, 11, 2, 9))
    await product(
        ctx, staff, fee_fen=0, rates={"call.video": rate("100", "60/60")}, is_default=True
    )
    await account_of(ctx, customer)
    assert await refusal(ctx, customer, "call.audio") is None
    terminated, _ = await lifecycle.do_request_termination(ctx, customer, None)
    assert terminated.state == "terminated"
    assert await refusal(ctx, customer, "call.video") == "billing_terminated"
    assert await refusal(ctx, customer, "call.audio") == "billing_terminated"

    ctx.settings = ctx.settings.model_copy(update={"billing_terminated_free_calls": True})
    assert await refusal(ctx, customer, "call.audio") is None
    assert await refusal(ctx, customer, "call.video") == "billing_terminated"


async def test_a_suspended_account_still_places_free_calls(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Suspension (VP 9) stops chargeable services only: audio, free here, is allowed."""
    move_to(ctx, beijing(2026, 11, 2, 9))
    await product(
        ctx, staff, fee_fen=0, rates={"call.video": rate("100", "60/60")}, is_default=True
    )
    account = await account_of(ctx, customer)
    await lifecycle.do_confirm_suspension(ctx, staff, account.id)
    assert await refusal(ctx, customer, "call.video") == "billing_suspended"
    assert await refusal(ctx, customer, "call.audio") is None
