"""A room's hold on its meeting across nodes: the owner lease it keeps while it runs, the
sockets of relay nodes that died, and the room taken over from a node that died.

:func:`keep_lease` renews the meeting's lease (:mod:`.lease`) every third of it; once it is
lost (this node stalled and another took the meeting over) the room stops acting
(:meth:`~.room.Room.abandon`). :func:`restore` fills a room opened for a meeting a dead node
left live with the stays that node wrote: who was in, waiting or let in, roles, the host's
mutes, raised hands and the lock, as the single-node Janus recovery keeps them in memory.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from yuntong.cluster.nodes import live_nodes, node_of
from yuntong.core.logging import get_logger
from yuntong.meetings.live import chat, lease
from yuntong.meetings.live.participant import Participant, ParticipantState
from yuntong.meetings.live.relay import RelayedSocket
from yuntong.meetings.live.room import PARTICIPANTS, Room
from yuntong.meetings.models import MeetingAttendance, Role

log = get_logger(__name__)


def restore(room: Room, stays: list[MeetingAttendance], locked: bool) -> None:
    """Take over the open stays another node's room left (it died): the participants come
    back as they were — in, waiting or let in, role, the host's mutes, a raised hand — and
    each keeps its place for the reconnect grace period; a stay's seconds continue from its
    last checkpoint once its participant is back (``carried_s``). Removed participants stay
    out: their tickets are refused as in the room they were removed from, and they may not
    join again."""
    room.locked = locked
    for row in stays:
        joined = row.joined_at is not None
        if row.removed:
            room.ban(row.user_id, row.guest_key)
            state = ParticipantState.LEFT
        elif joined:
            state = ParticipantState.JOINED
        else:
            state = ParticipantState.ADMITTED if row.admitted else ParticipantState.WAITING
        p = Participant(
            id=row.id,
            name=row.name,
            role=Role(row.role),
            user_id=row.user_id,
            guest_key=row.guest_key,
            state=state,
            host_muted_audio=row.muted_audio,
            host_muted_video=row.muted_video,
            must_ask_to_unmute=row.ask_to_unmute,
            hand=row.hand,
            joined_at=row.joined_at,
            carried_s=row.seconds,
            media_lost=True,
            sent_video=row.media == "video",
        )
        room.participants.add(p)
        if state == ParticipantState.LEFT:
            continue
        p.chat = chat.allowance(room.ctx)
        if joined:
            PARTICIPANTS.inc()
        p.grace = room.grace_for(p)
    log.warning("meeting_taken_over", meeting=room.meeting_id, participants=len(stays))


async def keep_lease(room: Room) -> None:
    """Renew the room's lease as soon as it is open, then every third of it; once it is lost,
    stop acting."""
    clock = node_of(room.ctx).clock
    while not room.closed:
        # first at once: opening the room (Janus, the take-over's stays) may have taken a
        # good part of the lease taken before it
        if not await lease.renew(room.ctx, room.lease):
            room.spawn(room.abandon())
            return
        await _drop_dead_relays(room)
        await clock.sleep(room.ctx.settings.meeting_lease_s / 3)


async def _drop_dead_relays(room: Room) -> None:
    """Sockets relayed by a node that has died are dropped: their grace period runs."""
    relayed = [
        (p, p.socket) for p in room.participants.values() if isinstance(p.socket, RelayedSocket)
    ]
    if not relayed:
        return
    try:
        live = await live_nodes(room.ctx)
    except SQLAlchemyError:
        return
    for p, socket in relayed:
        if socket.via not in live:
            room.socket_lost(p, socket)
