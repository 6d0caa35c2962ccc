"""Queries on users, organisations, login sessions and audit events — no business rules.

Every function takes the caller's :class:`AsyncSession` (a few plain-column reads of hot paths
an :class:`AsyncConnection`), so a service decides what one transaction holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from yuntong.accounts.models import AuditEvent, LoginSession, Organisation, Role, User

# Encrypted columns and the AES-GCM associated data ("context") each is bound to. A ciphertext
# moved to another column does not decrypt.
USER_PII_COLUMNS: dict[str, str] = {
    "full_name_enc": "user:full_name",
    "birth_date_enc": "user:birth_date",
    "address_enc": "user:address",
    "id_number_enc": "user:id_number",
    "employer_enc": "user:employer",
    "phone_enc": "user:phone",
    "email_enc": "user:email",
}
ORGANISATION_PII_COLUMNS: dict[str, str] = {
    "uscc_enc": "organisation:uscc",
    "legal_representative_enc": "organisation:legal_representative",
    "contact_name_enc": "organisation:contact_name",
    "contact_phone_enc": "organisation:contact_phone",
    "address_enc": "organisation:address",
}


async def get_user(s: AsyncSession, user_id: int, *, for_update: bool = False) -> User | None:
    stmt = select(User).where(User.id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await s.execute(stmt)).scalar_one_or_none()


async def get_user_by_username(s: AsyncSession, username: str) -> User | None:
    return (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()


async def get_user_by_email_index(s: AsyncSession, email_index: str) -> User | None:
    stmt = select(User).where(User.email_index == email_index)
    return (await s.execute(stmt)).scalar_one_or_none()


async def get_user_by_phone_index(s: AsyncSession, phone_index: str) -> User | None:
    stmt = select(User).where(User.phone_index == phone_index)
    return (await s.execute(stmt)).scalar_one_or_none()


async def get_users_by_ids(s: AsyncSession, ids: Iterable[int]) -> list[User]:
    wanted = set(ids)
    if not wanted:
        return []
    return list((await s.execute(select(User).where(User.id.in_(wanted)))).scalars())


async def dnd_among(conn: AsyncConnection, ids: Iterable[int]) -> set[int]:
    """Those of ``ids`` who asked not to be disturbed (one column, no ORM objects)."""
    wanted = set(ids)
    if not wanted:
        return set()
    stmt = select(User.id).where(User.id.in_(wanted), User.dnd.is_(True))
    return set((await conn.execute(stmt)).scalars())


async def list_users(
    s: AsyncSession,
    *,
    status: str | None = None,
    organisation_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[User]:
    stmt = select(User).order_by(User.id).limit(limit).offset(offset)
    if status is not None:
        stmt = stmt.where(User.status == status)
    if organisation_id is not None:
        stmt = stmt.where(User.organisation_id == organisation_id)
    return list((await s.execute(stmt)).scalars())


async def first_user_with_role(s: AsyncSession, role: str, statuses: Sequence[str]) -> User | None:
    stmt = (
        select(User).where(User.role == role, User.status.in_(statuses)).order_by(User.id).limit(1)
    )
    return (await s.execute(stmt)).scalar_one_or_none()


async def count_operator_admins(s: AsyncSession) -> int:
    stmt = select(func.count()).select_from(User).where(User.role == Role.OPERATOR_ADMIN)
    return int((await s.execute(stmt)).scalar_one())


async def uscc_index_exists(s: AsyncSession, uscc_index: str) -> bool:
    stmt = select(Organisation.id).where(Organisation.uscc_index == uscc_index)
    return (await s.execute(stmt)).first() is not None


async def get_organisation(s: AsyncSession, organisation_id: int) -> Organisation | None:
    return await s.get(Organisation, organisation_id)


async def org_members_with_role(s: AsyncSession, organisation_id: int, role: str) -> list[User]:
    query = select(User).where(User.organisation_id == organisation_id, User.role == role)
    return list((await s.execute(query.order_by(User.id))).scalars())


def add(s: AsyncSession, row: User | Organisation | LoginSession | AuditEvent) -> None:
    s.add(row)


async def add_audit(
    s: AsyncSession,
    *,
    at: datetime,
    actor_id: int | None,
    action: str,
    target_user_id: int | None,
    detail: dict[str, Any],
) -> AuditEvent:
    event = AuditEvent(
        at=at, actor_id=actor_id, action=action, target_user_id=target_user_id, detail=detail
    )
    s.add(event)
    await s.flush()
    return event


async def list_audit(s: AsyncSession, target_user_id: int, limit: int = 200) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.target_user_id == target_user_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list((await s.execute(stmt)).scalars())


# what a session check needs, as plain columns (no ORM objects: every request and every
# WebSocket connect runs it); built once, so its compiled form is cached
_LIVE_PRINCIPAL = (
    select(
        LoginSession.id.label("session_id"),
        LoginSession.last_seen_at,
        User.id,
        User.username,
        User.display_name,
        User.role,
        User.status,
        User.organisation_id,
        User.locale,
    )
    .join(User, User.id == LoginSession.user_id)
    .where(
        LoginSession.token_hash == bindparam("token_hash"),
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > bindparam("now", type_=LoginSession.expires_at.type),
    )
)
# concurrent touches share one statement: the group commit writes them as one executemany
TOUCH_SESSION = (
    update(LoginSession)
    .where(LoginSession.id == bindparam("sid"))
    .values(last_seen_at=bindparam("seen_at", type_=LoginSession.last_seen_at.type))
)


# session_id, last_seen_at, id (the user's), username, display_name, role, status,
# organisation_id, locale
PrincipalRow = Row[str, datetime, int, str, str, str, str, int | None, str]


async def get_live_principal(
    conn: AsyncConnection, token_hash: str, now: datetime
) -> PrincipalRow | None:
    """The unrevoked, unexpired session holding this token, joined with the user's columns a
    principal is made of (``session_id``, ``last_seen_at``, then as on ``User``: ``id`` …)."""
    result = await conn.execute(_LIVE_PRINCIPAL, {"token_hash": token_hash, "now": now})
    return result.first()


async def list_live_sessions(s: AsyncSession, user_id: int, now: datetime) -> list[LoginSession]:
    stmt = (
        select(LoginSession)
        .where(
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
        )
        .order_by(LoginSession.created_at.desc(), LoginSession.id)
    )
    return list((await s.execute(stmt)).scalars())


async def revoke_sessions(
    s: AsyncSession,
    user_id: int,
    now: datetime,
    *,
    only: str | None = None,
    keep: str | None = None,
) -> int:
    """Revoke the user's live sessions (just ``only``, or all but ``keep``); returns how many."""
    stmt = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if only is not None:
        stmt = stmt.where(LoginSession.id == only)
    if keep is not None:
        stmt = stmt.where(LoginSession.id != keep)
    result = await s.execute(stmt.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


async def users_after(s: AsyncSession, after_id: int, limit: int) -> list[User]:
    stmt = select(User).where(User.id > after_id).order_by(User.id).limit(limit)
    return list((await s.execute(stmt)).scalars())


async def organisations_after(s: AsyncSession, after_id: int, limit: int) -> list[Organisation]:
    stmt = select(Organisation).where(Organisation.id > after_id).order_by(Organisation.id)
    return list((await s.execute(stmt.limit(limit))).scalars())


async def count_rows(s: AsyncSession, model: type[User] | type[Organisation]) -> int:
    return int((await s.execute(select(func.count()).select_from(model))).scalar_one())
