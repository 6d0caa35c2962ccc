"""Queries on contacts and blocks (no rules)."""

from __future__ import annotations

from sqlalchemy import Select, bindparam, delete, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from yuntong.contacts.models import Block, Contact


async def get_contact(session: AsyncSession, owner_id: int, contact_id: int) -> Contact | None:
    result = await session.execute(
        select(Contact).where(Contact.id == contact_id, Contact.owner_id == owner_id)
    )
    return result.scalar_one_or_none()


async def find_contact(session: AsyncSession, owner_id: int, other_id: int) -> Contact | None:
    result = await session.execute(
        select(Contact).where(Contact.owner_id == owner_id, Contact.contact_user_id == other_id)
    )
    return result.scalar_one_or_none()


def contacts_query(owner_id: int, q: str | None, favourite: bool | None) -> Select[Contact]:
    stmt = select(Contact).where(Contact.owner_id == owner_id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(func.lower(Contact.name).like(like), func.lower(Contact.notes).like(like))
        )
    if favourite is not None:
        stmt = stmt.where(Contact.favourite == favourite)
    return stmt.order_by(Contact.favourite.desc(), func.lower(Contact.name), Contact.id)


async def is_blocked(session: AsyncSession, owner_id: int, other_id: int) -> bool:
    result = await session.execute(
        select(Block.id).where(Block.owner_id == owner_id, Block.blocked_user_id == other_id)
    )
    return result.first() is not None


async def blocked_ids(session: AsyncSession, owner_id: int) -> list[int]:
    result = await session.execute(
        select(Block.blocked_user_id).where(Block.owner_id == owner_id).order_by(Block.id)
    )
    return list(result.scalars())


async def delete_block(session: AsyncSession, owner_id: int, other_id: int) -> int:
    result = await session.execute(
        delete(Block).where(Block.owner_id == owner_id, Block.blocked_user_id == other_id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def visible_contact_ids(session: AsyncSession, owner_id: int) -> list[int]:
    """The owner's contacts, minus those who have blocked the owner."""
    blockers = select(Block.owner_id).where(Block.blocked_user_id == owner_id)
    result = await session.execute(
        select(Contact.contact_user_id).where(
            Contact.owner_id == owner_id, Contact.contact_user_id.not_in(blockers)
        )
    )
    return list(result.scalars())


# built once (a connect asks it for every user that comes online): the user's contact and block
# rows either way round, in one statement, each row marked with its table (c / b)
_AROUND = union_all(
    select(literal("c"), Contact.owner_id, Contact.contact_user_id).where(
        or_(
            Contact.owner_id == bindparam("user_id"),
            Contact.contact_user_id == bindparam("user_id"),
        )
    ),
    select(literal("b"), Block.owner_id, Block.blocked_user_id).where(
        or_(Block.owner_id == bindparam("user_id"), Block.blocked_user_id == bindparam("user_id"))
    ),
)


async def circle(conn: AsyncConnection, user_id: int) -> tuple[list[int], list[int]]:
    """Of one user: who keeps the user in their contacts and is not blocked by the user (the
    watchers of the user's presence), and :func:`visible_contact_ids`, at once, from the
    contact and block rows either way round: one plain query."""
    rows = (await conn.execute(_AROUND, {"user_id": user_id})).all()
    contacts = [(owner, other) for table, owner, other in rows if table == "c"]
    blocks = [(owner, other) for table, owner, other in rows if table == "b"]
    blocked_by_user = {blocked for owner, blocked in blocks if owner == user_id}
    blocking_user = {owner for owner, blocked in blocks if blocked == user_id}
    watchers = [
        owner for owner, other in contacts if other == user_id and owner not in blocked_by_user
    ]
    visible = [
        other for owner, other in contacts if owner == user_id and other not in blocking_user
    ]
    return watchers, visible
