"""REST routes for phone numbers: customers search, hold, confirm, release and give numbers to
members; staff import blocks, list, block and set the price tiers (docs/numbers.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from yuntong.accounts.auth import Principal, require_role, require_user
from yuntong.accounts.models import Role
from yuntong.core.api_types import DbId, NonNegativeFen
from yuntong.core.context import Context, get_context
from yuntong.numbers import assignment, blocking, inventory, port_api, selection, tiers
from yuntong.numbers.models import NumberKind, NumberState
from yuntong.numbers.patterns import PATTERNS
from yuntong.numbers.selection import NumberQuery, NumberView

router = APIRouter(prefix="/api/v1", tags=["numbers"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
Staff = Annotated[Principal, Depends(require_role(Role.OPERATOR_ADMIN, Role.SUPPORT_AGENT))]
DIGITS = r"^\+?[0-9 \-]*$"
Prefix = Annotated[
    str | None, Query(max_length=16, pattern=DIGITS, description="Numbers starting with these")
]
Contains = Annotated[
    str | None, Query(max_length=16, pattern=DIGITS, description="Numbers containing these")
]
EndsWith = Annotated[
    str | None, Query(max_length=16, pattern=DIGITS, description="Numbers ending with these")
]
After = Annotated[
    str | None,
    Query(
        max_length=16,
        pattern=DIGITS,
        description="The next page: numbers after this one (the last e164 of the page before)",
    ),
]
Pattern = Annotated[
    str | None, Query(max_length=10, description="A pattern class (e.g. AABB); see tiers")
]
Province = Annotated[str | None, Query(max_length=40, description="Attribution: province")]
NumberPath = Annotated[str, Path(description="The number, E.164 or national")]


class NumberOut(BaseModel):
    """A phone number of the operator's inventory."""

    e164: str = Field(description="The number, E.164 (+86…)")
    national: str = Field(description="The number as dialled in China")
    kind: NumberKind = Field(description="mobile, fixed_line or service (95xxx / 400 numbers)")
    state: NumberState = Field(description="Where it is in its life (docs/numbers.md)")
    place: str | None = Field(
        description="attribution (归属地) in the caller's language; null: unknown"
    )
    province: str | None = Field(description="Attribution province (Chinese)")
    city: str | None = Field(description="Attribution city (Chinese)")
    province_en: str | None = Field(description="Attribution province (English)")
    city_en: str | None = Field(description="Attribution city (English)")
    carrier: str = Field(description="The carrier that allocated it")
    pattern: str = Field(description='pattern class ("" for a plain number)')
    tier: str | None = Field(description="price tier; null: in no priced tier")
    monthly_rent_fen: int | None = Field(description="Monthly rent of its tier, fen")
    reserved_until: datetime | None = Field(description="End of the hold on it, if held")
    quarantine_until: datetime | None = Field(
        description="When it may be offered again, if quarantined"
    )
    holder_user_id: int | None = Field(description="The individual holding it")
    holder_organisation_id: int | None = Field(description="The organisation holding it")
    user_id: int | None = Field(description="the user the number rings")

    @classmethod
    def of(cls, view: NumberView, locale: str) -> NumberOut:
        fields = {k: v for k, v in view.__dict__.items() if k in cls.model_fields}
        return cls(**fields, place=view.place(locale))


def _out(views: list[NumberView], who: Principal) -> list[NumberOut]:
    return [NumberOut.of(v, who.locale) for v in views]


class OnBehalfIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    for_user_id: DbId | None = Field(default=None, description="staff only: the customer")


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: DbId | None = Field(description="the member it rings; null: nobody")


class TierOut(BaseModel):
    """A price tier of numbers (their monthly rent by pattern class)."""

    code: str = Field(description="The tier's code")
    name_zh: str = Field(description="Name in Chinese")
    name_en: str = Field(description="Name in English")
    patterns: list[str] = Field(description="The pattern classes it takes")
    product_code: str = Field(description="The catalog product that bills its rent")
    monthly_rent_fen: int | None = Field(description="Monthly rent in force, fen")


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_zh: str = Field(min_length=1, max_length=60, description="Name in Chinese")
    name_en: str = Field(min_length=1, max_length=60, description="Name in English")
    patterns: list[str] = Field(
        min_length=1,
        max_length=len(PATTERNS) + 1,
        description='The pattern classes it takes ("" for plain numbers)',
    )
    monthly_rent_fen: NonNegativeFen = Field(description="Monthly rent, fen")


class BlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carrier: str = Field(min_length=1, max_length=60, description="The allocating carrier")
    source_ref: str = Field(
        min_length=1, max_length=120, description="allocation document (码号批文) or contract"
    )
    note: str = Field(default="", max_length=2000, description="Staff's note")
    start: str | None = Field(default=None, max_length=20, description="first of a range")
    end: str | None = Field(default=None, max_length=20, description="last of a range")
    numbers: list[Annotated[str, Field(max_length=20)]] | None = Field(
        default=None, max_length=inventory.MAX_BLOCK, description="a list instead of a range"
    )
    province: str | None = Field(default=None, max_length=40, description="set for the block")
    city: str | None = Field(
        default=None, max_length=40, description="attribution city (default: looked up)"
    )
    province_en: str | None = Field(default=None, max_length=60, description="province, English")
    city_en: str | None = Field(default=None, max_length=60, description="city, English")

    @model_validator(mode="after")
    def _range_or_list(self) -> BlockIn:
        ranged = self.start is not None and self.end is not None
        if ranged == (self.numbers is not None) or (self.start is None) != (self.end is None):
            raise ValueError("give either start and end, or numbers")
        return self


class InvalidOut(BaseModel):
    number: str = Field(description="The number as given")
    reason: str = Field(description="invalid | kind_not_sold")


class ImportOut(BaseModel):
    block_id: int | None = Field(description="null: nothing new, no block kept")
    imported: int = Field(description="numbers added to the inventory")
    skipped: int = Field(description="already in the inventory")
    invalid: list[InvalidOut] = Field(description="numbers refused, with why")


class EventOut(BaseModel):
    """One change in a number's life."""

    at: datetime = Field(description="When")
    actor_id: int | None = Field(description="Who (null: the system, e.g. a hold expiring)")
    action: str = Field(description="What was done (import, reserve, assign, block…)")
    from_state: str | None = Field(description="The state before")
    to_state: str | None = Field(description="The state after")


# --- customers -----------------------------------------------------------------------------


@router.get("/numbers/search", response_model=list[NumberOut])
async def search_numbers(
    ctx: Ctx,
    user: User,
    province: Province = None,
    city: Annotated[str | None, Query(max_length=40, description="Attribution: city")] = None,
    prefix: Prefix = None,
    contains: Contains = None,
    ends_with: EndsWith = None,
    pattern: Pattern = None,
    kind: Annotated[NumberKind | None, Query(description="Only numbers of this kind")] = None,
    limit: Annotated[
        int, Query(ge=1, le=selection.MAX_RESULTS, description="At most this many")
    ] = 50,
    after: After = None,
) -> list[NumberOut]:
    """Available numbers: by attribution, prefix, digits contained, ending, pattern class."""
    query = NumberQuery(
        province=province,
        city=city,
        prefix=prefix,
        contains=contains,
        ends_with=ends_with,
        pattern=pattern,
        kind=kind,
        limit=limit,
        after=after,
    )
    return _out(await selection.search(ctx, query), user)


@router.get("/numbers/tiers", response_model=list[TierOut])
async def number_tiers(ctx: Ctx, user: User) -> list[TierOut]:
    """The price tiers: which pattern classes each takes and its monthly rent."""
    return [TierOut(**t.__dict__) for t in await tiers.list_tiers(ctx)]


@router.get("/numbers/mine", response_model=list[NumberOut])
async def my_numbers(ctx: Ctx, user: User) -> list[NumberOut]:
    """Numbers the caller holds (its organisation's, for an administrator), rings or has on hold."""
    return _out(await assignment.my_numbers(ctx, user), user)


@router.post("/numbers/{number}/reserve", response_model=NumberOut)
async def reserve_number(
    ctx: Ctx, user: User, number: NumberPath, body: OnBehalfIn | None = None
) -> NumberOut:
    """Hold a number for ``numbers_hold_minutes``; asking again keeps the hold."""
    held = await selection.do_reserve(ctx, user, number, body.for_user_id if body else None)
    return NumberOut.of(held, user.locale)


@router.delete("/numbers/{number}/reserve", response_model=NumberOut)
async def cancel_hold(ctx: Ctx, user: User, number: NumberPath) -> NumberOut:
    """Let a hold go."""
    return NumberOut.of(await selection.do_cancel_hold(ctx, user, number), user.locale)


@router.post("/numbers/{number}/assign", response_model=NumberOut)
async def assign_number(
    ctx: Ctx, user: User, number: NumberPath, body: OnBehalfIn | None = None
) -> NumberOut:
    """Confirm a hold: the number is the customer's, its monthly rent is ordered."""
    done = await assignment.do_assign(ctx, user, number, body.for_user_id if body else None)
    return NumberOut.of(done, user.locale)


@router.post("/numbers/{number}/release", response_model=NumberOut)
async def release_number(ctx: Ctx, user: User, number: NumberPath) -> NumberOut:
    """Give a number back: quarantined, its rent ends with the cycle."""
    return NumberOut.of(await assignment.do_release(ctx, user, number), user.locale)


@router.put("/numbers/{number}/member", response_model=NumberOut)
async def assign_member(ctx: Ctx, user: User, number: NumberPath, body: MemberIn) -> NumberOut:
    """Organisation administrators: the member an organisation's number rings."""
    done = await assignment.do_assign_member(ctx, user, number, body.user_id)
    return NumberOut.of(done, user.locale)


# --- staff ---------------------------------------------------------------------------------


@router.post("/admin/numbers/blocks", response_model=ImportOut, tags=["admin"])
async def import_block(ctx: Ctx, staff: Staff, body: BlockIn) -> ImportOut:
    """Import a block (a range or a list) with its legitimate source; existing numbers are
    skipped and counted."""
    if body.numbers is not None:
        numbers = body.numbers
    else:
        assert body.start is not None and body.end is not None
        numbers = inventory.expand_range(body.start, body.end)
    given = None
    if body.province:
        given = inventory.Attribution(body.province, body.city, body.province_en, body.city_en)
    source = inventory.BlockSource(body.carrier, body.source_ref, body.note, given)
    result = await inventory.do_import_block(ctx, staff, numbers, source)
    return ImportOut(
        block_id=result.block_id,
        imported=result.imported,
        skipped=result.skipped,
        invalid=[InvalidOut(number=n, reason=r) for n, r in result.invalid],
    )


@router.get("/admin/numbers", response_model=list[NumberOut], tags=["admin"])
async def list_numbers(
    ctx: Ctx,
    staff: Staff,
    state: Annotated[
        list[NumberState] | None, Query(description="Only these states (repeat; default: all)")
    ] = None,
    block_id: Annotated[DbId | None, Query(description="Only numbers of this block")] = None,
    province: Province = None,
    prefix: Prefix = None,
    ends_with: EndsWith = None,
    pattern: Pattern = None,
    limit: Annotated[
        int, Query(ge=1, le=selection.MAX_RESULTS, description="At most this many")
    ] = 100,
    after: After = None,
) -> list[NumberOut]:
    """Numbers in any state, with the search filters."""
    query = NumberQuery(
        states=[s.value for s in (state or list(NumberState))],
        block_id=block_id,
        province=province,
        prefix=prefix,
        ends_with=ends_with,
        pattern=pattern,
        limit=limit,
        after=after,
    )
    return _out(await selection.list_numbers(ctx, staff, query), staff)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in its trail)")


@router.post("/admin/numbers/{number}/block", response_model=NumberOut, tags=["admin"])
async def block_number(ctx: Ctx, staff: Staff, number: NumberPath, body: ReasonIn) -> NumberOut:
    """Staff: take a number out of service (available, held or quarantined), with a reason."""
    return NumberOut.of(await blocking.do_block(ctx, staff, number, body.reason), staff.locale)


@router.post("/admin/numbers/{number}/unblock", response_model=NumberOut, tags=["admin"])
async def unblock_number(ctx: Ctx, staff: Staff, number: NumberPath, body: ReasonIn) -> NumberOut:
    """Staff: offer a blocked number again."""
    return NumberOut.of(await blocking.do_unblock(ctx, staff, number, body.reason), staff.locale)


@router.get("/admin/numbers/{number}/events", response_model=list[EventOut], tags=["admin"])
async def number_events(ctx: Ctx, staff: Staff, number: NumberPath) -> list[EventOut]:
    """The number's trail: every change, who made it, when."""
    events = await selection.events_of(ctx, staff, number)
    return [EventOut.model_validate(e, from_attributes=True) for e in events]


@router.put("/admin/numbers/tiers/{code}", response_model=TierOut, tags=["admin"])
async def set_tier(
    ctx: Ctx,
    staff: Staff,
    code: Annotated[str, Path(description="The tier's code")],
    body: TierIn,
) -> TierOut:
    """Create or change a price tier (a changed rent starts after the catalog's notice)."""
    view = await tiers.do_set_tier(
        ctx,
        staff,
        code,
        name_zh=body.name_zh,
        name_en=body.name_en,
        patterns=body.patterns,
        monthly_rent_fen=body.monthly_rent_fen,
    )
    return TierOut(**view.__dict__)


router.include_router(port_api.router)
