"""The barring PIN (TS 22.088): four digits, kept hashed, that every change of barring needs.

Wrong PINs are counted per user; after ``PIN_MAX_FAILURES`` within ``PIN_LOCKOUT_S`` no PIN is
taken from that user for ``PIN_LOCKOUT_S`` (``barring_pin_locked``), not even the right one.
"""

from __future__ import annotations

import asyncio

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from yuntong.accounts import audit
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.throttle import Limit, Throttle, throttle
from yuntong.supplementary.models import SETTINGS_OFF, ServiceSettings

PIN_MAX_FAILURES = 3
PIN_LOCKOUT_S = 15 * 60


def check_pin_format(pin: str) -> None:
    if len(pin) != 4 or not pin.isascii() or not pin.isdigit():
        raise YuntongError("barring_pin_invalid")


def _throttle(ctx: Context) -> Throttle:
    return throttle(ctx, "supplementary.pin", Limit.locking(PIN_MAX_FAILURES, PIN_LOCKOUT_S))


async def _stored_hash(ctx: Context, user_id: int) -> str | None:
    async with ctx.db.session() as s:
        row = await s.get(ServiceSettings, user_id)
        return None if row is None else row.pin_hash


async def check_pin(ctx: Context, user_id: int, pin: str | None) -> None:
    """The user's barring PIN is ``pin``: ``barring_pin_required`` before one was set,
    ``barring_pin_wrong`` (counted) or ``barring_pin_locked`` otherwise."""
    limit = _throttle(ctx)
    key = f"u{user_id}"
    await limit.check(key, "barring_pin_locked")
    stored = await _stored_hash(ctx, user_id)
    if stored is None:
        raise YuntongError("barring_pin_required")
    if pin is None or not await _verifies(ctx, stored, pin):
        await limit.hit(key)
        raise YuntongError("barring_pin_wrong")
    await limit.clear(key)


async def _verifies(ctx: Context, stored: str, pin: str) -> bool:
    try:
        return await asyncio.to_thread(ctx.hasher.verify, stored, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def do_set_pin(ctx: Context, user_id: int, old: str | None, new: str) -> None:
    """Set the PIN (the first time with no old one; afterwards the old one is needed)."""
    check_pin_format(new)
    if await _stored_hash(ctx, user_id) is not None:
        await check_pin(ctx, user_id, old)
    hashed = await asyncio.to_thread(ctx.hasher.hash, new)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        row = await s.get(ServiceSettings, user_id)
        if row is None:
            row = ServiceSettings(user_id=user_id, updated_at=now, **SETTINGS_OFF)
            s.add(row)
        row.pin_hash = hashed
        row.updated_at = now
        await audit.add(s, now, user_id, "supplementary.pin_set", user_id)
