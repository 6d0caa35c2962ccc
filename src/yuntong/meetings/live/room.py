"""A meeting while people are in it: one Janus VideoRoom, one Janus session per participant.

:class:`Room` is the only owner of a meeting's live state (participants, lobby, feeds, host
controls) and applies the host policy: who may enter, publish, chat, and control others.
Every control is applied in Janus — ``moderate`` mutes a stream at the SFU, ``kick`` removes
a publisher, ``destroy`` ends the room — and written to the attendance record. The room owns
helpers for each concern: :class:`~.janus_room.JanusRoom` (the VideoRoom, sessions, handles,
recovery), :class:`~.publishing.Publishing` (feeds), :class:`~.simulcast.Simulcast`
(subscriptions and layers), :mod:`.chat`, and :mod:`yuntong.meetings.attendance` (stays
and their billing). If the Janus connection is lost (Janus died), the room waits for its
node or another healthy one, creates the VideoRoom again, gives every participant a new
Janus session and tells the clients ``meeting.media_reset``: who is in, with which role,
muted or not, is kept here and survives.

The room runs only while this node holds the meeting's owner lease (:mod:`.lease`, kept by
:mod:`.ownership`); a room that lost it (this node stalled and another took the meeting over)
stops acting at once (:meth:`Room.abandon`).

Over 600 lines: the room is the one owner of a meeting's live state, and every concern that
can stand alone is a sibling module already (Janus, publishing, simulcast, chat, policy,
ownership); what remains here are the state's transitions, which share one lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from prometheus_client import Gauge
from sqlalchemy.exc import SQLAlchemyError

from yuntong.core.clock import Timer
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.ids import new_id
from yuntong.core.logging import get_logger
from yuntong.media import turn
from yuntong.media.janus import JanusEvent, JanusHandle
from yuntong.meetings import attendance, recordings, service
from yuntong.meetings.live import chat, lease, policy
from yuntong.meetings.live.janus_room import JanusRoom
from yuntong.meetings.live.participant import (
    Handles,
    Kind,
    Participant,
    Participants,
    ParticipantState,
    Socket,
)
from yuntong.meetings.live.publishing import Publishing
from yuntong.meetings.live.simulcast import Simulcast
from yuntong.meetings.models import Meeting, Role

log = get_logger(__name__)
PARTICIPANTS = Gauge("yuntong_meeting_participants", "Participants in meetings on this node")
JOINED, WAITING, ADMITTED, LEFT = (
    ParticipantState.JOINED,
    ParticipantState.WAITING,
    ParticipantState.ADMITTED,
    ParticipantState.LEFT,
)


class Room:
    def __init__(
        self,
        ctx: Context,
        meeting: Meeting,
        held: lease.MeetingLease,
        handles: Handles,
        on_closed: Callable[[Room], None],
    ) -> None:
        self.ctx = ctx
        self.lease = held
        self.meeting_id = meeting.id
        self.title = meeting.title
        self.number = meeting.number
        self.host_user_id = meeting.host_id
        self.settings = service.settings_of(meeting)
        self.participants = Participants()
        self.banned_users: set[int] = set()
        self.banned_guests: set[str] = set()
        self.locked = False
        self.recording_id: str | None = None
        self.closed = False
        self.lock = asyncio.Lock()
        self.janus = JanusRoom(ctx, meeting.id, meeting.number, handles)
        self.feeds = Publishing(self.janus, self.participants, self._on_janus_event)
        self.subs = Simulcast(
            ctx, self.janus, self.participants, self._on_janus_event, lambda: self.closed
        )
        self._on_closed = on_closed
        self._watch: asyncio.Task[None] | None = None
        self._empty_timer: Timer | None = None

    # --- Janus room ---------------------------------------------------------------------

    async def open(self) -> None:
        node = await self.janus.open(self.settings.max_participants * 2)
        try:
            await service.do_mark_live(
                self.ctx, self.meeting_id, node.name, self.janus.room_id, self.lease.fence
            )
        except BaseException:
            await self.janus.destroy()
            await self.janus.close()
            raise
        self._watch = asyncio.create_task(self._watch_janus(), name=f"room-{self.number}")
        self.spawn(self._checkpoint_loop())
        self._arm_empty_timer()
        log.info("meeting_room_opened", meeting=self.meeting_id, node=node.name)

    def ban(self, user_id: int | None, guest_key: str | None) -> None:
        if user_id is not None:
            self.banned_users.add(user_id)
        if guest_key is not None:
            self.banned_guests.add(guest_key)

    def grace_for(self, p: Participant) -> Timer:
        return self.ctx.clock.call_later(
            self.ctx.settings.meeting_reconnect_grace_s,
            lambda: self.spawn(self.leave(p, "connection_lost")),
        )

    async def _watch_janus(self) -> None:
        """When the Janus connection ends while the room is open, bring the media back."""
        while not self.closed:
            if not await self.janus.wait_lost():
                return
            if self.closed:
                return
            log.warning("meeting_media_lost", meeting=self.meeting_id)
            try:
                await self._recover()
            except Exception:
                log.exception("meeting_media_recovery_failed", meeting=self.meeting_id)
                await self.end("media_lost")
                return

    async def _recover(self) -> None:
        for p in self.participants.values():
            p.session, p.feeds, p.subs = None, {}, {}
        lost = self.janus.node
        node = await self.janus.reconnect()
        if self.recording_id is not None:  # a new segment in the same directory
            with contextlib.suppress(YuntongError):
                await self.janus.record_to(self.janus.recordings_dir() / self.recording_id)
        for p in self.joined():
            with contextlib.suppress(YuntongError):
                await self.janus.session_for(p)
            await self.participants.send(p, "meeting.media_reset", {})
        log.info("meeting_media_recovered", meeting=self.meeting_id, node=node.name)
        if node is not lost:
            log.warning("meeting_moved", meeting=self.meeting_id, node=node.name)
            try:  # the row says where the meeting lives; media is back either way
                await service.do_record_node(self.ctx, self.meeting_id, node.name)
            except Exception:
                log.exception("meeting_node_not_recorded", meeting=self.meeting_id)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.janus.spawn(coro)

    async def _on_janus_event(self, p: Participant, handle: JanusHandle, event: JanusEvent) -> None:
        feed = next((f for f in p.feeds.values() if f.handle is handle), None)
        if feed is not None:
            await self.feeds.on_event(p, feed, event)
        else:
            await self.subs.on_event(p, handle, event)

    # --- membership ---------------------------------------------------------------------

    def joined(self) -> list[Participant]:
        return self.participants.joined()

    def waiting(self) -> list[Participant]:
        return self.participants.waiting()

    def get(self, participant_id: str) -> Participant:
        return self.participants.get(participant_id)

    async def attach_socket(self, ticket: service.Ticket, socket: Socket) -> Participant:
        """A participant's socket arrives (first time, or back within the grace period)."""
        if self.closed:
            raise YuntongError("meeting_ended")
        p = self.participants.find(ticket.participant_id)
        if p is not None:
            if p.state == LEFT:
                raise YuntongError("meeting_ticket_invalid")
            if p.grace is not None:
                p.grace.cancel()
                p.grace = None
            if p.state == JOINED and p.counted_from is None:  # back after a take-over
                p.counted_from = self.ctx.clock.now()
            old, p.socket = p.socket, socket
            if old is not None and old is not socket:
                with contextlib.suppress(Exception):
                    await old.close(4409, "replaced")
            return p
        if ticket.user_id in self.banned_users or (
            ticket.guest_key is not None and ticket.guest_key in self.banned_guests
        ):
            raise YuntongError("meeting_removed")
        p = Participant(
            id=ticket.participant_id,
            name=ticket.name,
            role=ticket.role,
            user_id=ticket.user_id,
            guest_key=ticket.guest_key,
            socket=socket,
        )
        p.chat = chat.allowance(self.ctx)
        return p

    async def join(self, p: Participant, *, resume: bool = False) -> dict[str, Any]:
        """Enter the meeting, or the lobby when there is one and ``p`` is not a host."""
        async with self.lock:
            if self.closed:
                raise YuntongError("meeting_ended")
            known = p.id in self.participants
            if p.state == JOINED:
                if not resume:
                    await self._drop_media(p)
                elif p.media_lost:  # a reconnected client of a taken-over room
                    self.spawn(self.participants.send(p, "meeting.media_reset", {}))
                p.media_lost = False
                return {"state": "joined", "room": self.snapshot(p)}
            if not known:
                if self.locked and p.role != Role.HOST:
                    raise YuntongError("meeting_locked")
                self.participants.add(p)
            if p.state == WAITING and self.settings.waiting_room and not p.is_host:
                if not known:
                    await attendance.write(self.ctx, self.lease, p, waited=True)
                    await self.participants.tell_hosts_lobby()
                return {"state": "waiting"}
            if len(self.joined()) >= self.settings.max_participants:
                if not known:  # who tried, with no time joined
                    await attendance.write(self.ctx, self.lease, p)
                raise YuntongError("meeting_full")
            await self.janus.session_for(p)
            if self.settings.mute_on_entry and not p.is_host and p.joined_at is None:
                p.host_muted_audio = True
                p.must_ask_to_unmute = self.settings.ask_to_unmute
            p.move(JOINED)
            p.joined_at = p.joined_at or self.ctx.clock.now()
            p.counted_from = p.counted_from or p.joined_at
            back = await attendance.write(self.ctx, self.lease, p, joined=True)
            if back is not None:  # its stay was closed when its room stopped: it goes on
                p.carried_s, p.joined_at = back.seconds, back.joined_at
            self._cancel_empty_timer()
            PARTICIPANTS.inc()
        await self.tell_participant(p, but=p)
        return {"state": "joined", "room": self.snapshot(p)}

    def snapshot(self, me: Participant) -> dict[str, Any]:
        feeds = [
            {"feed_id": f.feed_id, "participant_id": q.id, "kind": f.kind}
            for q in self.joined()
            if q is not me
            for f in q.feeds.values()
            if f.up
        ]
        return {
            "meeting": {
                "id": self.meeting_id,
                "number": self.number,
                "title": self.title,
                "settings": self.settings.model_dump(),
            },
            "me": self.entry(me, me),
            "participants": [self.entry(q, me) for q in self.joined()],
            "waiting": [q.public() for q in self.waiting()] if me.is_host else [],
            "feeds": feeds,
            "ice_servers": turn.ice_servers_for(self.ctx, me.user_id or 0),
            "recording": self.recording_id is not None,
            "locked": self.locked,
        }

    def entry(self, q: Participant, viewer: Participant) -> dict[str, Any]:
        return policy.entry(self.settings, q, viewer)

    async def tell_participant(self, q: Participant, but: Participant | None = None) -> None:
        """``meeting.participant`` for ``q`` to everyone joined, each with its own flags."""
        await asyncio.gather(
            *(
                self.participants.send(v, "meeting.participant", {"participant": self.entry(q, v)})
                for v in self.joined()
                if v is not but
            )
        )

    async def leave(self, p: Participant, reason: str = "left") -> None:
        async with self.lock:
            if p.state == LEFT:
                return
            was_joined = p.state == JOINED
            p.move(LEFT)
            if p.grace is not None:
                p.grace.cancel()
                p.grace = None
            await self._drop_media(p, notify=was_joined)
            await self.janus.end_session(p)
            if was_joined:
                PARTICIPANTS.dec()
            await attendance.close(self.ctx, self.lease, self.host_user_id, p, reason)
        if was_joined:
            message = {"participant_id": p.id, "reason": reason}
            await self.participants.broadcast("meeting.left", message)
        else:
            await self.participants.tell_hosts_lobby()
        if not self.joined():
            self._arm_empty_timer()

    def socket_lost(self, p: Participant, socket: Socket) -> None:
        """The socket closed without a leave: keep the place for the grace period."""
        if p.socket is not socket or p.state == LEFT:
            return
        p.socket = None
        p.grace = self.grace_for(p)

    async def _drop_media(self, p: Participant, notify: bool = True) -> None:
        for feed in list(p.feeds.values()):
            await self.feeds.drop(p, feed, notify=notify)
        for sub in list(p.subs.values()):
            await self.subs.close(p, sub)

    # --- media --------------------------------------------------------------------------

    async def publish(self, p: Participant, kind: Kind, sdp: str) -> dict[str, Any]:
        p.check_joined()
        if kind == "screen":
            policy.check_may_share_screen(self.settings, p)
        return await self.feeds.publish(p, kind, sdp)

    async def restart_publisher(self, p: Participant, kind: Kind, sdp: str) -> dict[str, Any]:
        """ICE restart of a publisher: its new offer, Janus's new answer."""
        p.check_joined()
        return await self.feeds.restart(p, kind, sdp)

    async def unpublish(self, p: Participant, kind: Kind) -> None:
        await self.feeds.unpublish(p, kind)

    async def subscribe(self, p: Participant, feed_id: int) -> dict[str, Any]:
        p.check_joined()
        return await self.subs.subscribe(p, feed_id)

    async def answer(self, p: Participant, sub_id: str, sdp: str) -> None:
        p.check_joined()
        await self.subs.answer(p, sub_id, sdp)

    async def restart_subscriber(self, p: Participant, sub_id: str) -> dict[str, Any]:
        p.check_joined()
        return await self.subs.restart(p, sub_id)

    async def unsubscribe(self, p: Participant, sub_id: str) -> None:
        await self.subs.unsubscribe(p, sub_id)

    async def layer(self, p: Participant, sub_id: str, substream: int) -> None:
        """The layer the client wants (by its tile's size); bandwidth may hold it lower."""
        p.check_joined()
        await self.subs.layer(p, sub_id, substream)

    async def trickle(self, p: Participant, target: str, candidate: dict[str, Any] | None) -> None:
        p.check_joined()
        if target in ("camera", "screen"):
            feed = p.feeds.get(target)
            if feed is None:
                raise YuntongError("meeting_feed_not_found")
            handle = feed.handle
        else:
            handle = self.subs.sub(p, target).handle
        await handle.trickle(candidate)

    async def set_quality(self, p: Participant, level: str) -> None:
        await self.participants.set_quality(p, level)

    def add_quality_sample(self, p: Participant, loss_pct: float, jitter_ms: float) -> None:
        """``loss_pct`` is over the whole stay so far (Janus counts from the start): keep the
        latest; jitter is averaged over the samples."""
        p.loss_pct = loss_pct
        p.jitter_sum += jitter_ms
        p.quality_samples += 1

    async def apply_settings(self, settings: service.MeetingSettings) -> None:
        self.settings = settings
        data = settings.model_dump()
        await asyncio.gather(
            *(
                self.participants.send(
                    v, "meeting.settings", {"settings": data, "can": policy.room_flags(settings, v)}
                )
                for v in self.joined()
            )
        )

    # --- self state, chat ---------------------------------------------------------------

    async def set_self(
        self, p: Participant, audio_muted: bool | None, video_muted: bool | None
    ) -> None:
        p.check_joined()
        if audio_muted is False and p.host_muted_audio:
            if p.must_ask_to_unmute:
                raise YuntongError("meeting_unmute_needs_host")
            p.host_muted_audio = False
            await self.feeds.moderate(p, "audio", False)
        if video_muted is False and p.host_muted_video:
            if p.must_ask_to_unmute:
                raise YuntongError("meeting_unmute_needs_host")
            p.host_muted_video = False
            await self.feeds.moderate(p, "video", False)
        if audio_muted is not None:
            p.audio_muted = audio_muted
        if video_muted is not None:
            p.video_muted = video_muted
        await self.tell_participant(p)

    async def set_hand(self, p: Participant, raised: bool) -> None:
        p.check_joined()
        p.hand = raised
        await attendance.save_controls(self.ctx, self.lease, p)
        await self.tell_participant(p)

    async def chat(self, p: Participant, text: str, to: str | None) -> dict[str, Any]:
        p.check_joined()
        policy.check_may_chat(self.settings, p)
        return await chat.post(self.ctx, self.meeting_id, self.participants, p, text, to)

    # --- host controls ------------------------------------------------------------------

    def may_control(self, user_id: int) -> bool:
        """Whether the signed-in ``user_id`` is a host or co-host here right now."""
        return any(p.user_id == user_id and p.is_host for p in self.joined())

    async def admit(self, actor: Participant | None, participant_id: str | None) -> int:
        """Open the lobby's door; the admitted send ``meeting.join`` again and are in."""
        policy.check_host_controls(actor)
        targets = self.waiting() if participant_id is None else [self.get(participant_id)]
        admitted = 0
        for q in targets:
            if q.state != WAITING:
                continue
            q.move(ADMITTED)
            await attendance.save_controls(self.ctx, self.lease, q)
            await self.participants.send(q, "meeting.admitted", {})
            admitted += 1
        await self.participants.tell_hosts_lobby()
        return admitted

    async def deny(self, actor: Participant | None, participant_id: str | None) -> int:
        policy.check_host_controls(actor)
        targets = self.waiting() if participant_id is None else [self.get(participant_id)]
        denied = 0
        for q in targets:
            if q.state != WAITING:
                continue
            await self.participants.send(q, "meeting.denied", {})
            socket = q.socket
            await self.leave(q, "denied")
            if socket is not None:
                await socket.close(4403, "denied")
            denied += 1
        return denied

    async def mute(
        self,
        actor: Participant | None,
        participant_id: str,
        audio: bool | None,
        video: bool | None,
        ask_to_unmute: bool | None = None,
    ) -> None:
        """Mute (True) or allow to unmute (False) someone's audio/video, enforced in Janus."""
        policy.check_host_controls(actor)
        q = self.get(participant_id)
        policy.check_may_mute(actor, q)
        ask = self.settings.ask_to_unmute if ask_to_unmute is None else ask_to_unmute
        changes: dict[str, Any] = {"by": actor.id if actor else None}
        if audio is not None:
            q.host_muted_audio = audio
            await self.feeds.moderate(q, "audio", audio)
            changes["audio"] = audio
        if video is not None:
            q.host_muted_video = video
            await self.feeds.moderate(q, "video", video)
            changes["video"] = video
        q.must_ask_to_unmute = bool(ask and (q.host_muted_audio or q.host_muted_video))
        await attendance.save_controls(self.ctx, self.lease, q)
        await self.participants.send(q, "meeting.muted", changes)
        await self.tell_participant(q)

    async def mute_all(self, actor: Participant | None, ask_to_unmute: bool | None) -> int:
        policy.check_host_controls(actor)
        count = 0
        for q in self.joined():
            if q is actor or q.is_host:
                continue
            await self.mute(actor, q.id, True, None, ask_to_unmute)
            count += 1
        return count

    async def remove(self, actor: Participant | None, participant_id: str) -> None:
        policy.check_host_controls(actor)
        q = self.get(participant_id)
        policy.check_may_control(actor, q)
        self.ban(q.user_id, q.guest_key)
        await self.feeds.kick(q)
        await self.participants.send(q, "meeting.removed", {})
        socket = q.socket
        await self.leave(q, "removed")
        if socket is not None:
            await socket.close(4403, "removed")

    async def set_locked(self, actor: Participant | None, locked: bool) -> None:
        policy.check_host_controls(actor)
        self.locked = locked
        await service.do_set_room_locked(self.ctx, self.meeting_id, locked)
        await self._broadcast_state()

    async def set_role(self, actor: Participant | None, participant_id: str, role: Role) -> None:
        policy.check_role_changer(actor)
        q = self.get(participant_id)
        policy.check_may_set_role(actor, q, role)
        if q.role == Role.GUEST and role == Role.PARTICIPANT:
            return  # a guest stays a guest
        q.role = role
        await attendance.save_controls(self.ctx, self.lease, q)
        await self.tell_participant(q)
        # what q may do to the others has changed with its role
        for other in self.joined():
            if other is not q:
                entry = self.entry(other, q)
                await self.participants.send(q, "meeting.participant", {"participant": entry})
        if q.is_host and self.waiting():
            waiting = [w.public() for w in self.waiting()]
            await self.participants.send(q, "meeting.lobby", {"waiting": waiting})

    async def end(self, reason: str) -> None:
        """End the meeting for everyone: Janus room destroyed, sockets closed, records written."""
        async with self.lock:
            if self.closed:
                return
            self.closed = True
        # first: no new tickets from now (unless another node runs the meeting now)
        if not await service.do_mark_ended(self.ctx, self.meeting_id, reason, self.lease.fence):
            await self._let_go()
            return
        self.lease.lost = True  # released with the end
        self._cancel_empty_timer()
        for p in self.participants.values():
            if p.state != LEFT:
                await self.participants.send(p, "meeting.ended", {"reason": reason})
                socket = p.socket
                await self.leave(p, "ended")
                if socket is not None:
                    with contextlib.suppress(Exception):
                        await socket.close(4410, "ended")
        await self._finish_recording()
        await self.janus.destroy()
        await self._close_janus()
        self._on_closed(self)
        log.info("meeting_ended", meeting=self.meeting_id, reason=reason)

    async def shutdown(self) -> None:
        """The process stops: participants are told to come back (the meeting is not ended),
        and the lease is let go, so another node may open the meeting at once."""
        self.closed = True
        self._cancel_empty_timer()
        for p in self.participants.values():
            if p.state == JOINED:
                await attendance.close(self.ctx, self.lease, self.host_user_id, p, "server_stopped")
                if p.socket is not None:
                    with contextlib.suppress(Exception):
                        await p.socket.close(1012, "restarting")
        await self._close_janus()
        await lease.release(self.ctx, self.lease)

    async def abandon(self) -> None:
        """The lease was lost (this node stalled past it, and another node runs the meeting
        now): stop acting at once — no record written, no Janus room destroyed, the sockets
        closed as on a restart (1012) so that their clients come back to the new owner."""
        async with self.lock:
            if self.closed:
                return
            self.closed = True
        await self._let_go()

    async def discard(self) -> None:
        """The room could not open: nothing it took over is written, the lease is let go (the
        stays wait for the next node to open the meeting, or for recovery)."""
        self.closed = True
        self._forget_participants()
        await self._close_janus()
        await lease.release(self.ctx, self.lease)

    async def _let_go(self) -> None:
        log.warning("meeting_room_abandoned", meeting=self.meeting_id, fence=self.lease.fence)
        self.lease.lost = True
        self._cancel_empty_timer()
        sockets = self._forget_participants()
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close(1012, "moved")
        await self._close_janus()
        self._on_closed(self)

    def _forget_participants(self) -> list[Socket]:
        """Stop every participant's timer here; their sockets, to be closed."""
        sockets = []
        for p in self.participants.values():
            if p.grace is not None:
                p.grace.cancel()
                p.grace = None
            if p.state == JOINED:
                PARTICIPANTS.dec()
            socket, p.socket = p.socket, None
            if socket is not None:
                sockets.append(socket)
        return sockets

    async def _close_janus(self) -> None:
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        await self.janus.close()

    # --- recording ----------------------------------------------------------------------

    async def set_recording(self, actor: Participant | None, on: bool) -> None:
        """Start or stop recording every publisher (Janus writes .mjr files per stream)."""
        policy.check_may_record(self.settings, actor)
        if on and self.recording_id is None:
            recording_id = new_id()
            directory = self.janus.recordings_dir() / recording_id
            directory.mkdir(parents=True, exist_ok=True)
            await self.janus.record_to(directory)
            await recordings.do_start(self.ctx, self.meeting_id, recording_id, directory)
            self.recording_id = recording_id
        elif not on and self.recording_id is not None:
            await self._finish_recording()
        await self._broadcast_state()

    async def resume_recording(self, recording_id: str, directory: Path) -> None:
        """A recording the room of the previous owner was making when it died or stopped goes
        on here, as a new segment in its directory (as after a Janus restart); if Janus
        refuses, the recording ends there and what was recorded is processed."""
        try:
            await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
            await self.janus.record_to(directory)
        except (YuntongError, OSError) as exc:
            log.warning("meeting_recording_not_resumed", meeting=self.meeting_id, error=str(exc))
            recordings.process_later(self.ctx, recording_id)
            return
        self.recording_id = recording_id
        log.info("meeting_recording_resumed", meeting=self.meeting_id, recording=recording_id)

    async def _finish_recording(self) -> None:
        recording_id, self.recording_id = self.recording_id, None
        if recording_id is not None:
            await self.janus.stop_recording()
            recordings.process_later(self.ctx, recording_id)

    async def _broadcast_state(self) -> None:
        state = {"locked": self.locked, "recording": self.recording_id is not None}
        await self.participants.broadcast("meeting.state", state)

    # --- timers, checkpoints ------------------------------------------------------------

    def _arm_empty_timer(self) -> None:
        self._cancel_empty_timer()
        if self.closed:
            return
        self._empty_timer = self.ctx.clock.call_later(
            self.settings.auto_end_after_empty_s, lambda: self.spawn(self._end_if_empty())
        )

    def _cancel_empty_timer(self) -> None:
        if self._empty_timer is not None:
            self._empty_timer.cancel()
            self._empty_timer = None

    async def _end_if_empty(self) -> None:
        if not self.joined() and not self.closed:
            await self.end("empty")

    async def _checkpoint_loop(self) -> None:
        """Every ``meeting_checkpoint_s``, write each stay's seconds so far: if this process
        dies, the next start bills the stays up to the last checkpoint
        (:func:`yuntong.meetings.attendance.close_interrupted`)."""
        while not self.closed:
            await self.ctx.clock.sleep(self.ctx.settings.meeting_checkpoint_s)
            try:
                await self.checkpoint()
            except SQLAlchemyError:
                log.exception("meeting_checkpoint_failed", meeting=self.meeting_id)

    async def checkpoint(self) -> None:
        await attendance.checkpoint(self.ctx, self.lease, self.joined())
