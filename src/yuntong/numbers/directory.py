"""Numbers for calls: what a dialled number is, whose it is, and a user's own numbers.

Calls by number (CP 1.3) ask here: :func:`parse_dialled` turns what a user dialled (national
form, ``+86…``, ``0086…``, with spaces or dashes) into E.164, :func:`user_for_number` finds the
user an assigned number rings, and :func:`numbers_of_user` the numbers a caller may present as
the calling number. A number the inventory holds rings only while it is ``assigned``: a
quarantined or available one is unallocated (Q.850 cause 1), so a recycled number never rings
its former holder.

Both answers are kept in memory (:class:`NumberCache`, a per-node cache): without it a call by
number read two rows more than a call by username. Whatever changes a number (its state, its
user, an import) publishes on the durable ``numbers.changed`` topic after committing
(:func:`publish_changed`), and every node drops its whole copy: changes are rare next to calls.
"""

from __future__ import annotations

from typing import Any, TypeVar

import phonenumbers
from sqlalchemy import select

from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.throttle import Limit, Throttle, throttle
from yuntong.numbers.models import NumberState, PhoneNumber

_DIAL_CHARS = frozenset("+0123456789 -()")
CHANGED = "numbers.changed"  # durable bus topic, after any change of a number's state or user
MAX_ENTRIES = 200_000  # per map; cleared wholesale when full
K = TypeVar("K")
V = TypeVar("V")


class NumberCache:
    """E.164 → (state, user) or None (not in the inventory), and user → their numbers."""

    def __init__(self) -> None:
        self.by_number: dict[str, tuple[str, int | None] | None] = {}
        self.by_user: dict[int, list[str]] = {}
        # bumped by every invalidation: what was read before it must not be stored after it
        self.generation = 0

    async def on_changed(self, _message: dict[str, Any]) -> None:
        self.generation += 1
        self.by_number.clear()
        self.by_user.clear()

    def keep(self, into: dict[K, V], key: K, value: V, generation: int) -> None:
        """Keep what was read at ``generation`` unless numbers changed since."""
        if generation == self.generation:
            if len(into) >= MAX_ENTRIES:
                into.clear()
            into[key] = value


def _subscribed(ctx: Context) -> NumberCache:
    cache = NumberCache()
    ctx.bus.subscribe(CHANGED, cache.on_changed)
    return cache


NUMBERS = Piece(
    "numbers.directory",
    "per-node cache",
    _subscribed,
    "numbers' state and user, users' numbers, for calls by number (dropped on numbers.changed)",
)


def number_cache(ctx: Context) -> NumberCache:
    return ctx.services.get(NUMBERS)


async def publish_changed(ctx: Context) -> None:
    """Tell every node (and process) that numbers changed: call after committing."""
    await ctx.bus.publish(CHANGED, {})


def parse_dialled(text: str) -> str | None:
    """E.164 of a dialled number, or None when ``text`` is not one (a username, an address).

    A valid number for its region is required (Chinese numbers by default, ``+`` or ``00`` for
    others); digits that are no valid number give ``None`` too (perhaps a username of digits)."""
    raw = text.strip()
    if not set(raw) <= _DIAL_CHARS or sum(c.isdigit() for c in raw) < 5:
        return None
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


async def number_state(ctx: Context, e164: str) -> tuple[str, int | None] | None:
    """``(state, user_id)`` of a number the inventory holds; None when it holds no such number."""
    cache = number_cache(ctx)
    if e164 in cache.by_number:
        return cache.by_number[e164]
    generation = cache.generation
    async with ctx.db.connection() as conn:
        row = (
            await conn.execute(
                select(PhoneNumber.state, PhoneNumber.user_id).where(PhoneNumber.e164 == e164)
            )
        ).first()
    found = None if row is None else (str(row[0]), row[1])
    cache.keep(cache.by_number, e164, found, generation)
    return found


def _unallocated_throttle(ctx: Context) -> Throttle:
    return throttle(ctx, "numbers.unallocated", Limit(ctx.settings.lookup_per_minute, window_s=60))


async def user_for_number(ctx: Context, caller_id: int, e164: str) -> int | None:
    """The user an assigned number rings; ``number_unallocated`` for a number the inventory
    holds that is not assigned (or assigned to no member yet); None for a number it does not
    hold (the caller may look it up elsewhere). Dialling unallocated numbers is held to
    ``lookup_per_minute`` per caller (then ``rate_limited``), so that which numbers are in
    service cannot be mapped in bulk."""
    found = await number_state(ctx, e164)
    if found is None:
        return None
    state, user_id = found
    if state != NumberState.ASSIGNED or user_id is None:
        await _unallocated_throttle(ctx).take(f"u{caller_id}")
        raise YuntongError("number_unallocated")
    return user_id


async def numbers_of_user(ctx: Context, user_id: int) -> list[str]:
    """The assigned numbers that ring ``user_id``, oldest assignment first (the first is the
    calling number when the caller does not choose)."""
    cache = number_cache(ctx)
    known = cache.by_user.get(user_id)
    if known is not None:
        return list(known)
    generation = cache.generation
    query = (
        select(PhoneNumber.e164)
        .where(PhoneNumber.user_id == user_id, PhoneNumber.state == NumberState.ASSIGNED)
        .order_by(PhoneNumber.assigned_at, PhoneNumber.id)
    )
    async with ctx.db.connection() as conn:
        numbers = [str(x) for x in (await conn.execute(query)).scalars()]
    cache.keep(cache.by_user, user_id, numbers, generation)
    return list(numbers)


async def check_calling_number(ctx: Context, user_id: int, wanted: str | None) -> str | None:
    """The calling number of a call ``user_id`` places: ``wanted`` if it is one of theirs
    (``number_not_yours`` otherwise), else their first number, else None."""
    own = await numbers_of_user(ctx, user_id)
    if wanted is None:
        return own[0] if own else None
    e164 = parse_dialled(wanted)
    if e164 is None or e164 not in own:
        raise YuntongError("number_not_yours")
    return e164
