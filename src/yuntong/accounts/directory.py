"""Users for other domains: look-ups (throttled), call-party resolution, profile.

Other domains find users here (by id, username, e-mail address or phone number); a look-up by
someone is held to ``lookup_per_minute`` so that phone numbers and addresses cannot be mapped
to usernames in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_core import PydanticCustomError
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import store
from yuntong.accounts.models import AccountStatus, Organisation, Role, User
from yuntong.accounts.parties import Party, party_cache
from yuntong.accounts.roles import STAFF_ROLES, Actor, check_staff
from yuntong.accounts.status import REACHABLE_STATUSES, check_status_allows_calls
from yuntong.accounts.validation import normalise_phone
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import LOCALES
from yuntong.core.throttle import Limit, Throttle, throttle

S = AccountStatus


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


async def get_users(ctx: Context, ids: Iterable[int]) -> dict[int, User]:
    """The users with these ids (missing ids are simply absent)."""
    async with ctx.db.session() as s:
        return {u.id: u for u in await store.get_users_by_ids(s, ids)}


async def dnd_among(ctx: Context, ids: Iterable[int]) -> set[int]:
    """Those of the users ``ids`` who asked not to be disturbed (``users.dnd``)."""
    async with ctx.db.connection() as conn:
        return await store.dnd_among(conn, ids)


def _lookup_throttle(ctx: Context) -> Throttle:
    return throttle(ctx, "users.lookup", Limit(ctx.settings.lookup_per_minute, window_s=60))


async def lookup_active_user(ctx: Context, query: str, *, by: int | None = None) -> User | None:
    """A reachable user by exact username, e-mail address or phone number; else None.

    ``by``: the user asking, held to ``lookup_per_minute`` look-ups (else ``rate_limited``),
    so that phone numbers and addresses cannot be mapped to usernames in bulk.
    """
    if by is not None:
        await _lookup_throttle(ctx).take(f"u{by}")
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
            await _lookup_throttle(ctx).take(f"u{caller_id}")
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
    ctx: Context,
    user_id: int,
    *,
    display_name: str | None = None,
    locale: str | None = None,
    dnd: bool | None = None,
) -> User:
    """Change what the user keeps on their row: name, language, do-not-disturb (presence owns
    what DND means; it keeps the choice here)."""
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
        if dnd is not None:
            user.dnd = dnd
    return user
