"""The live meetings of this node: their rooms, opening one (on the least-loaded healthy
Janus node, under the meeting's owner lease), the Janus handles that lead events back to their
participant, taking over the meetings a dead node left live, and start-up recovery of the
meetings a previous process left live."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from prometheus_client import Gauge

from yuntong.cluster.nodes import node_of, recoverable
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.media.pool import janus_healthy
from yuntong.meetings import attendance, recordings, service, store
from yuntong.meetings.live import lease, ownership
from yuntong.meetings.live.participant import Handles, Participant
from yuntong.meetings.live.room import Room
from yuntong.meetings.models import MeetingStatus

log = get_logger(__name__)
ROOMS_LIVE = Gauge("yuntong_meetings_live", "Meetings live on this node")


class Rooms:
    """The live rooms of this process and the Janus handles that lead back to them."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.opening: dict[str, asyncio.Lock] = {}
        self.by_handle: Handles = {}

    def by_janus_handle(self, handle_id: int) -> tuple[Room, Participant] | None:
        """The room and participant a Janus handle belongs to."""
        found = self.by_handle.get(handle_id)
        if found is None:
            return None
        meeting_id, participant = found
        room = self.rooms.get(meeting_id)
        return None if room is None else (room, participant)

    def forget(self, room: Room) -> None:
        """``room`` has ended."""
        if self.rooms.get(room.meeting_id) is room:
            del self.rooms[room.meeting_id]
        ROOMS_LIVE.set(len(self.rooms))

    async def close_all(self) -> None:
        for room in list(self.rooms.values()):
            await room.shutdown()


ROOMS = Piece(
    "meetings.rooms",
    "node-owned live state",
    lambda ctx: Rooms(),
    "the live meetings this node runs on Janus and the Janus handles that lead back to them",
)


def rooms_of(ctx: Context) -> Rooms:
    return ctx.services.get(ROOMS)


def live_room(ctx: Context, meeting_id: str) -> Room | None:
    return rooms_of(ctx).rooms.get(meeting_id)


async def open_room(ctx: Context, meeting_id: str) -> Room:
    """The live room of a meeting, created on the least-loaded healthy Janus node if needed,
    once this node holds the meeting's owner lease (``node_unreachable`` while another node
    holds it). A meeting still live from a node that died (or stopped) is taken over: its room
    opens with the stays that node left (:func:`.ownership.restore`), after the Janus room that
    node left is destroyed, and a recording it was making goes on in the new room."""
    rooms = rooms_of(ctx)
    lock = rooms.opening.setdefault(meeting_id, asyncio.Lock())
    async with lock:
        room = rooms.rooms.get(meeting_id)
        if room is not None and not room.closed:
            return room
        meeting = await service.get_meeting(ctx, meeting_id)
        service.check_joinable(meeting, ctx.clock.now())
        held = await lease.take(ctx, meeting_id)
        if held is None:
            raise YuntongError("node_unreachable", retry_after=1)
        room = Room(ctx, meeting, held, rooms.by_handle, rooms.forget)
        try:
            recording = None
            if meeting.status == MeetingStatus.LIVE:  # taken over: who was in, as they were
                async with ctx.db.session() as s:
                    stays = await store.stays_to_take_over(s, meeting_id)
                    recording = await store.recording_under_way(s, meeting_id)
                ownership.restore(room, stays, meeting.room_locked)
                await room.janus.destroy_left(meeting.janus_node, meeting.janus_room)
            else:  # opened again (after a clean stop, a restart): the removed stay out
                async with ctx.db.session() as s:
                    for user_id, guest_key in await store.removed_of(s, meeting_id):
                        room.ban(user_id, guest_key)
            await room.open()
            if recording is not None:
                await room.resume_recording(recording.id, Path(recording.directory))
            room.spawn(ownership.keep_lease(room))
        except BaseException:
            await room.discard()
            raise
        rooms.rooms[meeting_id] = room
        ROOMS_LIVE.set(len(rooms.rooms))
        return room


async def take_over(ctx: Context) -> tuple[int, set[str]]:
    """Open here the live meetings of dead nodes that people were in, once their owner lease
    has expired (the sweep of dead nodes, :mod:`yuntong.cluster.recovery`): the room comes back
    with who was in it, their roles, the lobby, the host's mutes and the lock; each stay goes
    on from its last checkpoint. How many (with those that could not be opened and wait for
    their participants again), and the meetings to try again at the next sweep: no Janus
    answered, while their participants' reconnect grace since the lease ran out lasts."""
    now = node_of(ctx).clock.now()
    async with ctx.db.session() as s:
        found = await store.meetings_to_take_over(s, ctx.node_id, now)
    if not found:
        return 0, set()
    owners = await recoverable(ctx, {node for _, node, _ in found}, at_start=False)
    taken, again = 0, set[str]()
    grace = timedelta(seconds=ctx.settings.meeting_reconnect_grace_s)
    for meeting_id, node, until in found:
        if node not in owners.nodes:
            continue
        if not janus_healthy(ctx) and until is not None and now - until < grace:
            # the meeting stays the dead node's (this node takes no lease) for the next sweep
            log.warning("meeting_take_over_deferred", meeting=meeting_id)
            again.add(meeting_id)
            continue
        try:
            await open_room(ctx, meeting_id)
        except YuntongError as exc:  # no Janus now, taken by another node meanwhile, ended
            log.warning("meeting_not_taken_over", meeting=meeting_id, error=exc.code)
            # as before take-overs: the meeting waits for its participants again, and its
            # stays are closed at their checkpoint (unless another node runs it now)
            taken += await service.do_reschedule_abandoned(ctx, meeting_id)
            continue
        taken += 1
    return taken, again


async def close_interrupted(ctx: Context, *, at_start: bool = True) -> int:
    """Meetings left live by a stopped node (its own previous run at start-up, or a dead one
    once their lease expired): in a sweep, those people were in are taken over
    (:func:`take_over`); the stays of the others are billed up to their last checkpoint and
    closed there, and those meetings wait for their participants again; a recording their room
    was making is converted. A live node's meetings are never touched."""
    taken, again = (0, set[str]()) if at_start else await take_over(ctx)
    stays = await attendance.close_interrupted(ctx, at_start=at_start, keep=again)
    rescheduled = await service.do_reschedule_interrupted(ctx, at_start=at_start, keep=again)
    return taken + stays + rescheduled + await recordings.do_process_abandoned(ctx)
