"""A meeting participant: its state machine, its feeds and subscriptions, and the room's crowd.

A participant moves through :data:`TRANSITIONS` only (``waiting`` in the lobby, ``admitted``
by a host, ``joined``, ``left`` — left, denied, removed, ended, connection lost: the reason
is on the attendance record); any other move raises ``invalid_transition``.
:class:`Participants` holds a room's participants and reaches their sockets.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from yuntong.core.clock import Timer
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.media.janus import JanusHandle, JanusSession
from yuntong.meetings.models import Role

log = get_logger(__name__)
HOSTS = frozenset({Role.HOST, Role.COHOST})
TOP_LAYER = 2  # simulcast substreams 0 (smallest) … 2
Kind = Literal["camera", "screen"]


class ParticipantState(enum.StrEnum):
    WAITING = "waiting"  # in the lobby (or not in yet: every participant starts here)
    ADMITTED = "admitted"  # let in by a host; in once it sends meeting.join again
    JOINED = "joined"
    LEFT = "left"  # for good: left, denied, removed, ended, connection lost


# state -> states it may move to
TRANSITIONS: dict[ParticipantState, frozenset[ParticipantState]] = {
    ParticipantState.WAITING: frozenset(
        {ParticipantState.ADMITTED, ParticipantState.JOINED, ParticipantState.LEFT}
    ),
    ParticipantState.ADMITTED: frozenset({ParticipantState.JOINED, ParticipantState.LEFT}),
    ParticipantState.JOINED: frozenset({ParticipantState.LEFT}),
    ParticipantState.LEFT: frozenset(),
}


class Socket(Protocol):
    """How the room reaches a participant's meeting socket."""

    async def send_event(self, type_: str, data: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(eq=False)
class Feed:
    """One stream a participant publishes (camera, or screen) through its own Janus handle."""

    feed_id: int
    kind: Kind
    handle: JanusHandle
    mids: dict[str, str] = field(default_factory=dict)  # "audio"/"video" → mid
    up: bool = False


@dataclass(eq=False)
class Subscription:
    """One feed a participant receives, at a simulcast layer (:mod:`.simulcast`)."""

    sub_id: str
    feed_id: int
    handle: JanusHandle
    video_mid: str | None = None
    sending: int | None = None  # the simulcast layer Janus says it sends
    wanted: int = TOP_LAYER  # the simulcast layer the client asked for (its tile's size)
    cap: int = TOP_LAYER  # lowered on the subscriber's slow links, raised again when quiet
    capped_at: float = 0.0

    @property
    def layer(self) -> int:
        return min(self.wanted, self.cap)


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(eq=False)
class Participant:
    id: str
    name: str
    role: Role
    user_id: int | None
    guest_key: str | None
    state: ParticipantState = ParticipantState.WAITING
    socket: Socket | None = None
    session: JanusSession | None = None
    session_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    feeds: dict[str, Feed] = field(default_factory=dict)  # kind → feed
    subs: dict[str, Subscription] = field(default_factory=dict)
    audio_muted: bool = False
    video_muted: bool = False
    host_muted_audio: bool = False  # enforced in Janus
    host_muted_video: bool = False
    must_ask_to_unmute: bool = False
    hand: bool = False
    quality: str = "good"
    joined_at: datetime | None = None
    # billing: seconds of the stay another node ran before this one took the meeting over,
    # and since when this node counts (None: not yet, a taken-over participant not back)
    carried_s: int = 0
    counted_from: datetime | None = None
    media_lost: bool = False  # taken over: a reconnected client is told to publish again
    sent_video: bool = False
    grace: Timer | None = None
    chat: TokenBucket | None = None
    loss_pct: float = 0.0
    jitter_sum: float = 0.0
    quality_samples: int = 0

    def move(self, to: ParticipantState) -> None:
        """The one way a participant's state changes; illegal moves raise."""
        if to not in TRANSITIONS[self.state]:
            raise YuntongError("invalid_transition", state=self.state.value)
        self.state = to

    @property
    def admitted(self) -> bool:
        """Let in from the lobby by a host, not joined yet."""
        return self.state == ParticipantState.ADMITTED

    @property
    def is_host(self) -> bool:
        return self.role in HOSTS

    def check_joined(self) -> None:
        if self.state != ParticipantState.JOINED:
            raise YuntongError("meeting_not_joined")

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "guest": self.role == Role.GUEST,
            "user_id": self.user_id,
            "audio_muted": self.audio_muted or self.host_muted_audio,
            "video_muted": self.video_muted or self.host_muted_video,
            "hand": self.hand,
            "quality": self.quality,
            "joined_at": self.joined_at.isoformat() if self.joined_at else None,
        }


Handles = dict[int, tuple[str, Participant]]
"""A Janus handle id → the meeting id and participant it belongs to (Janus's events)."""


class Participants:
    """A room's participants, by id, and the way to their sockets."""

    def __init__(self) -> None:
        self.by_id: dict[str, Participant] = {}

    def __contains__(self, participant_id: object) -> bool:
        return participant_id in self.by_id

    def add(self, p: Participant) -> None:
        self.by_id[p.id] = p

    def find(self, participant_id: str) -> Participant | None:
        return self.by_id.get(participant_id)

    def values(self) -> list[Participant]:
        return list(self.by_id.values())

    def joined(self) -> list[Participant]:
        return [p for p in self.by_id.values() if p.state == ParticipantState.JOINED]

    def waiting(self) -> list[Participant]:
        return [p for p in self.by_id.values() if p.state == ParticipantState.WAITING]

    def get(self, participant_id: str) -> Participant:
        """A participant who has not left, else ``meeting_participant_not_found``."""
        p = self.by_id.get(participant_id)
        if p is None or p.state == ParticipantState.LEFT:
            raise YuntongError("meeting_participant_not_found")
        return p

    async def send(self, p: Participant, type_: str, data: dict[str, Any]) -> None:
        socket = p.socket
        if socket is None:
            return
        try:
            await socket.send_event(type_, data)
        except Exception as exc:  # a dead socket is noticed by its reader
            log.debug("meeting_send_failed", participant=p.id, error=str(exc))

    async def broadcast(
        self, type_: str, data: dict[str, Any], but: Participant | None = None
    ) -> None:
        await asyncio.gather(*(self.send(p, type_, data) for p in self.joined() if p is not but))

    async def tell_hosts_lobby(self) -> None:
        waiting = [w.public() for w in self.waiting()]
        for q in self.joined():
            if q.is_host:
                await self.send(q, "meeting.lobby", {"waiting": waiting})

    async def set_quality(self, p: Participant, level: str) -> None:
        if p.quality != level and p.state == ParticipantState.JOINED:
            p.quality = level
            await self.broadcast("meeting.quality", {"participant_id": p.id, "level": level})
