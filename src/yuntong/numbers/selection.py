"""Number selection (选号, CP 1.1): search the available numbers, hold one for a while
(reserve), let the hold go; holds lapse and quarantines end by themselves.

A hold is time-limited (``numbers_hold_minutes``) and a customer holds at most
``numbers_max_holds`` numbers at once. Lapsed holds and ended quarantines are swept lazily,
before every search and reservation (:func:`do_sweep`): no periodic job is needed, and a
reservation also takes a number whose hold has lapsed but was not swept yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute

from yuntong.accounts import directory, roles
from yuntong.accounts.models import AccountStatus, Role, User
from yuntong.accounts.roles import Actor
from yuntong.core.context import Context
from yuntong.core.db import lock_rows
from yuntong.core.errors import YuntongError
from yuntong.numbers.directory import publish_changed
from yuntong.numbers.inventory import check_number
from yuntong.numbers.machine import NumberAction, move_txn
from yuntong.numbers.models import NumberEvent, NumberState, PhoneNumber
from yuntong.numbers.patterns import PATTERNS
from yuntong.numbers.tiers import TierView, tier_by_pattern

MAX_RESULTS = 200
S = NumberState


@dataclass(frozen=True)
class NumberView:
    """A number as customers and staff see it; ``province`` None: attribution unknown."""

    e164: str
    national: str
    kind: str
    province: str | None
    city: str | None
    province_en: str | None
    city_en: str | None
    carrier: str
    pattern: str
    tier: str | None  # the tier it is (or was) rented in; None: no tier prices it
    monthly_rent_fen: int | None
    state: str
    reserved_until: datetime | None
    quarantine_until: datetime | None
    holder_user_id: int | None
    holder_organisation_id: int | None
    user_id: int | None
    block_id: int

    def place(self, locale: str) -> str | None:
        """ "广东省 深圳市" / "Shenzhen, Guangdong"; None when unknown."""
        if self.province is None:
            return None
        if locale == "en" and self.province_en:
            if self.city_en and self.city_en != self.province_en:
                return f"{self.city_en}, {self.province_en}"
            return self.province_en
        if self.city and self.city != self.province:
            return f"{self.province} {self.city}"
        return self.province


def view_of(row: PhoneNumber, tiers: dict[str, TierView]) -> NumberView:
    tier = tiers.get(row.pattern)
    if row.state == S.ASSIGNED and row.tier:  # rented: the tier it was rented in
        rented = [t for t in tiers.values() if t.code == row.tier]
        tier = rented[0] if rented else tier
    return NumberView(
        e164=row.e164,
        national=row.national,
        kind=row.kind,
        province=row.province,
        city=row.city,
        province_en=row.province_en,
        city_en=row.city_en,
        carrier=row.current_carrier,
        pattern=row.pattern,
        tier=None if tier is None else tier.code,
        monthly_rent_fen=None if tier is None else tier.monthly_rent_fen,
        state=row.state,
        reserved_until=row.reserved_until,
        quarantine_until=row.quarantine_until,
        holder_user_id=row.holder_user_id,
        holder_organisation_id=row.holder_organisation_id,
        user_id=row.user_id,
        block_id=row.block_id,
    )


async def views_of(ctx: Context, rows: list[PhoneNumber]) -> list[NumberView]:
    tiers = await tier_by_pattern(ctx)
    return [view_of(r, tiers) for r in rows]


@dataclass(frozen=True)
class NumberQuery:
    """What a customer looks for; every field narrows the search. Digits only in the digit
    fields (a fixed line's area code with or without its 0)."""

    province: str | None = None
    city: str | None = None
    prefix: str | None = None
    contains: str | None = None
    ends_with: str | None = None
    pattern: str | None = None  # a class of patterns.PATTERNS
    kind: str | None = None
    states: list[str] = field(default_factory=lambda: [S.AVAILABLE.value])
    block_id: int | None = None
    limit: int = 50
    after: str | None = None  # the last national number of the previous page


def _digits_field(name: str, value: str | None, *, strip_zero: bool = False) -> str | None:
    if value is None or value == "":
        return None
    raw = value.strip().replace(" ", "").replace("-", "")
    if raw.startswith("+86"):
        raw = raw[3:]
    if strip_zero:
        raw = raw.lstrip("0")
    if not raw.isdigit() or len(raw) > 12:
        raise YuntongError("validation_failed", fields={name: "invalid"})
    return raw


def _starting(column: InstrumentedAttribute[str], digits: str) -> list[ColumnElement[bool]]:
    """``column`` starts with ``digits``, as a range an index serves in any collation (a LIKE
    prefix is served by neither SQLite's nor PostgreSQL's default index)."""
    bounds = [column >= digits]
    if digits.strip("9"):
        bounds.append(column < str(int(digits) + 1).zfill(len(digits)))
    return bounds


def search_query(q: NumberQuery, dialect: str = "sqlite") -> Select[PhoneNumber]:
    """The statement of a search on a database of ``dialect`` (also what the benchmark
    times)."""
    query = select(PhoneNumber).where(PhoneNumber.state.in_(q.states))
    if q.province:
        like = q.province.strip() + "%"
        query = query.where(
            or_(PhoneNumber.province.like(like), PhoneNumber.province_en.like(like))
        )
    if q.city:
        like = q.city.strip() + "%"
        query = query.where(or_(PhoneNumber.city.like(like), PhoneNumber.city_en.like(like)))
    prefix = _digits_field("prefix", q.prefix, strip_zero=True)
    if prefix:
        query = query.where(*_starting(PhoneNumber.national, prefix))
    contains = _digits_field("contains", q.contains)
    ends_with = _digits_field("ends_with", q.ends_with)
    if ends_with:
        query = query.where(*_starting(PhoneNumber.national_reversed, ends_with[::-1]))
    if q.pattern is not None and q.pattern != "":
        if q.pattern not in PATTERNS:
            raise YuntongError("validation_failed", fields={"pattern": "invalid"})
        query = query.where(PhoneNumber.pattern == q.pattern)
    if q.kind:
        query = query.where(PhoneNumber.kind == q.kind)
    if q.block_id is not None:
        query = query.where(PhoneNumber.block_id == q.block_id)
    if q.after:
        query = query.where(PhoneNumber.national > q.after)
    limit = max(1, min(q.limit, MAX_RESULTS))
    if contains and len(contains) >= TRIGRAM_SELECTIVE and dialect == "postgresql":
        return _containing(query, contains, limit)
    if contains:
        query = query.where(PhoneNumber.national.contains(_pattern(contains)))
    return query.order_by(PhoneNumber.national).limit(limit)


def _pattern(digits: str) -> BindParameter[str]:
    """The digits written into the statement (they are digits only): PostgreSQL then plans
    each search with its pattern and serves three digits or more from a trigram index
    (migrations 0023, 0027); with a bound parameter a cached generic plan reads the numbers in
    order instead (300 ms over a million numbers, bench/RESULTS.md)."""
    return bindparam("contains", digits, type_=String(), literal_execute=True)


# national without its first digit: a "contains" past the first digit (trigram index of this
# expression on PostgreSQL, migration 0027)
_TAIL = func.substr(PhoneNumber.national, literal_column("2"))


def _containing(query: Select[PhoneNumber], digits: str, limit: int) -> Select[PhoneNumber]:
    """The first page of ``query``'s numbers containing ``digits`` (four or more; PostgreSQL,
    whose indexes serve both parts — SQLite, without them, finds the page faster by reading the
    numbers in order, and merging would read them all: p50 16 → 87 ms): those that
    begin with them (a range of the national-number index, read in order: the page's first
    ``limit`` at most) and those that contain them further on (the trigram index of the
    national number without its first digit: few, read and sorted), merged in order.

    Digits that begin a segment ("1388") match thousands of numbers, nearly all at the start:
    found through the trigram index of the whole number, every one of them was read from the
    table and sorted (7,700 pages for a page of 50 over a million numbers, 255 ms p99 cold;
    bench/RESULTS.md); split so, 700."""
    starting = _starting(PhoneNumber.national, digits)
    ids = query.with_only_columns(PhoneNumber.id)  # ids only: cheap to build and to merge
    first = ids.where(*starting).order_by(PhoneNumber.national).limit(limit).subquery()
    later = (
        ids.where(_TAIL.contains(_pattern(digits)), not_(and_(*starting)))
        .order_by(NationalOrder())
        .limit(limit)
        .subquery()
    )
    both = union_all(select(first.c.id), select(later.c.id))
    # ordered under "C" too: never by walking the national-number index for these few ids
    return query.where(PhoneNumber.id.in_(both)).order_by(NationalOrder()).limit(limit)


# Four digits or more of "contains" are found through the trigram index (PostgreSQL; past the
# first digit: _containing): its matches are few, so they are read and sorted. Reading the
# numbers in national order until the page is full looks as cheap to the planner, which takes
# matches to be spread evenly; but digits that begin a segment ("1388") match only numbers of
# one part of that order, and the walk reads half a million numbers first (1.2 s over a million
# numbers, 88 ms through the index; bench/RESULTS.md). Ordering by the same digits under the
# "C" collation, which the national-number index does not provide, leaves the planner only the
# trigram index. Fewer digits match so many numbers, and so evenly, that the walk is the better
# plan.
TRIGRAM_SELECTIVE = 4


class NationalOrder(ColumnElement[str]):
    """``national`` as a search orders by it (digits: the same order under any collation)."""

    inherit_cache = True
    type = String()
    # nothing of its own to compare: every NationalOrder is the same (the statement's compiled
    # form is cached, not compiled again for every search)
    _traverse_internals = []  # noqa: RUF012  (as SQLAlchemy declares it)


@compiles(NationalOrder)
def _national_order(element: NationalOrder, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(PhoneNumber.national, **kw))


@compiles(NationalOrder, "postgresql")
def _national_order_c(element: NationalOrder, compiler: Any, **kw: Any) -> str:
    return f'{compiler.process(PhoneNumber.national, **kw)} COLLATE "C"'


async def search(ctx: Context, q: NumberQuery) -> list[NumberView]:
    """Available numbers matching ``q`` (customers search only available ones)."""
    await do_sweep(ctx)
    return await _run(ctx, NumberQuery(**{**q.__dict__, "states": [S.AVAILABLE.value]}))


async def list_numbers(ctx: Context, actor: Actor, q: NumberQuery) -> list[NumberView]:
    """Staff: numbers in any states, of a block, with the same filters."""
    roles.check_staff(actor)
    await do_sweep(ctx)
    return await _run(ctx, q)


async def _run(ctx: Context, q: NumberQuery) -> list[NumberView]:
    async with ctx.db.session() as s:
        query = search_query(q, s.get_bind().dialect.name)
        rows = list((await s.execute(query)).scalars())
    return await views_of(ctx, rows)


# -- the lazy sweep ----------------------------------------------------------------------------


async def do_sweep(ctx: Context, limit: int = 500) -> int:
    """Lapse holds whose time ran out, and offer again numbers whose quarantine ended."""
    now = ctx.clock.now()
    moved = 0
    for action, state, column, clear in (
        (NumberAction.LAPSE, S.RESERVED, PhoneNumber.reserved_until, "reserved"),
        (NumberAction.RECYCLE, S.QUARANTINED, PhoneNumber.quarantine_until, "quarantine"),
    ):
        async with ctx.db.session() as s:
            query = select(PhoneNumber).where(PhoneNumber.state == state, column <= now)
            for row in (await s.execute(query.limit(limit))).scalars():
                values = (
                    {"reserved_by": None, "reserved_until": None}
                    if clear == "reserved"
                    else {"quarantine_until": None}
                )
                moved += await move_txn(
                    s, row, action, None, now, values=values, also=column <= now
                )
    if moved:
        await publish_changed(ctx)
    return moved


# -- holds -------------------------------------------------------------------------------------


async def customer_of(ctx: Context, actor: Actor, for_user_id: int | None) -> User:
    """Who a number is selected for: the actor, or (staff only) the customer named. Only
    individual subscribers and organisation administrators select numbers."""
    if for_user_id is not None and for_user_id != actor.user_id:
        roles.check_staff(actor)
        customer = await directory.get_user(ctx, for_user_id)
    elif roles.is_staff(actor):
        raise YuntongError("validation_failed", fields={"for_user_id": "required"})
    else:
        customer = await directory.get_user(ctx, actor.user_id)
    individual = customer.organisation_id is None and customer.role == Role.SUBSCRIBER
    in_good_standing = customer.status in (
        AccountStatus.ACTIVE,
        AccountStatus.WARNED,
        AccountStatus.LIMITED,
    )
    if not (individual or customer.role == Role.ORG_ADMIN) or not in_good_standing:
        raise YuntongError("number_customer_only")
    return customer


async def number_row(ctx: Context, text: str) -> PhoneNumber:
    """The inventory's row of a number given in any form; ``number_not_found`` otherwise."""
    checked = check_number(text, ctx.settings)
    if isinstance(checked, str):
        raise YuntongError("number_not_found")
    async with ctx.db.session() as s:
        query = select(PhoneNumber).where(PhoneNumber.e164 == checked.e164)
        row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise YuntongError("number_not_found")
    return row


def held_by(row: PhoneNumber, user_id: int, now: datetime) -> bool:
    return (
        row.state == S.RESERVED
        and row.reserved_by == user_id
        and row.reserved_until is not None
        and row.reserved_until > now
    )


async def do_reserve(
    ctx: Context, actor: Actor, number: str, for_user_id: int | None = None
) -> NumberView:
    """Hold ``number`` for the customer until the hold lapses. Asking again for a number one
    holds already keeps the hold as it is (a retry)."""
    customer = await customer_of(ctx, actor, for_user_id)
    await do_sweep(ctx)
    row = await number_row(ctx, number)
    now = ctx.clock.now()
    if held_by(row, customer.id, now):
        return (await views_of(ctx, [row]))[0]
    if row.state == S.RESERVED or (row.state != S.AVAILABLE and not roles.is_staff(actor)):
        # customers learn only that it is not to be had, not whether it is in service
        raise YuntongError("number_taken")
    async with ctx.db.session() as s:
        await lock_rows(s, User, [customer.id])  # one hold request per customer at a time
        held = (
            await s.execute(
                select(func.count())
                .select_from(PhoneNumber)
                .where(
                    PhoneNumber.state == S.RESERVED,
                    PhoneNumber.reserved_by == customer.id,
                    PhoneNumber.reserved_until > now,
                )
            )
        ).scalar_one()
        if held >= ctx.settings.numbers_max_holds:
            raise YuntongError("number_hold_limit", max=ctx.settings.numbers_max_holds)
        until = now + timedelta(minutes=ctx.settings.numbers_hold_minutes)
        won = await move_txn(
            s,
            row,
            NumberAction.RESERVE,
            actor.user_id,
            now,
            values={"reserved_by": customer.id, "reserved_until": until},
            detail={"for_user_id": customer.id, "until": until.isoformat()},
        )
        if not won:
            raise YuntongError("number_taken")
    await publish_changed(ctx)
    return (await views_of(ctx, [await number_row(ctx, row.e164)]))[0]


async def do_cancel_hold(ctx: Context, actor: Actor, number: str) -> NumberView:
    """Let a hold go before it lapses (its customer, or staff)."""
    row = await number_row(ctx, number)
    now = ctx.clock.now()
    if row.state == S.RESERVED and not roles.is_staff(actor) and row.reserved_by != actor.user_id:
        raise YuntongError("number_not_found")  # another's hold: not told whose
    async with ctx.db.session() as s:
        won = await move_txn(
            s,
            row,
            NumberAction.CANCEL,
            actor.user_id,
            now,
            values={"reserved_by": None, "reserved_until": None},
            also=and_(PhoneNumber.reserved_by == row.reserved_by),
        )
        if not won:
            raise YuntongError("number_taken")
    await publish_changed(ctx)
    return (await views_of(ctx, [await number_row(ctx, row.e164)]))[0]


async def events_of(ctx: Context, actor: Actor, number: str) -> list[NumberEvent]:
    """Staff: a number's trail, oldest first."""
    roles.check_staff(actor)
    row = await number_row(ctx, number)
    async with ctx.db.session() as s:
        query = select(NumberEvent).where(NumberEvent.number_id == row.id)
        return list((await s.execute(query.order_by(NumberEvent.id))).scalars())
