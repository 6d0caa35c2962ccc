"""Attendance: one row per participant's stay (lobby, join, leave, quality) and the usage
record each stay bills to the host's account.

A stay is billed once, when it ends (:func:`close`), before its row is closed; a live room
writes each open stay's seconds every ``meeting_checkpoint_s`` (:func:`checkpoint`), so the
stays a dead process left open are billed up to their last checkpoint at the next start
(:func:`close_interrupted`). The SQL is in :mod:`yuntong.meetings.store`.

A live room writes stays under its meeting's owner lease (:class:`Held`, the room's
``live.lease.MeetingLease``): each write first checks, share-locking the meeting's row, that the
lease's fence is still the meeting's, so a node that stalled while another took the meeting
over cannot close, extend or bill a stay it no longer owns (as marking the meeting live or ended
is fenced). A stay closed when its room stopped (``server_stopped``) and whose participant
comes back with the same ticket is reopened and goes on; it is billed in parts (``billed_s``:
one usage record per part, each part once).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.billing.ledger.usage import UsageInput, do_record_usage
from yuntong.cluster import nodes
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.meetings import store
from yuntong.meetings.models import MeetingAttendance, Role

log = get_logger(__name__)


class Held(Protocol):
    """The owner lease a live room writes under (``meetings.live.lease.MeetingLease``)."""

    @property
    def meeting_id(self) -> str: ...
    @property
    def fence(self) -> int: ...


class Reopened(NamedTuple):
    """A closed stay taken up again: its seconds so far (billed), since its first join."""

    seconds: int
    joined_at: datetime


class Attendee(Protocol):
    """What a stay's row is written from (a live room's participant)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def guest_key(self) -> str | None: ...
    @property
    def joined_at(self) -> datetime | None: ...
    @property
    def carried_s(self) -> int: ...
    @property
    def counted_from(self) -> datetime | None: ...
    @property
    def host_muted_audio(self) -> bool: ...
    @property
    def host_muted_video(self) -> bool: ...
    @property
    def must_ask_to_unmute(self) -> bool: ...
    @property
    def hand(self) -> bool: ...
    @property
    def admitted(self) -> bool: ...
    @property
    def sent_video(self) -> bool: ...
    @property
    def loss_pct(self) -> float: ...
    @property
    def jitter_sum(self) -> float: ...
    @property
    def quality_samples(self) -> int: ...


def media_of(p: Attendee) -> str:
    return "video" if p.sent_video else "audio"


def _seconds(p: Attendee, now: datetime) -> int:
    """The stay's seconds: those carried over from a node that ran it before (a take-over,
    up to its last checkpoint) and those counted here."""
    here = max(0, int((now - p.counted_from).total_seconds())) if p.counted_from else 0
    return p.carried_s + here


async def _held(ctx: Context, s: AsyncSession, held: Held) -> bool:
    """Whether this node still holds the lease it writes under (see the module's text)."""
    if await store.lease_held(s, held.meeting_id, ctx.node_id, held.fence):
        return True
    log.warning("meeting_stay_write_fenced", meeting=held.meeting_id, fence=held.fence)
    return False


async def write(
    ctx: Context, held: Held, p: Attendee, *, waited: bool = False, joined: bool = False
) -> Reopened | None:
    """Create or update ``p``'s row: in the lobby since now, joined since its join. A join
    whose stay was closed when its room stopped reopens it (:class:`Reopened`: the room counts
    on from there). Refused with ``node_unreachable`` once the lease is lost."""
    now = ctx.clock.now()
    reopened: Reopened | None = None
    async with ctx.db.session() as s:
        if not await _held(ctx, s, held):
            raise YuntongError("node_unreachable", retry_after=1)
        row = await s.get(MeetingAttendance, p.id)
        if row is None:
            row = MeetingAttendance(
                id=p.id,
                meeting_id=held.meeting_id,
                user_id=p.user_id,
                guest_key=p.guest_key,
                name=p.name,
                role=p.role.value,
            )
            s.add(row)
        elif joined and row.left_at is not None and not row.removed:  # back after a stop
            if row.joined_at is not None:
                reopened = Reopened(row.seconds, row.joined_at)
            row.left_at = None
            row.leave_reason = None
        _controls(row, p)
        row.node_id = ctx.node_id
        if waited and row.waited_at is None:
            row.waited_at = now
        if joined and row.joined_at is None:
            row.joined_at = p.joined_at or now
    return reopened


def _controls(row: MeetingAttendance, p: Attendee) -> None:
    row.role = p.role.value
    row.muted_audio = p.host_muted_audio
    row.muted_video = p.host_muted_video
    row.ask_to_unmute = p.must_ask_to_unmute
    row.hand = p.hand
    row.admitted = p.admitted


async def save_controls(ctx: Context, held: Held, p: Attendee) -> None:
    """A host changed ``p``'s role, mutes or let it in, or ``p`` raised or lowered its hand:
    written at once, so that a node taking the meeting over keeps them."""
    async with ctx.db.session() as s:
        if not await _held(ctx, s, held):
            raise YuntongError("node_unreachable", retry_after=1)
        row = await s.get(MeetingAttendance, p.id)
        if row is not None and row.left_at is None:
            _controls(row, p)


async def close(ctx: Context, held: Held, host_user_id: int, p: Attendee, reason: str) -> None:
    """The stay ends: billed first (once, whatever happens next), then written; neither once
    the lease is lost (the node that took the meeting over ends the stay)."""
    now = ctx.clock.now()
    seconds = _seconds(p, now)
    media = media_of(p)
    async with ctx.db.session() as s:
        if not await _held(ctx, s, held):
            return
        row = await s.get(MeetingAttendance, p.id)
        if row is None or row.left_at is not None:
            return
    if p.joined_at is not None:
        await bill_stay(ctx, host_user_id, row, seconds, media)
    async with ctx.db.session() as s:
        if not await _held(ctx, s, held):
            return
        row = await s.get(MeetingAttendance, p.id)
        if row is None or row.left_at is not None:
            return
        row.left_at = now
        row.leave_reason = reason
        row.seconds = seconds
        if p.joined_at is not None:
            row.billed_s = max(row.billed_s, seconds)
        row.media = media
        row.role = p.role.value
        row.removed = reason == "removed"
        if p.quality_samples:
            row.loss_pct = p.loss_pct
            row.jitter_ms = p.jitter_sum / p.quality_samples
            row.quality_samples = p.quality_samples


async def checkpoint(ctx: Context, held: Held, stays: Sequence[Attendee]) -> None:
    """Write each open stay's seconds so far (nothing once the lease is lost)."""
    now = ctx.clock.now()
    stays = [p for p in stays if p.joined_at is not None]
    if not stays:
        return
    async with ctx.db.session() as s:
        if not await _held(ctx, s, held):
            return
        for p in stays:
            await store.checkpoint_stay(s, p.id, _seconds(p, now), media_of(p))


async def bill_stay(
    ctx: Context, host_user_id: int, row: MeetingAttendance, seconds: int, media: str
) -> None:
    """One usage record per stay, on the host's account (a second delivery adds nothing); a
    stay reopened after it was billed bills what came after as a part of its own
    (``<stay id>+<seconds billed before>``)."""
    if row.joined_at is None or seconds <= row.billed_s:
        return
    usage = UsageInput(
        source="meeting",
        source_id=row.id if not row.billed_s else f"{row.id}+{row.billed_s}",
        user_id=host_user_id,
        usage_type=f"meeting.{media}",
        quantity_s=seconds - row.billed_s,
        started_at=row.joined_at,
        other_party=row.name,
    )
    try:
        await do_record_usage(ctx, usage)
    except YuntongError as exc:  # e.g. a host without a billing account
        log.warning("meeting_usage_not_recorded", participant=row.id, error=exc.code)


async def close_interrupted(
    ctx: Context, *, at_start: bool = True, keep: Collection[str] = ()
) -> int:
    """Stays left open by a stopped node (``cluster.nodes.recoverable``: at start-up this
    node's previous run's, a dead node's and those without a node; in a sweep a dead node's
    only), of meetings no node owns now (their lease expired) other than ``keep`` (a
    take-over tried again at the next sweep): each is billed up to its last checkpoint and
    closed there (``server_stopped``); how many."""
    async with ctx.db.session() as s:
        found = await store.open_stay_owners(s)
    owners = await nodes.recoverable(ctx, found, at_start=at_start)
    if not owners:
        return 0
    now = nodes.node_of(ctx).clock.now()
    async with ctx.db.session() as s:
        stays = await store.open_stays(s, owners.nodes, owners.unowned, ctx.node_id, now, keep)
    for row, host_id in stays:  # billed first: a crash in between bills nothing twice
        await bill_stay(ctx, host_id, row, row.seconds, row.media)
    async with ctx.db.session() as s:
        for row, _ in stays:
            await store.close_stay_at_checkpoint(s, row, "server_stopped")
    return len(stays)
