"""Account states set by people: lawful suspension, confirmed suspension, termination on request.

A lawful suspension (VP 10) blocks service while monthly rent is still charged; a suspension
for arrears charges none unless ``YUNTONG_BILLING_RENT_DURING_ARREARS_SUSPENSION`` (each move
pauses or resumes the rent,
:func:`yuntong.billing.ledger.rents.settle_suspension_rent`). Termination
asked for by the customer (UA 六.1, VP 11) issues a final statement and completes only once
everything is paid.
"""

from __future__ import annotations

from functools import partial
from typing import Final

from yuntong.accounts import audit, roles, status
from yuntong.accounts.roles import Actor
from yuntong.billing import store
from yuntong.billing.collections.dunning import do_review_account
from yuntong.billing.ledger.accounts import account_for_actor, publish_changed
from yuntong.billing.ledger.rents import end_subscriptions_now, settle_suspension_rent
from yuntong.billing.models import BillingAccount, BillingState, Statement
from yuntong.billing.statements.statements import do_issue_final_statement
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError, allows

S = BillingState
# state -> states people may move it to (the daily run moves between active/suspended/terminated)
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    S.ACTIVE: frozenset({S.SUSPENDED, S.HELD, S.TERMINATING}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.HELD, S.TERMINATING, S.TERMINATED}),
    S.HELD: frozenset({S.ACTIVE}),
    S.TERMINATING: frozenset({S.TERMINATED, S.ACTIVE}),
    S.TERMINATED: frozenset(),
}

# the steps staff take on an account (the routes' names) -> the state each moves it to
ACCOUNT_ACTIONS: Final[dict[str, str]] = {
    "hold": S.HELD,
    "release": S.ACTIVE,
    "suspend": S.SUSPENDED,
}


def check_may_act(actor: Actor, state: str, target: str) -> None:
    """Staff may move an account in ``state`` to ``target`` (what do_hold, do_release and
    do_confirm_suspension check, the transition once the account is locked)."""
    roles.check_staff(actor)
    status.check_transition(TRANSITIONS, state, target)


def account_actions(actor: Actor, state: str) -> list[str]:
    """The steps (:data:`ACCOUNT_ACTIONS`) ``actor`` may take on an account in ``state``."""
    return [
        action
        for action, target in ACCOUNT_ACTIONS.items()
        if allows(partial(check_may_act, actor, state, target))
    ]


# asked before: asking again answers with the same final statement and changes nothing
TERMINATION_ASKED: Final = frozenset({S.TERMINATING, S.TERMINATED})


def check_may_request_termination(state: str) -> None:
    """The customer (or staff for it) may ask to terminate an account that is active or
    suspended for arrears; a held one waits for its release. What ``can_terminate`` says."""
    status.check_transition(TRANSITIONS, state, S.TERMINATING)


async def _move(
    ctx: Context, actor: Actor, account_id: int, target: str, reason: str
) -> BillingAccount:
    async with ctx.db.session() as s:
        account = await s.get(BillingAccount, account_id, with_for_update=True)
        if account is None:
            raise YuntongError("billing_account_not_found")
        status.check_transition(TRANSITIONS, account.state, target)
        account.state = target
        account.state_reason = reason
        account.state_changed_at = ctx.clock.now()
        await settle_suspension_rent(ctx, s, account)
    await audit.record(
        ctx, actor.user_id, f"billing.{target}", None, account_id=account_id, reason=reason
    )
    await publish_changed(ctx, account_id)
    return account


async def do_hold(ctx: Context, actor: Actor, account_id: int, reason: str) -> BillingAccount:
    """Suspend at the request of a competent authority: service blocked, rent still charged."""
    roles.check_staff(actor)
    return await _move(ctx, actor, account_id, S.HELD, reason)


async def do_release(ctx: Context, actor: Actor, account_id: int, reason: str) -> BillingAccount:
    roles.check_staff(actor)
    return await _move(ctx, actor, account_id, S.ACTIVE, reason)


async def do_confirm_suspension(ctx: Context, actor: Actor, account_id: int) -> BillingAccount:
    """Where suspension needs an operator's confirmation (setting ``confirm``)."""
    roles.check_staff(actor)
    return await _move(ctx, actor, account_id, S.SUSPENDED, "non_payment")


async def do_request_termination(
    ctx: Context, actor: Actor, account_id: int | None
) -> tuple[BillingAccount, Statement]:
    """The customer asks to terminate: final statement now; completes when nothing is owed."""
    account = await account_for_actor(ctx, actor, account_id)
    if account.state not in TERMINATION_ASKED:
        check_may_request_termination(account.state)
        account = await _move(ctx, actor, account.id, S.TERMINATING, "customer_request")
        async with ctx.db.session() as s:
            await end_subscriptions_now(ctx, s, account.id)
    await do_review_account(ctx, account.id)  # late fees to date belong on the final statement
    final = await do_issue_final_statement(ctx, account.id)
    account = await do_complete_termination_if_paid(ctx, account.id)
    return account, final


async def do_complete_termination_if_paid(ctx: Context, account_id: int) -> BillingAccount:
    async with ctx.db.session() as s:
        account = await s.get(BillingAccount, account_id, with_for_update=True)
        assert account is not None
        if account.state != S.TERMINATING or await store.balance(s, account_id) > 0:
            return account
        account.state = S.TERMINATED
        account.state_changed_at = ctx.clock.now()
    await publish_changed(ctx, account_id)
    return account
