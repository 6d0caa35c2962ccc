"""Account status: review of registrations and the enforcement ladder, two state machines.

Transition tables reject illegal moves (``invalid_transition``), and the same checks tell
staff which moves they may make on a user now (:func:`status_moves`, :func:`may_review`: the
flags of the admin user list). Every move is audited and published on ``accounts.status``
after it commits (the call path's party cache drops its copy, realtime closes the sockets of
a terminated account).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from yuntong.accounts import audit, store
from yuntong.accounts.models import AccountStatus, Role, User
from yuntong.accounts.parties import STATUS_CHANNEL
from yuntong.accounts.roles import STAFF_ROLES, Actor, check_staff
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError, allows
from yuntong.core.logging import get_logger

S = AccountStatus
# Statuses whose holders can be found, added as contacts and called.
REACHABLE_STATUSES = frozenset({S.ACTIVE, S.WARNED, S.LIMITED})

# Review of a registration by operator staff. A rejected applicant may be approved later
# (e.g. after sending the missing documents).
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.ACTIVE, S.REJECTED}),
    S.REJECTED: frozenset({S.ACTIVE}),
}
# The enforcement ladder (UA 五.1): warning → function limits → suspension → termination.
# Staff may skip rungs for serious breaches and lift sanctions back to active; termination
# is final.
ENFORCEMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.ACTIVE: frozenset({S.WARNED, S.LIMITED, S.SUSPENDED, S.TERMINATED}),
    S.WARNED: frozenset({S.ACTIVE, S.LIMITED, S.SUSPENDED, S.TERMINATED}),
    S.LIMITED: frozenset({S.ACTIVE, S.WARNED, S.SUSPENDED, S.TERMINATED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.WARNED, S.LIMITED, S.TERMINATED}),
    S.TERMINATED: frozenset(),
}
ENFORCEMENT_STATUSES = frozenset(ENFORCEMENT_TRANSITIONS)
# The move staff are offered first: the first rung for an account in good standing, lifting
# the sanction for one under it.
SUGGESTED_MOVES: dict[str, str] = {
    S.ACTIVE: S.WARNED,
    S.WARNED: S.ACTIVE,
    S.LIMITED: S.ACTIVE,
    S.SUSPENDED: S.ACTIVE,
}


def _log() -> Any:
    # a fresh proxy per call: follows the current structlog configuration (tests capture it)
    return get_logger("yuntong.accounts")


def check_transition(table: Mapping[str, frozenset[str]], current: str, target: str) -> None:
    """Raise ``invalid_transition`` unless ``current → target`` is in ``table``."""
    if target not in table.get(current, frozenset()):
        raise YuntongError("invalid_transition", state=current)


def check_may_move(
    actor: Actor, user: User, table: Mapping[str, frozenset[str]], target: str
) -> None:
    """Operator staff may move ``user`` to ``target`` along ``table``: never themselves, and
    another staff member only as an operator admin."""
    check_staff(actor)
    if user.id == actor.user_id:
        raise YuntongError("forbidden")
    if user.role in STAFF_ROLES and actor.role != Role.OPERATOR_ADMIN:
        raise YuntongError("forbidden")
    check_transition(table, user.status, target)


def status_moves(actor: Actor, user: User) -> list[str]:
    """The enforcement statuses ``actor`` may move ``user`` to now, in the ladder's order
    (what :func:`do_set_status` accepts)."""
    return [
        target
        for target in ENFORCEMENT_TRANSITIONS
        if allows(partial(check_may_move, actor, user, ENFORCEMENT_TRANSITIONS, target))
    ]


def suggested_move(actor: Actor, user: User) -> str | None:
    """The one of :func:`status_moves` staff are offered first (:data:`SUGGESTED_MOVES`)."""
    target = SUGGESTED_MOVES.get(user.status)
    if target is None or target not in status_moves(actor, user):
        return None
    return target


def may_review(actor: Actor, user: User, target: str) -> bool:
    """Whether ``actor`` may approve (``active``) or reject (``rejected``) ``user`` now (what
    :func:`do_approve` and :func:`do_reject` accept)."""
    return allows(lambda: check_may_move(actor, user, REVIEW_TRANSITIONS, target))


def check_status_allows_calls(status: str, reason: str | None, media: str) -> None:
    """The account-status part of placing a call (audio or video)."""
    if status == S.PENDING:
        raise YuntongError("account_pending")
    if status == S.REJECTED:
        raise YuntongError("account_rejected", reason=reason or "")
    if status == S.SUSPENDED:
        raise YuntongError("account_suspended")
    if status == S.TERMINATED:
        raise YuntongError("account_terminated")
    if status == S.LIMITED and media == "video":
        raise YuntongError("account_limited")


def check_status_allows_login(user: User) -> None:
    if user.status == S.PENDING:
        raise YuntongError("account_pending")
    if user.status == S.REJECTED:
        raise YuntongError("account_rejected", reason=user.status_reason or "")
    if user.status == S.TERMINATED:
        raise YuntongError("account_terminated")


async def _move(
    ctx: Context,
    actor: Actor,
    user_id: int,
    target: str,
    *,
    table: Mapping[str, frozenset[str]],
    action: str,
    reason: str | None,
) -> User:
    check_staff(actor)
    target = str(target)  # plain strings in rows, audit details and bus messages
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        user = await store.get_user(s, user_id, for_update=True)
        if user is None:
            raise YuntongError("user_not_found")
        check_may_move(actor, user, table, target)
        previous = user.status
        user.status = target
        user.status_reason = reason
        if table is REVIEW_TRANSITIONS:
            user.reviewed_at = now
            user.reviewed_by = actor.user_id
        if target == S.TERMINATED:
            await store.revoke_sessions(s, user.id, now)
        await audit.add(
            s,
            now,
            actor.user_id,
            action,
            user.id,
            **{"from": previous, "to": target, "reason": reason},
        )
    # realtime listens here to drop the sockets of terminated accounts and refresh others
    await ctx.bus.publish(STATUS_CHANNEL, {"user_id": user.id, "status": target})
    _log().info(
        "account_status_changed",
        user_id=user.id,
        actor_id=actor.user_id,
        previous=previous,
        status=target,
    )
    return user


async def do_approve(ctx: Context, actor: Actor, user_id: int) -> User:
    """Operator staff accept a registration: pending (or rejected) → active."""
    return await _move(
        ctx,
        actor,
        user_id,
        S.ACTIVE,
        table=REVIEW_TRANSITIONS,
        action="account.approve",
        reason=None,
    )


async def do_reject(ctx: Context, actor: Actor, user_id: int, reason: str) -> User:
    """Operator staff refuse a registration: pending → rejected, with the reason shown at login."""
    return await _move(
        ctx,
        actor,
        user_id,
        S.REJECTED,
        table=REVIEW_TRANSITIONS,
        action="account.reject",
        reason=reason,
    )


async def do_set_status(ctx: Context, actor: Actor, user_id: int, status: str, reason: str) -> User:
    """Move an account along the enforcement ladder; termination also ends every session."""
    if status not in ENFORCEMENT_STATUSES:
        raise YuntongError("validation_failed", fields={"status": "invalid"})
    return await _move(
        ctx,
        actor,
        user_id,
        status,
        table=ENFORCEMENT_TRANSITIONS,
        action="account.status",
        reason=reason,
    )
