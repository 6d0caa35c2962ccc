"""Billing accounts: who pays for a user, who may see and manage an account, credit limits.

An organisation's members are billed to the organisation's account; an individual subscriber
has an account of its own. Accounts are opened on first need (an order, a chargeable usage).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import audit, directory, identity, roles
from yuntong.accounts.models import Role
from yuntong.accounts.roles import Actor
from yuntong.billing.models import AccountKind, BillingAccount
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.money import format_yuan
from yuntong.notifications.notices import Recipient

# {"account_ids": [n, …], "opened": bool}: their standing changed ("opened": an account was
# opened, so a user without one may have one now); a durable topic (core/changes.py)
ACCOUNT_CHANNEL = "billing.account"


async def publish_changed(
    ctx: Context, *account_ids: int, opened: bool = False, rated: bool = False
) -> None:
    """After a commit that changed these accounts' standing: this process's subscribers are
    told on the bus, and every other process (another server; the CLI changed it) through the
    change feed the bus writes the message to (one row for all of them). ``rated``: only
    usage was rated (credit control renews those standings instead of dropping them)."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    message: dict[str, Any] = {"account_ids": ids, "opened": opened}
    if rated:
        message["rated"] = True
    await ctx.bus.publish(ACCOUNT_CHANNEL, message)


async def find_account_for_user(
    ctx: Context, s: AsyncSession, user_id: int
) -> BillingAccount | None:
    user = await directory.get_user(ctx, user_id)
    if user.organisation_id is not None:
        query = select(BillingAccount).where(BillingAccount.organisation_id == user.organisation_id)
    else:
        query = select(BillingAccount).where(BillingAccount.user_id == user_id)
    found: BillingAccount | None = (await s.execute(query)).scalar_one_or_none()
    return found


async def account_ids_for_users(ctx: Context, user_ids: set[int]) -> dict[int, int]:
    """The paying account's id of each of ``user_ids``, opened when missing: one read for all
    (the billing worker turns every finished call of a pass into usage at once)."""
    users = await directory.get_users(ctx, user_ids)
    org_of = {u: users[u].organisation_id for u in user_ids if u in users}
    orgs = {o for o in org_of.values() if o is not None}
    query = select(BillingAccount.id, BillingAccount.user_id, BillingAccount.organisation_id)
    query = query.where(
        or_(
            BillingAccount.user_id.in_([u for u, o in org_of.items() if o is None]),
            BillingAccount.organisation_id.in_(orgs),
        )
    )
    async with ctx.db.session() as s:
        rows = (await s.execute(query)).all()
    of_user = {user: account for account, user, _ in rows if user is not None}
    of_org = {org: account for account, _, org in rows if org is not None}
    found: dict[int, int] = {}
    for user_id in user_ids:
        org = org_of.get(user_id)
        account_id = of_org.get(org) if org is not None else of_user.get(user_id)
        if account_id is None:  # rare: the first charge of a user whose account was never opened
            account_id = (await account_for_user(ctx, user_id)).id
        found[user_id] = account_id
    return found


async def account_for_user(ctx: Context, user_id: int) -> BillingAccount:
    """The account ``user_id`` is billed to, opened (postpaid, default limit) when missing."""
    async with ctx.db.session() as s:
        found = await find_account_for_user(ctx, s, user_id)
        if found is not None:
            return found
    user = await directory.get_user(ctx, user_id)
    account = BillingAccount(
        organisation_id=user.organisation_id,
        user_id=None if user.organisation_id is not None else user_id,
        kind=AccountKind.POSTPAID,
        credit_limit_fen=ctx.settings.billing_default_credit_limit_fen,
        close_day=ctx.settings.billing_close_day,
        locale=user.locale,
        created_at=ctx.clock.now(),
    )
    try:
        async with ctx.db.session() as s:
            s.add(account)
    except IntegrityError:  # opened concurrently by someone else
        async with ctx.db.session() as s:
            again = await find_account_for_user(ctx, s, user_id)
        if again is None:
            raise
        return again
    await publish_changed(ctx, account.id, opened=True)
    return account


async def get_account(ctx: Context, account_id: int) -> BillingAccount:
    async with ctx.db.session() as s:
        account = await s.get(BillingAccount, account_id)
    if account is None:
        raise YuntongError("billing_account_not_found")
    return account


def may_manage(actor: Actor, account: BillingAccount) -> bool:
    """Staff, the individual account holder, or an administrator of the paying organisation."""
    if roles.is_staff(actor):
        return True
    if account.user_id is not None:
        return account.user_id == actor.user_id
    return actor.role == Role.ORG_ADMIN and actor.organisation_id == account.organisation_id


async def account_for_actor(ctx: Context, actor: Actor, account_id: int | None) -> BillingAccount:
    """The account ``actor`` asks about (its own when ``account_id`` is None), access checked.

    Another customer's account is reported as not found, so ids cannot be probed."""
    if account_id is None:
        if roles.is_staff(actor):
            raise YuntongError("billing_account_not_found")
        account = await account_for_user(ctx, actor.user_id)
    else:
        account = await get_account(ctx, account_id)
    if not may_manage(actor, account):
        raise YuntongError("billing_account_not_found")
    return account


async def holder_name(ctx: Context, account: BillingAccount) -> str:
    if account.organisation_id is not None:
        org = await directory.get_organisation(ctx, account.organisation_id)
        return org.legal_name
    assert account.user_id is not None
    return (await directory.get_user(ctx, account.user_id)).display_name


async def notice_addresses(ctx: Context, account: BillingAccount) -> list[str]:
    """Where e-mail notices go: the holder, or the organisation's administrators."""
    if account.user_id is not None:
        address = identity.user_email(ctx, await directory.get_user(ctx, account.user_id))
        return [address] if address else []
    assert account.organisation_id is not None
    admins = await directory.list_org_admins(ctx, account.organisation_id)
    return [a for a in (identity.user_email(ctx, u) for u in admins) if a]


async def notice_recipient(ctx: Context, account_id: int) -> Recipient:
    """Where an account's notices go and in which language (handed to notifications)."""
    async with ctx.db.session() as s:
        account = await s.get(BillingAccount, account_id)
    assert account is not None
    return Recipient(await notice_addresses(ctx, account), account.locale)


def check_credit_limit(ctx: Context, limit_fen: int) -> None:
    low = ctx.settings.billing_credit_limit_min_fen
    high = ctx.settings.billing_credit_limit_max_fen
    if not low <= limit_fen <= high:
        raise YuntongError(
            "credit_limit_out_of_bounds", low=format_yuan(low), high=format_yuan(high)
        )


def check_may_change_credit_limit(account: BillingAccount) -> None:
    """A postpaid account has a credit limit to change; a prepaid one spends its own money."""
    if account.kind != AccountKind.POSTPAID:
        raise YuntongError("credit_limit_prepaid")


async def do_set_credit_limit(
    ctx: Context, actor: Actor, account_id: int | None, limit_fen: int
) -> BillingAccount:
    """The customer chooses its credit limit within the operator's bounds (VP 9)."""
    account = await account_for_actor(ctx, actor, account_id)
    check_may_change_credit_limit(account)
    check_credit_limit(ctx, limit_fen)
    async with ctx.db.session() as s:
        row = await s.get(BillingAccount, account.id, with_for_update=True)
        assert row is not None
        check_may_change_credit_limit(row)  # staff may have made it prepaid meanwhile
        row.credit_limit_fen = limit_fen
        row.alert_level = 0
        account = row
    await audit.record(
        ctx, actor.user_id, "billing.credit_limit", None, account_id=account.id, fen=limit_fen
    )
    await publish_changed(ctx, account.id)
    return account


async def do_set_kind(ctx: Context, actor: Actor, account_id: int, kind: str) -> BillingAccount:
    """Staff switch an account between postpaid and prepaid."""
    roles.check_staff(actor)
    if kind not in set(AccountKind):
        raise YuntongError("validation_failed", fields={"kind": "invalid"})
    async with ctx.db.session() as s:
        row = await s.get(BillingAccount, account_id, with_for_update=True)
        if row is None:
            raise YuntongError("billing_account_not_found")
        row.kind = kind
        account = row
    await publish_changed(ctx, account_id)
    return account


def account_summary(account: BillingAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "organisation_id": account.organisation_id,
        "user_id": account.user_id,
        "kind": account.kind,
        "credit_limit_fen": account.credit_limit_fen,
        "state": account.state,
        "state_reason": account.state_reason,
        "in_collections": account.in_collections,
        "close_day": account.close_day,
    }
