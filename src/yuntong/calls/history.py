"""Call records seen afterwards: history, one call, missed calls, and quality reports.

Who may see whose records (users their own, organisation admins their members', operator
staff all), the history entry each record becomes, the unseen-missed count, and the quality
reports clients send during and after a call with the worst-side summary kept on the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yuntong.accounts import directory
from yuntong.accounts.auth import Principal
from yuntong.accounts.roles import is_staff
from yuntong.calls import store
from yuntong.calls.machine import public_reason
from yuntong.calls.models import CallHold, CallQualityReport, CallRecord
from yuntong.calls.quality import estimate_mos
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError

# -- quality -------------------------------------------------------------------------------


async def do_report_quality(
    ctx: Context, user_id: int, call_id: str, report: dict[str, Any]
) -> None:
    """Store a participant's getStats summary and refresh the call's quality estimate."""
    async with ctx.db.session() as session:
        record = await session.get(CallRecord, call_id)
        if record is None or user_id not in (record.caller_id, record.callee_id):
            raise YuntongError("call_not_found")
        if record.answered_at is None:
            raise YuntongError("invalid_transition", state=record.state)
        session.add(
            CallQualityReport(call_id=call_id, user_id=user_id, at=ctx.clock.now(), **report)
        )
        await session.flush()
        reports = await store.latest_reports(session, call_id)
        summary = summarise(reports)
        for key, value in summary.items():
            setattr(record, key, value)


def summarise(reports: list[CallQualityReport]) -> dict[str, float | None]:
    """Worst-side view of a call: the higher RTT/jitter/loss of the two participants."""

    def worst(attr: str, pick: Callable[[list[float]], float] = max) -> float | None:
        values = [float(v) for r in reports if (v := getattr(r, attr)) is not None]
        return pick(values) if values else None

    rtt, jitter, loss = worst("rtt_ms"), worst("jitter_ms"), worst("loss_pct")
    mos = estimate_mos(rtt or 0.0, jitter or 0.0, loss or 0.0) if rtt is not None else None
    return {
        "rtt_ms": rtt,
        "jitter_ms": jitter,
        "loss_pct": loss,
        "bitrate_kbps": worst("bitrate_kbps", min),
        "mos": mos,
    }


# -- history -------------------------------------------------------------------------------


async def check_can_view_history(ctx: Context, viewer: Principal, subject_id: int) -> None:
    """Users see their own records; organisation admins their members'; operator staff all."""
    if subject_id == viewer.user_id or is_staff(viewer):
        return
    if viewer.role == "org_admin" and viewer.organisation_id is not None:
        subject = (await directory.get_users(ctx, [subject_id])).get(subject_id)
        if subject is not None and subject.organisation_id == viewer.organisation_id:
            return
    raise YuntongError("forbidden")


@dataclass(frozen=True)
class HistoryFilter:
    direction: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    contact_id: int | None = None


async def list_history(
    ctx: Context,
    viewer: Principal,
    subject_id: int,
    filters: HistoryFilter,
    page: int,
    page_size: int,
) -> tuple[list[dict[str, Any]], int]:
    await check_can_view_history(ctx, viewer, subject_id)
    stmt = store.history_query(
        subject_id, filters.direction, filters.since, filters.until, filters.contact_id
    )
    async with ctx.db.session() as session:
        records, total = await store.page(session, stmt, (page - 1) * page_size, page_size)
        links = Links(*await store.forwarding_links(session, records))
        holds = await store.holds_of(session, [r.id for r in records])
    others = {r.callee_id if r.caller_id == subject_id else r.caller_id for r in records}
    users = await directory.get_users(ctx, list(others))
    entries = [history_entry(r, subject_id, users, links, holds.get(r.id)) for r in records]
    return entries, total


@dataclass(frozen=True)
class Links:
    """How the records of a page are linked by forwarding (``store.forwarding_links``)."""

    forwarded_by: dict[str, str | None] = field(default_factory=dict)
    forwarded_to: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


def _forwarding(record: CallRecord, links: Links, outgoing: bool) -> dict[str, Any]:
    """A forwarded leg says which number forwarded it and why; a call forwarded on tells its
    callee to which number and why (never its caller: where a subscriber forwards their calls
    is theirs to know; docs/supplementary-services.md)."""
    onward = None if outgoing else links.forwarded_to.get(record.id)
    return {
        "forwarding": record.forwarding,
        "forwarded_by": links.forwarded_by.get(record.parent_call_id or ""),
        "forwarded_to": None if onward is None else {"number": onward[0], "forwarding": onward[1]},
    }


def _holds(holds: list[CallHold] | None, subject_id: int) -> list[dict[str, Any]]:
    """The call's holds, oldest first: who held it (the user whose history it is, or the
    other party), from when, until when (null: held now)."""
    return [
        {
            "held_by": "self" if hold.user_id == subject_id else "other",
            "user_id": hold.user_id,
            "started_at": hold.started_at,
            "ended_at": hold.ended_at,
        }
        for hold in holds or ()
    ]


def history_entry(
    record: CallRecord,
    subject_id: int,
    users: dict[int, Any],
    links: Links | None = None,
    holds: list[CallHold] | None = None,
) -> dict[str, Any]:
    outgoing = record.caller_id == subject_id
    other_id = record.callee_id if outgoing else record.caller_id
    other = users.get(other_id)
    reason = public_reason(record.end_reason or "") if outgoing else record.end_reason
    missed = (
        not outgoing
        and record.outcome in {o.value for o in store.MISSED}
        and record.end_reason != "blocked"
    )
    return {
        "id": record.id,
        "direction": "outgoing" if outgoing else "incoming",
        "missed": missed,
        "other": {
            "user_id": other_id,
            "username": other.username if other else None,
            "display_name": other.display_name if other else None,
        },
        "media": record.media,
        "outcome": record.outcome,
        "end_reason": reason,
        "cause": record.cause,
        "calling_number": record.calling_number,
        "called_number": record.called_number,
        "hung_up_by": record.hung_up_by,
        "created_at": record.created_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "billable_seconds": record.billable_seconds,
        "duration_ms": record.duration_ms,
        **_forwarding(record, links or Links(), outgoing),
        "holds": _holds(holds, subject_id),
        "quality": {
            "mos": record.mos,
            "rtt_ms": record.rtt_ms,
            "jitter_ms": record.jitter_ms,
            "loss_pct": record.loss_pct,
            "bitrate_kbps": record.bitrate_kbps,
        },
    }


async def get_call(ctx: Context, viewer: Principal, call_id: str) -> dict[str, Any]:
    async with ctx.db.session() as session:
        record = await session.get(CallRecord, call_id)
    if record is None:
        raise YuntongError("call_not_found")
    subject = viewer.user_id if viewer.user_id in (record.caller_id, record.callee_id) else None
    if subject is None:
        # not a party: allowed only through an org admin / staff view of one of the parties
        for party in (record.caller_id, record.callee_id):
            try:
                await check_can_view_history(ctx, viewer, party)
            except YuntongError:
                continue
            subject = party
            break
    if subject is None or (subject == record.callee_id and record.end_reason == "blocked"):
        raise YuntongError("call_not_found")
    users = await directory.get_users(ctx, [record.caller_id, record.callee_id])
    async with ctx.db.session() as session:
        links = Links(*await store.forwarding_links(session, [record]))
        holds = await store.holds_of(session, [record.id])
    return history_entry(record, subject, users, links, holds.get(record.id))


async def missed_count(ctx: Context, user_id: int) -> int:
    async with ctx.db.session() as session:
        return await store.unseen_missed_count(session, user_id)


async def do_mark_missed_seen(ctx: Context, user_id: int) -> None:
    async with ctx.db.session() as session:
        await store.mark_missed_seen(session, user_id)
