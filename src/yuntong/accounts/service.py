"""Account rules: registration, review, the enforcement ladder, login, sessions and identity.

``do_*`` functions change state (and write an audit event when staff act); ``check_*``
functions raise :class:`YuntongError`. Identity fields are encrypted here before they reach
the store and are never logged.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NoReturn, Protocol
from zoneinfo import ZoneInfo

import phonenumbers
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import store
from yuntong.accounts.models import (
    STAFF_ROLES,
    AccountStatus,
    AuditEvent,
    LoginSession,
    Organisation,
    Role,
    User,
    is_staff_role,
)
from yuntong.accounts.parties import STATUS_CHANNEL, Party, party_cache
from yuntong.accounts.validation import (
    IndividualRegistration,
    OrganisationRegistration,
    check_password,
    check_username,
    normalise_phone,
)
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.crypto import mask
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import LOCALES
from yuntong.core.ids import new_id, new_token, token_hash
from yuntong.core.logging import get_logger
from yuntong.core.throttle import Limit, Throttle, client_key, throttle

S = AccountStatus
# Statuses whose holders can be found, added as contacts and called.
REACHABLE_STATUSES = frozenset({S.ACTIVE, S.WARNED, S.LIMITED})
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
SESSION_KINDS = ("web", "api")
# bus topic, after sessions ended: {"user_id", "session_id"} (logout, revoked) or
# {"user_id", "keep_session"} (every other session: password changed)
LOGOUT_CHANNEL = "accounts.logout"

# Review of a registration by operator staff. A rejected applicant may be approved later
# (e.g. after sending the missing documents).
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.ACTIVE, S.REJECTED}),
    S.REJECTED: frozenset({S.ACTIVE}),
}
# The enforcement ladder (UA 五.1): warning → function limits → suspension → termination.
# Staff may skip rungs for serious breaches and lift sanctions back to active; termination
# is final.
ENFORCEMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.ACTIVE: frozenset({S.WARNED, S.LIMITED, S.SUSPENDED, S.TERMINATED}),
    S.WARNED: frozenset({S.ACTIVE, S.LIMITED, S.SUSPENDED, S.TERMINATED}),
    S.LIMITED: frozenset({S.ACTIVE, S.WARNED, S.SUSPENDED, S.TERMINATED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.WARNED, S.LIMITED, S.TERMINATED}),
    S.TERMINATED: frozenset(),
}
ENFORCEMENT_STATUSES = frozenset(ENFORCEMENT_TRANSITIONS)


def _log() -> Any:
    # a fresh proxy per call: follows the current structlog configuration (tests capture it)
    return get_logger("yuntong.accounts")


class Actor(Protocol):
    """Who is acting: an authenticated :class:`~yuntong.accounts.auth.Principal`."""

    @property
    def user_id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def organisation_id(self) -> int | None: ...


# ---------------------------------------------------------------------------------------------
# checks


def is_staff(actor: Actor) -> bool:
    return is_staff_role(actor.role)


def check_staff(actor: Actor) -> None:
    if not is_staff(actor):
        raise YuntongError("forbidden")


def check_transition(table: Mapping[str, frozenset[str]], current: str, target: str) -> None:
    """Raise ``invalid_transition`` unless ``current → target`` is in ``table``."""
    if target not in table.get(current, frozenset()):
        raise YuntongError("invalid_transition", state=current)


def check_status_allows_calls(status: str, reason: str | None, media: str) -> None:
    """The account-status part of placing a call (audio or video)."""
    if status == S.PENDING:
        raise YuntongError("account_pending")
    if status == S.REJECTED:
        raise YuntongError("account_rejected", reason=reason or "")
    if status == S.SUSPENDED:
        raise YuntongError("account_suspended")
    if status == S.TERMINATED:
        raise YuntongError("account_terminated")
    if status == S.LIMITED and media == "video":
        raise YuntongError("account_limited")


def _field_failure(name: str, error: PydanticCustomError) -> YuntongError:
    return YuntongError("validation_failed", fields={name: error.type})


def _validated(name: str, check: Callable[[], str]) -> str:
    try:
        return check()
    except PydanticCustomError as exc:
        raise _field_failure(name, exc) from None


def check_birth_date_plausible(ctx: Context, born: date) -> None:
    today = ctx.clock.now().astimezone(ZoneInfo(ctx.settings.business_timezone)).date()
    if born > today or born.year < 1900:
        raise YuntongError("validation_failed", fields={"birth_date": "invalid_date"})


# ---------------------------------------------------------------------------------------------
# registration


async def _hash_password(ctx: Context, password: str) -> str:
    # argon2id is deliberately slow: keep it off the event loop
    return await asyncio.to_thread(ctx.hasher.hash, password)


def _seal(
    ctx: Context, columns: Mapping[str, str], values: Mapping[str, str | None]
) -> dict[str, Any]:
    """Encrypt ``{field: plaintext}`` into ``{field_enc: ciphertext}`` (None stays None)."""
    sealed: dict[str, Any] = {}
    for name, plain in values.items():
        column = f"{name}_enc"
        sealed[column] = (
            None if plain is None else ctx.cipher.encrypt(plain, context=columns[column])
        )
    return sealed


_UNIQUE_CODES = (
    ("username", "username_taken", "username"),
    ("email_index", "email_taken", "email"),
    ("phone_index", "phone_taken", "phone"),
    ("uscc_index", "uscc_taken", "uscc"),
)


@asynccontextmanager
async def _registration(ctx: Context) -> AsyncIterator[AsyncSession]:
    """One transaction; a unique-constraint race surfaces as the matching ``*_taken`` error."""
    try:
        async with ctx.db.session() as s:
            yield s
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        for column, code, name in _UNIQUE_CODES:
            if column in text:
                raise YuntongError(code, fields={name: "taken"}) from None
        raise


async def _check_free(
    s: AsyncSession,
    *,
    username: str,
    email_index: str | None,
    phone_index: str | None,
    uscc_index: str | None = None,
) -> None:
    if await store.get_user_by_username(s, username):
        raise YuntongError("username_taken", fields={"username": "taken"})
    if email_index and await store.get_user_by_email_index(s, email_index):
        raise YuntongError("email_taken", fields={"email": "taken"})
    if phone_index and await store.get_user_by_phone_index(s, phone_index):
        raise YuntongError("phone_taken", fields={"phone": "taken"})
    if uscc_index and await store.uscc_index_exists(s, uscc_index):
        raise YuntongError("uscc_taken", fields={"uscc": "taken"})


def _initial_status(ctx: Context) -> str:
    return S.ACTIVE if ctx.settings.auto_approve else S.PENDING


def uscc_index(ctx: Context, uscc: str) -> str:
    return ctx.cipher.blind_index(f"uscc:{uscc}")


def _email_index(ctx: Context, email: str | None) -> str | None:
    return None if email is None else ctx.cipher.email_index(email)


def _locale(locale: str | None) -> str:
    return locale if locale in LOCALES else "zh-CN"


async def do_register_individual(
    ctx: Context, form: IndividualRegistration, *, locale: str | None = None
) -> User:
    """Register a person; pending review unless ``auto_approve`` is set."""
    check_birth_date_plausible(ctx, form.birth_date)
    password_hash = await _hash_password(ctx, form.password)
    now = ctx.clock.now()
    phone_index = ctx.cipher.blind_index(form.phone)
    email_index = _email_index(ctx, form.email)
    status = _initial_status(ctx)
    async with _registration(ctx) as s:
        await _check_free(
            s, username=form.username, email_index=email_index, phone_index=phone_index
        )
        user = User(
            username=form.username,
            display_name=form.display_name,
            email_index=email_index,
            phone_index=phone_index,
            password_hash=password_hash,
            role=Role.SUBSCRIBER,
            status=status,
            locale=_locale(locale),
            id_type=form.id_type,
            failed_logins=0,
            dnd=False,
            created_at=now,
            reviewed_at=now if status == S.ACTIVE else None,
            **_seal(
                ctx,
                store.USER_PII_COLUMNS,
                {
                    "full_name": form.full_name,
                    "birth_date": form.birth_date.isoformat(),
                    "address": form.address,
                    "id_number": form.id_number,
                    "employer": form.employer,
                    "phone": form.phone,
                    "email": form.email,
                },
            ),
        )
        store.add(s, user)
        await s.flush()
        await _audit(s, now, None, "account.register", user.id, kind="individual", status=status)
    _log().info("account_registered", user_id=user.id, kind="individual", status=status)
    return user


async def do_register_organisation(
    ctx: Context, form: OrganisationRegistration, *, locale: str | None = None
) -> tuple[User, Organisation]:
    """Register an organisation and its contact person as its ``org_admin``."""
    password_hash = await _hash_password(ctx, form.password)
    now = ctx.clock.now()
    phone_index = ctx.cipher.blind_index(form.contact_phone)
    org_index = uscc_index(ctx, form.uscc)
    email_index = _email_index(ctx, form.email)
    status = _initial_status(ctx)
    async with _registration(ctx) as s:
        await _check_free(
            s,
            username=form.username,
            email_index=email_index,
            phone_index=phone_index,
            uscc_index=org_index,
        )
        organisation = Organisation(
            legal_name=form.legal_name,
            uscc_index=org_index,
            created_at=now,
            **_seal(
                ctx,
                store.ORGANISATION_PII_COLUMNS,
                {
                    "uscc": form.uscc,
                    "legal_representative": form.legal_representative,
                    "contact_name": form.contact_name,
                    "contact_phone": form.contact_phone,
                    "address": form.address,
                },
            ),
        )
        store.add(s, organisation)
        await s.flush()
        user = User(
            username=form.username,
            display_name=form.display_name,
            email_index=email_index,
            phone_index=phone_index,
            password_hash=password_hash,
            role=Role.ORG_ADMIN,
            status=status,
            organisation_id=organisation.id,
            locale=_locale(locale),
            failed_logins=0,
            dnd=False,
            created_at=now,
            reviewed_at=now if status == S.ACTIVE else None,
            **_seal(
                ctx,
                store.USER_PII_COLUMNS,
                {
                    "full_name": form.contact_name,
                    "phone": form.contact_phone,
                    "email": form.email,
                },
            ),
        )
        store.add(s, user)
        await s.flush()
        await _audit(
            s,
            now,
            None,
            "account.register",
            user.id,
            kind="organisation",
            organisation_id=organisation.id,
            status=status,
        )
    _log().info(
        "account_registered", user_id=user.id, organisation_id=organisation.id, status=status
    )
    return user, organisation


async def do_create_admin(ctx: Context, username: str, password: str, role: str) -> User:
    """Create an active account directly (CLI, tests): no identity data, any role."""
    username = _validated("username", lambda: check_username(username))
    _validated("password", lambda: check_password(password, username))
    if role not in set(Role):
        raise YuntongError("validation_failed", fields={"role": "invalid"})
    password_hash = await _hash_password(ctx, password)
    now = ctx.clock.now()
    async with _registration(ctx) as s:
        await _check_free(s, username=username, email_index=None, phone_index=None)
        user = User(
            username=username,
            display_name=username,
            password_hash=password_hash,
            role=role,
            status=S.ACTIVE,
            locale=ctx.settings.default_locale,
            failed_logins=0,
            dnd=False,
            created_at=now,
            reviewed_at=now,
            full_name_enc=ctx.cipher.encrypt("", context=store.USER_PII_COLUMNS["full_name_enc"]),
        )
        store.add(s, user)
        await s.flush()
        await _audit(s, now, None, "account.create", user.id, role=role)
    _log().info("account_created", user_id=user.id, role=role)
    return user


async def do_bootstrap_operator_admin(ctx: Context) -> tuple[str, str] | None:
    """On first start (no operator admin at all) create one; returns (username, password)."""
    async with ctx.db.session() as s:
        if await store.count_operator_admins(s):
            return None
        username = "admin"
        if await store.get_user_by_username(s, username):
            username = f"admin-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(15)
    await do_create_admin(ctx, username, password, Role.OPERATOR_ADMIN)
    return username, password


# ---------------------------------------------------------------------------------------------
# review and the enforcement ladder


async def _audit(
    s: AsyncSession,
    at: datetime,
    actor_id: int | None,
    action: str,
    target_user_id: int | None,
    **detail: Any,
) -> None:
    """Append an audit event. ``detail`` carries ids, statuses and reasons — never identity data."""
    await store.add_audit(
        s, at=at, actor_id=actor_id, action=action, target_user_id=target_user_id, detail=detail
    )


async def _move(
    ctx: Context,
    actor: Actor,
    user_id: int,
    target: str,
    *,
    table: Mapping[str, frozenset[str]],
    action: str,
    reason: str | None,
) -> User:
    check_staff(actor)
    target = str(target)  # plain strings in rows, audit details and bus messages
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        user = await store.get_user(s, user_id, for_update=True)
        if user is None:
            raise YuntongError("user_not_found")
        if user.id == actor.user_id:
            raise YuntongError("forbidden")
        if user.role in STAFF_ROLES and actor.role != Role.OPERATOR_ADMIN:
            raise YuntongError("forbidden")
        previous = user.status
        check_transition(table, previous, target)
        user.status = target
        user.status_reason = reason
        if table is REVIEW_TRANSITIONS:
            user.reviewed_at = now
            user.reviewed_by = actor.user_id
        if target == S.TERMINATED:
            await store.revoke_sessions(s, user.id, now)
        await _audit(
            s,
            now,
            actor.user_id,
            action,
            user.id,
            **{"from": previous, "to": target, "reason": reason},
        )
    # realtime listens here to drop the sockets of terminated accounts and refresh others
    await ctx.bus.publish(STATUS_CHANNEL, {"user_id": user.id, "status": target})
    _log().info(
        "account_status_changed",
        user_id=user.id,
        actor_id=actor.user_id,
        previous=previous,
        status=target,
    )
    return user


async def do_approve(ctx: Context, actor: Actor, user_id: int) -> User:
    """Operator staff accept a registration: pending (or rejected) → active."""
    return await _move(
        ctx,
        actor,
        user_id,
        S.ACTIVE,
        table=REVIEW_TRANSITIONS,
        action="account.approve",
        reason=None,
    )


async def do_reject(ctx: Context, actor: Actor, user_id: int, reason: str) -> User:
    """Operator staff refuse a registration: pending → rejected, with the reason shown at login."""
    return await _move(
        ctx,
        actor,
        user_id,
        S.REJECTED,
        table=REVIEW_TRANSITIONS,
        action="account.reject",
        reason=reason,
    )


async def do_set_status(ctx: Context, actor: Actor, user_id: int, status: str, reason: str) -> User:
    """Move an account along the enforcement ladder; termination also ends every session."""
    if status not in ENFORCEMENT_STATUSES:
        raise YuntongError("validation_failed", fields={"status": "invalid"})
    return await _move(
        ctx,
        actor,
        user_id,
        status,
        table=ENFORCEMENT_TRANSITIONS,
        action="account.status",
        reason=reason,
    )


async def list_audit(ctx: Context, actor: Actor, user_id: int) -> list[AuditEvent]:
    check_staff(actor)
    async with ctx.db.session() as s:
        return await store.list_audit(s, user_id)


# ---------------------------------------------------------------------------------------------
# login and sessions


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


_TAKEN_CODES = frozenset({"username_taken", "email_taken", "phone_taken", "uscc_taken"})


@asynccontextmanager
async def registration_guard(ctx: Context, client: str) -> AsyncIterator[None]:
    """Hold off a client that keeps hearing ``*_taken``: each says who has an account.

    ``registration_max_taken`` such answers per client per hour; then 429 with Retry-After.
    """
    guard = throttle(
        ctx, "registration.taken", Limit.locking(ctx.settings.registration_max_taken, 3600)
    )
    guard.check(client)
    try:
        yield
    except YuntongError as exc:
        if exc.code in _TAKEN_CODES:
            guard.hit(client)
        raise


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


def check_status_allows_login(user: User) -> None:
    if user.status == S.PENDING:
        raise YuntongError("account_pending")
    if user.status == S.REJECTED:
        raise YuntongError("account_rejected", reason=user.status_reason or "")
    if user.status == S.TERMINATED:
        raise YuntongError("account_terminated")


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
        limits.client.check(client)
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
        limits.pair.check(pair)

    def failed() -> None:
        if client and pair:
            limits.client.hit(client)
            limits.pair.hit(pair)

    if user is None:
        await _verify_password(ctx, _dummy_hash(ctx), password)  # same cost as a real check
        failed()
        _log().info("login_failed", reason="unknown_user")
        raise YuntongError("invalid_credentials")
    if not await _verify_password(ctx, user.password_hash, password):
        failed()
        await _record_failed_login(ctx, user.id, now)
    if pair:
        limits.pair.clear(pair)
    check_status_allows_login(user)
    new_hash = None
    if ctx.hasher.check_needs_rehash(user.password_hash):
        new_hash = await _hash_password(ctx, password)
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
            await _audit(s, now, None, "auth.locked", user.id, minutes=minutes)
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
    guard.check(f"u{user_id}")
    if not await _verify_password(ctx, user.password_hash, current):
        guard.hit(f"u{user_id}")
        raise YuntongError("wrong_password", fields={"current_password": "invalid"})
    guard.clear(f"u{user_id}")
    _validated("new_password", lambda: check_password(new, user.username))
    new_hash = await _hash_password(ctx, new)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        fresh = await store.get_user(s, user_id, for_update=True)
        if fresh is None:
            raise YuntongError("user_not_found")
        fresh.password_hash = new_hash
        fresh.failed_logins = 0
        fresh.locked_until = None
        revoked = await store.revoke_sessions(s, user_id, now, keep=current_session_id)
        await _audit(s, now, user_id, "auth.password_changed", user_id, sessions_revoked=revoked)
    _log().info("password_changed", user_id=user_id, sessions_revoked=revoked)
    await ctx.bus.publish(LOGOUT_CHANNEL, {"user_id": user_id, "keep_session": current_session_id})
    return revoked


# ---------------------------------------------------------------------------------------------
# users: look-ups for other domains, profile


async def get_user(ctx: Context, user_id: int) -> User:
    async with ctx.db.session() as s:
        user = await store.get_user(s, user_id)
    if user is None:
        raise YuntongError("user_not_found")
    return user


async def get_organisation(ctx: Context, organisation_id: int) -> Organisation:
    async with ctx.db.session() as s:
        org = await store.get_organisation(s, organisation_id)
    if org is None:
        raise YuntongError("not_found")
    return org


async def list_org_admins(ctx: Context, organisation_id: int) -> list[User]:
    async with ctx.db.session() as s:
        return await store.org_members_with_role(s, organisation_id, Role.ORG_ADMIN)


async def audit(
    ctx: Context, actor_id: int | None, action: str, target_user_id: int | None, **detail: Any
) -> None:
    """Append an audit event from another domain (ids and amounts only, never identity data)."""
    async with ctx.db.session() as s:
        await _audit(s, ctx.clock.now(), actor_id, action, target_user_id, **detail)


def user_email(ctx: Context, user: User) -> str | None:
    """The user's e-mail address (decrypted), for other domains that write to them."""
    return _open(ctx, store.USER_PII_COLUMNS, user, "email_enc")


async def get_users(ctx: Context, ids: Iterable[int]) -> dict[int, User]:
    """The users with these ids (missing ids are simply absent)."""
    async with ctx.db.session() as s:
        return {u.id: u for u in await store.get_users_by_ids(s, ids)}


def _lookup_throttle(ctx: Context) -> Throttle:
    return throttle(ctx, "users.lookup", Limit(ctx.settings.lookup_per_minute, window_s=60))


async def lookup_active_user(ctx: Context, query: str, *, by: int | None = None) -> User | None:
    """A reachable user by exact username, e-mail address or phone number; else None.

    ``by``: the user asking, held to ``lookup_per_minute`` look-ups (else ``rate_limited``),
    so that phone numbers and addresses cannot be mapped to usernames in bulk.
    """
    if by is not None:
        _lookup_throttle(ctx).take(f"u{by}")
    async with ctx.db.session() as s:
        user = await _find_user(ctx, s, query)
    if user is None or user.status not in REACHABLE_STATUSES:
        return None
    return user


async def _find_user(ctx: Context, s: AsyncSession, query: str) -> User | None:
    text = query.strip()
    if not text:
        return None
    user = await store.get_user_by_username(s, text.lower())
    if user is None and "@" in text:
        user = await store.get_user_by_email_index(s, ctx.cipher.email_index(text))
    if user is None:
        try:
            e164 = normalise_phone(text)
        except PydanticCustomError:
            e164 = None
        if e164 is not None:
            user = await store.get_user_by_phone_index(s, ctx.cipher.blind_index(e164))
    return user


async def resolve_call_parties(ctx: Context, caller_id: int, media: str, to: str | int) -> Party:
    """Check the caller may place this call and find the callee.

    ``to`` is a user id (int) or a username, e-mail address or phone number (str). The callee
    is returned whatever their status; the call engine decides what a status means for it.
    Both are answered from this node's :class:`~yuntong.accounts.parties.PartyCache` when it
    knows them, so a warm call set-up does not touch the database.
    """
    cache = party_cache(ctx)
    if isinstance(to, str):
        to = cache.ids_by_username.get(to.strip().lower(), to)
        if isinstance(to, str):  # not a username this node knows: a look-up, throttled
            _lookup_throttle(ctx).take(f"u{caller_id}")
    caller = cache.by_id.get(caller_id)
    callee = cache.by_id.get(to) if isinstance(to, int) else None
    if caller is None or callee is None:
        async with ctx.db.session() as s:
            if caller is None:
                caller = await cache.load(s, caller_id)
            if isinstance(to, int):
                callee = callee or await cache.load(s, to)
            else:
                generation = cache.generation
                found = await _find_user(ctx, s, to)
                callee = None if found is None else cache.remember(found, generation)
    if caller is None:
        raise YuntongError("user_not_found")
    check_status_allows_calls(caller.status, caller.status_reason, media)
    if callee is None or callee.status in (S.PENDING, S.REJECTED):
        raise YuntongError("user_not_found")
    return callee


async def list_users(
    ctx: Context, actor: Actor, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[User]:
    check_staff(actor)
    async with ctx.db.session() as s:
        return await store.list_users(s, status=status, limit=limit, offset=offset)


async def find_user_by_username(ctx: Context, username: str) -> User:
    async with ctx.db.session() as s:
        user = await store.get_user_by_username(s, username.strip().lower())
    if user is None:
        raise YuntongError("user_not_found")
    return user


async def find_operator(ctx: Context, username: str | None = None) -> User:
    """The staff member a CLI action is recorded under: the named one, or the first admin."""
    async with ctx.db.session() as s:
        if username:
            user = await store.get_user_by_username(s, username.strip().lower())
        else:
            user = await store.first_user_with_role(
                s, Role.OPERATOR_ADMIN, sorted(REACHABLE_STATUSES)
            )
    if user is None:
        raise YuntongError("user_not_found")
    if user.role not in STAFF_ROLES or user.status not in REACHABLE_STATUSES:
        raise YuntongError("forbidden")
    return user


async def do_update_profile(
    ctx: Context, user_id: int, *, display_name: str | None = None, locale: str | None = None
) -> User:
    async with ctx.db.session() as s:
        user = await store.get_user(s, user_id, for_update=True)
        if user is None:
            raise YuntongError("user_not_found")
        if display_name is not None:
            user.display_name = display_name
        if locale is not None:
            if locale not in LOCALES:
                raise YuntongError("validation_failed", fields={"locale": "invalid"})
            user.locale = locale
    return user


async def get_dnd(ctx: Context, user_id: int) -> bool:
    async with ctx.db.session() as s:
        user = await store.get_user(s, user_id)
    return bool(user and user.dnd)


async def do_set_dnd(ctx: Context, user_id: int, on: bool) -> None:
    async with ctx.db.session() as s:
        user = await store.get_user(s, user_id, for_update=True)
        if user is None:
            raise YuntongError("user_not_found")
        user.dnd = on


# ---------------------------------------------------------------------------------------------
# identity: decrypted for the owner and operator staff, masked for organisation admins


@dataclass(frozen=True)
class OrganisationIdentity:
    id: int
    legal_name: str
    uscc: str
    legal_representative: str
    contact_name: str
    contact_phone: str
    address: str


@dataclass(frozen=True)
class IdentityView:
    user_id: int
    masked: bool
    full_name: str
    email: str | None = None
    birth_date: str | None = None
    address: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    employer: str | None = None
    phone: str | None = None
    organisation: OrganisationIdentity | None = None


def mask_leading(value: str, keep: int) -> str:
    """Keep the first ``keep`` characters: ``张三丰`` → ``张**``."""
    if len(value) <= keep:
        return "*" * len(value)
    return value[:keep] + "*" * (len(value) - keep)


def mask_phone(e164: str) -> str:
    """``+8613812345678`` → ``+86138****5678``: country code, 3 leading and 4 last digits."""
    try:
        country = str(phonenumbers.parse(e164).country_code)
    except phonenumbers.NumberParseException:
        country = ""
    return mask(e164, keep_start=1 + len(country) + 3, keep_end=4)


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_birth_date(value: str) -> str:
    return f"{value[:4]}-**-**"


def _mask_optional(value: str | None, masker: Callable[[str], str]) -> str | None:
    return None if value is None else masker(value)


def masked_identity(view: IdentityView) -> IdentityView:
    """The same identity with every personal field masked."""
    org = view.organisation
    return IdentityView(
        user_id=view.user_id,
        masked=True,
        full_name=mask_leading(view.full_name, 1),
        email=_mask_optional(view.email, mask_email),
        birth_date=_mask_optional(view.birth_date, mask_birth_date),
        address=_mask_optional(view.address, lambda v: mask_leading(v, 6)),
        id_type=view.id_type,
        id_number=_mask_optional(view.id_number, lambda v: mask(v, keep_start=6, keep_end=4)),
        employer=_mask_optional(view.employer, lambda v: mask_leading(v, 2)),
        phone=_mask_optional(view.phone, mask_phone),
        organisation=None
        if org is None
        else OrganisationIdentity(
            id=org.id,
            legal_name=org.legal_name,
            uscc=mask(org.uscc, keep_start=6, keep_end=4),
            legal_representative=mask_leading(org.legal_representative, 1),
            contact_name=mask_leading(org.contact_name, 1),
            contact_phone=mask_phone(org.contact_phone),
            address=mask_leading(org.address, 6),
        ),
    )


def sees_unmasked(viewer: Actor, user: User) -> bool:
    return viewer.user_id == user.id or is_staff(viewer)


def may_view_identity(viewer: Actor, user: User) -> bool:
    """Owner, operator staff, or an org admin looking at a member of their own organisation."""
    if sees_unmasked(viewer, user):
        return True
    return (
        viewer.role == Role.ORG_ADMIN
        and viewer.organisation_id is not None
        and viewer.organisation_id == user.organisation_id
    )


def _open(ctx: Context, columns: Mapping[str, str], row: Any, column: str) -> str | None:
    token = getattr(row, column)
    return None if token is None else ctx.cipher.decrypt(token, context=columns[column])


def decrypt_identity(ctx: Context, user: User, organisation: Organisation | None) -> IdentityView:
    def u(column: str) -> str | None:
        return _open(ctx, store.USER_PII_COLUMNS, user, column)

    def o(column: str) -> str:
        return _open(ctx, store.ORGANISATION_PII_COLUMNS, organisation, column) or ""

    org = None
    if organisation is not None:
        org = OrganisationIdentity(
            id=organisation.id,
            legal_name=organisation.legal_name,
            uscc=o("uscc_enc"),
            legal_representative=o("legal_representative_enc"),
            contact_name=o("contact_name_enc"),
            contact_phone=o("contact_phone_enc"),
            address=o("address_enc"),
        )
    return IdentityView(
        user_id=user.id,
        masked=False,
        full_name=u("full_name_enc") or "",
        email=u("email_enc"),
        birth_date=u("birth_date_enc"),
        address=u("address_enc"),
        id_type=user.id_type,
        id_number=u("id_number_enc"),
        employer=u("employer_enc"),
        phone=u("phone_enc"),
        organisation=org,
    )


def identity_for(ctx: Context, viewer: Actor, user: User, org: Organisation | None) -> IdentityView:
    view = decrypt_identity(ctx, user, org)
    return view if sees_unmasked(viewer, user) else masked_identity(view)


async def get_identity(ctx: Context, viewer: Actor, user_id: int) -> IdentityView:
    """A user's identity as this viewer may see it; others get ``user_not_found``."""
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        user = await store.get_user(s, user_id)
        if user is None or not may_view_identity(viewer, user):
            raise YuntongError("user_not_found")
        org = (
            await store.get_organisation(s, user.organisation_id) if user.organisation_id else None
        )
        if is_staff(viewer) and viewer.user_id != user.id:
            # staff access to someone's identity data is itself on the record
            await _audit(s, now, viewer.user_id, "identity.viewed", user.id)
    return identity_for(ctx, viewer, user, org)


async def list_org_members(ctx: Context, viewer: Actor) -> list[tuple[User, IdentityView]]:
    """Members of the viewer's own organisation, identities masked (org admins only)."""
    if viewer.role != Role.ORG_ADMIN or viewer.organisation_id is None:
        raise YuntongError("forbidden")
    async with ctx.db.session() as s:
        members = await store.list_users(s, organisation_id=viewer.organisation_id, limit=10_000)
        org = await store.get_organisation(s, viewer.organisation_id)
    return [(m, identity_for(ctx, viewer, m, org)) for m in members]


async def list_users_masked(
    ctx: Context, actor: Actor, *, status: str | None = None, limit: int = 200
) -> list[tuple[User, IdentityView]]:
    """Accounts with masked identities, for operator listings (CLI)."""
    check_staff(actor)
    async with ctx.db.session() as s:
        users = await store.list_users(s, status=status, limit=limit)
    return [(u, masked_identity(decrypt_identity(ctx, u, None))) for u in users]


# ---------------------------------------------------------------------------------------------
# key rotation

_BATCH = 200


async def count_pii_rows(ctx: Context) -> int:
    """Rows holding encrypted identity data (users + organisations): the progress total."""
    async with ctx.db.session() as s:
        return await store.count_rows(s, User) + await store.count_rows(s, Organisation)


async def do_reencrypt_pii(ctx: Context, on_progress: Callable[[int], None] | None = None) -> int:
    """Re-encrypt every identity ciphertext not under the active key; returns how many.

    Works in batches of committed transactions, so it can be interrupted and run again.
    ``on_progress(n)`` is told after each batch how many rows were looked at.
    """
    total = 0
    for model, columns in (
        (User, store.USER_PII_COLUMNS),
        (Organisation, store.ORGANISATION_PII_COLUMNS),
    ):
        after = 0
        while True:
            async with ctx.db.session() as s:
                if model is User:
                    rows: list[Any] = await store.users_after(s, after, _BATCH)
                else:
                    rows = await store.organisations_after(s, after, _BATCH)
                for row in rows:
                    total += ctx.cipher.reseal(row, columns)
            if not rows:
                break
            after = rows[-1].id
            if on_progress is not None:
                on_progress(len(rows))
    if total:
        async with ctx.db.session() as s:
            await _audit(
                s,
                ctx.clock.now(),
                None,
                "keys.reencrypted",
                None,
                count=total,
                key=ctx.cipher.active,
            )
    _log().info("pii_reencrypted", count=total, key=ctx.cipher.active)
    return total
