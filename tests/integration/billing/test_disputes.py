"""Billing disputes (VP 6): a customer disputes a line, the operator investigates, then explains
or corrects it with one credit note. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import unique
from tests.integration.billing.conftest import PASSWORD, account_of, move_to, person
from yuntong.accounts.auth import Principal
from yuntong.billing import store
from yuntong.billing.api.disputes import router
from yuntong.billing.disputes.disputes import (
    DisputeView,
    do_investigate,
    do_open_dispute,
    do_resolve_by_credit,
    do_resolve_by_explanation,
    get_dispute,
    list_disputes,
    open_disputed_fen,
)
from yuntong.billing.models import (
    BillingAccount,
    Dispute,
    DisputeEvent,
    EntryKind,
    LedgerEntry,
    Statement,
    StatementLine,
)
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.notifications.notices import list_notices, notice_text

PERIOD_START = datetime(2025, 11, 24, 16, 0, tzinfo=UTC)  # 25 Nov 00:00 in Shanghai


# -- builder: the rows a closed statement leaves behind ---------------------------------------


async def customer(ctx: Context) -> tuple[Principal, BillingAccount]:
    who = await person(ctx)
    return who, await account_of(ctx, who)


async def statement_with(
    ctx: Context, account: BillingAccount, *amounts_fen: int, kind: str = EntryKind.USAGE
) -> tuple[Statement, list[LedgerEntry]]:
    """An issued statement whose lines are ledger entries of these amounts."""
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        entries = [
            await store.add_entry(
                s,
                account_id=account.id,
                kind=kind,
                amount_fen=fen,
                occurred_at=PERIOD_START + timedelta(days=1, minutes=i),
                posted_at=PERIOD_START + timedelta(days=1, minutes=i),
                idempotency_key=unique("line"),
            )
            for i, fen in enumerate(amounts_fen)
        ]
        statement = Statement(
            number=unique("ST-"),
            account_id=account.id,
            cycle=unique("c")[:16],
            period_start=PERIOD_START,
            period_end=PERIOD_START + timedelta(days=31),
            issued_at=now,
            due_on=date(2026, 1, 20),
            previous_balance_fen=0,
            payments_fen=0,
            charges_fen=sum(amounts_fen),
            total_due_fen=sum(amounts_fen),
        )
        s.add(statement)
        await s.flush()
        s.add_all(StatementLine(statement_id=statement.id, entry_id=e.id) for e in entries)
    return statement, entries


async def credit_entries(ctx: Context, account_id: int) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(
        LedgerEntry.account_id == account_id, LedgerEntry.kind == EntryKind.CREDIT
    )
    async with ctx.db.session() as s:
        return list((await s.execute(query.order_by(LedgerEntry.id))).scalars())


async def balance(ctx: Context, account_id: int) -> int:
    async with ctx.db.session() as s:
        return await store.balance(s, account_id)


async def count(ctx: Context, model: Any) -> int:
    async with ctx.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


def code_of(exc: pytest.ExceptionInfo[YuntongError]) -> str:
    return exc.value.code


# -- resolving by credit -----------------------------------------------------------------------


async def test_full_credit_lowers_the_balance_by_exactly_the_line_once(ctx: Context) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    statement, [line] = await statement_with(ctx, account, 3000)  # a 30.00 yuan line
    assert await balance(ctx, account.id) == 3000

    opened = await do_open_dispute(ctx, me, line.id, "I never made this call")
    assert opened.dispute.amount_fen == 3000  # the whole line unless told otherwise
    resolved = await do_resolve_by_credit(ctx, staff, opened.dispute.id, 3000, "Wrongly rated")

    [credit] = await credit_entries(ctx, account.id)
    assert credit.amount_fen == -3000
    assert credit.idempotency_key == f"dispute:{opened.dispute.id}"
    assert credit.reference == str(opened.dispute.id)
    assert credit.detail["statement_number"] == statement.number
    assert credit.detail["entry_id"] == line.id
    assert resolved.dispute.state == "credited"
    assert resolved.dispute.credit_entry_id == credit.id
    assert resolved.credited_fen == 3000
    assert await balance(ctx, account.id) == 0

    with pytest.raises(YuntongError) as again:
        await do_resolve_by_credit(ctx, staff, opened.dispute.id, 3000, "again")
    assert (code_of(again), again.value.params["state"]) == ("invalid_transition", "credited")
    assert len(await credit_entries(ctx, account.id)) == 1
    assert await balance(ctx, account.id) == 0


async def test_partial_dispute_and_partial_credit(ctx: Context) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    _, [line] = await statement_with(ctx, account, 5000)
    opened = await do_open_dispute(ctx, me, line.id, "Charged for 20 minutes, talked 12", 2000)

    with pytest.raises(YuntongError) as too_much:
        await do_resolve_by_credit(ctx, staff, opened.dispute.id, 2001, "more than disputed")
    assert code_of(too_much) == "invalid_amount"
    assert await credit_entries(ctx, account.id) == []

    resolved = await do_resolve_by_credit(ctx, staff, opened.dispute.id, 1500, "12 of 20 min")
    assert [e.amount_fen for e in await credit_entries(ctx, account.id)] == [-1500]
    assert resolved.credited_fen == 1500
    assert await balance(ctx, account.id) == 3500


async def test_explanation_moves_no_money(ctx: Context) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "support_agent")
    _, [line] = await statement_with(ctx, account, 1200)
    opened = await do_open_dispute(ctx, me, line.id, "What is this?")

    with pytest.raises(YuntongError) as silent:
        await do_resolve_by_explanation(ctx, staff, opened.dispute.id, "   ")
    assert code_of(silent) == "explanation_required"  # an explanation must explain something

    resolved = await do_resolve_by_explanation(
        ctx, staff, opened.dispute.id, "Roaming call to +86 10 on 26 Nov, 4 minutes at 3.00/min"
    )
    assert resolved.dispute.state == "explained"
    assert resolved.dispute.resolved_at == ctx.clock.now()
    assert resolved.dispute.credit_entry_id is None
    assert await credit_entries(ctx, account.id) == []
    assert await balance(ctx, account.id) == 1200


# -- what the customer sees --------------------------------------------------------------------


async def test_customer_sees_every_step_in_order(ctx: Context) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    statement, [line] = await statement_with(ctx, account, 800)
    opened = await do_open_dispute(ctx, me, line.id, "Double charge")
    move_to(ctx, ctx.clock.now() + timedelta(hours=3))
    await do_investigate(ctx, staff, opened.dispute.id, "Checking the switch records")
    move_to(ctx, ctx.clock.now() + timedelta(days=1))
    await do_resolve_by_credit(ctx, staff, opened.dispute.id, 800, "Duplicate record removed")

    seen = await get_dispute(ctx, me, opened.dispute.id)
    assert [(e.action, e.note) for e in seen.events] == [
        ("opened", "Double charge"),
        ("investigating", "Checking the switch records"),
        ("credited", "Duplicate record removed"),
    ]
    assert [e.at for e in seen.events] == sorted(e.at for e in seen.events)
    assert seen.statement_number == statement.number

    notices = sorted(await list_notices(ctx, account.id), key=lambda n: n.id)
    assert [n.kind for n in notices] == ["dispute_update"] * 3
    assert [n.params["state"] for n in notices] == ["open", "investigating", "credited"]
    # stored as codes, read in the reader's language
    assert "已更正并退费" in notice_text(notices[-1], "zh-CN")[1]
    assert "已受理" not in notice_text(notices[0], "en")[1]
    assert notices[-1].params["note"] == "已退还 8.00 元。Duplicate record removed"
    assert {n.params["number"] for n in notices} == {statement.number}
    assert [d.dispute.id for d in await list_disputes(ctx, me, None)] == [opened.dispute.id]


async def test_another_customer_gets_not_found(ctx: Context) -> None:
    me, account = await customer(ctx)
    stranger, _ = await customer(ctx)
    _, [line] = await statement_with(ctx, account, 3000)
    mine = await do_open_dispute(ctx, me, line.id, "Wrong")

    with pytest.raises(YuntongError) as open_theirs:
        await do_open_dispute(ctx, stranger, line.id, "Not mine to dispute")
    assert code_of(open_theirs) == "statement_not_found"
    with pytest.raises(YuntongError) as read_theirs:
        await get_dispute(ctx, stranger, mine.dispute.id)
    assert code_of(read_theirs) == "dispute_not_found"
    with pytest.raises(YuntongError) as list_theirs:
        await list_disputes(ctx, stranger, account.id)
    assert code_of(list_theirs) == "billing_account_not_found"
    assert await list_disputes(ctx, stranger, None) == []
    with pytest.raises(YuntongError) as act:
        await do_investigate(ctx, me, mine.dispute.id, "customers cannot investigate")
    assert code_of(act) == "forbidden"


# -- what cannot be disputed -------------------------------------------------------------------


async def test_amount_above_the_line_is_refused_and_nothing_is_written(ctx: Context) -> None:
    me, account = await customer(ctx)
    _, [line] = await statement_with(ctx, account, 3000)
    for amount in (3001, 0, -5):
        with pytest.raises(YuntongError) as refused:
            await do_open_dispute(ctx, me, line.id, "Too much", amount)
        assert code_of(refused) == "invalid_amount"
    assert (await count(ctx, Dispute), await count(ctx, DisputeEvent)) == (0, 0)
    assert await list_notices(ctx, account.id) == []


async def test_a_line_must_be_a_charge_on_a_statement(ctx: Context) -> None:
    me, account = await customer(ctx)
    _, [payment] = await statement_with(ctx, account, -5000, kind=EntryKind.PAYMENT)
    with pytest.raises(YuntongError) as not_a_charge:
        await do_open_dispute(ctx, me, payment.id, "?")
    assert code_of(not_a_charge) == "invalid_amount"

    async with ctx.db.session() as s:
        unbilled = await store.add_entry(
            s,
            account_id=account.id,
            kind=EntryKind.USAGE,
            amount_fen=100,
            occurred_at=ctx.clock.now(),
            posted_at=ctx.clock.now(),
            idempotency_key=unique("unbilled"),
        )
    for entry_id in (unbilled.id, 987_654_321):
        with pytest.raises(YuntongError) as missing:
            await do_open_dispute(ctx, me, entry_id, "Not billed yet")
        assert code_of(missing) == "statement_not_found"


async def test_one_open_dispute_per_line_and_never_more_than_the_line_back(
    ctx: Context,
) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    _, [line] = await statement_with(ctx, account, 3000)
    first = await do_open_dispute(ctx, me, line.id, "Wrong", 1000)
    with pytest.raises(YuntongError) as twice:
        await do_open_dispute(ctx, me, line.id, "Still wrong")
    assert code_of(twice) == "dispute_exists"

    await do_resolve_by_credit(ctx, staff, first.dispute.id, 1000, "Agreed")
    second = await do_open_dispute(ctx, me, line.id, "The rest is wrong too")
    assert second.dispute.amount_fen == 2000  # what was not given back yet
    await do_resolve_by_credit(ctx, staff, second.dispute.id, 2000, "Agreed")
    with pytest.raises(YuntongError) as nothing_left:
        await do_open_dispute(ctx, me, line.id, "And again")
    assert code_of(nothing_left) == "invalid_amount"
    assert await balance(ctx, account.id) == 0


async def test_the_same_step_taken_twice_at_once_happens_once(ctx: Context) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    _, [line] = await statement_with(ctx, account, 3000)
    opened = await asyncio.gather(
        *(do_open_dispute(ctx, me, line.id, "Wrong") for _ in range(3)), return_exceptions=True
    )
    [dispute] = [o for o in opened if isinstance(o, DisputeView)]
    assert sorted(o.code for o in opened if isinstance(o, YuntongError)) == ["dispute_exists"] * 2

    resolved = await asyncio.gather(
        *(do_resolve_by_credit(ctx, staff, dispute.dispute.id, 3000, "Agreed") for _ in range(3)),
        return_exceptions=True,
    )
    refused = [r.code for r in resolved if isinstance(r, YuntongError)]
    assert refused == ["invalid_transition"] * 2
    assert len(await credit_entries(ctx, account.id)) == 1
    assert [e.action for e in (await get_dispute(ctx, me, dispute.dispute.id)).events] == [
        "opened",
        "credited",
    ]


async def test_illegal_transitions_are_refused(ctx: Context) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    _, [line] = await statement_with(ctx, account, 3000)
    opened = await do_open_dispute(ctx, me, line.id, "Wrong")
    await do_investigate(ctx, staff, opened.dispute.id, "")
    with pytest.raises(YuntongError) as twice:
        await do_investigate(ctx, staff, opened.dispute.id, "")
    assert code_of(twice) == "invalid_transition"
    await do_resolve_by_explanation(ctx, staff, opened.dispute.id, "The charge is right")
    for step in (
        do_investigate(ctx, staff, opened.dispute.id, ""),
        do_resolve_by_credit(ctx, staff, opened.dispute.id, 100, "Agreed"),
        do_resolve_by_explanation(ctx, staff, opened.dispute.id, "again"),
    ):
        with pytest.raises(YuntongError) as late:
            await step
        assert (code_of(late), late.value.params["state"]) == ("invalid_transition", "explained")
    assert await credit_entries(ctx, account.id) == []
    with pytest.raises(YuntongError) as missing:
        await do_investigate(ctx, staff, 987_654, "")
    assert code_of(missing) == "dispute_not_found"


async def test_open_disputed_amount_per_statement(ctx: Context) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    november, [a, b] = await statement_with(ctx, account, 3000, 700)
    december, [c] = await statement_with(ctx, account, 450)
    await do_open_dispute(ctx, me, a.id, "Wrong", 1000)
    settled = await do_open_dispute(ctx, me, b.id, "Wrong")
    under_review = await do_open_dispute(ctx, me, c.id, "Wrong")
    await do_investigate(ctx, staff, under_review.dispute.id, "")
    await do_resolve_by_explanation(ctx, staff, settled.dispute.id, "Correct")
    async with ctx.db.session() as s:
        assert await open_disputed_fen(s, account.id) == {november.id: 1000, december.id: 450}


# -- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
async def api(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the disputes routes (included here until the app includes them itself)."""
    from yuntong.app import create_app

    app = create_app(ctx.settings, clock=ctx.clock)
    if not any(getattr(r, "path", "") == "/api/v1/billing/disputes" for r in app.routes):
        app.include_router(router)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def login(client: httpx.AsyncClient, who: Principal) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/login", json={"username": who.username, "password": PASSWORD, "kind": "api"}
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def test_dispute_over_the_api(ctx: Context, api: httpx.AsyncClient) -> None:
    me, account = await customer(ctx)
    stranger, _ = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    statement, [line] = await statement_with(ctx, account, 3000)
    mine, theirs, op = [await login(api, who) for who in (me, stranger, staff)]

    resp = await api.post(
        "/api/v1/billing/disputes",
        json={"entry_id": line.id, "reason": "Never called", "amount_fen": 3000},
        headers=mine,
    )
    assert resp.status_code == 201, resp.text
    dispute_id = resp.json()["id"]
    assert resp.json()["statement_number"] == statement.number
    base = f"/api/v1/billing/disputes/{dispute_id}"

    assert (await api.get(base, headers=theirs)).json()["error"]["code"] == "dispute_not_found"
    forbidden = await api.post(f"{base}/investigate", json={"note": "mine now"}, headers=mine)
    assert forbidden.json()["error"]["code"] == "forbidden"
    no_amount = await api.post(f"{base}/resolve", json={"by": "credit", "note": "x"}, headers=op)
    assert no_amount.status_code == 422
    credit = {"by": "credit", "amount_fen": 3000, "note": "Wrongly rated"}
    assert (await api.post(f"{base}/resolve", json=credit, headers=op)).status_code == 200
    again = await api.post(f"{base}/resolve", json=credit, headers=op)
    assert again.json()["error"]["code"] == "invalid_transition"

    seen = (await api.get(base, headers=mine)).json()
    assert (seen["state"], seen["credited_fen"]) == ("credited", 3000)
    assert [e["action"] for e in seen["events"]] == ["opened", "credited"]
    # the customer sees that the operator acted, not which staff member
    assert [(e["by"], e["actor_id"]) for e in seen["events"]][1] == ("operator", None)
    staff_view = (await api.get(base, headers=op)).json()
    assert staff_view["events"][1]["actor_id"] is not None
    listed = await api.get("/api/v1/billing/disputes", params={"state": "credited"}, headers=mine)
    assert [d["id"] for d in listed.json()] == [dispute_id]
    assert await balance(ctx, account.id) == 0


# -- the operator's explanation (VP 6: investigate, explain, correct) --------------------------


async def test_a_credit_needs_an_explanation_and_nothing_moves_without_one(ctx: Context) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    _, [line] = await statement_with(ctx, account, 3000)
    opened = await do_open_dispute(ctx, me, line.id, "Never called")
    for blank in ("", "   \n\t"):
        with pytest.raises(YuntongError) as silent:
            await do_resolve_by_credit(ctx, staff, opened.dispute.id, 3000, blank)
        assert (code_of(silent), silent.value.fields) == (
            "explanation_required",
            {"note": "required"},
        )
        with pytest.raises(YuntongError) as mute:
            await do_resolve_by_explanation(ctx, staff, opened.dispute.id, blank)
        assert code_of(mute) == "explanation_required"
    assert await credit_entries(ctx, account.id) == []
    assert (await get_dispute(ctx, me, opened.dispute.id)).dispute.state == "open"

    resolved = await do_resolve_by_credit(
        ctx, staff, opened.dispute.id, 3000, "  The call was a test call of our switch.  "
    )
    assert resolved.explanation == "The call was a test call of our switch."
    seen = await get_dispute(ctx, me, opened.dispute.id)
    assert seen.explanation == "The call was a test call of our switch."


async def test_the_customer_reads_the_explanation_over_the_api(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    me, account = await customer(ctx)
    staff = await person(ctx, "operator_admin")
    _, [line, other] = await statement_with(ctx, account, 3000, 500)
    mine, op = [await login(api, who) for who in (me, staff)]
    opened = await api.post(
        "/api/v1/billing/disputes", json={"entry_id": line.id, "reason": "?"}, headers=mine
    )
    base = f"/api/v1/billing/disputes/{opened.json()['id']}"
    assert opened.json()["explanation"] is None  # nothing explained yet

    blank = {"by": "credit", "amount_fen": 3000, "note": "  "}
    for language, message in (("en", "explanation"), ("zh-CN", "说明")):
        refused = await api.post(
            f"{base}/resolve", json=blank, headers={**op, "Accept-Language": language}
        )
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "explanation_required"
        assert message in error["message"]
        assert error["fields"]["note"]["code"] == "required"
    missing = await api.post(
        f"{base}/resolve", json={"by": "credit", "amount_fen": 3000}, headers=op
    )
    assert missing.status_code == 422  # the field itself is required
    assert await credit_entries(ctx, account.id) == []

    why = "Prorated rent applies from the order day; the whole line is credited."
    done = await api.post(f"{base}/resolve", json={**blank, "note": why}, headers=op)
    assert done.status_code == 200, done.text
    seen = (await api.get(base, headers=mine)).json()
    assert (seen["state"], seen["credited_fen"], seen["explanation"]) == ("credited", 3000, why)
    listed = (await api.get("/api/v1/billing/disputes", headers=mine)).json()
    assert [d["explanation"] for d in listed] == [why]

    second = await api.post(
        "/api/v1/billing/disputes", json={"entry_id": other.id, "reason": "?"}, headers=mine
    )
    answer = "This is the connect fee of your call of 26 Nov."
    explained = await api.post(
        f"/api/v1/billing/disputes/{second.json()['id']}/resolve",
        json={"by": "explanation", "note": answer},
        headers=op,
    )
    assert explained.json()["explanation"] == answer
