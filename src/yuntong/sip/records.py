"""The records of calls through the SIP edge: written at the first question, updated as the
call is answered and ends (the times Kamailio reports), with the post-dial delay (RFC 6076
§4.1: from the INVITE to the first ringing or final answer) and the billable time."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from yuntong.calls import causes
from yuntong.calls.models import CallOutcome
from yuntong.core.context import Context
from yuntong.sip.models import SipCall


def edge_time(text: str | None) -> datetime | None:
    """A time Kamailio sent as ``$TV(Sn)`` (seconds.microseconds since the epoch)."""
    try:
        value = float(text or "")
    except ValueError:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return datetime.fromtimestamp(value, UTC)


def delay_ms(t0: str | None, first: str | None) -> int | None:
    start, end = edge_time(t0), edge_time(first)
    if start is None or end is None or end < start:
        return None
    return round((end - start).total_seconds() * 1000)


async def insert(ctx: Context, call: SipCall) -> bool:
    """Write a new call's row; False when its Call-ID has one already."""
    try:
        async with ctx.db.session() as s:
            s.add(call)
    except IntegrityError:
        return False
    return True


async def update(ctx: Context, call: SipCall) -> None:
    async with ctx.db.session() as s:
        await s.merge(call)


async def _by_call_id(ctx: Context, sip_call_id: str) -> SipCall | None:
    async with ctx.db.session() as s:
        query = select(SipCall).where(SipCall.sip_call_id == sip_call_id[:200])
        return (await s.execute(query)).scalar_one_or_none()


async def do_answered(
    ctx: Context, sip_call_id: str, at: datetime | None, pdd_ms: int | None
) -> SipCall | None:
    call = await _by_call_id(ctx, sip_call_id)
    if call is None or call.state != "routing":
        return None
    call.state = "answered"
    call.answered_at = at or ctx.clock.now()
    call.outcome, call.final_code = CallOutcome.ANSWERED, 200
    call.pdd_ms = pdd_ms
    await update(ctx, call)
    return call


async def do_end_at_limit(ctx: Context, sip_call_id: str) -> SipCall | None:
    """A prepaid call's dialog timer ran out on the edge (its longest duration, ``max_s``):
    the edge ended it then. Kamailio 5.6 does not always report that end (its dialog timer
    and BYE callbacks race, docs/sip.md), so a call still open a little after its limit is
    closed at it here, billed exactly up to it."""
    call = await _by_call_id(ctx, sip_call_id)
    limit = call.route.get("max_s") if call is not None and call.route else None
    if call is None or call.state != "answered" or call.answered_at is None or limit is None:
        return None
    return await _close(ctx, call, call.answered_at + timedelta(seconds=int(limit)))


async def do_ended(
    ctx: Context, sip_call_id: str, at: datetime | None, answered_at: datetime | None = None
) -> SipCall | None:
    """An answered call ended (a BYE, or the edge's timer); the call's row, or None if it was
    not answered here. ``answered_at`` (the dialog's start, as the edge knew it) ends a call
    whose answer was not reported yet: the two reports may cross."""
    call = await _by_call_id(ctx, sip_call_id)
    if call is None:
        return None
    if call.state == "routing" and answered_at is not None:
        call.answered_at = answered_at
        call.outcome, call.final_code = CallOutcome.ANSWERED, 200
    elif call.state != "answered" or call.answered_at is None:
        return None
    assert call.answered_at is not None
    return await _close(ctx, call, max(at or ctx.clock.now(), call.answered_at))


async def _close(ctx: Context, call: SipCall, ended: datetime) -> SipCall:
    """End an answered call at ``ended``: billed from its answer, rounded up to a second."""
    assert call.answered_at is not None
    call.state, call.ended_at = "ended", ended
    call.cause = causes.NORMAL_CLEARING
    call.billable_seconds = math.ceil((ended - call.answered_at).total_seconds())
    await update(ctx, call)
    return call


async def calls_of(ctx: Context, user_id: int | None, limit: int) -> list[SipCall]:
    """The newest calls ``user_id``'s SIP phones made or received (every user's: None)."""
    query = select(SipCall).order_by(SipCall.created_at.desc()).limit(limit)
    if user_id is not None:
        query = query.where(
            or_(SipCall.caller_user_id == user_id, SipCall.callee_user_id == user_id)
        )
    async with ctx.db.session() as s:
        return list((await s.execute(query)).scalars().all())


async def do_keep_dialog(ctx: Context, call: SipCall, dialog: dict[str, str]) -> None:
    """Keep what the edge needs to end a dialog it answered itself (``edge.hang_up``)."""
    call.route = {**(call.route or {}), "dialog": dialog}
    await update(ctx, call)


async def dialog_of(ctx: Context, sip_call_id: str) -> dict[str, str] | None:
    call = await _by_call_id(ctx, sip_call_id)
    if call is None or call.state != "answered" or not call.route:
        return None
    found = call.route.get("dialog")
    return found if isinstance(found, dict) else None


async def do_dial_failed(
    ctx: Context, sip_call_id: str, at: datetime | None, code: int, outcome: str
) -> None:
    """A call Yuntong made through the edge was not answered (``code``)."""
    call = await _by_call_id(ctx, sip_call_id)
    if call is None or call.state != "routing":
        return
    call.state, call.ended_at = "ended", at or ctx.clock.now()
    call.final_code, call.outcome = code, outcome
    await update(ctx, call)
