"""Registration: individuals, organisations (with their admin), operator admins.

Identity fields are encrypted here before they reach the store and are never logged. A client
that keeps hearing ``*_taken`` is held off (:func:`registration_guard`).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import audit, store
from yuntong.accounts.models import AccountStatus, Organisation, Role, User
from yuntong.accounts.sessions import hash_password
from yuntong.accounts.validation import (
    IndividualRegistration,
    OrganisationRegistration,
    check_password,
    check_username,
    validated,
)
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import LOCALES
from yuntong.core.logging import get_logger
from yuntong.core.throttle import Limit, throttle

S = AccountStatus


def _log() -> Any:
    # a fresh proxy per call: follows the current structlog configuration (tests capture it)
    return get_logger("yuntong.accounts")


def check_birth_date_plausible(ctx: Context, born: date) -> None:
    today = ctx.clock.now().astimezone(ZoneInfo(ctx.settings.business_timezone)).date()
    if born > today or born.year < 1900:
        raise YuntongError("validation_failed", fields={"birth_date": "invalid_date"})


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
    password_hash = await hash_password(ctx, form.password)
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
        await audit.add(s, now, None, "account.register", user.id, kind="individual", status=status)
    _log().info("account_registered", user_id=user.id, kind="individual", status=status)
    return user


async def do_register_organisation(
    ctx: Context, form: OrganisationRegistration, *, locale: str | None = None
) -> tuple[User, Organisation]:
    """Register an organisation and its contact person as its ``org_admin``."""
    password_hash = await hash_password(ctx, form.password)
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
        await audit.add(
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
    username = validated("username", lambda: check_username(username))
    validated("password", lambda: check_password(password, username))
    if role not in set(Role):
        raise YuntongError("validation_failed", fields={"role": "invalid"})
    password_hash = await hash_password(ctx, password)
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
        await audit.add(s, now, None, "account.create", user.id, role=role)
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


_TAKEN_CODES = frozenset({"username_taken", "email_taken", "phone_taken", "uscc_taken"})


@asynccontextmanager
async def registration_guard(ctx: Context, client: str) -> AsyncIterator[None]:
    """Hold off a client that keeps hearing ``*_taken``: each says who has an account.

    ``registration_max_taken`` such answers per client per hour; then 429 with Retry-After.
    """
    guard = throttle(
        ctx, "registration.taken", Limit.locking(ctx.settings.registration_max_taken, 3600)
    )
    await guard.check(client)
    try:
        yield
    except YuntongError as exc:
        if exc.code in _TAKEN_CODES:
            await guard.hit(client)
        raise
