"""What a statement's lines and a subscription list offer: the server says which lines may be
disputed now and for how much (``can_dispute``, ``disputable_fen``), and which subscriptions run
and may be cancelled (``live``, ``can_cancel``); the pages show only that. Each flag agrees
with what the action itself then accepts. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.integration.billing.conftest import person
from tests.integration.billing.test_disputes import api, customer, login, statement_with
from yuntong.billing.disputes.disputes import (
    disputable_lines,
    do_open_dispute,
    do_resolve_by_credit,
)
from yuntong.billing.ledger.rents import is_live
from yuntong.billing.models import EntryKind, Subscription
from yuntong.billing.orders.orders import subscription_flags
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError

__all__ = ["api"]  # the fixture, used here by name


def lines_by_entry(statement: dict[str, Any]) -> dict[int | None, dict[str, Any]]:
    return {line["entry_id"]: line for line in statement["lines"]}


async def test_a_line_may_be_disputed_for_what_is_left_and_not_twice(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    statement, [call, other] = await statement_with(ctx, account, 5000, 700)
    auth = await login(api, me)

    async def seen() -> dict[int | None, dict[str, Any]]:
        resp = await api.get(f"/api/v1/billing/statements/{statement.id}", headers=auth)
        assert resp.status_code == 200, resp.text
        return lines_by_entry(resp.json())

    first = await seen()
    assert first[None]["kind"] == "previous_balance"
    assert (first[None]["can_dispute"], first[None]["disputable_fen"]) == (False, 0)
    assert (first[call.id]["can_dispute"], first[call.id]["disputable_fen"]) == (True, 5000)
    assert (first[other.id]["can_dispute"], first[other.id]["disputable_fen"]) == (True, 700)

    # a dispute is open: the line is not offered again, and a second dispute is refused
    opened = await do_open_dispute(ctx, me, call.id, "Charged for 20 minutes, talked 12", 2000)
    assert (await seen())[call.id]["can_dispute"] is False
    with pytest.raises(YuntongError) as twice:
        await do_open_dispute(ctx, me, call.id, "again")
    assert twice.value.code == "dispute_exists"

    # 15.00 credited: 35.00 is left to dispute, and exactly that is accepted
    await do_resolve_by_credit(ctx, staff, opened.dispute.id, 1500, "12 of 20 min")
    after = await seen()
    assert (after[call.id]["can_dispute"], after[call.id]["disputable_fen"]) == (True, 3500)
    assert (await disputable_lines(ctx, statement.id))[call.id] == 3500
    with pytest.raises(YuntongError) as too_much:
        await do_open_dispute(ctx, me, call.id, "the rest and more", 3501)
    assert too_much.value.code == "invalid_amount"
    rest = await do_open_dispute(ctx, me, call.id, "the rest")
    assert rest.dispute.amount_fen == 3500


async def test_payments_and_fully_credited_lines_are_not_disputable(ctx: Context) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    statement, [paid] = await statement_with(ctx, account, -2000, kind=EntryKind.PAYMENT)
    charges, [line] = await statement_with(ctx, account, 900)
    assert await disputable_lines(ctx, statement.id) == {paid.id: 0}
    with pytest.raises(YuntongError) as refused:
        await do_open_dispute(ctx, me, paid.id, "a payment")
    assert refused.value.code == "invalid_amount"

    opened = await do_open_dispute(ctx, me, line.id, "never called")
    await do_resolve_by_credit(ctx, staff, opened.dispute.id, 900, "removed")
    assert await disputable_lines(ctx, charges.id) == {line.id: 0}
    with pytest.raises(YuntongError) as nothing_left:
        await do_open_dispute(ctx, me, line.id, "again")
    assert nothing_left.value.code == "invalid_amount"


async def test_subscription_flags_follow_the_server_clock(ctx: Context) -> None:
    now = ctx.clock.now()
    running = Subscription(account_id=1, product_id=1, starts_at=now - timedelta(days=3))
    assert subscription_flags(running, now) == {"live": True, "can_cancel": True}
    running.ends_at = now + timedelta(days=10)  # cancelled for the cycle's end
    assert subscription_flags(running, now) == {"live": True, "can_cancel": False}
    assert is_live(running, now + timedelta(days=10)) is False
    assert subscription_flags(running, now + timedelta(days=10)) == {
        "live": False,
        "can_cancel": False,
    }
    later = Subscription(account_id=1, product_id=1, starts_at=now + timedelta(days=1))
    assert subscription_flags(later, now) == {"live": False, "can_cancel": False}
