"""Address book rules: add by username, phone or e-mail; edit; favourites; blocking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from yuntong.accounts import directory
from yuntong.contacts import store
from yuntong.contacts.models import Block, Contact
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.errors import YuntongError

CHANGED_CHANNEL = "contacts.changed"  # bus: {"owner_id", "other_id"} after any change


class BlockCache:
    """Per owner, the ids they blocked. ``generation`` goes up with every drop, so that a list
    read while a change was arriving (from this node or the change feed) is used once but never
    kept in place of the newer one."""

    def __init__(self) -> None:
        self.by_owner: dict[int, frozenset[int]] = {}
        self.generation = 0

    def drop(self, owner_id: int) -> None:
        self.generation += 1
        self.by_owner.pop(owner_id, None)


BLOCKS = Piece(
    "contacts.blocks",
    "per-node cache",
    lambda ctx: BlockCache(),
    "block lists by owner (dropped on contacts.changed)",
)


PresenceOf = Callable[[Context, Sequence[int]], Awaitable[dict[int, str]]]

PRESENCE = Piece(
    "contacts.presence",
    "node-owned live state",
    lambda ctx: Slot[PresenceOf](),
    "how contacts' presence is shown in the address book: presence hands its statuses_of "
    "over when the app is built (the address book does not import presence)",
)


def _block_cache(ctx: Context) -> BlockCache:
    return ctx.services.get(BLOCKS)


def show_presence_with(ctx: Context, status_of: PresenceOf) -> None:
    ctx.services.get(PRESENCE).value = status_of


async def presences_of(ctx: Context, user_ids: Sequence[int]) -> dict[int, str]:
    """Contacts' presence (online, busy, dnd, offline); offline when none was handed over."""
    statuses_of = ctx.services.get(PRESENCE).value
    if statuses_of is None or not user_ids:
        return dict.fromkeys(user_ids, "offline")
    return await statuses_of(ctx, user_ids)


async def _changed(ctx: Context, owner_id: int, other_id: int) -> None:
    """Tell every node (its block-list cache, presence) that the pair's relation changed."""
    await ctx.bus.publish(CHANGED_CHANNEL, {"owner_id": owner_id, "other_id": other_id})


def install(ctx: Context) -> None:
    """Keep this node's block-list cache in step with changes made on any node."""

    async def forget(message: dict[str, Any]) -> None:
        _block_cache(ctx).drop(message["owner_id"])

    ctx.bus.subscribe(CHANGED_CHANNEL, forget)


@dataclass(frozen=True)
class ContactView:
    id: int
    user_id: int
    username: str
    display_name: str
    name: str
    notes: str
    favourite: bool
    blocked: bool


async def _view(ctx: Context, contacts: list[Contact], owner_id: int) -> list[ContactView]:
    users = await directory.get_users(ctx, [c.contact_user_id for c in contacts])
    async with ctx.db.session() as session:
        blocked = set(await store.blocked_ids(session, owner_id))
    return [
        ContactView(
            id=c.id,
            user_id=c.contact_user_id,
            username=users[c.contact_user_id].username,
            display_name=users[c.contact_user_id].display_name,
            name=c.name,
            notes=c.notes,
            favourite=c.favourite,
            blocked=c.contact_user_id in blocked,
        )
        for c in contacts
        if c.contact_user_id in users
    ]


async def list_contacts(
    ctx: Context, owner_id: int, q: str | None = None, favourite: bool | None = None
) -> list[ContactView]:
    async with ctx.db.session() as session:
        result = await session.execute(store.contacts_query(owner_id, q, favourite))
        contacts = list(result.scalars())
    return await _view(ctx, contacts, owner_id)


async def do_add_contact(
    ctx: Context,
    owner_id: int,
    query: str,
    name: str | None = None,
    notes: str = "",
    favourite: bool = False,
) -> ContactView:
    user = await directory.lookup_active_user(ctx, query, by=owner_id)
    if user is None:
        raise YuntongError("user_not_found")
    if user.id == owner_id:
        raise YuntongError("contact_self")
    contact = Contact(
        owner_id=owner_id,
        contact_user_id=user.id,
        name=(name or user.display_name).strip()[:64],
        notes=notes,
        favourite=favourite,
        created_at=ctx.clock.now(),
    )
    try:
        async with ctx.db.session() as session:
            if await store.find_contact(session, owner_id, user.id):
                raise YuntongError("contact_exists")
            session.add(contact)
    except IntegrityError as exc:  # a concurrent add of the same contact
        raise YuntongError("contact_exists") from exc
    await _changed(ctx, owner_id, user.id)
    return (await _view(ctx, [contact], owner_id))[0]


async def do_update_contact(
    ctx: Context,
    owner_id: int,
    contact_id: int,
    *,
    name: str | None = None,
    notes: str | None = None,
    favourite: bool | None = None,
) -> ContactView:
    async with ctx.db.session() as session:
        contact = await store.get_contact(session, owner_id, contact_id)
        if contact is None:
            raise YuntongError("not_found")
        if name is not None:
            contact.name = name.strip()[:64]
        if notes is not None:
            contact.notes = notes
        if favourite is not None:
            contact.favourite = favourite
    return (await _view(ctx, [contact], owner_id))[0]


async def do_delete_contact(ctx: Context, owner_id: int, contact_id: int) -> None:
    async with ctx.db.session() as session:
        contact = await store.get_contact(session, owner_id, contact_id)
        if contact is None:
            raise YuntongError("not_found")
        await session.delete(contact)
    await _changed(ctx, owner_id, contact.contact_user_id)


async def do_block(
    ctx: Context, owner_id: int, *, query: str | None = None, user_id: int | None = None
) -> int:
    """Block a user: their calls never ring the owner; they stop seeing the owner's presence."""
    if user_id is not None:
        user = (await directory.get_users(ctx, [user_id])).get(user_id)
    else:
        user = await directory.lookup_active_user(ctx, query or "", by=owner_id)
    if user is None:
        raise YuntongError("user_not_found")
    if user.id == owner_id:
        raise YuntongError("contact_self")
    async with ctx.db.session() as session:
        if not await store.is_blocked(session, owner_id, user.id):
            session.add(
                Block(owner_id=owner_id, blocked_user_id=user.id, created_at=ctx.clock.now())
            )
    await _changed(ctx, owner_id, user.id)
    return user.id


async def do_unblock(ctx: Context, owner_id: int, user_id: int) -> None:
    async with ctx.db.session() as session:
        if not await store.delete_block(session, owner_id, user_id):
            raise YuntongError("not_found")
    await _changed(ctx, owner_id, user_id)


async def list_blocked(ctx: Context, owner_id: int) -> list[dict[str, object]]:
    async with ctx.db.session() as session:
        ids = await store.blocked_ids(session, owner_id)
    users = await directory.get_users(ctx, ids)
    return [
        {"user_id": uid, "username": users[uid].username, "display_name": users[uid].display_name}
        for uid in ids
        if uid in users
    ]


async def is_blocked(ctx: Context, owner_id: int, other_id: int) -> bool:
    """Whether ``owner_id`` blocked ``other_id``; asked on every call, so kept in memory."""
    cache = _block_cache(ctx)
    blocked = cache.by_owner.get(owner_id)
    if blocked is None:
        generation = cache.generation
        async with ctx.db.session() as session:
            blocked = frozenset(await store.blocked_ids(session, owner_id))
        if len(cache.by_owner) > 50_000:
            cache.by_owner.clear()
        if cache.generation == generation:
            cache.by_owner[owner_id] = blocked
    return other_id in blocked


@dataclass(frozen=True)
class Circle:
    """Whom a user's presence concerns, either way round."""

    watchers: list[int]  # who keeps the user in their contacts, not blocked by the user
    visible: list[int]  # the user's contacts who have not blocked the user


async def circle_of(ctx: Context, user_id: int) -> Circle:
    """Who keeps the user in their contacts and :func:`visible_contact_ids`, in one
    transaction (a user coming online needs both)."""
    async with ctx.db.connection() as conn:
        watchers, visible = await store.circle(conn, user_id)
    return Circle(watchers, visible)


async def visible_contact_ids(ctx: Context, owner_id: int) -> list[int]:
    async with ctx.db.session() as session:
        return await store.visible_contact_ids(session, owner_id)
