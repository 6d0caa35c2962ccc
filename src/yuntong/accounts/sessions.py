"""Login, logout, sessions and passwords, with the login throttles.

Wrong passwords are counted per (account, client), per client (in memory, shared state for
issue 13) and per account (in the database: ``failed_logins``, ``locked_until``).
"""

from __future__ import annotations

import asyncio
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from yuntong.accounts import audit, store
from yuntong.accounts.models import LoginSession, User
from yuntong.accounts.status import check_status_allows_login
from yuntong.accounts.validation import check_password, validated
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.errors import YuntongError
from yuntong.core.ids import new_id, new_token, token_hash
from yuntong.core.logging import get_logger
from yuntong.core.throttle import Limit, Throttle, client_key, throttle

SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
SESSION_KINDS = ("web", "api")
# bus topic, after sessions ended: {"user_id", "session_id"} (logout, revoked) or
# {"user_id", "keep_session"} (every other session: password changed)
LOGOUT_CHANNEL = "accounts.logout"


def _log() -> Any:
    # a fresh proxy per call: follows the current structlog configuration (tests capture it)
    return get_logger("yuntong.accounts")


async def hash_password(ctx: Context, password: str) -> str:
    # argon2id is deliberately slow: keep it off the event loop
    return await asyncio.to_thread(ctx.hasher.hash, password)


@dataclass(frozen=True)
class LoginResult:
    token: str
    session: LoginSession
    user: User


@dataclass(frozen=True)
class LoginThrottles:
    """Wrong passwords counted per (account, client) and per client (docs/operations.md).

    Per account (from every client) they are counted in the database (``failed_logins``,
    ``locked_until``), so that the account's lock holds on every node and is audited.
    """

    pair: Throttle  # one account from one client: that client waits (429)
    client: Throttle  # one client, any accounts (a spray): that client waits (429)


def login_throttles(ctx: Context) -> LoginThrottles:
    settings = ctx.settings
    lockout = settings.login_lockout_minutes * 60
    return LoginThrottles(
        pair=throttle(
            ctx, "login.account_client", Limit.locking(settings.login_max_failures, lockout)
        ),
        client=throttle(
            ctx, "login.client", Limit.locking(settings.login_client_max_failures, lockout)
        ),
    )


DUMMY_HASH = Piece(
    "accounts.dummy_hash",
    "per-node cache",
    lambda ctx: Slot[str](),
    "a password hash of nothing, checked when the username is unknown so that a wrong name "
    "takes as long as a wrong password (hashed at the first such log-in: argon2 is slow)",
)


def _dummy_hash(ctx: Context) -> str:
    slot = ctx.services.get(DUMMY_HASH)
    if slot.value is None:
        slot.value = ctx.hasher.hash(secrets.token_urlsafe(16))
    return slot.value


async def _verify_password(ctx: Context, password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(ctx.hasher.verify, password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _seconds_left(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


async def do_login(
    ctx: Context,
    username: str,
    password: str,
    kind: str = "web",
    *,
    user_agent: str = "",
    ip: str | None = None,
) -> LoginResult:
    """Check the password and open a session. Suspended accounts may log in (read-only use).

    Wrong passwords are throttled per (account, client ``ip``), per client and per account
    (:class:`LoginThrottles`); a client held off waits even with the right password.
    """
    if kind not in SESSION_KINDS:
        raise YuntongError("validation_failed", fields={"kind": "invalid"})
    now = ctx.clock.now()
    limits = login_throttles(ctx)
    client = client_key(ip) if ip else None
    if client:
        await limits.client.check(client)
    name = username.strip().lower()
    async with ctx.db.session() as s:
        if "@" in name:
            user = await store.get_user_by_email_index(s, ctx.cipher.email_index(name))
        else:
            user = await store.get_user_by_username(s, name)
        if user is not None and user.locked_until is not None and user.locked_until > now:
            raise YuntongError(
                "account_locked",
                minutes=_minutes_left(user.locked_until, now),
                retry_after=_seconds_left(user.locked_until, now),
            )
    # the same key for a username and the account's e-mail; unknown names are counted alike
    pair = f"{f'u{user.id}' if user else f'n:{name[:254]}'}|{client}" if client else None
    if pair:
        await limits.pair.check(pair)

    async def failed() -> None:
        if client and pair:
            await limits.client.hit(client)
            await limits.pair.hit(pair)

    if user is None:
        await _verify_password(ctx, _dummy_hash(ctx), password)  # same cost as a real check
        await failed()
        _log().info("login_failed", reason="unknown_user")
        raise YuntongError("invalid_credentials")
    if not await _verify_password(ctx, user.password_hash, password):
        await failed()
        await _record_failed_login(ctx, user.id, now)
    if pair:
        await limits.pair.clear(pair)
    check_status_allows_login(user)
    new_hash = None
    if ctx.hasher.check_needs_rehash(user.password_hash):
        new_hash = await hash_password(ctx, password)
    token = new_token()
    session = LoginSession(
        id=new_id(),
        token_hash=token_hash(token),
        user_id=user.id,
        kind=kind,
        user_agent=user_agent[:300],
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=ctx.settings.session_ttl_hours),
    )
    async with ctx.db.session() as s:
        fresh = await store.get_user(s, user.id, for_update=True)
        if fresh is None:
            raise YuntongError("invalid_credentials")
        fresh.failed_logins = 0
        fresh.locked_until = None
        if new_hash is not None:
            fresh.password_hash = new_hash
        store.add(s, session)
        user = fresh
    _log().info("login", user_id=user.id, session_id=session.id, kind=kind)
    return LoginResult(token=token, session=session, user=user)


async def _record_failed_login(ctx: Context, user_id: int, now: datetime) -> NoReturn:
    """Count a wrong password for the account (from any client); at the limit lock it.

    Always raises.
    """
    limit = ctx.settings.login_account_max_failures
    minutes = ctx.settings.login_lockout_minutes
    async with ctx.db.session() as s:
        user = await store.get_user(s, user_id, for_update=True)
        if user is None:
            raise YuntongError("invalid_credentials")
        user.failed_logins += 1
        locked = user.failed_logins >= limit
        if locked:
            user.failed_logins = 0
            user.locked_until = now + timedelta(minutes=minutes)
            await audit.add(s, now, None, "auth.locked", user.id, minutes=minutes)
    if locked:
        _log().warning("account_locked", user_id=user_id, minutes=minutes)
        raise YuntongError("account_locked", minutes=minutes, retry_after=minutes * 60)
    _log().info("login_failed", reason="wrong_password", user_id=user_id)
    raise YuntongError("invalid_credentials")


async def do_logout(ctx: Context, user_id: int, session_id: str) -> None:
    """End the session; its open sockets are closed and their devices gone at once."""
    async with ctx.db.session() as s:
        await store.revoke_sessions(s, user_id, ctx.clock.now(), only=session_id)
    await ctx.bus.publish(LOGOUT_CHANNEL, {"user_id": user_id, "session_id": session_id})


async def list_sessions(ctx: Context, user_id: int) -> list[LoginSession]:
    async with ctx.db.session() as s:
        return await store.list_live_sessions(s, user_id, ctx.clock.now())


async def do_revoke_session(ctx: Context, user_id: int, session_id: str) -> None:
    """End one of the user's own sessions; another user's session is simply not found."""
    async with ctx.db.session() as s:
        if not await store.revoke_sessions(s, user_id, ctx.clock.now(), only=session_id):
            raise YuntongError("not_found")
    await ctx.bus.publish(LOGOUT_CHANNEL, {"user_id": user_id, "session_id": session_id})


async def do_change_password(
    ctx: Context, user_id: int, current_session_id: str, current: str, new: str
) -> int:
    """Change the password and end every other session; returns how many were ended."""
    async with ctx.db.session() as s:
        user = await store.get_user(s, user_id)
    if user is None:
        raise YuntongError("user_not_found")
    # a stolen session must not turn into a password oracle
    lockout = ctx.settings.login_lockout_minutes * 60
    guard = throttle(
        ctx, "password.current", Limit.locking(ctx.settings.login_max_failures, lockout)
    )
    await guard.check(f"u{user_id}")
    if not await _verify_password(ctx, user.password_hash, current):
        await guard.hit(f"u{user_id}")
        raise YuntongError("wrong_password", fields={"current_password": "invalid"})
    await guard.clear(f"u{user_id}")
    validated("new_password", lambda: check_password(new, user.username))
    new_hash = await hash_password(ctx, new)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        fresh = await store.get_user(s, user_id, for_update=True)
        if fresh is None:
            raise YuntongError("user_not_found")
        fresh.password_hash = new_hash
        fresh.failed_logins = 0
        fresh.locked_until = None
        revoked = await store.revoke_sessions(s, user_id, now, keep=current_session_id)
        await audit.add(s, now, user_id, "auth.password_changed", user_id, sessions_revoked=revoked)
    _log().info("password_changed", user_id=user_id, sessions_revoked=revoked)
    await ctx.bus.publish(LOGOUT_CHANNEL, {"user_id": user_id, "keep_session": current_session_id})
    return revoked
