"""Queries on call records and quality reports (no rules)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.calls.models import CallHold, CallOutcome, CallQualityReport, CallRecord
from yuntong.core.db import UTCDateTime
from yuntong.core.groupcommit import GroupCommitter

MISSED = (CallOutcome.NO_ANSWER, CallOutcome.CANCELED, CallOutcome.BUSY, CallOutcome.UNREACHABLE)


# built once: concurrent writes share the compiled statement and one executemany
_INSERT = insert(CallRecord)
# fenced: only the node that owns an open record writes it, so a node that stalled past its
# keepalive (taken for dead, its calls taken over or closed by another) cannot overwrite them
_UPDATE = update(CallRecord).where(
    CallRecord.id == bindparam("record_id"),
    CallRecord.node_id == bindparam("owner"),
    CallRecord.ended_at.is_(None),
)


async def insert_record(writer: GroupCommitter, **values: Any) -> None:
    await writer.execute(_INSERT, values)


async def update_record(writer: GroupCommitter, call_id: str, owner: str, **values: Any) -> None:
    """Set ``values`` (column names) on one open record while node ``owner`` owns it (else
    nothing changes)."""
    await writer.execute(_UPDATE, {"record_id": call_id, "owner": owner, **values})


async def end_record(writer: GroupCommitter, call_id: str, owner: str, **values: Any) -> bool:
    """Close one open record node ``owner`` owns with ``values``; whether it did (False:
    another node took the call over, or closed it, meanwhile)."""
    return bool(
        await writer.execute_counted(_UPDATE, {"record_id": call_id, "owner": owner, **values})
    )


CHECKPOINT_CHUNK = 5000  # ids per statement (SQLite's bound-parameter limit is 32,766)


async def checkpoint(session: AsyncSession, call_ids: list[str], owner: str, at: datetime) -> None:
    """Mark live calls node ``owner`` owns as alive at ``at`` (one statement per 5,000)."""
    for start in range(0, len(call_ids), CHECKPOINT_CHUNK):
        await session.execute(
            update(CallRecord)
            .where(
                CallRecord.id.in_(call_ids[start : start + CHECKPOINT_CHUNK]),
                CallRecord.node_id == owner,
                CallRecord.ended_at.is_(None),
            )
            .values(alive_at=at)
        )


async def owners_of(session: AsyncSession, call_ids: list[str]) -> dict[str, str | None]:
    """The owner of each of ``call_ids`` still open (ended or unknown ones are left out)."""
    owners: dict[str, str | None] = {}
    for start in range(0, len(call_ids), CHECKPOINT_CHUNK):
        rows = await session.execute(
            select(CallRecord.id, CallRecord.node_id).where(
                CallRecord.id.in_(call_ids[start : start + CHECKPOINT_CHUNK]),
                CallRecord.ended_at.is_(None),
            )
        )
        owners.update({call_id: node for call_id, node in rows})
    return owners


async def open_record_owners(session: AsyncSession) -> set[str | None]:
    """The nodes that have open records (None: records from before node ids)."""
    result = await session.execute(
        select(CallRecord.node_id).where(CallRecord.ended_at.is_(None)).distinct()
    )
    return set(result.scalars())


async def owner_of(session: AsyncSession, call_id: str) -> str | None:
    """The node that runs a call still open (None: ended, unknown, or from before node ids)."""
    result = await session.execute(
        select(CallRecord.node_id).where(CallRecord.id == call_id, CallRecord.ended_at.is_(None))
    )
    return result.scalar_one_or_none()


async def is_answered(session: AsyncSession, call_id: str) -> bool:
    """Whether a call still open was answered (call waiting asks it of another node's call)."""
    answered_at = await session.scalar(
        select(CallRecord.answered_at).where(
            CallRecord.id == call_id, CallRecord.ended_at.is_(None)
        )
    )
    return answered_at is not None


async def take_over(session: AsyncSession, call_id: str, dead: str, node_id: str) -> bool:
    """Make ``node_id`` the owner of an open call of the dead node ``dead``; whether it did
    (fenced: another node may have taken it first)."""
    result = await session.execute(
        update(CallRecord)
        .where(CallRecord.id == call_id, CallRecord.node_id == dead, CallRecord.ended_at.is_(None))
        .values(node_id=node_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def is_open(session: AsyncSession, call_id: str) -> bool:
    """Whether the call record ``call_id`` exists and has not ended."""
    found = await session.scalar(
        select(CallRecord.id).where(CallRecord.id == call_id, CallRecord.ended_at.is_(None))
    )
    return found is not None


MAX_LEGS = 20  # far above the forwarding hop limit: a chain is never followed further


async def legs_of(session: AsyncSession, call_id: str) -> list[CallRecord]:
    """The forwarded legs of a call in order: each linked to the one before it (the first to
    the call) by ``parent_call_id``."""
    legs: list[CallRecord] = []
    parent = call_id
    while len(legs) < MAX_LEGS:
        leg = await session.scalar(select(CallRecord).where(CallRecord.parent_call_id == parent))
        if leg is None:
            break
        legs.append(leg)
        parent = leg.id
    return legs


async def close_open(session: AsyncSession, record: CallRecord, **values: Any) -> bool:
    """Close ``record`` (a stopped node's call) with ``values`` if it is still open and still
    its node's; whether it did (a stalled owner may have ended it meanwhile, fenced the same
    way: one of the two wins)."""
    owner = (
        CallRecord.node_id.is_(None)
        if record.node_id is None
        else CallRecord.node_id == record.node_id
    )
    result = await session.execute(
        update(CallRecord)
        .where(CallRecord.id == record.id, owner, CallRecord.ended_at.is_(None))
        .values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


async def ended_for_device(
    session: AsyncSession, user_id: int, device: str, since: datetime
) -> list[CallRecord]:
    """Calls that ended since ``since`` in which ``device`` took part (placed, answered, or rang
    on it, unanswered)."""
    result = await session.execute(
        select(CallRecord).where(
            CallRecord.ended_at >= since,
            or_(
                and_(CallRecord.caller_id == user_id, CallRecord.caller_device == device),
                and_(
                    CallRecord.callee_id == user_id,
                    or_(CallRecord.callee_device == device, CallRecord.callee_device.is_(None)),
                ),
            ),
        )
    )
    return list(result.scalars())


async def open_records(
    session: AsyncSession, nodes: Collection[str], unowned: bool
) -> list[CallRecord]:
    """Open records of ``nodes`` (and, if ``unowned``, those without a node)."""
    owned: ColumnElement[bool] = CallRecord.node_id.in_(list(nodes))
    if unowned:
        owned = or_(owned, CallRecord.node_id.is_(None))
    result = await session.execute(select(CallRecord).where(CallRecord.ended_at.is_(None), owned))
    return list(result.scalars())


def _missed_clause() -> Any:
    return and_(
        CallRecord.outcome.in_([o.value for o in MISSED]),
        or_(CallRecord.end_reason.is_(None), CallRecord.end_reason != "blocked"),
    )


def history_query(
    user_id: int,
    direction: str | None,
    since: datetime | None,
    until: datetime | None,
    contact_id: int | None,
) -> Select[CallRecord]:
    # calls from someone the user blocked never rang: they are not in the callee's history
    incoming = and_(
        CallRecord.callee_id == user_id,
        or_(CallRecord.end_reason.is_(None), CallRecord.end_reason != "blocked"),
    )
    outgoing = CallRecord.caller_id == user_id
    if direction == "incoming":
        where: Any = incoming
    elif direction == "outgoing":
        where = outgoing
    elif direction == "missed":
        where = and_(incoming, _missed_clause())
    else:
        where = or_(incoming, outgoing)
    stmt = select(CallRecord).where(where)
    if since is not None:
        stmt = stmt.where(CallRecord.created_at >= since)
    if until is not None:
        stmt = stmt.where(CallRecord.created_at < until)
    if contact_id is not None:
        stmt = stmt.where(
            or_(CallRecord.caller_id == contact_id, CallRecord.callee_id == contact_id)
        )
    return stmt


async def page(
    session: AsyncSession, stmt: Select[CallRecord], offset: int, limit: int
) -> tuple[list[CallRecord], int]:
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    result = await session.execute(
        stmt.order_by(CallRecord.created_at.desc(), CallRecord.id).offset(offset).limit(limit)
    )
    return list(result.scalars()), int(total or 0)


async def forwarding_links(
    session: AsyncSession, records: Collection[CallRecord]
) -> tuple[dict[str, str | None], dict[str, tuple[str | None, str | None]]]:
    """How ``records`` are linked by forwarding: for each forwarded leg, the number dialled on
    the leg before it (the number that forwarded it); for each record forwarded on, the number
    and kind of the leg that continues it."""
    parents = {r.parent_call_id for r in records if r.parent_call_id}
    forwarded_by: dict[str, str | None] = {}
    if parents:
        numbers = select(CallRecord.id, CallRecord.called_number).where(CallRecord.id.in_(parents))
        forwarded_by = {i: n for i, n in (await session.execute(numbers)).all()}
    forwarded_to: dict[str, tuple[str | None, str | None]] = {}
    if records:
        onward = select(
            CallRecord.parent_call_id, CallRecord.called_number, CallRecord.forwarding
        ).where(CallRecord.parent_call_id.in_([r.id for r in records]))
        forwarded_to = {p: (n, k) for p, n, k in (await session.execute(onward)).all() if p}
    return forwarded_by, forwarded_to


async def unseen_missed_count(session: AsyncSession, user_id: int) -> int:
    stmt = select(func.count()).where(
        CallRecord.callee_id == user_id, CallRecord.callee_seen.is_(False), _missed_clause()
    )
    return int(await session.scalar(stmt) or 0)


async def mark_missed_seen(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(CallRecord)
        .where(CallRecord.callee_id == user_id, CallRecord.callee_seen.is_(False))
        .values(callee_seen=True)
    )


async def latest_reports(session: AsyncSession, call_id: str) -> list[CallQualityReport]:
    """Each participant's most recent report (a final one when there is one)."""
    result = await session.execute(
        select(CallQualityReport)
        .where(CallQualityReport.call_id == call_id)
        .order_by(CallQualityReport.final, CallQualityReport.at, CallQualityReport.id)
    )
    latest: dict[int, CallQualityReport] = {}
    for report in result.scalars():
        latest[report.user_id] = report
    return list(latest.values())


async def finished_calls(
    session: AsyncSession,
    since: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
    unbilled: Callable[[SQLColumnExpression[str]], ColumnElement[bool]],
) -> list[CallRecord]:
    """Finished calls with billable seconds, ended at or after ``since`` (and after ``after``
    in (end, id) order) for which ``unbilled(call id)`` holds, in that order: the usage feed
    billing is handed at start-up (billing gives the condition on its usage records)."""
    query = select(CallRecord).where(
        CallRecord.ended_at >= since, CallRecord.billable_seconds > 0, unbilled(CallRecord.id)
    )
    if after is not None:
        query = query.where(tuple_(CallRecord.ended_at, CallRecord.id) > after)
    query = query.order_by(CallRecord.ended_at, CallRecord.id).limit(limit)
    return list((await session.execute(query)).scalars())


# -- holds (call_holds): the open rows are who holds a live call, for every node ------------

_START_HOLD = insert(CallHold)
_AT = bindparam("at", type_=UTCDateTime())
# a resume: fenced like the call's record (only the node that owns the open call closes it)
_END_HOLD = (
    update(CallHold)
    .where(
        CallHold.call_id == bindparam("hold_call"),
        CallHold.user_id == bindparam("holder"),
        CallHold.ended_at.is_(None),
        exists().where(
            CallRecord.id == CallHold.call_id,
            CallRecord.node_id == bindparam("owner"),
            CallRecord.ended_at.is_(None),
        ),
    )
    .values(ended_at=_AT)
)
# the call ended: every open hold ends with it (never before it began: a call closed by
# recovery ends at its last checkpoint, which may come before a hold taken after it)
_END_HOLDS = (
    update(CallHold)
    .where(CallHold.call_id == bindparam("hold_call"), CallHold.ended_at.is_(None))
    .values(ended_at=case((CallHold.started_at > _AT, CallHold.started_at), else_=_AT))
)


async def start_hold(writer: GroupCommitter, call_id: str, user_id: int, at: datetime) -> None:
    """``user_id`` holds the call from ``at``."""
    await writer.execute(_START_HOLD, {"call_id": call_id, "user_id": user_id, "started_at": at})


async def end_hold(
    writer: GroupCommitter, call_id: str, user_id: int, owner: str, at: datetime
) -> bool:
    """``user_id`` resumed the call at ``at`` (while node ``owner`` owns it); whether a hold
    was open."""
    params = {"hold_call": call_id, "holder": user_id, "owner": owner, "at": at}
    return bool(await writer.execute_counted(_END_HOLD, params))


async def end_holds(writer: GroupCommitter, call_id: str, at: datetime) -> None:
    """Close the open holds of a call that ended at ``at`` (its record closed by this node)."""
    await writer.execute(_END_HOLDS, {"hold_call": call_id, "at": at})


async def close_holds(session: AsyncSession, call_id: str, at: datetime) -> None:
    """:func:`end_holds` in a session (recovery closing a stopped node's call)."""
    await session.execute(_END_HOLDS, {"hold_call": call_id, "at": at})


async def holders_of(session: AsyncSession, call_id: str) -> set[int]:
    """Who holds a call now (its open holds)."""
    result = await session.execute(
        select(CallHold.user_id).where(CallHold.call_id == call_id, CallHold.ended_at.is_(None))
    )
    return set(result.scalars())


async def holds_of(session: AsyncSession, call_ids: Collection[str]) -> dict[str, list[CallHold]]:
    """The holds of each of ``call_ids``, oldest first."""
    found: dict[str, list[CallHold]] = {}
    if not call_ids:
        return found
    result = await session.execute(
        select(CallHold)
        .where(CallHold.call_id.in_(list(call_ids)))
        .order_by(CallHold.started_at, CallHold.id)
    )
    for hold in result.scalars():
        found.setdefault(hold.call_id, []).append(hold)
    return found
