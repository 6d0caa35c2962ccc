"""Staff take numbers out of selection (blocked: a complaint, a number kept back) and put them
back (available). An assigned number is released first; a blocked one rings nobody."""

from __future__ import annotations

from yuntong.accounts import roles
from yuntong.accounts.roles import Actor
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers.directory import publish_changed
from yuntong.numbers.machine import NumberAction, check_transition, move_txn
from yuntong.numbers.selection import NumberView, number_row, views_of


async def _move(
    ctx: Context, actor: Actor, number: str, action: NumberAction, reason: str
) -> NumberView:
    roles.check_staff(actor)
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise YuntongError("validation_failed", fields={"reason": "required"})
    row = await number_row(ctx, number)
    check_transition(row.state, action)
    async with ctx.db.session() as s:
        won = await move_txn(
            s,
            row,
            action,
            actor.user_id,
            ctx.clock.now(),
            values={"reserved_by": None, "reserved_until": None, "quarantine_until": None},
            detail={"reason": reason, "reserved_by": row.reserved_by},
        )
        if not won:
            raise YuntongError("number_taken")
    await publish_changed(ctx)
    return (await views_of(ctx, [await number_row(ctx, row.e164)]))[0]


async def do_block(ctx: Context, actor: Actor, number: str, reason: str) -> NumberView:
    """Block an available, held or quarantined number (a hold on it ends)."""
    return await _move(ctx, actor, number, NumberAction.BLOCK, reason)


async def do_unblock(ctx: Context, actor: Actor, number: str, reason: str) -> NumberView:
    """Offer a blocked number again."""
    return await _move(ctx, actor, number, NumberAction.UNBLOCK, reason)
