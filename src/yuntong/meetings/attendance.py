"""Attendance: one row per participant's stay (lobby, join, leave, quality) and the usage
record each stay bills to the host's account.

A stay is billed once, when it ends (:func:`close`), before its row is closed; a live room
writes each open stay's seconds every ``meeting_checkpoint_s`` (:func:`checkpoint`), so the
stays a dead process left open are billed up to their last checkpoint at the next start
(:func:`close_interrupted`). The SQL is in :mod:`yuntong.meetings.store`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from yuntong.billing.ledger.usage import UsageInput, do_record_usage
from yuntong.cluster import nodes
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.meetings import store
from yuntong.meetings.models import MeetingAttendance, Role

log = get_logger(__name__)


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


async def write(
    ctx: Context, meeting_id: str, p: Attendee, *, waited: bool = False, joined: bool = False
) -> None:
    """Create or update ``p``'s row: in the lobby since now, joined since its join."""
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        row = await s.get(MeetingAttendance, p.id)
        if row is None:
            row = MeetingAttendance(
                id=p.id,
                meeting_id=meeting_id,
                user_id=p.user_id,
                guest_key=p.guest_key,
                name=p.name,
                role=p.role.value,
            )
            s.add(row)
        _controls(row, p)
        row.node_id = ctx.node_id
        if waited and row.waited_at is None:
            row.waited_at = now
        if joined and row.joined_at is None:
            row.joined_at = p.joined_at or now


def _controls(row: MeetingAttendance, p: Attendee) -> None:
    row.role = p.role.value
    row.muted_audio = p.host_muted_audio
    row.muted_video = p.host_muted_video
    row.ask_to_unmute = p.must_ask_to_unmute


async def save_controls(ctx: Context, p: Attendee) -> None:
    """A host changed ``p``'s role or mutes: written at once, so that a node taking the
    meeting over keeps them."""
    async with ctx.db.session() as s:
        row = await s.get(MeetingAttendance, p.id)
        if row is not None and row.left_at is None:
            _controls(row, p)


async def close(ctx: Context, host_user_id: int, p: Attendee, reason: str) -> None:
    """The stay ends: billed first (once, whatever happens next), then written."""
    now = ctx.clock.now()
    seconds = _seconds(p, now)
    media = media_of(p)
    async with ctx.db.session() as s:
        row = await s.get(MeetingAttendance, p.id)
        if row is None or row.left_at is not None:
            return
    if p.joined_at is not None:
        await bill_stay(ctx, host_user_id, row, seconds, media)
    async with ctx.db.session() as s:
        row = await s.get(MeetingAttendance, p.id)
        if row is None or row.left_at is not None:
            return
        row.left_at = now
        row.leave_reason = reason
        row.seconds = seconds
        row.media = media
        row.role = p.role.value
        row.removed = reason == "removed"
        if p.quality_samples:
            row.loss_pct = p.loss_pct
            row.jitter_ms = p.jitter_sum / p.quality_samples
            row.quality_samples = p.quality_samples


async def checkpoint(ctx: Context, stays: Sequence[Attendee]) -> None:
    """Write each open stay's seconds so far."""
    now = ctx.clock.now()
    stays = [p for p in stays if p.joined_at is not None]
    if not stays:
        return
    async with ctx.db.session() as s:
        for p in stays:
            await store.checkpoint_stay(s, p.id, _seconds(p, now), media_of(p))


async def bill_stay(
    ctx: Context, host_user_id: int, row: MeetingAttendance, seconds: int, media: str
) -> None:
    """One usage record per stay, on the host's account (a second delivery adds nothing)."""
    if row.joined_at is None or seconds <= 0:
        return
    usage = UsageInput(
        source="meeting",
        source_id=row.id,
        user_id=host_user_id,
        usage_type=f"meeting.{media}",
        quantity_s=seconds,
        started_at=row.joined_at,
        other_party=row.name,
    )
    try:
        await do_record_usage(ctx, usage)
    except YuntongError as exc:  # e.g. a host without a billing account
        log.warning("meeting_usage_not_recorded", participant=row.id, error=exc.code)


async def close_interrupted(ctx: Context, *, at_start: bool = True) -> int:
    """Stays left open by a stopped node (``cluster.nodes.recoverable``: at start-up this
    node's previous run's, a dead node's and those without a node; in a sweep a dead node's
    only), of meetings no node owns now (their lease expired): each is billed up to its last
    checkpoint and closed there (``server_stopped``); how many."""
    async with ctx.db.session() as s:
        found = await store.open_stay_owners(s)
    owners = await nodes.recoverable(ctx, found, at_start=at_start)
    if not owners:
        return 0
    now = nodes.node_of(ctx).clock.now()
    async with ctx.db.session() as s:
        stays = await store.open_stays(s, owners.nodes, owners.unowned, ctx.node_id, now)
    for row, host_id in stays:  # billed first: a crash in between bills nothing twice
        await bill_stay(ctx, host_id, row, row.seconds, row.media)
    async with ctx.db.session() as s:
        for row, _ in stays:
            await store.close_stay_at_checkpoint(s, row, "server_stopped")
    return len(stays)
