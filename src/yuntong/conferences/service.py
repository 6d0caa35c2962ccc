"""The rules of conference calls: who may open one on which number, the PIN (a keyed hash;
wrong ones throttled per caller and per number), admission (ended, locked), the moderator's
controls on the records, and each leg's end with its billing (a leg is charged as a call of
its length to its payer: docs/conferences.md)."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.billing.ledger import credit
from yuntong.billing.ledger.usage import UsageInput, do_record_usage
from yuntong.conferences.models import Conference, ConferenceLeg, ConferenceState, LegKind
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.ids import new_id
from yuntong.core.logging import get_logger
from yuntong.core.throttle import Limit, Throttle, throttle
from yuntong.numbers import directory as numbers
from yuntong.numbers.models import NumberState

log = get_logger(__name__)

PIN = re.compile(r"[0-9]{4,8}")
PIN_LOCKOUT_S = 15 * 60
PIN_MAX_FAILURES = 5  # one caller, one dial-in number
NUMBER_MAX_FAILURES = 30  # all callers, one dial-in number: PIN entry pauses for everyone
USAGE_SOURCE = "conference_leg"
USAGE_TYPE = "call.audio"  # a leg is charged as an audio call of its length


def check_pin_format(pin: str) -> None:
    if not PIN.fullmatch(pin):
        raise YuntongError("conference_pin_invalid")


def pin_hash(ctx: Context, dial_in: str, pin: str) -> str:
    """HMAC-SHA256 under the service's secret key: a PIN has too few digits for a salted hash
    to protect it once the table is read, a keyed one needs the key as well; keyed by the
    number too, so that a caller's number and PIN find their conference in one look-up."""
    key = ctx.settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"conference-pin:{dial_in}:{pin}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PinThrottles:
    caller: Throttle  # one caller (a number or client address) on one dial-in number
    number: Throttle  # every caller on one dial-in number


def pin_throttles(ctx: Context) -> PinThrottles:
    return PinThrottles(
        caller=throttle(ctx, "conferences.pin", Limit.locking(PIN_MAX_FAILURES, PIN_LOCKOUT_S)),
        number=throttle(
            ctx, "conferences.pin_number", Limit.locking(NUMBER_MAX_FAILURES, PIN_LOCKOUT_S)
        ),
    )


async def check_dial_in(ctx: Context, organiser_id: int, dial_in: str) -> str:
    """The E.164 of a dial-in number the organiser may use: one assigned to them, or one of
    the operator's conference numbers."""
    e164 = numbers.parse_dialled(dial_in)
    if e164 is None:
        raise YuntongError("conference_number_not_yours")
    if e164 in {numbers.parse_dialled(n) for n in ctx.settings.conference_numbers}:
        return e164
    found = await numbers.number_state(ctx, e164)
    if found is None or found[0] != NumberState.ASSIGNED or found[1] != organiser_id:
        raise YuntongError("conference_number_not_yours")
    return e164


async def do_create(
    ctx: Context, organiser_id: int, title: str, dial_in: str, pin: str
) -> Conference:
    """A new open conference; its number and PIN together must lead to it alone."""
    check_pin_format(pin)
    e164 = await check_dial_in(ctx, organiser_id, dial_in)
    hashed = pin_hash(ctx, e164, pin)
    async with ctx.db.session() as s:
        if await _open_by_pin(s, e164, hashed) is not None:
            raise YuntongError("conference_pin_taken")
        conference = Conference(
            id=new_id(),
            organiser_id=organiser_id,
            title=title.strip()[:120],
            dial_in=e164,
            pin_hash=hashed,
            locked=False,
            state=ConferenceState.OPEN,
            created_at=ctx.clock.now(),
        )
        s.add(conference)
    return conference


async def _open_by_pin(s: AsyncSession, dial_in: str, hashed: str) -> Conference | None:
    query = select(Conference).where(
        Conference.dial_in == dial_in,
        Conference.pin_hash == hashed,
        Conference.state == ConferenceState.OPEN,
    )
    return (await s.execute(query)).scalars().first()


async def _ended_by_pin(ctx: Context, dial_in: str, hashed: str) -> bool:
    async with ctx.db.session() as s:
        query = select(Conference.id).where(
            Conference.dial_in == dial_in,
            Conference.pin_hash == hashed,
            Conference.state == ConferenceState.ENDED,
        )
        return (await s.execute(query.limit(1))).first() is not None


async def get_conference(ctx: Context, conference_id: str) -> Conference:
    async with ctx.db.session() as s:
        found = await s.get(Conference, conference_id[:32])
    if found is None:
        raise YuntongError("conference_not_found")
    return found


async def conferences_of(ctx: Context, organiser_id: int, limit: int = 50) -> list[Conference]:
    async with ctx.db.session() as s:
        query = (
            select(Conference)
            .where(Conference.organiser_id == organiser_id)
            .order_by(Conference.created_at.desc(), Conference.id)
            .limit(limit)
        )
        return list((await s.execute(query)).scalars())


async def legs_of(
    ctx: Context, conference_id: str, *, present: bool = False
) -> list[ConferenceLeg]:
    async with ctx.db.session() as s:
        query = select(ConferenceLeg).where(ConferenceLeg.conference_id == conference_id)
        if present:
            query = query.where(ConferenceLeg.left_at.is_(None))
        query = query.order_by(ConferenceLeg.joined_at, ConferenceLeg.id)
        return list((await s.execute(query)).scalars())


def check_organiser(conference: Conference, user_id: int) -> None:
    if conference.organiser_id != user_id:
        raise YuntongError("conference_forbidden")


def check_may_join(conference: Conference, *, moderator: bool) -> None:
    """An ended conference takes nobody; a locked one only its organiser."""
    if conference.state != ConferenceState.OPEN:
        raise YuntongError("conference_ended")
    if conference.locked and not moderator:
        raise YuntongError("conference_locked")


async def do_admit_by_pin(ctx: Context, dial_in: str, pin: str, caller_key: str) -> Conference:
    """The open conference a caller reaches with a number and a PIN, guesses throttled per
    caller and per number (while the number's limit holds, even the right PIN is refused: it
    would tell a guesser they won)."""
    limits = pin_throttles(ctx)
    caller = f"{dial_in}:{caller_key}"
    await limits.caller.check(caller)
    await limits.number.check(dial_in)
    found = None
    if PIN.fullmatch(pin):
        async with ctx.db.session() as s:
            found = await _open_by_pin(s, dial_in, pin_hash(ctx, dial_in, pin))
    if found is None:
        if PIN.fullmatch(pin) and await _ended_by_pin(ctx, dial_in, pin_hash(ctx, dial_in, pin)):
            raise YuntongError("conference_ended")
        await limits.caller.hit(caller)
        await limits.number.hit(dial_in)
        raise YuntongError("conference_pin_wrong")
    await limits.caller.clear(caller)
    return found


async def do_add_leg(
    ctx: Context,
    conference: Conference,
    kind: LegKind,
    *,
    user_id: int | None,
    display: str,
    number: str | None = None,
    sip_call_id: str | None = None,
    payer_id: int | None = None,
    connected: bool = True,
) -> ConferenceLeg:
    """Record a participant joining (checked first: ended, locked); the organiser is the
    moderator; the payer is the participant's own account (none for outside callers) unless
    another is named (the organiser, for the people they dial out to)."""
    moderator = user_id is not None and user_id == conference.organiser_id
    check_may_join(conference, moderator=moderator)
    payer = payer_id if payer_id is not None else user_id
    if payer is not None:  # the credit check a call of the payer's would meet
        await credit.check_may_start(ctx, payer, USAGE_TYPE)
    leg = ConferenceLeg(
        id=new_id(),
        conference_id=conference.id,
        kind=kind,
        user_id=user_id,
        display=display[:80] or "-",
        number=number,
        sip_call_id=sip_call_id[:200] if sip_call_id else None,
        janus_participant=secrets.randbelow(2**52) + 1,
        moderator=moderator,
        muted=False,
        removed=False,
        connected=connected,
        joined_at=ctx.clock.now(),
        billable_seconds=0,
        payer_id=payer,
        node_id=ctx.node_id,
    )
    async with ctx.db.session() as s:
        s.add(leg)
    return leg


async def get_leg(ctx: Context, conference_id: str, leg_id: str) -> ConferenceLeg:
    async with ctx.db.session() as s:
        leg = await s.get(ConferenceLeg, leg_id[:32])
    if leg is None or leg.conference_id != conference_id:
        raise YuntongError("conference_leg_not_found")
    return leg


async def leg_by_sip_call(ctx: Context, sip_call_id: str) -> ConferenceLeg | None:
    async with ctx.db.session() as s:
        query = select(ConferenceLeg).where(
            ConferenceLeg.sip_call_id == sip_call_id[:200], ConferenceLeg.left_at.is_(None)
        )
        return (await s.execute(query)).scalars().first()


async def do_leg_left(
    ctx: Context, leg_id: str, at: datetime | None = None, *, removed: bool = False
) -> ConferenceLeg | None:
    """A leg ended: its time is closed once (a second report changes nothing) and charged to
    its payer as an audio call of that length (billing's usage record, idempotent)."""
    async with ctx.db.session() as s:
        leg = await s.get(ConferenceLeg, leg_id, with_for_update=True)
        if leg is None or leg.left_at is not None:
            return None
        left = max(at or ctx.clock.now(), leg.joined_at)
        leg.left_at = left
        leg.removed = leg.removed or removed
        leg.billable_seconds = math.ceil((left - leg.joined_at).total_seconds())
    if leg.payer_id is not None and leg.billable_seconds > 0:
        conference = await get_conference(ctx, leg.conference_id)
        await do_record_usage(
            ctx,
            UsageInput(
                source=USAGE_SOURCE,
                source_id=leg.id,
                user_id=leg.payer_id,
                usage_type=USAGE_TYPE,
                quantity_s=leg.billable_seconds,
                started_at=leg.joined_at,
                other_party=conference.dial_in,
            ),
        )
    return leg


async def do_set_locked(ctx: Context, conference: Conference, locked: bool) -> Conference:
    if conference.state != ConferenceState.OPEN:
        raise YuntongError("conference_ended")
    async with ctx.db.session() as s:
        await s.execute(
            update(Conference).where(Conference.id == conference.id).values(locked=locked)
        )
    conference.locked = locked
    return conference


async def do_set_muted(ctx: Context, leg_ids: list[str], muted: bool) -> None:
    if not leg_ids:
        return
    async with ctx.db.session() as s:
        await s.execute(
            update(ConferenceLeg).where(ConferenceLeg.id.in_(leg_ids)).values(muted=muted)
        )


async def do_set_bridge(ctx: Context, conference: Conference, node: str, room: int) -> None:
    async with ctx.db.session() as s:
        await s.execute(
            update(Conference)
            .where(Conference.id == conference.id)
            .values(janus_node=node, janus_room=room)
        )
    conference.janus_node, conference.janus_room = node, room


async def do_mark_ended(ctx: Context, conference: Conference) -> list[ConferenceLeg]:
    """The conference ends: nobody joins again; every leg still in it is closed (and billed).
    Returns those legs."""
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        await s.execute(
            update(Conference)
            .where(Conference.id == conference.id, Conference.state == ConferenceState.OPEN)
            .values(state=ConferenceState.ENDED, ended_at=now)
        )
    conference.state, conference.ended_at = ConferenceState.ENDED, now
    closed = []
    for leg in await legs_of(ctx, conference.id, present=True):
        done = await do_leg_left(ctx, leg.id, now)
        if done is not None:
            closed.append(done)
    return closed


async def do_leg_answered(ctx: Context, leg_id: str) -> None:
    """A dialled-out leg was answered: its time (and charge) starts now, not at the dialling."""
    async with ctx.db.session() as s:
        await s.execute(
            update(ConferenceLeg)
            .where(ConferenceLeg.id == leg_id, ConferenceLeg.left_at.is_(None))
            .values(joined_at=ctx.clock.now(), connected=True)
        )
