"""The inventory's intake: staff import a block of numbers (a range or a list) with its
legitimate source (CP 2.4), each number validated with ``phonenumbers`` and given its
attribution (归属地, CP 1.1), original carrier and pattern class.

Importing is idempotent: numbers the inventory already holds are skipped and counted, so a
block imported twice (a retry) changes nothing. Large blocks go in batches, one transaction
each; the geocoder (about 200 MB of tables) is imported only when a block is imported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import phonenumbers
from sqlalchemy import insert, select

from yuntong.accounts import roles
from yuntong.accounts.roles import Actor
from yuntong.config import Settings
from yuntong.core.context import Context
from yuntong.core.db import insert_ignoring_duplicates
from yuntong.core.errors import YuntongError
from yuntong.numbers.directory import publish_changed
from yuntong.numbers.models import (
    NumberBlock,
    NumberEvent,
    NumberKind,
    NumberState,
    PhoneNumber,
)
from yuntong.numbers.patterns import pattern_class

MAX_BLOCK: Final = 1_000_000  # numbers in one import
BATCH: Final = 2_000
_PROVINCE = re.compile(r"^(.+?(?:省|自治区|特别行政区))(.*)$")
_SERVICE_TYPES = frozenset({phonenumbers.PhoneNumberType.SHARED_COST})
_MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE})
_FIXED_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


@dataclass(frozen=True)
class Attribution:
    """Province and city in zh and en; None where unknown (the geocoder says only "中国")."""

    province: str | None = None
    city: str | None = None
    province_en: str | None = None
    city_en: str | None = None

    @property
    def known(self) -> bool:
        return self.province is not None


@dataclass(frozen=True)
class CheckedNumber:
    e164: str
    national: str  # the national significant number: no trunk 0 (10 6552 9988)
    kind: NumberKind


@dataclass
class ImportResult:
    block_id: int | None  # None: nothing was new, no block was kept
    imported: int = 0
    skipped: int = 0  # already in the inventory
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (as given, reason)


def _digits(text: str) -> str:
    raw = text.strip().replace(" ", "").replace("-", "")
    if raw.startswith("+86"):
        raw = raw[3:]
    elif raw.startswith("0086"):
        raw = raw[4:]
    return raw


def check_number(text: str, settings: Settings) -> CheckedNumber | str:
    """The number ``text`` is, or why it cannot be imported: ``invalid`` (no valid +86
    number), ``kind_not_sold`` (its kind is not among ``numbers_kinds``)."""
    raw = _digits(text)
    if not raw.isdigit():
        return "invalid"
    if any(raw.startswith(p) for p in settings.numbers_service_prefixes if p.startswith("95")):
        # 95xxx short service numbers: libphonenumber knows none of them
        if not 5 <= len(raw) <= 8:
            return "invalid"
        checked = CheckedNumber(f"+86{raw}", raw, NumberKind.SERVICE)
    else:
        try:
            parsed = phonenumbers.parse(raw, "CN")
        except phonenumbers.NumberParseException:
            return "invalid"
        if parsed.country_code != 86 or not phonenumbers.is_valid_number(parsed):
            return "invalid"
        national = phonenumbers.national_significant_number(parsed)
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        kind = _kind(parsed, national, settings)
        if kind is None:
            return "kind_not_sold"
        checked = CheckedNumber(e164, national, kind)
    return checked if checked.kind in settings.numbers_kinds else "kind_not_sold"


def _kind(parsed: phonenumbers.PhoneNumber, national: str, settings: Settings) -> NumberKind | None:
    found = phonenumbers.number_type(parsed)
    if found in _MOBILE_TYPES:
        return NumberKind.MOBILE
    if found in _FIXED_TYPES:
        return NumberKind.FIXED_LINE
    if found in _SERVICE_TYPES and any(
        national.startswith(p) for p in settings.numbers_service_prefixes
    ):
        return NumberKind.SERVICE
    return None


def split_zh(description: str) -> tuple[str | None, str | None]:
    """(province, city) of a zh description: 广东省深圳市, 北京市 (a municipality: both)."""
    if not description or description == "中国":
        return None, None
    found = _PROVINCE.match(description)
    if found:
        return found.group(1), found.group(2) or None
    return description, description


def split_en(description: str) -> tuple[str | None, str | None]:
    """(province, city) of an en description: "Shenzhen, Guangdong", "Beijing"."""
    if not description or description == "China":
        return None, None
    city, _, province = description.rpartition(", ")
    return (province, city) if city else (province, province)


@functools.lru_cache(maxsize=100_000)
def _attribution_of_prefix(e164: str) -> Attribution:
    return _geocoded(e164)


def attribution_of(e164: str) -> Attribution:
    """The geocoder's attribution of a number (imported here: it is large). A mobile number's
    attribution is a property of its first seven digits (the segment and its H code): asked
    once per segment."""
    if e164.startswith("+861") and len(e164) == 14:
        return _attribution_of_prefix(e164[:10] + "0000")
    return _geocoded(e164)


def _geocoded(e164: str) -> Attribution:
    from phonenumbers import geocoder  # 200 MB: only when importing

    parsed = phonenumbers.parse(e164)
    province, city = split_zh(geocoder.description_for_number(parsed, "zh"))
    if province is None:
        return Attribution()
    province_en, city_en = split_en(geocoder.description_for_number(parsed, "en"))
    return Attribution(province, city, province_en, city_en)


def original_carrier(e164: str, fallback: str) -> str:
    """The carrier that allocated the number's segment (zh), else the block's."""
    if not e164.startswith("+861") or len(e164) != 14:  # known for mobile segments only
        return fallback
    return _segment_carrier(e164[:10] + "0000") or fallback


@functools.lru_cache(maxsize=100_000)
def _segment_carrier(e164: str) -> str:
    from phonenumbers import carrier  # its tables are large too

    return str(carrier.name_for_number(phonenumbers.parse(e164), "zh"))


def expand_range(start: str, end: str) -> list[str]:
    """Every number from ``start`` to ``end`` (digits, same length, at most MAX_BLOCK)."""
    first, last = _digits(start), _digits(end)
    if not (first.isdigit() and last.isdigit()) or len(first) != len(last):
        raise YuntongError("number_range_invalid", max=MAX_BLOCK)
    low, high = int(first), int(last)
    if high < low or high - low + 1 > MAX_BLOCK:
        raise YuntongError("number_range_invalid", max=MAX_BLOCK)
    return [str(n).zfill(len(first)) for n in range(low, high + 1)]


def check_source(carrier: str, source_ref: str) -> tuple[str, str]:
    carrier, source_ref = carrier.strip(), source_ref.strip()
    if not carrier or not source_ref or len(carrier) > 60 or len(source_ref) > 120:
        raise YuntongError("number_source_required")
    return carrier, source_ref


@dataclass(frozen=True)
class BlockSource:
    """What staff say about a block: where it came from, and its attribution if they set it."""

    carrier: str
    source_ref: str
    note: str = ""
    attribution: Attribution | None = None  # None: the geocoder's, number by number


async def do_import_block(
    ctx: Context,
    actor: Actor,
    numbers: Sequence[str],
    source: BlockSource,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import ``numbers`` as one block: the valid ones not yet held become available."""
    roles.check_staff(actor)
    carrier, source_ref = check_source(source.carrier, source.source_ref)
    if not numbers or len(numbers) > MAX_BLOCK:
        raise YuntongError("number_range_invalid", max=MAX_BLOCK)
    given = source.attribution
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        block = NumberBlock(
            carrier=carrier,
            source_ref=source_ref,
            note=source.note,
            province=given.province if given else None,
            city=given.city if given else None,
            imported=0,
            created_by=actor.user_id,
            created_at=now,
        )
        s.add(block)
    result = ImportResult(block_id=block.id)
    for start in range(0, len(numbers), BATCH):
        batch = numbers[start : start + BATCH]
        await _import_batch(ctx, actor, block, given, batch, result)
        if progress is not None:
            progress(min(start + BATCH, len(numbers)), len(numbers))
    async with ctx.db.session() as s:
        kept = await s.get(NumberBlock, block.id)
        assert kept is not None
        if result.imported:
            kept.imported = result.imported
        else:
            await s.delete(kept)
            result.block_id = None
    if result.imported:
        await publish_changed(ctx)
    return result


async def _import_batch(
    ctx: Context,
    actor: Actor,
    block: NumberBlock,
    given: Attribution | None,
    batch: Sequence[str],
    result: ImportResult,
) -> None:
    now = ctx.clock.now()
    rows: dict[str, dict[str, object]] = {}
    for text in batch:
        checked = check_number(text, ctx.settings)
        if isinstance(checked, str):
            result.invalid.append((text, checked))
            continue
        if checked.e164 in rows:
            result.skipped += 1
            continue
        place = given if given is not None else attribution_of(checked.e164)
        rows[checked.e164] = {
            "e164": checked.e164,
            "national": checked.national,
            "national_reversed": checked.national[::-1],
            "kind": checked.kind.value,
            "block_id": block.id,
            "province": place.province,
            "city": place.city,
            "province_en": place.province_en,
            "city_en": place.city_en,
            "carrier": original_carrier(checked.e164, block.carrier),
            "current_carrier": block.carrier,
            "ported": False,
            "pattern": pattern_class(checked.national),
            "tier": "",
            "state": NumberState.AVAILABLE.value,
            "state_changed_at": now,
            "created_at": now,
        }
    if not rows:
        return
    async with ctx.db.session() as s:
        await s.execute(insert_ignoring_duplicates(s, PhoneNumber), list(rows.values()))
        query = select(PhoneNumber.id, PhoneNumber.e164).where(
            PhoneNumber.block_id == block.id, PhoneNumber.e164.in_(list(rows))
        )
        new = (await s.execute(query)).all()
        if new:
            events = [
                {
                    "number_id": number_id,
                    "at": now,
                    "actor_id": actor.user_id,
                    "action": "import",
                    "from_state": None,
                    "to_state": NumberState.AVAILABLE.value,
                    "detail": {"block_id": block.id},
                }
                for number_id, _ in new
            ]
            await s.execute(insert(NumberEvent), events)
    result.imported += len(new)
    result.skipped += len(rows) - len(new)
