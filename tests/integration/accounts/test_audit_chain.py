"""The audit trail's hash chain: every event sealed with an HMAC over the previous one; an
event altered, removed from the middle or cut off the end is found."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from tests.integration.accounts.conftest import active_user
from yuntong.accounts import audit, audit_chain
from yuntong.accounts.auth import Principal
from yuntong.accounts.models import AuditEvent
from yuntong.core.context import Context


async def _trail(ctx: Context, staff: Principal, people: int = 3) -> list[int]:
    for n in range(people):
        await active_user(ctx, staff, 40 + n)
    async with ctx.db.session() as s:
        return list((await s.execute(select(AuditEvent.id).order_by(AuditEvent.id))).scalars())


async def test_every_event_is_sealed_and_the_chain_checks(ctx: Context, staff: Principal) -> None:
    ids = await _trail(ctx, staff)
    assert len(ids) >= 3 and await audit_chain.pending(ctx) == len(ids)
    assert await audit_chain.do_seal(ctx) == len(ids)
    report = await audit_chain.check_chain(ctx)
    assert report.ok and report.sealed == len(ids) and report.unsealed == 0

    await audit.record(ctx, staff.user_id, "test.later", None, note="after the seal")
    assert (await audit_chain.check_chain(ctx)).unsealed == 1  # not sealed yet, not broken
    assert await audit_chain.do_seal(ctx) == 1
    assert (await audit_chain.check_chain(ctx)).sealed == len(ids) + 1


async def test_an_altered_event_breaks_the_chain_there(ctx: Context, staff: Principal) -> None:
    ids = await _trail(ctx, staff)
    await audit_chain.do_seal(ctx)
    async with ctx.db.session() as s:
        await s.execute(
            update(AuditEvent).where(AuditEvent.id == ids[1]).values(detail={"reason": "edited"})
        )
    report = await audit_chain.check_chain(ctx)
    assert (report.problem, report.broken_event, report.sealed) == ("altered", ids[1], 1)


async def test_a_removed_event_and_a_cut_end_are_found(ctx: Context, staff: Principal) -> None:
    ids = await _trail(ctx, staff)
    await audit_chain.do_seal(ctx)
    async with ctx.db.session() as s:
        await s.execute(delete(AuditEvent).where(AuditEvent.id == ids[-1]))
    assert (await audit_chain.check_chain(ctx)).problem == "truncated"

    async with ctx.db.session() as s:
        await s.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
    report = await audit_chain.check_chain(ctx)
    assert (report.problem, report.broken_event) == ("missing", ids[2])
    async with ctx.db.session() as s:
        left = await s.scalar(select(func.count()).select_from(AuditEvent))
    assert left == len(ids) - 2
