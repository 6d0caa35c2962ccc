"""Credit control in real time: may this user's account start a chargeable service now?

A postpaid account may owe up to its credit limit (billed and not yet billed); a prepaid
account spends its balance, and each prepaid call is given the longest duration the balance
pays for. Standings are kept in memory and dropped when the account's ledger changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from yuntong.billing import store
from yuntong.billing.accounts import ACCOUNT_CHANNEL, find_account_for_user
from yuntong.billing.catalog import business_tz, load_catalog
from yuntong.billing.cycles import cycle_of
from yuntong.billing.models import AccountKind, BillingAccount, BillingState, Subscription
from yuntong.billing.rating import tariff_for
from yuntong.billing.tariff import affordable_seconds
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.money import format_yuan

_CACHE = "billing.standings"


@dataclass
class Standing:
    account_id: int
    kind: str
    state: str
    credit_limit_fen: int
    close_day: int
    balance_fen: int
    subscriptions: list[Subscription]

    @property
    def available_fen(self) -> int:
        """What may still be spent: the unused credit, or the prepaid money in hand."""
        limit = self.credit_limit_fen if self.kind == AccountKind.POSTPAID else 0
        return limit - self.balance_fen


class Standings:
    """Per account: standing; per user: the paying account's id (or None: no account yet)."""

    def __init__(self) -> None:
        self.by_account: dict[int, Standing] = {}
        self.account_of: dict[int, int | None] = {}


def _standings(ctx: Context) -> Standings:
    cache: Standings | None = ctx.extras.get(_CACHE)
    if cache is None:
        cache = ctx.extras[_CACHE] = Standings()

        async def _changed(message: dict[str, Any]) -> None:
            cache.by_account.pop(int(message["account_id"]), None)
            if message.get("opened"):  # a user without an account may have one now
                cache.account_of = {u: a for u, a in cache.account_of.items() if a is not None}

        ctx.bus.subscribe(ACCOUNT_CHANNEL, _changed)
    return cache


async def standing(ctx: Context, account_id: int) -> Standing:
    cache = _standings(ctx)
    found = cache.by_account.get(account_id)
    if found is not None:
        return found
    async with ctx.db.session() as s:
        account = await s.get(BillingAccount, account_id)
        if account is None:
            raise YuntongError("billing_account_not_found")
        balance = await store.balance(s, account_id)
        subs = (await store.subscriptions_for(s, [account_id])).get(account_id, [])
    found = Standing(
        account_id=account.id,
        kind=account.kind,
        state=account.state,
        credit_limit_fen=account.credit_limit_fen,
        close_day=account.close_day,
        balance_fen=balance,
        subscriptions=subs,
    )
    cache.by_account[account_id] = found
    return found


async def paying_account_id(ctx: Context, user_id: int) -> int | None:
    cache = _standings(ctx)
    if user_id in cache.account_of:
        return cache.account_of[user_id]
    async with ctx.db.session() as s:
        account = await find_account_for_user(ctx, s, user_id)
    cache.account_of[user_id] = account.id if account else None
    return cache.account_of[user_id]


def check_state(state: str, owed_fen: int) -> None:
    if state == BillingState.SUSPENDED:
        raise YuntongError("billing_suspended", amount=format_yuan(max(0, owed_fen)))
    if state == BillingState.HELD:
        raise YuntongError("billing_held")
    if state == BillingState.TERMINATING:
        raise YuntongError("billing_terminating")
    if state == BillingState.TERMINATED:
        raise YuntongError("billing_terminated")


async def check_may_start(ctx: Context, user_id: int, usage_type: str) -> int | None:
    """Raise a clear error when ``user_id``'s account may not start ``usage_type`` now.

    Returns the longest it may last in seconds (prepaid), or None when unlimited. Anything
    the tariff does not charge for (and anything received) is always allowed."""
    catalog = await load_catalog(ctx)
    account_id = await paying_account_id(ctx, user_id)
    now = ctx.clock.now()
    tz = business_tz(ctx)
    if account_id is None:
        return None  # a new account starts in good standing with the default limit
    st = await standing(ctx, account_id)
    tariff = tariff_for(catalog, st.subscriptions, usage_type, now, tz)
    if tariff.rate is None or not tariff.rate.chargeable:
        return None
    check_state(st.state, st.balance_fen)
    if st.available_fen <= 0:
        kind = "credit_exhausted" if st.kind == AccountKind.POSTPAID else "balance_exhausted"
        raise YuntongError(kind)
    if st.kind != AccountKind.PREPAID:
        return None
    cycle = cycle_of(now, st.close_day, tz)
    async with ctx.db.session() as s:
        used = await store.allowance_used(s, [account_id], cycle.start, cycle.end)
    left = tariff.allowance_s - used.get((account_id, usage_type), 0)
    seconds = affordable_seconds(st.available_fen, tariff.rate, left)
    if seconds == 0:  # not even the first increment is paid for
        raise YuntongError("balance_exhausted")
    return seconds


async def check_account_usable(ctx: Context, account_id: int) -> None:
    """For services that are chargeable whatever the tariff (orders, add-ons)."""
    st = await standing(ctx, account_id)
    check_state(st.state, st.balance_fen)


def limit_used_percent(kind: str, limit_fen: int, owed_fen: int) -> int:
    """How much of a postpaid account's credit limit is owed, in percent (0 for prepaid)."""
    if kind != AccountKind.POSTPAID or limit_fen <= 0:
        return 0
    return max(0, owed_fen * 100 // limit_fen)


def alert_level(kind: str, limit_fen: int, owed_fen: int) -> int:
    """The credit alert an account has earned: 0, 80 or 100 (percent of its limit)."""
    percent = limit_used_percent(kind, limit_fen, owed_fen)
    return 100 if percent >= 100 else 80 if percent >= 80 else 0


async def do_credit_alerts(
    ctx: Context, account_ids: set[int], owed: dict[int, int] | None = None
) -> None:
    """Tell postpaid accounts when they pass 80 % and 100 % of their credit limit (once each,
    until a payment brings them back under). One query for the whole batch; ``owed`` gives
    the balances when the caller already knows them."""
    from yuntong.billing.notices import do_notify

    if not account_ids:
        return
    raised = []
    async with ctx.db.session() as s:
        query = select(
            BillingAccount.id,
            BillingAccount.kind,
            BillingAccount.credit_limit_fen,
            BillingAccount.alert_level,
        ).where(BillingAccount.id.in_(sorted(account_ids)))
        rows = (await s.execute(query)).all()
        if owed is None:
            owed = await store.balances(s, account_ids)
        changed = []
        for account_id, kind, limit, previous in rows:
            level = alert_level(kind, limit, owed.get(account_id, 0))
            if level != previous:
                changed.append({"id": account_id, "alert_level": level})
                if level > previous:
                    raised.append((account_id, level, owed.get(account_id, 0), limit))
        if changed:
            await s.execute(update(BillingAccount), changed)  # bulk, by primary key
    for account_id, level, owed_fen, limit in raised:
        await do_notify(
            ctx,
            account_id,
            f"credit_{level}",
            f"{account_id}:{ctx.clock.now().isoformat()}",
            owed=format_yuan(owed_fen),
            limit=format_yuan(limit),
        )
