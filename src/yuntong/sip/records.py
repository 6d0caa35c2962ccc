"""The records of calls through the SIP edge: written at the first question, updated as the
call is answered and ends (the times Kamailio reports), with the post-dial delay (RFC 6076
§4.1: from the INVITE to the first ringing or final answer) and the billable time."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sqlalchemy import Select, select
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


def _by_call_id(sip_call_id: str) -> Select[SipCall]:
    return select(SipCall).where(SipCall.sip_call_id == sip_call_id[:200])


async def do_answered(
    ctx: Context, sip_call_id: str, at: datetime | None, pdd_ms: int | None
) -> SipCall | None:
    # read and written in one transaction: the row is changed where it was loaded (a merge
    # of a detached row would read it again), two statements per event
    async with ctx.db.session() as s:
        call = (await s.execute(_by_call_id(sip_call_id))).scalar_one_or_none()
        if call is None or call.state != "routing":
            return None
        call.state = "answered"
        call.answered_at = at or ctx.clock.now()
        call.outcome, call.final_code = CallOutcome.ANSWERED, 200
        call.pdd_ms = pdd_ms
    return call


async def do_ended(ctx: Context, sip_call_id: str, at: datetime | None) -> SipCall | None:
    """An answered call ended (a BYE); the call's row, or None if it was not answered here."""
    async with ctx.db.session() as s:
        call = (await s.execute(_by_call_id(sip_call_id))).scalar_one_or_none()
        if call is None or call.state != "answered" or call.answered_at is None:
            return None
        ended = max(at or ctx.clock.now(), call.answered_at)
        call.state, call.ended_at = "ended", ended
        call.cause = causes.NORMAL_CLEARING
        call.billable_seconds = math.ceil((ended - call.answered_at).total_seconds())
    return call
