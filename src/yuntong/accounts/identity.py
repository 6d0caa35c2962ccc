"""Identity data: decrypted for the owner and operator staff, masked for organisation
admins; key rotation (re-encryption under the active key)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from yuntong.accounts import audit, store
from yuntong.accounts.models import Organisation, Role, User
from yuntong.accounts.roles import Actor, check_staff, is_staff
from yuntong.core.context import Context
from yuntong.core.crypto import mask
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger


def _log() -> Any:
    # a fresh proxy per call: follows the current structlog configuration (tests capture it)
    return get_logger("yuntong.accounts")


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


def user_email(ctx: Context, user: User) -> str | None:
    """The user's e-mail address (decrypted), for other domains that write to them."""
    return _open(ctx, store.USER_PII_COLUMNS, user, "email_enc")


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
            await audit.add(s, now, viewer.user_id, "identity.viewed", user.id)
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
            await audit.add(
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
