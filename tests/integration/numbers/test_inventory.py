"""The inventory on both databases: import with its source and attribution, search of every
kind, holds (races, lapses, limits), assignment that rents the number, release into a
quarantine that never rings the former holder, blocking, and organisations' members."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import make_settings, own_database
from tests.integration.numbers.conftest import (
    STANDARD_FEN,
    fresh_range,
    import_range,
    org_with_member,
    person,
)
from yuntong.accounts.auth import Principal
from yuntong.billing.models import LedgerEntry, Subscription
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.migrate import upgrade
from yuntong.numbers import assignment, blocking, selection
from yuntong.numbers.directory import user_for_number
from yuntong.numbers.inventory import Attribution, BlockSource, do_import_block
from yuntong.numbers.models import NumberEvent, NumberState, PhoneNumber
from yuntong.numbers.selection import NumberQuery
from yuntong.services import build_context

pytestmark = pytest.mark.usefixtures("tiers")


@pytest.fixture
async def ctx(
    db_url: str, tmp_path: Path, settings_overrides: dict[str, Any]
) -> AsyncIterator[Context]:
    """A database of each test's own, on the session's backend: the session's shared database
    also serves live servers whose billing workers issue statements and notices meanwhile, and
    these tests open accounts whose first statements they issue."""
    backend = "sqlite" if db_url.startswith("sqlite") else "postgres"
    async with own_database(backend, tmp_path) as url:
        upgrade(url)
        settings = make_settings(tmp_path / "var", url, **settings_overrides)
        context = build_context(settings, clock=FrozenClock())
        try:
            yield context
        finally:
            await context.db.dispose()


def _advance(ctx: Context, **delta: float) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(**delta)


async def _events(ctx: Context, e164: str) -> list[tuple[str, str | None, str | None]]:
    async with ctx.db.session() as s:
        query = (
            select(NumberEvent.action, NumberEvent.from_state, NumberEvent.to_state)
            .join(PhoneNumber, PhoneNumber.id == NumberEvent.number_id)
            .where(PhoneNumber.e164 == e164)
            .order_by(NumberEvent.id)
        )
        return [tuple(r) for r in (await s.execute(query)).all()]  # type: ignore[misc]


async def _code(coro: object) -> str:
    with pytest.raises(YuntongError) as caught:
        await coro  # type: ignore[misc]
    return caught.value.code


async def test_import_keeps_the_source_and_attribution_and_skips_what_exists(
    ctx: Context, staff: Principal
) -> None:
    start, end = fresh_range(50)
    first = await import_range(ctx, staff, start, end)
    assert (first.imported, first.skipped, first.invalid) == (50, 0, [])
    again = await import_range(ctx, staff, start, end)
    assert (again.imported, again.skipped, again.block_id) == (0, 50, None)
    found = await selection.list_numbers(
        ctx, staff, NumberQuery(prefix=start[:7], states=list(NumberState))
    )
    assert len(found) == 50
    number = found[0]
    assert number.state == NumberState.AVAILABLE and number.block_id == first.block_id
    assert number.province is not None and number.province_en is not None  # 139: known
    assert number.carrier == "中国移动"
    assert await _events(ctx, number.e164) == [("import", None, "available")]


async def test_import_refuses_a_block_without_source_and_counts_invalid_numbers(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    source = BlockSource(carrier="中国移动", source_ref=" ")
    assert await _code(do_import_block(ctx, staff, ["13800138000"], source)) == (
        "number_source_required"
    )
    good = BlockSource(carrier="中国电信", source_ref="合同 2026-7")
    assert await _code(do_import_block(ctx, customer, ["13800138000"], good)) == "forbidden"
    start, _ = fresh_range()
    result = await do_import_block(ctx, staff, [start, "12345", "+1 650 253 0000"], good)
    assert result.imported == 1
    assert result.invalid == [("12345", "invalid"), ("+1 650 253 0000", "invalid")]


async def test_operator_attribution_for_segments_the_geocoder_does_not_know(
    ctx: Context, staff: Principal
) -> None:
    head = f"165{fresh_range()[0][3:7]}"
    plain = BlockSource(carrier="中国移动", source_ref="转售批文 9")
    unknown = await do_import_block(ctx, staff, [f"{head}0001"], plain)
    told = BlockSource(
        carrier="中国移动",
        source_ref="转售批文 9",
        attribution=Attribution("浙江省", "杭州市", "Zhejiang", "Hangzhou"),
    )
    await do_import_block(ctx, staff, [f"{head}0002"], told)
    assert unknown.imported == 1
    rows = await selection.search(ctx, NumberQuery(prefix=head))
    by_number = {r.national: r for r in rows}
    assert by_number[f"{head}0001"].province is None
    assert by_number[f"{head}0001"].place("en") is None  # shown as unknown
    assert by_number[f"{head}0002"].place("zh-CN") == "浙江省 杭州市"
    assert by_number[f"{head}0002"].place("en") == "Hangzhou, Zhejiang"
    assert len(await selection.search(ctx, NumberQuery(province="浙江", prefix=head))) == 1


async def test_search_by_each_kind(ctx: Context, staff: Principal) -> None:
    start, end = fresh_range()
    head = start[:7]
    await import_range(ctx, staff, start, end)
    fixed = BlockSource(carrier="中国电信", source_ref="固话批文 3")
    await do_import_block(ctx, staff, ["075512340000", "075512341122"], fixed)

    async def nationals(**query: object) -> set[str]:
        found = await selection.search(ctx, NumberQuery(limit=200, **query))  # type: ignore[arg-type]
        return {r.national for r in found}

    assert len(await nationals(prefix=head)) == 100
    assert await nationals(prefix=head, ends_with="77") == {f"{head}0077"}
    assert await nationals(prefix=head, contains="0055") == {f"{head}0055"}
    assert await nationals(prefix=head, pattern="AABB") == {f"{head}00{d}{d}" for d in "123456789"}
    assert await nationals(prefix="0755 1234") == {"75512340000", "75512341122"}
    assert await nationals(province="广东", city="深圳", ends_with="1122") >= {"75512341122"}
    assert await nationals(province="Guangdong", city="Shenzhen", prefix="755") >= {"75512341122"}
    assert await nationals(kind="fixed_line", prefix="7551234") == {"75512340000", "75512341122"}
    assert await _code(selection.search(ctx, NumberQuery(pattern="XYZ"))) == "validation_failed"
    assert await _code(selection.search(ctx, NumberQuery(contains="1%"))) == "validation_failed"


async def test_two_customers_racing_for_a_number_one_wins(
    ctx: Context, staff: Principal, customer: Principal, other: Principal
) -> None:
    start, _ = fresh_range()
    await import_range(ctx, staff, start, start)
    results = await asyncio.gather(
        selection.do_reserve(ctx, customer, start),
        selection.do_reserve(ctx, other, start),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, selection.NumberView)]
    lost = [r for r in results if isinstance(r, YuntongError)]
    assert len(won) == 1 and [e.code for e in lost] == ["number_taken"]
    assert await selection.search(ctx, NumberQuery(prefix=start)) == []


async def test_a_hold_lapses_by_itself_and_is_limited_per_customer(
    ctx: Context, staff: Principal, customer: Principal, other: Principal
) -> None:
    start, end = fresh_range(10)
    await import_range(ctx, staff, start, end)
    held = await selection.do_reserve(ctx, customer, start)
    assert held.state == NumberState.RESERVED
    assert (await selection.do_reserve(ctx, customer, start)).reserved_until == held.reserved_until
    assert await _code(selection.do_reserve(ctx, other, start)) == "number_taken"
    _advance(ctx, minutes=ctx.settings.numbers_hold_minutes + 1)
    assert [r.national for r in await selection.search(ctx, NumberQuery(prefix=start))] == [start]
    assert await _code(assignment.do_assign(ctx, customer, start)) == "number_hold_lapsed"
    assert (await selection.do_reserve(ctx, other, start)).state == NumberState.RESERVED
    assert [a for a, _, _ in await _events(ctx, held.e164)] == [
        "import",
        "reserve",
        "lapse",
        "reserve",
    ]
    numbers = [f"{start[:-1]}{d}" for d in range(1, 10)]
    for national in numbers[: ctx.settings.numbers_max_holds]:
        await selection.do_reserve(ctx, customer, national)
    assert await _code(selection.do_reserve(ctx, customer, numbers[-1])) == "number_hold_limit"


async def test_holds_asked_for_at_once_stay_within_the_limit(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    """Several holds asked for at the same moment (two tabs, a retrying client) never add up
    to more than the limit: the holds of one customer are counted one request at a time."""
    start, end = fresh_range(10)
    await import_range(ctx, staff, start, end)
    numbers = [f"{start[:-1]}{d}" for d in range(10)]
    results = await asyncio.gather(
        *(selection.do_reserve(ctx, customer, n) for n in numbers), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, selection.NumberView)]
    refused = {r.code for r in results if isinstance(r, YuntongError)}
    assert len(won) == ctx.settings.numbers_max_holds
    assert refused == {"number_hold_limit"}
    assert len(won) + sum(isinstance(r, YuntongError) for r in results) == len(numbers)


async def test_confirming_rents_the_number_and_it_rings_its_holder(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    start = fresh_range()[0][:-1] + "1"  # a plain number: the standard tier
    await import_range(ctx, staff, start, start)
    await selection.do_reserve(ctx, customer, start)
    mine = await assignment.do_assign(ctx, customer, start)
    assert mine.state == NumberState.ASSIGNED and mine.holder_user_id == customer.user_id
    assert mine.tier == "standard" and mine.monthly_rent_fen == STANDARD_FEN
    assert await assignment.do_assign(ctx, customer, start) == mine  # a retry
    assert await user_for_number(ctx, staff.user_id, mine.e164) == customer.user_id
    assert [n.e164 for n in await assignment.my_numbers(ctx, customer)] == [mine.e164]
    async with ctx.db.session() as s:
        rents = (await s.execute(select(LedgerEntry).where(LedgerEntry.kind == "rent"))).scalars()
        mine_rents = [e for e in rents if e.detail.get("product_code") == "number.standard"]
    assert len(mine_rents) == 1 and 0 < mine_rents[0].amount_fen <= STANDARD_FEN


async def test_a_released_number_never_rings_its_former_holder(
    ctx: Context, staff: Principal, customer: Principal, other: Principal
) -> None:
    start = fresh_range()[0][:-1] + "1"  # a plain number: the standard tier
    await import_range(ctx, staff, start, start)
    await selection.do_reserve(ctx, customer, start)
    held = await assignment.do_assign(ctx, customer, start)
    assert await _code(assignment.do_release(ctx, other, start)) == "number_not_found"
    released = await assignment.do_release(ctx, customer, start)
    assert released.state == NumberState.QUARANTINED and released.user_id is None
    assert await _code(user_for_number(ctx, other.user_id, held.e164)) == "number_unallocated"
    async with ctx.db.session() as s:
        sub = (
            await s.execute(select(Subscription).order_by(Subscription.id.desc()).limit(1))
        ).scalar_one()
    assert sub.ends_at is not None  # the rent ends with the cycle
    assert await selection.search(ctx, NumberQuery(prefix=start)) == []
    assert await _code(selection.do_reserve(ctx, other, start)) == "number_taken"
    assert await _code(selection.do_reserve(ctx, staff, start, other.user_id)) == (
        "number_transition_refused"
    )
    _advance(ctx, days=ctx.settings.numbers_quarantine_days, seconds=1)
    await selection.do_reserve(ctx, other, start)
    await assignment.do_assign(ctx, other, start)
    assert await user_for_number(ctx, customer.user_id, held.e164) == other.user_id
    assert [a for a, _, _ in await _events(ctx, held.e164)][-3:] == [
        "recycle",
        "reserve",
        "assign",
    ]


async def test_staff_block_and_unblock_and_assign_on_a_customers_behalf(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    start, end = fresh_range(2)
    await import_range(ctx, staff, start, end)
    assert await _code(blocking.do_block(ctx, customer, start, "x")) == "forbidden"
    blocked = await blocking.do_block(ctx, staff, start, "complaint 42")
    assert blocked.state == NumberState.BLOCKED
    assert await _code(selection.do_reserve(ctx, customer, start)) == "number_taken"
    await blocking.do_unblock(ctx, staff, start, "resolved")
    assert await _code(assignment.do_assign(ctx, customer, end)) == "number_hold_lapsed"
    done = await assignment.do_assign(ctx, staff, end, for_user_id=customer.user_id)
    assert done.holder_user_id == customer.user_id
    assert await _code(blocking.do_block(ctx, staff, end, "x")) == "number_transition_refused"


async def test_an_organisation_gives_its_number_to_a_member(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    admin, member = await org_with_member(ctx, staff)
    start, _ = fresh_range()
    await import_range(ctx, staff, start, start)
    assert await _code(selection.do_reserve(ctx, member, start)) == "number_customer_only"
    await selection.do_reserve(ctx, admin, start)
    held = await assignment.do_assign(ctx, admin, start)
    assert held.holder_organisation_id == admin.organisation_id and held.user_id is None
    assert await _code(user_for_number(ctx, customer.user_id, held.e164)) == "number_unallocated"
    outsider = await person(ctx)
    assert await _code(assignment.do_assign_member(ctx, admin, start, outsider.user_id)) == (
        "number_member_invalid"
    )
    assert await _code(assignment.do_assign_member(ctx, member, start, member.user_id)) == (
        "number_not_found"
    )
    given = await assignment.do_assign_member(ctx, admin, start, member.user_id)
    assert given.user_id == member.user_id
    assert await user_for_number(ctx, customer.user_id, held.e164) == member.user_id
    assert [n.e164 for n in await assignment.my_numbers(ctx, member)] == [held.e164]
    assert [n.e164 for n in await assignment.my_numbers(ctx, admin)] == [held.e164]


async def test_a_number_in_no_priced_tier_is_not_assigned(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    start, _ = fresh_range()
    abcde = start[:-5] + "12345"  # 139nnnn0000 → …12345: ABCDE, in no tier
    await do_import_block(ctx, staff, [abcde], BlockSource("中国移动", "批文 5"))
    await selection.do_reserve(ctx, customer, abcde)
    assert await _code(assignment.do_assign(ctx, customer, abcde)) == "number_tier_unpriced"


async def test_a_numbers_rent_is_neither_ordered_nor_cancelled_without_the_number(
    ctx: Context, staff: Principal, customer: Principal
) -> None:
    from yuntong.billing.orders.orders import do_cancel_product, do_place_order

    assert await _code(do_place_order(ctx, customer, None, ["number.standard"])) == (
        "product_not_found"
    )
    plain = fresh_range()[0][:-1] + "1"
    await import_range(ctx, staff, plain, plain)
    await assignment.do_assign(ctx, staff, plain, for_user_id=customer.user_id)
    assert await _code(do_cancel_product(ctx, customer, None, "number.standard")) == (
        "number_rent_with_number"
    )


async def test_a_large_block_goes_in_batches(ctx: Context, staff: Principal) -> None:
    from yuntong.numbers.inventory import expand_range

    head = fresh_range()[0][:7]
    seen: list[tuple[int, int]] = []
    numbers = expand_range(f"{head}0000", f"{head}2499")
    source = BlockSource("中国移动", "批文 2500")
    result = await do_import_block(
        ctx, staff, numbers, source, progress=lambda done, total: seen.append((done, total))
    )
    assert result.imported == 2500
    assert seen == [(2000, 2500), (2500, 2500)]
