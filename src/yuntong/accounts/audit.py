"""The audit trail: staff actions on accounts, identity views, locks, key rotation.

``detail`` carries ids, statuses, reasons and amounts — never identity data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import store
from yuntong.accounts.models import AuditEvent
from yuntong.accounts.roles import Actor, check_staff
from yuntong.core.context import Context


async def add(
    s: AsyncSession,
    at: datetime,
    actor_id: int | None,
    action: str,
    target_user_id: int | None,
    **detail: Any,
) -> None:
    """Append an audit event in the caller's transaction."""
    await store.add_audit(
        s, at=at, actor_id=actor_id, action=action, target_user_id=target_user_id, detail=detail
    )


async def record(
    ctx: Context, actor_id: int | None, action: str, target_user_id: int | None, **detail: Any
) -> None:
    """Append an audit event from another domain (ids and amounts only, never identity data)."""
    async with ctx.db.session() as s:
        await add(s, ctx.clock.now(), actor_id, action, target_user_id, **detail)


async def list_events(ctx: Context, actor: Actor, user_id: int) -> list[AuditEvent]:
    """The audit trail of one account (operator staff)."""
    check_staff(actor)
    async with ctx.db.session() as s:
        return await store.list_audit(s, user_id)
