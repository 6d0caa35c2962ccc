"""Price changes and corrections, cancellations, alerts, holds, termination, organisations."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.accounts.conftest import register_org, run_cli
from tests.integration.billing.conftest import (
    account_of,
    beijing,
    move_to,
    person,
    product,
    rate,
    use,
)
from yuntong.accounts import registration, status
from yuntong.accounts.auth import Principal, principal_for
from yuntong.billing.catalog import catalog
from yuntong.billing.collections import dunning, lifecycle
from yuntong.billing.ledger import credit, rating
from yuntong.billing.ledger.accounts import account_for_actor, do_set_credit_limit
from yuntong.billing.models import EntryKind, LedgerEntry, ProductPrice
from yuntong.billing.orders import orders
from yuntong.billing.payments import payments
from yuntong.billing.statements import statements
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.notifications import notices


async def entries(ctx: Context, account_id: int, kind: str | None = None) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.account_id == account_id)
    if kind:
        query = query.where(LedgerEntry.kind == kind)
    async with ctx.db.session() as s:
        return list((await s.execute(query.order_by(LedgerEntry.id))).scalars())


async def code_of(awaitable: Any) -> str:
    with pytest.raises(YuntongError) as caught:
        await awaitable
    return caught.value.code


async def test_a_price_change_is_announced_ahead_and_never_rewrites_past_charges(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=1000, rates={"call.audio": rate("10", "60/60")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    bystander = await person(ctx)
    other = await product(ctx, staff, fee_fen=1000)
    await orders.do_place_order(ctx, bystander, None, [other.code])
    await use(ctx, customer, "call.audio", 60)
    await rating.do_rate_pending(ctx)

    change = {
        "monthly_fee_fen": 2000,
        "allowances": {},
        "rates": {"call.audio": rate("20", "60/60")},
        "note": "网络升级",
    }
    too_soon = catalog.do_set_price(
        ctx, staff, package.id, effective_on=date(2026, 11, 20), **change
    )
    assert await code_of(too_soon) == "price_change_too_soon"
    await catalog.do_set_price(ctx, staff, package.id, effective_on=date(2026, 12, 1), **change)
    mine = await account_of(ctx, customer)
    theirs = await account_of(ctx, bystander)
    told = [n.kind for n in await notices.list_notices(ctx, mine.id)]
    assert "price_change" in told
    assert "price_change" not in [n.kind for n in await notices.list_notices(ctx, theirs.id)]
    listing = {p["code"]: p for p in await catalog.price_list(ctx)}
    assert listing[package.code]["next"]["effective_on"] == "2026-12-01"

    move_to(ctx, beijing(2026, 12, 2, 9))
    await use(ctx, customer, "call.audio", 60)
    await rating.do_rate_pending(ctx)
    usage = [e.amount_fen for e in await entries(ctx, mine.id, EntryKind.USAGE)]
    assert usage == [10, 20]  # November's call kept its price


async def test_a_tariff_correction_re_rates_with_adjustments_once(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Video was priced 1.50/min by mistake instead of 0.15: a 2-minute call charged 300
    gets an adjustment of -270, and re-rating again adds nothing."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=0, rates={"call.video": rate("150", "60/60")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    await use(ctx, customer, "call.video", 120)
    await rating.do_rate_pending(ctx)
    wrong = (await catalog.load_catalog(ctx)).price_on(package.id, date(2026, 11, 1))
    assert wrong is not None
    fixed, adjusted = await rating.do_correct_price(
        ctx, staff, wrong.id, rates={"call.video": rate("15", "60/60")}, note="录入错误"
    )
    assert adjusted == 1  # corrected and re-rated in one transaction
    assert await rating.do_rerate(ctx, staff, fixed.id) == 0  # again: nothing more
    # the wrong version cannot be corrected a second time: its correction is the one to fix
    with pytest.raises(YuntongError) as twice:
        await rating.do_correct_price(
            ctx, staff, wrong.id, rates={"call.video": rate("20", "60/60")}, note="again"
        )
    assert twice.value.code == "price_already_corrected"
    assert twice.value.params["correction_id"] == fixed.id
    account = await account_of(ctx, customer)
    assert [e.amount_fen for e in await entries(ctx, account.id, EntryKind.USAGE)] == [300]
    adjustments = await entries(ctx, account.id, EntryKind.ADJUSTMENT)
    assert [a.amount_fen for a in adjustments] == [-270]
    # new usage is rated with the corrected price at once
    await use(ctx, customer, "call.video", 60)
    await rating.do_rate_pending(ctx)
    assert [e.amount_fen for e in await entries(ctx, account.id, EntryKind.USAGE)] == [300, 15]


async def test_a_correction_whose_re_rating_fails_is_not_saved_either(
    ctx: Context, staff: Principal, customer: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: the correction and its re-rating were two transactions, so a crash between
    them left a corrected price whose past usage was never re-rated. Now they are one: when
    writing the adjustments fails, the correction is not there either, and the staff member
    simply corrects again (-270, as above)."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=0, rates={"call.video": rate("150", "60/60")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    await use(ctx, customer, "call.video", 120)
    await rating.do_rate_pending(ctx)
    wrong = (await catalog.load_catalog(ctx)).price_on(package.id, date(2026, 11, 1))
    assert wrong is not None

    async def crash(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("the server died while writing the adjustments")

    monkeypatch.setattr(rating.store, "insert_entries", crash)
    with pytest.raises(OSError):
        await rating.do_correct_price(
            ctx, staff, wrong.id, rates={"call.video": rate("15", "60/60")}, note="录入错误"
        )
    monkeypatch.undo()
    async with ctx.db.session() as s:
        saved = await s.execute(select(ProductPrice).where(ProductPrice.corrects_id == wrong.id))
        assert list(saved.scalars()) == []

    _, adjusted = await rating.do_correct_price(
        ctx, staff, wrong.id, rates={"call.video": rate("15", "60/60")}, note="录入错误"
    )
    assert adjusted == 1
    account = await account_of(ctx, customer)
    assert [a.amount_fen for a in await entries(ctx, account.id, EntryKind.ADJUSTMENT)] == [-270]


async def test_a_cancelled_package_is_not_charged_for_the_next_cycle(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=3000)
    addon = await product(ctx, staff, fee_fen=500, kind="addon")
    await orders.do_place_order(ctx, customer, None, [package.code, addon.code])
    move_to(ctx, beijing(2026, 11, 15, 9))
    await orders.do_cancel_product(ctx, customer, None, addon.code)
    move_to(ctx, beijing(2026, 12, 1, 2))
    await statements.do_close_cycle(ctx, "2026-11")
    account = await account_of(ctx, customer)
    rents = [
        (e.detail["product_code"], e.amount_fen) for e in await entries(ctx, account.id, "rent")
    ]
    assert rents == [(package.code, 3000), (addon.code, 500), (package.code, 3000)]


async def test_credit_alerts_at_80_and_100_percent(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=0, rates={"call.video": rate("100", "60/60")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    await do_set_credit_limit(ctx, customer, None, 10_000)
    account = await account_of(ctx, customer)
    await use(ctx, customer, "call.video", 79 * 60)
    await rating.do_rate_pending(ctx)
    assert [n.kind for n in await notices.list_notices(ctx, account.id)].count("credit_80") == 0
    await use(ctx, customer, "call.video", 60)
    await rating.do_rate_pending(ctx)
    kinds = [n.kind for n in await notices.list_notices(ctx, account.id)]
    assert kinds.count("credit_80") == 1
    await use(ctx, customer, "call.video", 20 * 60)
    await rating.do_rate_pending(ctx)
    kinds = [n.kind for n in await notices.list_notices(ctx, account.id)]
    assert kinds.count("credit_100") == 1 and kinds.count("credit_80") == 1


async def test_credit_limit_must_be_within_the_operators_bounds(
    ctx: Context, customer: Principal
) -> None:
    assert await code_of(do_set_credit_limit(ctx, customer, None, 5)) == (
        "credit_limit_out_of_bounds"
    )
    assert await code_of(do_set_credit_limit(ctx, customer, None, 10**12)) == (
        "credit_limit_out_of_bounds"
    )


async def test_lawful_hold_blocks_service_but_rent_is_still_charged(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=3000, rates={"call.video": rate("10", "6/6")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    account = await account_of(ctx, customer)
    await lifecycle.do_hold(ctx, staff, account.id, "公安机关协助执行通知书 2026-118")
    assert await code_of(credit.check_may_start(ctx, customer.user_id, "call.video")) == (
        "billing_held"
    )
    assert await code_of(lifecycle.do_hold(ctx, customer, account.id, "x")) == "forbidden"
    move_to(ctx, beijing(2026, 12, 1, 2))
    await statements.do_close_cycle(ctx, "2026-11")
    rents = [e.amount_fen for e in await entries(ctx, account.id, EntryKind.RENT)]
    assert rents == [3000, 3000]  # December's rent, charged during the hold
    await lifecycle.do_release(ctx, staff, account.id, "解除")
    assert await credit.check_may_start(ctx, customer.user_id, "call.video") is None


async def test_termination_on_request_completes_only_after_everything_is_paid(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Ordered 1 Nov (30.00 due 10 Nov, unpaid), terminated on 16 Nov: 15 unused days are
    returned (-15.00) and 11-16 Nov cost 6 × 0.3 % × 30.00 = 0.54 in late fees, so the
    final statement asks 30.00 + 0.54 - 15.00 = 15.54."""
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=3000, rates={"call.video": rate("10", "6/6")})
    await orders.do_place_order(ctx, customer, None, [package.code])
    move_to(ctx, beijing(2026, 11, 16, 9))
    account, final = await lifecycle.do_request_termination(ctx, customer, None)
    assert account.state == "terminating"
    assert final.kind == "final" and final.total_due_fen == 1554
    # the package has ended, and nothing new can be ordered meanwhile
    assert await credit.check_may_start(ctx, customer.user_id, "call.video") is None
    reorder = orders.do_place_order(ctx, customer, None, [package.code])
    assert await code_of(reorder) == "billing_terminating"
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account.id, 1554, "bank_transfer", key="final")
    )
    assert (await account_of(ctx, customer)).state == "terminated"
    again = await lifecycle.do_request_termination(ctx, customer, None)
    assert again[1].id == final.id


async def test_suspension_waits_for_staff_when_so_configured(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    ctx.settings.billing_suspension_mode = "confirm"
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=10_000)
    await orders.do_place_order(ctx, customer, None, [package.code])
    account = await account_of(ctx, customer)
    move_to(ctx, beijing(2026, 12, 15, 9))
    review = await dunning.do_review_account(ctx, account.id)
    assert review.changed_to is None and review.state == "active"
    [row] = await dunning.dunning_list(ctx)
    assert row["account_id"] == account.id and row["suspend_after"] == "2026-12-10"
    await lifecycle.do_confirm_suspension(ctx, staff, account.id)
    assert (await account_of(ctx, customer)).state == "suspended"


async def test_organisation_members_are_billed_to_the_organisation_and_only_admins_manage_it(
    ctx: Context, staff: Principal
) -> None:
    admin_user, org = await register_org(ctx, 81)
    admin_user = await status.do_approve(ctx, staff, admin_user.id)
    admin = principal_for(admin_user, "", "cli")
    member_user = await registration.do_create_admin(
        ctx, "member81x", "correct horse battery", "subscriber"
    )
    async with ctx.db.session() as s:
        row = await s.get(type(member_user), member_user.id)
        assert row is not None
        row.organisation_id = org.id
    member = principal_for(row, "", "cli")
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=0, rates={"call.video": rate("60", "60/60")})
    await orders.do_place_order(ctx, admin, None, [package.code])
    await use(ctx, member, "call.video", 60)
    await rating.do_rate_pending(ctx)
    account = await account_for_actor(ctx, admin, None)
    assert account.organisation_id == org.id
    assert [e.amount_fen for e in await entries(ctx, account.id, EntryKind.USAGE)] == [60]
    assert await code_of(account_for_actor(ctx, member, None)) == "billing_account_not_found"


async def test_cli_closes_a_cycle_with_progress_and_twice_changes_nothing(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    move_to(ctx, beijing(2026, 11, 1, 9))
    package = await product(ctx, staff, fee_fen=1000)
    await orders.do_place_order(ctx, customer, None, [package.code])
    # the CLI reads the real clock: November has ended by then (the default close day is 25)
    first = await run_cli(ctx, "billing", "close", "--cycle", "2026-10")
    assert first.exit_code == 0, first.output
    assert "statements issued" in first.output
    bad = await run_cli(ctx, "billing", "close", "--cycle", "2026-13")
    assert bad.exit_code == 1 and "invalid_cycle" in bad.output
