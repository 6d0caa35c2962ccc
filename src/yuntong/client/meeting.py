"""A meeting participant from Python: aiortc media through Yuntong's meeting socket.

:class:`MeetingClient` gets a ticket (as a signed-in user or a guest), opens
``/ws/meeting``, joins, publishes a synthetic camera and microphone, and subscribes to every
feed it is told about, measuring what it receives per feed (:class:`MeetingFeed`). It follows
``meeting.media_reset`` (publish and subscribe again) on its own. Used by the tests, the
benchmark and ``yuntong-client meeting``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamTrack

from yuntong.client.aio import cancel_all
from yuntong.client.media import MediaStats, PatternVideoTrack, ToneAudioTrack
from yuntong.client.signaling import CLOSED, Event, Signaling, SignalingError


class MeetingError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class MeetingFeed:
    """One remote stream this client subscribed to, and what arrived on it."""

    feed_id: int
    participant_id: str
    kind: str
    sub_id: str | None = None
    pc: RTCPeerConnection | None = None
    stats: MediaStats = field(default_factory=MediaStats)
    subscribed_at: float = 0.0
    first_frame_at: float | None = None
    gone_at: float | None = None  # time.monotonic() when it ended (feed gone, media reset)


async def get_ticket(
    server: str,
    number: str,
    *,
    token: str | None = None,
    passcode: str | None = None,
    display_name: str | None = None,
    guest_key: str | None = None,
    http: httpx.AsyncClient | None = None,
) -> dict[str, Any]:
    """``POST /api/v1/meetings/by-number/{number}/tickets``; raises :class:`MeetingError`.

    Pass ``http`` (a client kept open) to reuse its connection, as a browser does.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"passcode": passcode, "display_name": display_name, "guest_key": guest_key}
    url = f"{server.rstrip('/')}/api/v1/meetings/by-number/{number}/tickets"
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        resp = await http.post(url, json=body, headers=headers)
    if resp.status_code != 200:
        error = resp.json().get("error", {})
        raise MeetingError(str(error.get("code")), str(error.get("message")))
    data: dict[str, Any] = resp.json()
    return data


def meeting_ws_url(server: str, ticket: str) -> str:
    parts = urlsplit(server)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") + "/ws/meeting"
    return urlunsplit((scheme, parts.netloc, path, urlencode({"ticket": ticket}), ""))


class MeetingClient:
    """One participant. ``publish_video``/``publish_audio`` False: receive only."""

    def __init__(
        self,
        server: str,
        ticket: str,
        *,
        publish_audio: bool = True,
        publish_video: bool = True,
        auto_subscribe: bool = True,
    ) -> None:
        self.server = server
        self.ticket = ticket
        self.publish_audio = publish_audio
        self.publish_video = publish_video
        self.auto_subscribe = auto_subscribe
        # a meeting socket is not a device session: it comes back by joining again with its
        # ticket (docs/meetings.md), never by the /ws resume
        self.signaling = Signaling(
            server, "", "", url=meeting_ws_url(server, ticket), resume_within_s=0
        )
        self.participant_id = ""
        self.state = "new"
        self.room: dict[str, Any] = {}
        self.feeds: dict[int, MeetingFeed] = {}
        self.gone_feeds: list[MeetingFeed] = []  # subscribed once, ended since: what arrived
        self.left: dict[str, tuple[float, str]] = {}  # participant → (monotonic time, reason)
        self.events: list[Event] = []
        self.publisher: RTCPeerConnection | None = None
        self.screen: RTCPeerConnection | None = None
        self.published_feed: int | None = None
        self.tracks: list[MediaStreamTrack] = []
        self.media_resets = 0
        self._early_feeds: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._reset_lock = asyncio.Lock()

    # --- session --------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        try:
            hello = await self.signaling.connect()
        except ConnectionError as exc:
            raise self._refusal() from exc
        self.participant_id = str(hello["participant_id"])
        self._tasks.append(asyncio.create_task(self._read(), name="meeting-events"))
        return hello

    def _refusal(self) -> MeetingError:
        """The error the server sent before closing a refused socket."""
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                event = self.signaling._events.get_nowait()
                if event.type == "error":
                    return MeetingError(str(event.data.get("code")), str(event.data.get("message")))
        return MeetingError("connection_refused", "the meeting socket closed")

    async def request(self, type_: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return await self.signaling.request(type_, data, timeout=15)
        except SignalingError as exc:
            raise MeetingError(exc.code, exc.message) from exc

    async def join(self) -> dict[str, Any]:
        """Join; in a meeting with a waiting room the state is ``waiting`` until admitted."""
        result = await self.request("meeting.join")
        self.state = str(result["state"])
        if self.state == "joined":
            await self._entered(result["room"])
        return result

    async def join_when_admitted(self, timeout: float = 15) -> None:
        await self.wait_event("meeting.admitted", timeout)
        await self.join()

    async def _entered(self, room: dict[str, Any]) -> None:
        """Publish and subscribe to the feeds already up, all side by side (the server sets
        subscriptions up in parallel too)."""
        self.room = room
        work: list[Coroutine[Any, Any, Any]] = []
        if self.publish_audio or self.publish_video:
            work.append(self.publish())
        if self.auto_subscribe:
            early, self._early_feeds = self._early_feeds, []
            work += [self._subscribe_quietly(feed) for feed in [*room.get("feeds", []), *early]]
        results = await asyncio.gather(*work, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def leave(self) -> None:
        with contextlib.suppress(MeetingError, ConnectionError, TimeoutError):
            await self.request("meeting.leave")
        await self.close()

    async def close(self) -> None:
        """Socket first: the event task then finishes what it is doing (cancelling it while it
        closes a subscription would leak that PeerConnection and its decoder threads)."""
        self.auto_subscribe = False
        await self.signaling.close()
        reader, others = self._tasks[:1], self._tasks[1:]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*reader, return_exceptions=True), 5)
        await cancel_all([*reader, *others])
        self._tasks = []
        await self._close_media()

    async def _close_media(self) -> None:
        pcs = [f.pc for f in self.feeds.values() if f.pc] + [self.publisher, self.screen]
        for feed in self.feeds.values():
            await feed.stats.stop()
            self._keep_gone(feed)
        self.feeds.clear()
        self.publisher = self.screen = None
        for track in self.tracks:
            track.stop()
        self.tracks = []
        for pc in pcs:
            if pc is not None:
                with contextlib.suppress(Exception):
                    await pc.close()

    # --- media ----------------------------------------------------------------------

    async def publish(self) -> int:
        """Publish the camera (pattern video) and microphone (tone) as asked."""
        pc = RTCPeerConnection()
        self.publisher = pc
        if self.publish_audio:
            self.tracks.append(ToneAudioTrack())
        if self.publish_video:
            self.tracks.append(PatternVideoTrack())
        for track in self.tracks:
            pc.addTrack(track)
        self.published_feed = await self._offer(pc, "camera")
        return self.published_feed

    async def share_screen(self) -> int:
        """A second video stream, as a browser's screen share is."""
        pc = RTCPeerConnection()
        self.screen = pc
        track = PatternVideoTrack()
        self.tracks.append(track)
        pc.addTrack(track)
        return await self._offer(pc, "screen")

    async def _offer(self, pc: RTCPeerConnection, kind: str) -> int:
        await pc.setLocalDescription(await pc.createOffer())  # aiortc: candidates included
        answer = await self.request(
            "meeting.publish", {"kind": kind, "sdp": pc.localDescription.sdp}
        )
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        return int(answer["feed_id"])

    async def subscribe(
        self, feed_id: int, participant_id: str = "", kind: str = "camera"
    ) -> MeetingFeed:
        feed = MeetingFeed(feed_id, participant_id, kind, subscribed_at=time.monotonic())
        self.feeds[feed_id] = feed
        offer = await self.request("meeting.subscribe", {"feed_id": feed_id})
        feed.sub_id = str(offer["sub_id"])
        pc = RTCPeerConnection()
        feed.pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            feed.stats.consume(track)

        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.request(
            "meeting.answer", {"sub_id": feed.sub_id, "sdp": pc.localDescription.sdp}
        )
        return feed

    async def _subscribe_quietly(self, feed: dict[str, Any]) -> None:
        feed_id = int(feed["feed_id"])
        if feed_id in self.feeds:
            return
        try:
            await self.subscribe(feed_id, str(feed["participant_id"]), str(feed["kind"]))
        except (MeetingError, InvalidStateError):  # gone (or dropped) before we got there
            await self._drop_feed(feed_id, keep=False)

    async def _drop_feed(self, feed_id: int, keep: bool = True) -> None:
        feed = self.feeds.pop(feed_id, None)
        if feed is None:
            return
        await feed.stats.stop()
        if keep:
            self._keep_gone(feed)
        if feed.pc is not None:
            await feed.pc.close()

    def _keep_gone(self, feed: MeetingFeed) -> None:
        """Keep what arrived on a feed that was subscribed (one that never was: nothing)."""
        if feed.pc is not None:
            feed.gone_at = time.monotonic()
            self.gone_feeds.append(feed)

    async def _media_reset(self) -> None:
        """Janus restarted: everything is new, publish and subscribe again."""
        async with self._reset_lock:
            self.media_resets += 1
            await self._close_media()
            if self.state == "joined" and (self.publish_audio or self.publish_video):
                await self.publish()

    # --- events ---------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            event = await self.signaling.next_event()
            if event.type == CLOSED:
                self.state = "closed" if self.state != "ended" else self.state
                async with self._changed:
                    self._changed.notify_all()
                return
            self.events.append(event)
            with contextlib.suppress(MeetingError, ConnectionError, TimeoutError):
                await self._on_event(event)
            async with self._changed:
                self._changed.notify_all()

    async def _on_event(self, event: Event) -> None:
        if event.type == "meeting.feed" and self.auto_subscribe:
            if self.state == "joined":
                self._tasks.append(asyncio.create_task(self._subscribe_quietly(event.data)))
            else:  # it may overtake the join's ack
                self._early_feeds.append(event.data)
        elif event.type == "meeting.feed_gone":
            await self._drop_feed(int(event.data["feed_id"]))
        elif event.type == "meeting.left":
            reason = str(event.data.get("reason") or "left")
            self.left[str(event.data["participant_id"])] = (time.monotonic(), reason)
        elif event.type == "meeting.participant":
            person = event.data.get("participant") or {}
            self.left.pop(str(person.get("id")), None)  # back (or still) in
        elif event.type == "meeting.media_reset":
            await self._media_reset()
        elif event.type in ("meeting.ended", "meeting.removed", "meeting.denied"):
            self.state = event.type.split(".")[1]

    async def wait_event(self, type_: str, timeout: float = 10) -> Event:
        """The first event of ``type_`` (already received or arriving within ``timeout``)."""
        seen = 0

        def found() -> Event | None:
            nonlocal seen
            for event in self.events[seen:]:
                if event.type == type_:
                    return event
            seen = len(self.events)
            return None

        async with asyncio.timeout(timeout), self._changed:
            while (event := found()) is None:
                if self.state == "closed":
                    raise MeetingError("closed", f"closed before {type_}")
                await self._changed.wait()
            return event

    async def wait_until(self, predicate: Any, timeout: float = 10) -> None:
        """Poll ``predicate()`` every 50 ms until true."""
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 (media counters change without telling)
                await asyncio.sleep(0.05)

    def frames_from(self, participant_id: str) -> int:
        return sum(
            f.stats.video_frames for f in self.feeds.values() if f.participant_id == participant_id
        )

    def audio_frames_from(self, participant_id: str) -> int:
        return sum(
            f.stats.audio_frames for f in self.feeds.values() if f.participant_id == participant_id
        )
