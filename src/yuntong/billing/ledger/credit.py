"""Credit control in real time: may this user's account start a chargeable service now?

A postpaid account may owe up to its credit limit (billed and not yet billed; VP 9 suspends
once the charges *exceed* the limit, so owing exactly the limit still allows a call); a
prepaid account spends its balance, and each prepaid call is given the longest duration the
balance pays for.

Standings are kept in memory, so that a warm call set-up reads no database. When an account's
standing changes (``billing.account`` on the bus: at once for a change made in this process,
within ``change_poll_s`` for one made by another process — ``yuntong billing close``/``daily``,
another server — which the change feed, ``core/changes.py``, delivers to this process's bus):

- a change of state, limit, package or payment *drops* the standing: the next check reads it;
- a rating pass (``rated`` in the message) *renews* it in place: the handler re-reads every
  rated account this process holds, set-wise, in the rater's task (or the feed's), so the
  call path does not pay for rating. Until the renewal lands the old standing stays in use
  with the notes of the calls rated since (below), so nothing rated here is left out; a
  renewal that fails drops the standings instead.

A finished call is not in the ledger until the worker has collected and rated it (a few
seconds). Its expected cost is counted meanwhile: the server that owned the call notes it
when the call ends (:func:`note_call_ended`), the check prices it with the tariff and the
allowance left, and the note is forgotten once the call's ledger entry exists — checked when
the account's standing is read again after rating, and every few seconds for every note.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.billing import store
from yuntong.billing.catalog.catalog import Catalog, Tariff, business_tz, load_catalog, tariff_for
from yuntong.billing.catalog.cycles import Cycle, cycle_of
from yuntong.billing.catalog.tariff import MAX_QUANTITY_S, Rate, affordable_seconds, rate_usage
from yuntong.billing.ledger.accounts import ACCOUNT_CHANNEL, find_account_for_user
from yuntong.billing.models import (
    AccountKind,
    BillingAccount,
    BillingState,
    EntryKind,
    LedgerEntry,
    Subscription,
    UsageRecord,
)
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.core.money import format_yuan
from yuntong.notifications.notices import do_notify

log = get_logger(__name__)
RECONCILE_EVERY_S = 10.0  # forget the notes of calls rated since
UNRATED_KEPT_S = 24 * 3600.0  # a note never matched by a rating is dropped after a day
_CHUNK = 500


@dataclass
class Standing:
    account_id: int
    kind: str
    state: str
    credit_limit_fen: int
    close_day: int
    balance_fen: int
    subscriptions: list[Subscription]
    # allowance seconds used per cycle label and usage type, read when first needed
    allowance_used: dict[str, dict[str, int]] = field(default_factory=dict)
    opening: bool = False  # no account yet: the one that will be opened
    # the noted calls (below) already in balance_fen when it was read: forgotten when kept
    rated_calls: set[str] = field(default_factory=set)

    @property
    def available_fen(self) -> int:
        """What may still be spent: the unused credit, or the prepaid money in hand."""
        limit = self.credit_limit_fen if self.kind == AccountKind.POSTPAID else 0
        return limit - self.balance_fen


@dataclass(frozen=True)
class Unrated:
    """A call that ended on this server and is not in the ledger yet."""

    usage_type: str
    seconds: int
    started_at: datetime
    noted: float = field(default_factory=time.monotonic)


class Standings:
    """Per account: standing; per user: the paying account's id (or None: no account yet);
    the calls ended here and not rated yet, per account (per user while it has none)."""

    def __init__(self) -> None:
        self.by_account: dict[int, Standing] = {}
        self.account_of: dict[int, int | None] = {}
        self.unrated: dict[int, dict[str, Unrated]] = {}
        self.unrated_of_user: dict[int, dict[str, Unrated]] = {}
        # bumped by every drop: a standing read while one was dropped is used once, not kept
        self.generation = 0
        # per account, bumped by every rating of it: a standing read while it was rated is
        # used once, not kept (the renewal that follows the rating keeps the newer one)
        self.ratings: dict[int, int] = {}

    def drop(self, account_ids: Iterable[int], opened: bool = False) -> None:
        self.generation += 1
        for account_id in account_ids:
            self.by_account.pop(account_id, None)
        if opened:  # a user without an account may have one now
            self.account_of = {u: a for u, a in self.account_of.items() if a is not None}

    def rated(self, account_ids: Iterable[int]) -> dict[int, Standing]:
        """Note that ``account_ids`` were rated; returns the standings held for them, which
        :func:`_renew` replaces unless something replaces or drops them first."""
        held = {}
        for account_id in account_ids:
            self.ratings[account_id] = self.ratings.get(account_id, 0) + 1
            found = self.by_account.get(account_id)
            if found is not None:
                held[account_id] = found
        return held

    def keep(self, st: Standing, generation: int, rating: int, old: Standing | None) -> bool:
        """Keep ``st``, read when the drop counter was ``generation``, the account's rating
        counter ``rating`` and its standing ``old``, unless something changed since."""
        account_id = st.account_id
        if (
            self.generation != generation
            or self.ratings.get(account_id, 0) != rating
            or self.by_account.get(account_id) is not old
        ):
            return False
        self.by_account[account_id] = st
        return True


def _subscribed(ctx: Context) -> Standings:
    cache = Standings()

    async def _changed(message: dict[str, Any]) -> None:
        account_ids = [int(a) for a in message["account_ids"]]
        if message.get("rated"):
            await _renew(ctx, cache, account_ids)
        else:
            cache.drop(account_ids, bool(message.get("opened")))

    ctx.bus.subscribe(ACCOUNT_CHANNEL, _changed)
    return cache


STANDINGS = Piece(
    "billing.standings",
    "per-node cache",
    _subscribed,
    "credit standings of paying accounts, and the cost of calls ended here not rated yet "
    "(dropped on billing.account, renewed after rating)",
)


def _standings(ctx: Context) -> Standings:
    return ctx.services.get(STANDINGS)


async def standing(ctx: Context, account_id: int) -> Standing:
    cache = _standings(ctx)
    found = cache.by_account.get(account_id)
    if found is not None:
        return found
    generation, rating = cache.generation, cache.ratings.get(account_id, 0)
    found = (await _read_standings(ctx, cache, [account_id])).get(account_id)
    if found is None:
        raise YuntongError("billing_account_not_found")
    if cache.keep(found, generation, rating, None):
        _forget(cache.unrated, account_id, found.rated_calls)
    return found


async def _read_standings(
    ctx: Context, cache: Standings, account_ids: list[int], ahead: bool = False
) -> dict[int, Standing]:
    """The standings of ``account_ids`` as the database has them now, in four statements (and,
    ``ahead``, one per cycle for the allowances used this cycle, which a check with calls not
    yet rated needs); each with the noted calls its balance includes, which the caller
    forgets when it keeps the standing."""
    notes = [c for a in account_ids for c in cache.unrated.get(a, ())]
    found: dict[int, Standing] = {}
    async with ctx.db.session() as s:
        # the notes first: a call rated between the two reads is counted twice for a moment
        # (the rating renews this standing again), never left out
        rated = await _rated_calls(s, notes) if notes else set()
        for start in range(0, len(account_ids), _CHUNK):
            chunk = account_ids[start : start + _CHUNK]
            accounts = (
                await s.execute(select(BillingAccount).where(BillingAccount.id.in_(chunk)))
            ).scalars()
            balances = await store.balances(s, chunk)
            subs = await store.subscriptions_for(s, chunk)
            for account in accounts:
                found[account.id] = Standing(
                    account_id=account.id,
                    kind=account.kind,
                    state=account.state,
                    credit_limit_fen=account.credit_limit_fen,
                    close_day=account.close_day,
                    balance_fen=balances.get(account.id, 0),
                    subscriptions=subs.get(account.id, []),
                )
        if ahead:
            await _read_allowances_used(ctx, s, found)
    for account_id, st in found.items():
        st.rated_calls = {c for c in cache.unrated.get(account_id, ()) if c in rated}
    return found


async def _read_allowances_used(ctx: Context, s: AsyncSession, found: dict[int, Standing]) -> None:
    """Read ahead the allowance used in the current cycle, so the next check does not."""
    tz = business_tz(ctx)
    now = ctx.clock.now()
    by_cycle: dict[Cycle, list[Standing]] = {}
    for st in found.values():
        by_cycle.setdefault(cycle_of(now, st.close_day, tz), []).append(st)
    for cycle, standings in by_cycle.items():
        used = await store.allowance_used(
            s, [st.account_id for st in standings], cycle.start, cycle.end
        )
        for st in standings:
            st.allowance_used[cycle.label] = {}
        for (account_id, usage_type), seconds in used.items():
            found[account_id].allowance_used[cycle.label][usage_type] = seconds


async def _renew(ctx: Context, cache: Standings, account_ids: list[int]) -> None:
    """``account_ids`` were rated: re-read the standings this process holds for them, all at
    once. When that fails they are dropped, so that the next check reads its own; never
    raises (it runs in the bus handler of the rater or of the change feed's poller)."""
    held = cache.rated(account_ids)
    if not held:
        return
    generation = cache.generation
    ratings = {a: cache.ratings[a] for a in held}
    try:
        found = await _read_standings(ctx, cache, sorted(held), ahead=True)
    except Exception:
        cache.drop(held)
        log.exception("billing_standings_not_renewed", accounts=len(held))
        return
    except BaseException:  # cancelled
        cache.drop(held)
        raise
    for account_id, old in held.items():
        st = found.get(account_id)
        if st is None:
            cache.drop([account_id])
        elif cache.keep(st, generation, ratings[account_id], old):
            _forget(cache.unrated, account_id, st.rated_calls)


def _opening_standing(ctx: Context) -> Standing:
    """A user without an account yet: the account opened for it will be postpaid, with the
    default limit, and rated on the default package."""
    return Standing(
        account_id=0,
        kind=AccountKind.POSTPAID,
        state=BillingState.ACTIVE,
        credit_limit_fen=ctx.settings.billing_default_credit_limit_fen,
        close_day=ctx.settings.billing_close_day,
        balance_fen=0,
        subscriptions=[],
        opening=True,
    )


async def paying_account_id(ctx: Context, user_id: int) -> int | None:
    cache = _standings(ctx)
    if user_id in cache.account_of:
        return cache.account_of[user_id]
    async with ctx.db.session() as s:
        account = await find_account_for_user(ctx, s, user_id)
    cache.account_of[user_id] = account.id if account else None
    return cache.account_of[user_id]


def credit_exceeded(kind: str, limit_fen: int, owed_fen: int) -> bool:
    """A postpaid account owing more than its limit (VP 9: exceeding the limit suspends
    chargeable services, reaching it does not); a prepaid account has no credit."""
    return kind != AccountKind.PREPAID and owed_fen > limit_fen


def credit_exhausted(st: Standing) -> bool:
    """An active account whose chargeable services pause because its credit is used up (what
    :func:`check_may_start` refuses with ``credit_exhausted``; the ledger's balance, before
    the calls not rated yet)."""
    return st.state == BillingState.ACTIVE and credit_exceeded(
        st.kind, st.credit_limit_fen, st.balance_fen
    )


def attention(st: Standing) -> str | None:
    """What the customer must be told about the account's standing now: ``credit_exhausted``,
    or its state when that is not ``active`` (the page explains each); None: all is well."""
    if credit_exhausted(st):
        return "credit_exhausted"
    return None if st.state == BillingState.ACTIVE else st.state


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
    the tariff does not charge for (and anything received) is allowed, except to a
    terminated account (``billing_terminated_free_calls``). Reads the database only when
    this account's standing is not in memory."""
    catalog = await load_catalog(ctx)
    account_id = await paying_account_id(ctx, user_id)
    now = ctx.clock.now()
    tz = business_tz(ctx)
    st = _opening_standing(ctx) if account_id is None else await standing(ctx, account_id)
    if st.state == BillingState.TERMINATED and not ctx.settings.billing_terminated_free_calls:
        raise YuntongError("billing_terminated")
    tariff = tariff_for(catalog, st.subscriptions, usage_type, now, tz)
    if tariff.rate is None or not tariff.rate.chargeable:
        return None
    return await _may_last(ctx, catalog, st, (account_id, user_id), usage_type, tariff)


async def check_may_start_priced(ctx: Context, user_id: int, rate: Rate) -> int | None:
    """:func:`check_may_start` for usage its producer prices (outside calls by destination,
    ``call.outside``): ``rate`` instead of the package's, no allowance."""
    catalog = await load_catalog(ctx)
    account_id = await paying_account_id(ctx, user_id)
    st = _opening_standing(ctx) if account_id is None else await standing(ctx, account_id)
    if st.state == BillingState.TERMINATED and not ctx.settings.billing_terminated_free_calls:
        raise YuntongError("billing_terminated")
    if not rate.chargeable:
        return None
    priced = Tariff(None, rate, 0)
    return await _may_last(ctx, catalog, st, (account_id, user_id), "", priced)


async def _may_last(
    ctx: Context,
    catalog: Catalog,
    st: Standing,
    payer: tuple[int | None, int],
    usage_type: str,
    tariff: Tariff,
) -> int | None:
    """How long a chargeable use may last on the account's standing (None: no limit)."""
    assert tariff.rate is not None
    account_id, user_id = payer
    now = ctx.clock.now()
    tz = business_tz(ctx)
    check_state(st.state, st.balance_fen)
    unrated = _unrated_of(_standings(ctx), account_id, user_id)
    spent, taken = await _unrated_cost(ctx, catalog, st, unrated) if unrated else (0, {})
    owed = st.balance_fen + spent
    if st.kind != AccountKind.PREPAID:
        if credit_exceeded(st.kind, st.credit_limit_fen, owed):
            raise YuntongError("credit_exhausted")
        return None
    available = -owed
    if available <= 0:
        raise YuntongError("balance_exhausted")
    cycle = cycle_of(now, st.close_day, tz)
    left = tariff.allowance_s
    if left > 0:
        used = await _allowance_used(ctx, st, cycle)
        left -= used.get(usage_type, 0) + taken.get((cycle.label, usage_type), 0)
    seconds = affordable_seconds(available, tariff.rate, left)
    if seconds == 0:  # not even the first increment is paid for
        raise YuntongError("balance_exhausted")
    return seconds


async def check_account_usable(ctx: Context, account_id: int) -> None:
    """For services that are chargeable whatever the tariff (orders, add-ons)."""
    st = await standing(ctx, account_id)
    check_state(st.state, st.balance_fen)


# -- calls ended here and not rated yet ----------------------------------------------------


def note_call_ended(
    ctx: Context, user_id: int, call_id: str, usage_type: str, seconds: int, started_at: datetime
) -> None:
    """A call ``user_id`` pays for ended with ``seconds`` billable: count its cost until the
    worker has rated it. Memory only (the hot path): no database read."""
    if seconds <= 0:
        return
    cache = _standings(ctx)
    note = Unrated(usage_type, seconds, started_at)
    account_id = cache.account_of.get(user_id)
    if account_id is None:
        cache.unrated_of_user.setdefault(user_id, {})[call_id] = note
    else:
        cache.unrated.setdefault(account_id, {})[call_id] = note


def forget_call(ctx: Context, user_id: int, call_id: str) -> None:
    """The end of a noted call could not be written: it will not be billed as noted."""
    cache = _standings(ctx)
    for group in (cache.unrated, cache.unrated_of_user):
        for calls in group.values():
            calls.pop(call_id, None)


def _unrated_of(cache: Standings, account_id: int | None, user_id: int) -> list[Unrated]:
    mine = cache.unrated_of_user.get(user_id)
    if account_id is None:
        return list(mine.values()) if mine else []
    if mine:  # noted before the account was known: it pays for them
        cache.unrated.setdefault(account_id, {}).update(cache.unrated_of_user.pop(user_id))
    calls = cache.unrated.get(account_id)
    return list(calls.values()) if calls else []


async def _unrated_cost(
    ctx: Context, catalog: Catalog, st: Standing, calls: list[Unrated]
) -> tuple[int, dict[tuple[str, str], int]]:
    """What ``calls`` will cost when rated, as rating will price them (the tariff in force
    when each started, the allowance left in its cycle, in the order they ended); returns the
    amount and the allowance seconds they use per (cycle, usage type)."""
    tz = business_tz(ctx)
    owed = 0
    taken: dict[tuple[str, str], int] = {}
    for call in calls:
        tariff = tariff_for(catalog, st.subscriptions, call.usage_type, call.started_at, tz)
        if tariff.rate is None:
            continue
        cycle = cycle_of(call.started_at, st.close_day, tz)
        key = (cycle.label, call.usage_type)
        left = 0
        if tariff.allowance_s > 0:
            used = await _allowance_used(ctx, st, cycle)
            left = tariff.allowance_s - used.get(call.usage_type, 0) - taken.get(key, 0)
        rated = rate_usage(min(call.seconds, MAX_QUANTITY_S), tariff.rate, left)
        owed += rated.amount_fen
        taken[key] = taken.get(key, 0) + rated.allowance_s
    return owed, taken


async def _allowance_used(ctx: Context, st: Standing, cycle: Cycle) -> dict[str, int]:
    """Allowance seconds rated in ``cycle`` per usage type, read once per standing."""
    used = st.allowance_used.get(cycle.label)
    if used is None:
        used = {}
        if not st.opening:
            async with ctx.db.session() as s:
                found = await store.allowance_used(s, [st.account_id], cycle.start, cycle.end)
            used = {usage_type: n for (_, usage_type), n in found.items()}
        st.allowance_used[cycle.label] = used
    return used


async def _rated_calls(s: AsyncSession, call_ids: list[str]) -> set[str]:
    """Of ``call_ids``, those whose usage has a ledger entry."""
    rated: set[str] = set()
    for start in range(0, len(call_ids), _CHUNK):
        query = (
            select(UsageRecord.source_id)
            .join(LedgerEntry, LedgerEntry.usage_id == UsageRecord.id)
            .where(
                UsageRecord.source == "call",
                UsageRecord.source_id.in_(call_ids[start : start + _CHUNK]),
                LedgerEntry.kind == EntryKind.USAGE,
            )
        )
        rated.update((await s.execute(query)).scalars())
    return rated


def _forget(group: dict[int, dict[str, Unrated]], key: int, call_ids: set[str]) -> None:
    """Drop the notes of ``call_ids`` (and any older than a day)."""
    calls = group.get(key)
    if not calls:
        return
    oldest = time.monotonic() - UNRATED_KEPT_S
    gone = [c for c, note in calls.items() if c in call_ids or note.noted < oldest]
    for call_id in gone:
        del calls[call_id]
    if not calls:
        del group[key]


async def _reconcile(ctx: Context, cache: Standings) -> None:
    """Forget the notes of every call rated since it ended. The account's standing is renewed
    with them (read again, with the rated amount in its balance)."""
    call_ids = [
        c
        for group in (cache.unrated, cache.unrated_of_user)
        for calls in group.values()
        for c in calls
    ]
    if not call_ids:
        return
    async with ctx.db.session() as s:
        rated = await _rated_calls(s, call_ids)
    renew = []
    for account_id, calls in list(cache.unrated.items()):
        if account_id in cache.by_account and not rated.isdisjoint(calls):
            renew.append(account_id)  # the renewal forgets them with its read
        else:
            _forget(cache.unrated, account_id, rated)
    await _renew(ctx, cache, renew)
    for user_id in list(cache.unrated_of_user):
        _forget(cache.unrated_of_user, user_id, rated)


async def do_reconcile_unrated(ctx: Context) -> None:
    """Forget the notes of calls rated since they ended (and renew those accounts' standings).
    Off the call path: the billing worker runs it every ``RECONCILE_EVERY_S``; it reads the
    database only while this server has notes."""
    await _reconcile(ctx, _standings(ctx))


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
