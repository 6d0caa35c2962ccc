"""Numbers assigned to customers: confirming a hold (or staff assigning on a customer's
behalf) rents the number, releasing it ends the rent and puts it in quarantine, and an
organisation gives its numbers to its members (CP 1.1, 2.4, 3.1).

Assigning binds the number to the customer's real-name identity: an individual subscriber
(``holder_user_id``, who it rings too) or an organisation (``holder_organisation_id``; it rings
the member the organisation's administrator chooses, nobody until then). It also places a rent
order in billing: a subscription to the number's tier product, whose monthly fee is charged
for the rest of the cycle now and each cycle after, on the itemised bill. All of it is one
transaction with the number's move and event.

Releasing ends the subscription at the end of the current cycle (rent is charged in advance,
as for every cancellation: no proration, no refund) and quarantines the number for
``numbers_quarantine_days``; a quarantined number is unallocated for calls, so it never rings
its former holder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import directory, roles
from yuntong.accounts.models import Role, User
from yuntong.accounts.roles import Actor
from yuntong.billing import store as billing_store
from yuntong.billing.catalog.catalog import business_tz, load_catalog, local_day, price_summary
from yuntong.billing.catalog.cycles import cycle_of
from yuntong.billing.ledger import accounts as billing_accounts
from yuntong.billing.ledger.credit import check_account_usable
from yuntong.billing.ledger.rents import live_subscriptions, monthly_rent_fen, rent_entry
from yuntong.billing.models import BillingAccount, Order, Subscription
from yuntong.billing.orders.orders import check_rent_within_credit_limit, service_terms
from yuntong.billing.statements.statements import do_issue_first_statement
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers.directory import publish_changed
from yuntong.numbers.machine import NumberAction, event_row, move_txn
from yuntong.numbers.models import NumberState, PhoneNumber
from yuntong.numbers.selection import (
    NumberView,
    customer_of,
    do_sweep,
    held_by,
    number_row,
    views_of,
)
from yuntong.numbers.tiers import TierView, tier_by_pattern

S = NumberState


def _same_holder(row: PhoneNumber, user_id: int, organisation_id: int | None) -> bool:
    if organisation_id is not None:
        return row.holder_organisation_id == organisation_id
    return row.holder_user_id == user_id


async def tier_of_pattern(ctx: Context, pattern: str) -> TierView:
    """The priced tier a number of class ``pattern`` is rented in; ``number_tier_unpriced``."""
    tier = (await tier_by_pattern(ctx)).get(pattern)
    if tier is None or tier.monthly_rent_fen is None:
        raise YuntongError("number_tier_unpriced", tier=pattern or "standard")
    return tier


@dataclass(frozen=True)
class Tenancy:
    """Whose a number becomes and what it is rented at, read before the assigning transaction."""

    customer: User
    tier: TierView
    account: BillingAccount

    @property
    def individual(self) -> int | None:
        return self.customer.id if self.customer.organisation_id is None else None


async def tenancy_of(ctx: Context, customer: User, pattern: str) -> Tenancy:
    """The tier and the usable billing account a number of ``pattern`` is rented on."""
    tier = await tier_of_pattern(ctx, pattern)
    account = await billing_accounts.account_for_user(ctx, customer.id)
    await check_account_usable(ctx, account.id)
    return Tenancy(customer, tier, account)


def holder_values(tenancy: Tenancy, rent: RentOrder, now: datetime) -> dict[str, object]:
    """The columns of a number assigned under ``tenancy`` with its rent ``rent``."""
    return {
        "holder_user_id": tenancy.individual,
        "holder_organisation_id": tenancy.customer.organisation_id,
        "user_id": tenancy.individual,
        "account_id": tenancy.account.id,
        "subscription_id": rent.subscription.id,
        "assigned_at": now,
        "tier": tenancy.tier.code,
        "reserved_by": None,
        "reserved_until": None,
    }


def rent_detail(tenancy: Tenancy, rent: RentOrder) -> dict[str, object]:
    """What an assigning event records of the holder and the rent."""
    return {
        "holder_user_id": tenancy.individual,
        "holder_organisation_id": tenancy.customer.organisation_id,
        "order_id": rent.order.id,
        "subscription_id": rent.subscription.id,
        "monthly_rent_fen": tenancy.tier.monthly_rent_fen,
    }


async def after_rent(ctx: Context, tenancy: Tenancy, rent: RentOrder) -> None:
    """After the assigning transaction committed: tell every node, issue a first statement."""
    await billing_accounts.publish_changed(ctx, tenancy.account.id)
    await publish_changed(ctx)
    if rent.first:
        await do_issue_first_statement(ctx, tenancy.account.id, rent.order)


def check_assignable(actor: Actor, row: PhoneNumber, customer_id: int, now: datetime) -> None:
    """Whether ``row`` may become ``customer_id``'s now: held by them (hold not lapsed), or
    available and assigned by staff. Customers learn only that another's number is taken."""
    staff = roles.is_staff(actor)
    if row.state == S.RESERVED and row.reserved_by != customer_id:
        raise YuntongError("number_taken")
    if row.state == S.RESERVED and not held_by(row, customer_id, now):
        raise YuntongError("number_hold_lapsed")
    if row.state == S.AVAILABLE and not staff:
        raise YuntongError("number_hold_lapsed")
    if row.state not in (S.RESERVED, S.AVAILABLE) and not staff:
        raise YuntongError("number_taken")


async def do_assign(
    ctx: Context, actor: Actor, number: str, for_user_id: int | None = None
) -> NumberView:
    """Confirm the customer's hold on ``number`` (staff: assign it for ``for_user_id``, held by
    them or simply available): the number becomes theirs and its rent starts. Confirming a
    number already theirs changes nothing (a retry)."""
    customer = await customer_of(ctx, actor, for_user_id)
    org = customer.organisation_id
    await do_sweep(ctx)
    row = await number_row(ctx, number)
    now = ctx.clock.now()
    if row.state == S.ASSIGNED and _same_holder(row, customer.id, org):
        return (await views_of(ctx, [row]))[0]
    check_assignable(actor, row, customer.id, now)
    tenancy = await tenancy_of(ctx, customer, row.pattern)
    async with ctx.db.session() as s:
        rent = await rent_order_txn(ctx, s, actor, tenancy, row.e164)
        won = await move_txn(
            s,
            row,
            NumberAction.ASSIGN,
            actor.user_id,
            now,
            values=holder_values(tenancy, rent, now),
            detail=rent_detail(tenancy, rent),
            also=or_(PhoneNumber.reserved_by.is_(None), PhoneNumber.reserved_by == customer.id),
        )
        if not won:
            raise YuntongError("number_taken")  # rolls the order back with it
    await after_rent(ctx, tenancy, rent)
    return (await views_of(ctx, [await number_row(ctx, row.e164)]))[0]


@dataclass(frozen=True)
class RentOrder:
    order: Order
    subscription: Subscription
    first: bool  # the account's first order: its first statement is issued after commit


async def rent_order_txn(
    ctx: Context, s: AsyncSession, actor: Actor, tenancy: Tenancy, e164: str
) -> RentOrder:
    """The number's rent order, in the assigning transaction (a confirmed hold, staff's
    assignment, a completed port-in): a subscription to the tier's product, the rest of the
    cycle charged now, the credit-limit rule applied."""
    account, tier = tenancy.account, tenancy.tier
    now = ctx.clock.now()
    today = local_day(ctx, now)
    products = await load_catalog(ctx)
    product = products.by_code(tier.product_code)
    tz = business_tz(ctx)
    earlier = await s.execute(select(Order.id).where(Order.account_id == account.id).limit(1))
    first = earlier.first() is None
    held = [products.products[x.product_id] for x in await live_subscriptions(s, account.id, now)]
    rent_fen = monthly_rent_fen(products, [*held, product], today)
    limit_rule = await check_rent_within_credit_limit(ctx, actor, s, account.id, rent_fen)
    order = Order(
        account_id=account.id, kind="subscribe", placed_by=actor.user_id, placed_at=now, document={}
    )
    s.add(order)
    await s.flush()
    sub = Subscription(
        account_id=account.id, product_id=product.id, order_id=order.id, starts_at=now
    )
    s.add(sub)
    await s.flush()
    charge = rent_entry(sub, product, products, cycle_of(now, account.close_day, tz), now, tz)
    await billing_store.insert_entries(s, [charge] if charge else [])
    order.document = {
        "kind": "number",
        "account_id": account.id,
        "placed_at": now.isoformat(),
        "number": e164,
        "tier": tier.code,
        "products": [
            {
                "code": product.code,
                "kind": product.kind,
                "name_zh": product.name_zh,
                "name_en": product.name_en,
                "price": price_summary(products.price_on(product.id, today)),
            }
        ],
        "ending": [],
        "charges_fen": [charge["amount_fen"]] if charge else [],
        "terms": {"account_kind": account.kind, **service_terms(ctx.settings)},
        **({"credit_limit_rule": limit_rule} if limit_rule is not None else {}),
    }
    return RentOrder(order, sub, first)


def check_holder(actor: Actor, row: PhoneNumber) -> None:
    """Staff, the individual holder, or an administrator of the holding organisation; anyone
    else is told there is no such number (numbers cannot be probed)."""
    if roles.is_staff(actor):
        return
    if row.holder_user_id is not None and row.holder_user_id == actor.user_id:
        return
    if (
        row.holder_organisation_id is not None
        and actor.role == Role.ORG_ADMIN
        and actor.organisation_id == row.holder_organisation_id
    ):
        return
    raise YuntongError("number_not_found")


async def do_release(ctx: Context, actor: Actor, number: str) -> NumberView:
    """Give a number back: it rings nobody from now on, rests in quarantine, and its rent
    ends with the current cycle."""
    row = await number_row(ctx, number)
    check_holder(actor, row)
    now = ctx.clock.now()
    until = now + timedelta(days=ctx.settings.numbers_quarantine_days)
    async with ctx.db.session() as s:
        won = await move_txn(
            s,
            row,
            NumberAction.RELEASE,
            actor.user_id,
            now,
            values={
                "holder_user_id": None,
                "holder_organisation_id": None,
                "user_id": None,
                "account_id": None,
                "subscription_id": None,
                "assigned_at": None,
                "quarantine_until": until,
            },
            detail={
                "holder_user_id": row.holder_user_id,
                "holder_organisation_id": row.holder_organisation_id,
                "user_id": row.user_id,
                "subscription_id": row.subscription_id,
                "quarantine_until": until.isoformat(),
            },
            also=PhoneNumber.subscription_id == row.subscription_id,
        )
        if not won:
            raise YuntongError("number_transition_refused", state=row.state, action="release")
        await end_rent_txn(ctx, s, row, actor.user_id)
    if row.account_id is not None:
        await billing_accounts.publish_changed(ctx, row.account_id)
    await publish_changed(ctx)
    return (await views_of(ctx, [await number_row(ctx, row.e164)]))[0]


async def end_rent_txn(
    ctx: Context,
    s: AsyncSession,
    row: PhoneNumber,
    actor_id: int | None,
    why: str = "number_release",
) -> None:
    """The number's subscription ends with the current cycle (as any cancellation); ``why``:
    the cancelling order's kind (a release, a port-out)."""
    if row.subscription_id is None or row.account_id is None:
        return
    sub = await s.get(Subscription, row.subscription_id)
    account = await s.get(BillingAccount, row.account_id)
    if sub is None or account is None:
        return
    now = ctx.clock.now()
    cycle = cycle_of(now, account.close_day, business_tz(ctx))
    if sub.ends_at is None or sub.ends_at > cycle.end:
        sub.ends_at = cycle.end
    s.add(
        Order(
            account_id=account.id,
            kind="cancel",
            placed_by=actor_id,
            placed_at=now,
            document={
                "kind": why,
                "account_id": account.id,
                "number": row.e164,
                "subscription_id": sub.id,
                "ends_at": cycle.end.isoformat(),
            },
        )
    )


async def do_assign_member(
    ctx: Context, actor: Actor, number: str, member_id: int | None
) -> NumberView:
    """An organisation's administrator (or staff) chooses the member its number rings;
    ``None``: nobody (calls to it are unallocated until a member is chosen)."""
    row = await number_row(ctx, number)
    if row.holder_organisation_id is None:
        check_holder(actor, row)
        raise YuntongError("number_member_invalid")
    check_holder(actor, row)
    if member_id is not None:
        member = await directory.get_user(ctx, member_id)
        if member.organisation_id != row.holder_organisation_id:
            raise YuntongError("number_member_invalid")
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        locked = await s.get(PhoneNumber, row.id, with_for_update=True)
        assert locked is not None
        if (
            locked.state != S.ASSIGNED
            or locked.holder_organisation_id != row.holder_organisation_id
        ):
            raise YuntongError("number_transition_refused", state=locked.state, action="member")
        before = locked.user_id
        locked.user_id = member_id
        s.add(
            event_row(
                row.id,
                "member",
                S.ASSIGNED,
                S.ASSIGNED,
                actor.user_id,
                now,
                {"from_user_id": before, "to_user_id": member_id},
            )
        )
    await publish_changed(ctx)
    return (await views_of(ctx, [await number_row(ctx, row.e164)]))[0]


async def my_numbers(ctx: Context, actor: Actor) -> list[NumberView]:
    """The numbers ``actor`` holds (its organisation's, for its administrator), rings, or
    has on hold now."""
    await do_sweep(ctx)
    mine = [PhoneNumber.user_id == actor.user_id, PhoneNumber.holder_user_id == actor.user_id]
    if actor.role == Role.ORG_ADMIN and actor.organisation_id is not None:
        mine.append(PhoneNumber.holder_organisation_id == actor.organisation_id)
    query = select(PhoneNumber).where(
        or_(
            PhoneNumber.state == S.ASSIGNED,
            PhoneNumber.state == S.RESERVED,
        ),
        or_(*mine, PhoneNumber.reserved_by == actor.user_id),
    )
    async with ctx.db.session() as s:
        rows = list((await s.execute(query.order_by(PhoneNumber.national))).scalars())
    now = ctx.clock.now()
    kept = [r for r in rows if r.state == S.ASSIGNED or held_by(r, actor.user_id, now)]
    return await views_of(ctx, kept)
