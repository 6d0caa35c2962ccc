"""Billing disputes (VP 6): a customer disputes a statement line; the operator investigates,
then explains or corrects it with a credit note. Either way the operator must explain what was
found (``explanation_required`` otherwise): the explanation is the note of the resolving step,
stored with it and shown to the customer. Every step is recorded and shown to the customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from yuntong.accounts import audit, roles, status
from yuntong.accounts.roles import Actor
from yuntong.billing.ledger.accounts import account_for_actor, may_manage, publish_changed
from yuntong.billing.models import (
    BillingAccount,
    Dispute,
    DisputeEvent,
    DisputeState,
    EntryKind,
    LedgerEntry,
    Statement,
    StatementLine,
)
from yuntong.billing.store import add_entry
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError, allows
from yuntong.core.i18n import translate
from yuntong.core.money import check_amount, format_yuan
from yuntong.notifications.notices import do_notify

MAX_TEXT: Final = 2000
OPEN_STATES: Final = frozenset({DisputeState.OPEN, DisputeState.INVESTIGATING})
RESOLVED_ACTIONS: Final = frozenset({DisputeState.CREDITED.value, DisputeState.EXPLAINED.value})
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    DisputeState.OPEN: frozenset(
        {DisputeState.INVESTIGATING, DisputeState.CREDITED, DisputeState.EXPLAINED}
    ),
    DisputeState.INVESTIGATING: frozenset({DisputeState.CREDITED, DisputeState.EXPLAINED}),
    DisputeState.CREDITED: frozenset(),
    DisputeState.EXPLAINED: frozenset(),
}


@dataclass(frozen=True)
class DisputeView:
    """A dispute as its customer sees it: the line's statement, the credit, every step."""

    dispute: Dispute
    statement_number: str
    credited_fen: int
    events: tuple[DisputeEvent, ...]

    @property
    def explanation(self) -> str | None:
        """What the operator told the customer when resolving it (None while it is open)."""
        resolving = [e for e in self.events if e.action in RESOLVED_ACTIONS]
        return resolving[-1].note if resolving else None


# -- checks ------------------------------------------------------------------------------------


def check_text(field: str, text: str, *, required: bool) -> str:
    text = text.strip()
    if required and not text:
        raise YuntongError("validation_failed", fields={field: "required"})
    if len(text) > MAX_TEXT:
        raise YuntongError("validation_failed", fields={field: "too_long"})
    return text


def check_explanation(note: str) -> str:
    """The operator's explanation of a resolution: required, not blank (VP 6)."""
    note = check_text("note", note, required=False)
    if not note:
        raise YuntongError("explanation_required", fields={"note": "required"})
    return note


def check_dispute_amount(amount_fen: int, most_fen: int) -> int:
    """A positive whole-fen amount no larger than ``most_fen``."""
    try:
        check_amount(amount_fen)
    except ValueError as exc:
        raise YuntongError("invalid_amount", reason=str(exc)) from exc
    if amount_fen > most_fen:
        raise YuntongError("invalid_amount", reason=f"more than {format_yuan(most_fen)} yuan")
    return amount_fen


def check_dispute_transition(dispute: Dispute, target: str) -> None:
    status.check_transition(TRANSITIONS, dispute.state, target)


# the steps staff take on a dispute (the routes' names) -> the state each moves it to
ACTIONS: Final[dict[str, DisputeState]] = {
    "investigate": DisputeState.INVESTIGATING,
    "resolve_credit": DisputeState.CREDITED,
    "resolve_explanation": DisputeState.EXPLAINED,
}


def check_may_move(actor: Actor, dispute: Dispute, target: str) -> None:
    """``actor`` may move ``dispute`` to ``target`` now: staff, and a transition its state
    allows (what every step checks before it acts)."""
    roles.check_staff(actor)
    check_dispute_transition(dispute, target)


def dispute_actions(actor: Actor, dispute: Dispute) -> list[str]:
    """The steps (:data:`ACTIONS`) ``actor`` may take on ``dispute`` now."""
    allowed = []
    for action, target in ACTIONS.items():
        try:
            check_may_move(actor, dispute, target)
        except YuntongError:
            continue
        allowed.append(action)
    return allowed


# -- queries -----------------------------------------------------------------------------------


async def open_disputed_fen(s: AsyncSession, account_id: int) -> dict[int, int]:
    """Per statement id, the amount under open or investigating disputes (no late fee on it)."""
    query = (
        select(Dispute.statement_id, func.sum(Dispute.amount_fen))
        .where(Dispute.account_id == account_id, Dispute.state.in_(list(OPEN_STATES)))
        .group_by(Dispute.statement_id)
    )
    return {int(st): int(fen) for st, fen in (await s.execute(query)).all()}


@dataclass(frozen=True)
class DisputedAmount:
    """One dispute's amount and the time it was open, ``[opened_at, resolved_at)``: a late fee
    for a past day must see the disputes open on that day, not today's."""

    statement_id: int
    entry_id: int
    amount_fen: int
    opened_at: datetime
    resolved_at: datetime | None
    still_open: bool

    def open_at(self, moment: datetime | None) -> bool:
        """Open at ``moment`` (None: now, whatever the clocks say)."""
        if moment is None:
            return self.still_open
        return self.opened_at < moment and (self.resolved_at is None or self.resolved_at >= moment)


async def disputed_amounts(s: AsyncSession, account_id: int) -> list[DisputedAmount]:
    """Every dispute of the account with its amount and when it was open."""
    query = select(
        Dispute.statement_id,
        Dispute.entry_id,
        Dispute.amount_fen,
        Dispute.opened_at,
        Dispute.resolved_at,
        Dispute.state,
    ).where(Dispute.account_id == account_id)
    return [
        DisputedAmount(int(st), int(entry), int(fen), opened, resolved, state in OPEN_STATES)
        for st, entry, fen, opened, resolved, state in (await s.execute(query)).all()
    ]


async def _line_on_statement(
    s: AsyncSession, entry_id: int
) -> tuple[LedgerEntry, Statement] | None:
    query = (
        select(LedgerEntry, Statement)
        .join(StatementLine, StatementLine.entry_id == LedgerEntry.id)
        .join(Statement, Statement.id == StatementLine.statement_id)
        .where(LedgerEntry.id == entry_id)
    )
    row = (await s.execute(query)).one_or_none()
    return None if row is None else (row[0], row[1])


def check_line_disputable(open_already: bool, disputable_fen: int) -> None:
    """A statement line may be disputed while no other dispute of it is open and something on
    it is left that earlier disputes did not give back."""
    if open_already:
        raise YuntongError("dispute_exists")
    if disputable_fen <= 0:
        raise YuntongError("invalid_amount", reason="nothing on this line can be disputed")


async def disputable_lines(ctx: Context, statement_id: int) -> dict[int, int]:
    """What may be disputed on each charge of a statement now, by ledger entry id (0: nothing,
    or a dispute of it is open): the ``can_dispute`` of its lines, from the same check that
    :func:`do_open_dispute` runs."""
    async with ctx.db.session() as s:
        entries = (
            await s.execute(
                select(LedgerEntry.id, LedgerEntry.amount_fen)
                .join(StatementLine, StatementLine.entry_id == LedgerEntry.id)
                .where(StatementLine.statement_id == statement_id)
            )
        ).all()
        credit_entry = aliased(LedgerEntry)
        credited = dict(
            (
                await s.execute(
                    select(Dispute.entry_id, func.sum(credit_entry.amount_fen))
                    .join(credit_entry, Dispute.credit_entry_id == credit_entry.id)
                    .where(Dispute.statement_id == statement_id)
                    .group_by(Dispute.entry_id)
                )
            ).all()
        )
        open_now = set(
            (
                await s.execute(
                    select(Dispute.entry_id).where(
                        Dispute.statement_id == statement_id,
                        Dispute.state.in_(list(OPEN_STATES)),
                    )
                )
            ).scalars()
        )
    found: dict[int, int] = {}
    for entry_id, amount_fen in entries:
        left = amount_fen + int(credited.get(entry_id) or 0)  # credit notes are negative
        found[entry_id] = (
            left if allows(partial(check_line_disputable, entry_id in open_now, left)) else 0
        )
    return found


async def _credited_on_line(s: AsyncSession, entry_id: int) -> int:
    """What earlier disputes of this line already gave back (credit notes are negative)."""
    query = (
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
        .join(Dispute, Dispute.credit_entry_id == LedgerEntry.id)
        .where(Dispute.entry_id == entry_id)
    )
    return -int((await s.execute(query)).scalar_one())


async def _views(s: AsyncSession, disputes: Sequence[Dispute]) -> list[DisputeView]:
    ids = [d.id for d in disputes]
    if not ids:
        return []
    events: dict[int, list[DisputeEvent]] = {}
    query = (
        select(DisputeEvent)
        .where(DisputeEvent.dispute_id.in_(ids))
        .order_by(DisputeEvent.at, DisputeEvent.id)
    )
    for event in (await s.execute(query)).scalars():
        events.setdefault(event.dispute_id, []).append(event)
    numbers_query = select(Statement.id, Statement.number).where(
        Statement.id.in_({d.statement_id for d in disputes})
    )
    numbers = {sid: str(n) for sid, n in (await s.execute(numbers_query)).all()}
    credit_ids = [d.credit_entry_id for d in disputes if d.credit_entry_id is not None]
    credits_query = select(LedgerEntry.id, LedgerEntry.amount_fen).where(
        LedgerEntry.id.in_(credit_ids)
    )
    credits = {eid: -int(fen) for eid, fen in (await s.execute(credits_query)).all()}
    return [
        DisputeView(
            dispute=d,
            statement_number=numbers[d.statement_id],
            credited_fen=credits.get(d.credit_entry_id or 0, 0),
            events=tuple(events.get(d.id, ())),
        )
        for d in disputes
    ]


async def get_dispute(ctx: Context, actor: Actor, dispute_id: int) -> DisputeView:
    """One dispute with all its steps; another customer's dispute is reported as not found."""
    async with ctx.db.session() as s:
        dispute = await s.get(Dispute, dispute_id)
        account = None if dispute is None else await s.get(BillingAccount, dispute.account_id)
        if dispute is None or account is None or not may_manage(actor, account):
            raise YuntongError("dispute_not_found")
        return (await _views(s, [dispute]))[0]


async def list_disputes(
    ctx: Context,
    actor: Actor,
    account_id: int | None,
    state: str | None = None,
    limit: int = 200,
) -> list[DisputeView]:
    """An account's disputes, newest first; staff without an account see every account's."""
    if state is not None and state not in set(DisputeState):
        raise YuntongError("validation_failed", fields={"state": "invalid"})
    query = select(Dispute)
    if account_id is not None or not roles.is_staff(actor):
        account = await account_for_actor(ctx, actor, account_id)
        query = query.where(Dispute.account_id == account.id)
    if state is not None:
        query = query.where(Dispute.state == state)
    async with ctx.db.session() as s:
        found = (await s.execute(query.order_by(Dispute.id.desc()).limit(limit))).scalars()
        return await _views(s, list(found))


# -- changes -----------------------------------------------------------------------------------


def _event(s: AsyncSession, ctx: Context, actor: Actor, dispute: Dispute, note: str) -> None:
    """The step just taken: ``opened`` for a new dispute, else the state it moved to."""
    action = "opened" if dispute.state == DisputeState.OPEN else str(dispute.state)
    s.add(
        DisputeEvent(
            dispute_id=dispute.id,
            at=ctx.clock.now(),
            actor_id=actor.user_id,
            action=action,
            note=note,
        )
    )


async def _notify(ctx: Context, view: DisputeView, note: str) -> None:
    dispute = view.dispute
    async with ctx.db.session() as s:
        account = await s.get(BillingAccount, dispute.account_id)
    assert account is not None
    await do_notify(
        ctx,
        dispute.account_id,
        "dispute_update",
        f"{dispute.id}:{view.events[-1].id}",
        dispute=dispute.id,
        number=view.statement_number,
        state=dispute.state,
        note=note,
    )


async def do_open_dispute(
    ctx: Context, actor: Actor, entry_id: int, reason: str, amount_fen: int | None = None
) -> DisputeView:
    """Dispute a charge on one of the account's statements (all of it unless ``amount_fen``)."""
    reason = check_text("reason", reason, required=True)
    async with ctx.db.session() as s:
        found = await _line_on_statement(s, entry_id)
        account = None if found is None else await s.get(BillingAccount, found[1].account_id)
        if found is None or account is None or not may_manage(actor, account):
            raise YuntongError("statement_not_found")
        entry, statement = found
        # Two disputes of one line opened at once must not both pass the checks below: the
        # line's row lock orders them on PostgreSQL; on SQLite the dispute's insert comes
        # first, because a transaction's first write takes the database's write lock.
        await s.execute(
            select(StatementLine.id).where(StatementLine.entry_id == entry.id).with_for_update()
        )
        dispute = Dispute(
            account_id=account.id,
            statement_id=statement.id,
            entry_id=entry.id,
            amount_fen=0,
            reason=reason,
            state=DisputeState.OPEN,
            opened_by=actor.user_id,
            opened_at=ctx.clock.now(),
        )
        s.add(dispute)
        await s.flush()
        others = select(Dispute.id).where(
            Dispute.entry_id == entry.id,
            Dispute.id != dispute.id,
            Dispute.state.in_(list(OPEN_STATES)),
        )
        disputable = entry.amount_fen - await _credited_on_line(s, entry.id)
        check_line_disputable((await s.execute(others)).first() is not None, disputable)
        dispute.amount_fen = check_dispute_amount(
            disputable if amount_fen is None else amount_fen, disputable
        )
        _event(s, ctx, actor, dispute, reason)
        await s.flush()
        view = (await _views(s, [dispute]))[0]
    await _notify(ctx, view, reason)
    return view


async def _claim(
    s: AsyncSession, actor: Actor, dispute_id: int, target: DisputeState, now: datetime
) -> Dispute:
    """Move the dispute to ``target`` if its state allows it, as one conditional UPDATE: of two
    staff resolving it at once, exactly one succeeds and the other gets invalid_transition."""
    dispute = await s.get(Dispute, dispute_id)
    if dispute is None:
        raise YuntongError("dispute_not_found")
    check_may_move(actor, dispute, target)
    resolved_at = None if target in OPEN_STATES else now
    claimed = await s.execute(
        update(Dispute)
        .where(Dispute.id == dispute_id, Dispute.state == dispute.state)
        .values(state=target, resolved_at=resolved_at)
        .execution_options(synchronize_session=False)
    )
    await s.refresh(dispute)
    if getattr(claimed, "rowcount", 0) != 1:
        raise YuntongError("invalid_transition", state=dispute.state)
    return dispute


async def _advance(
    ctx: Context, actor: Actor, dispute_id: int, target: DisputeState, note: str
) -> DisputeView:
    """Move a dispute to a state that moves no money, with its event and notice."""
    roles.check_staff(actor)
    async with ctx.db.session() as s:
        dispute = await _claim(s, actor, dispute_id, target, ctx.clock.now())
        _event(s, ctx, actor, dispute, note)
        await s.flush()
        view = (await _views(s, [dispute]))[0]
    await _notify(ctx, view, note)
    return view


async def do_investigate(ctx: Context, actor: Actor, dispute_id: int, note: str) -> DisputeView:
    """Staff take a dispute up: open → investigating."""
    note = check_text("note", note, required=False)
    return await _advance(ctx, actor, dispute_id, DisputeState.INVESTIGATING, note)


async def do_resolve_by_explanation(
    ctx: Context, actor: Actor, dispute_id: int, note: str
) -> DisputeView:
    """Staff find the charge correct and say why; no money moves."""
    note = check_explanation(note)
    return await _advance(ctx, actor, dispute_id, DisputeState.EXPLAINED, note)


async def do_resolve_by_credit(
    ctx: Context, actor: Actor, dispute_id: int, amount_fen: int, note: str
) -> DisputeView:
    """Staff correct the charge: one credit note of at most the disputed amount, appended in the
    same transaction as the state change (key ``dispute:<id>``, so it can never be doubled).
    ``note`` is the explanation the customer reads: required."""
    roles.check_staff(actor)
    note = check_explanation(note)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        dispute = await _claim(s, actor, dispute_id, DisputeState.CREDITED, now)
        check_dispute_amount(amount_fen, dispute.amount_fen)
        statement = await s.get(Statement, dispute.statement_id)
        line = await s.get(LedgerEntry, dispute.entry_id)
        assert statement is not None and line is not None
        credit = await add_entry(
            s,
            account_id=dispute.account_id,
            kind=EntryKind.CREDIT.value,
            amount_fen=-amount_fen,
            occurred_at=now,
            posted_at=now,
            reference=str(dispute.id),
            detail={
                "dispute_id": dispute.id,
                "statement_id": statement.id,
                "statement_number": statement.number,
                "entry_id": line.id,
                "line_kind": line.kind,
                "line_amount_fen": line.amount_fen,
            },
            created_by=actor.user_id,
            idempotency_key=f"dispute:{dispute.id}",
        )
        dispute.credit_entry_id = credit.id
        _event(s, ctx, actor, dispute, note)
        await s.flush()
        view = (await _views(s, [dispute]))[0]
        account = await s.get(BillingAccount, dispute.account_id)
        assert account is not None
    await audit.record(
        ctx,
        actor.user_id,
        "billing.dispute_credit",
        None,
        account_id=dispute.account_id,
        dispute_id=dispute.id,
        fen=view.credited_fen,
    )
    await publish_changed(ctx, dispute.account_id)
    amount = format_yuan(view.credited_fen)
    await _notify(
        ctx, view, translate("dispute.credited_note", account.locale, amount=amount, note=note)
    )
    return view
