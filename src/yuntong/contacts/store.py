"""Queries on contacts and blocks (no rules)."""

from __future__ import annotations

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def watcher_ids(session: AsyncSession, user_id: int) -> list[int]:
    """Owners who keep ``user_id`` in their contacts and whom ``user_id`` has not blocked."""
    blocked = select(Block.blocked_user_id).where(Block.owner_id == user_id)
    result = await session.execute(
        select(Contact.owner_id).where(
            Contact.contact_user_id == user_id, Contact.owner_id.not_in(blocked)
        )
    )
    return list(result.scalars())


async def visible_contact_ids(session: AsyncSession, owner_id: int) -> list[int]:
    """The owner's contacts, minus those who have blocked the owner."""
    blockers = select(Block.owner_id).where(Block.blocked_user_id == owner_id)
    result = await session.execute(
        select(Contact.contact_user_id).where(
            Contact.owner_id == owner_id, Contact.contact_user_id.not_in(blockers)
        )
    )
    return list(result.scalars())
