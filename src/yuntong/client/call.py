"""A 1:1 WebRTC call from Python: aiortc media, Yuntong signaling, measured results.

:class:`CallClient` speaks the ``call.*`` messages of docs/protocol.md for one call;
:func:`run_call` logs in, places or answers a call, keeps it up for a while and returns
what was measured (:class:`~yuntong.client.quality.CallResult`, sampled by
:mod:`yuntong.client.quality`; ICE helpers in :mod:`yuntong.client.ice`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any, Literal

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from yuntong.client.aio import cancel_all
from yuntong.client.api import ApiClient
from yuntong.client.ice import candidate_types, ice_candidate, rtc_ice_servers
from yuntong.client.media import MediaStats, PatternVideoTrack, ToneAudioTrack
from yuntong.client.quality import CallResult, QualityMeter, QualitySample, rounded
from yuntong.client.signaling import CLOSED, Event, Signaling, SignalingError

Media = Literal["audio", "video"]
CallState = Literal["idle", "calling", "ringing", "answered", "ended"]
Progress = Callable[[str], None]

TRANSITIONS: dict[CallState, set[CallState]] = {
    "idle": {"calling", "ringing"},
    "calling": {"answered", "ended"},
    "ringing": {"answered", "ended"},
    "answered": {"ended"},
    "ended": set(),
}
EARLY_EVENT_LIMIT = 64


def new_device_id() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}"


class CallClient:
    """One call at a time over a connected :class:`Signaling` session.

    Explicit states: ``idle → calling | ringing → answered → ended``; a method called in
    the wrong state raises ``RuntimeError``.
    """

    def __init__(
        self,
        signaling: Signaling,
        ice_servers: list[dict[str, Any]],
        *,
        relay_only: bool = False,
        progress: Progress | None = None,
        quality_interval_s: float = 5.0,
    ) -> None:
        self.signaling = signaling
        self.ice_servers = ice_servers
        self.relay_only = relay_only
        self.progress: Progress = progress or (lambda _line: None)
        self.quality_interval_s = quality_interval_s
        self.state: CallState = "idle"
        self.role: Literal["caller", "callee"] = "caller"
        self.media: str = "audio"
        self.call_id: str | None = None
        self.peer: dict[str, Any] = {}
        self.pc: RTCPeerConnection | None = None
        self.stats = MediaStats()
        self.last_quality: QualitySample | None = None
        self.ended: dict[str, Any] = {}
        self.local_candidate_types: list[str] = []
        self.error: str | None = None
        self._offer_sdp = ""
        self._tracks: list[MediaStreamTrack] = []
        self._incoming: asyncio.Queue[Event] = asyncio.Queue()
        self._early: dict[str, list[Event]] = {}
        self._pending_ice: list[dict[str, Any] | None] = []
        self._remote_set = False
        self._lock = asyncio.Lock()
        self._answered = asyncio.Event()
        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self._meter = QualityMeter()
        self._final_sent = False
        self._tasks: list[asyncio.Task[None]] = []

    # --- the caller's and the callee's actions ---------------------------------------

    def start(self) -> None:
        """Begin reading signaling events (call once, before place/answer_next)."""
        self._tasks.append(asyncio.create_task(self._dispatch(), name="call-dispatch"))

    async def place(self, to: str, media: Media = "audio", from_number: str | None = None) -> str:
        """Send ``call.invite`` with a complete offer (aiortc gathers before it returns).
        ``to``: a username, user id or number; ``from_number``: which of one's own numbers a
        call by number is presented from (default: the first)."""
        self._move("calling")
        self.role, self.media = "caller", media
        pc = self._new_peer_connection()
        self._add_tracks(pc, video=media == "video")
        await pc.setLocalDescription(await pc.createOffer())
        self.local_candidate_types = candidate_types(pc.localDescription.sdp)
        data = {"to": to, "media": media, "sdp": pc.localDescription.sdp}
        if from_number is not None:
            data["from_number"] = from_number
        try:
            ack = await self.signaling.request("call.invite", data)
        except BaseException:
            self._move("ended")  # there is no call to cancel
            await self._close_media()
            self._ended.set()
            raise
        call_id = str(ack["call_id"])
        self.progress(f"calling {to} ({media}), call {call_id}")
        await self._adopt(call_id)
        return call_id

    async def answer_next(self, *, auto_answer: bool = True, timeout: float | None = None) -> str:
        """Wait for ``call.incoming``, send ``call.ringing`` and (by default) answer it."""
        if self.state != "idle":
            raise RuntimeError(f"cannot take a call in state {self.state}")
        event = await asyncio.wait_for(self._incoming.get(), timeout)
        self._move("ringing")
        self.role = "callee"
        self.media = str(event.data.get("media") or "audio")
        self.peer = dict(event.data.get("from") or {})
        self._offer_sdp = str(event.data.get("sdp") or "")
        call_id = str(event.data["call_id"])
        who = self.peer.get("username") or self.peer.get("user_id")
        self.progress(f"incoming {self.media} call from {who}, call {call_id}")
        await self._adopt(call_id)
        await self.signaling.request("call.ringing", {"call_id": self.call_id})
        if auto_answer:
            await self.answer()
        return str(self.call_id)

    async def answer(self) -> None:
        if self.state != "ringing":
            raise RuntimeError(f"cannot answer in state {self.state}")
        pc = self._new_peer_connection()
        async with self._lock:
            await pc.setRemoteDescription(RTCSessionDescription(self._offer_sdp, "offer"))
            self._remote_set = True
            await self._flush_ice()
        has_video = any(t.kind == "video" for t in pc.getTransceivers())
        self._add_tracks(pc, video=has_video)
        await pc.setLocalDescription(await pc.createAnswer())
        self.local_candidate_types = candidate_types(pc.localDescription.sdp)
        data = {"call_id": self.call_id, "sdp": pc.localDescription.sdp}
        await self.signaling.request("call.answer", data)
        if self.state == "ringing":
            self._move("answered")
            self._answered.set()
            self.progress("answered")

    async def reject(self) -> None:
        if self.state != "ringing":
            raise RuntimeError(f"cannot reject in state {self.state}")
        await self._end_request("call.reject")

    async def hangup(self) -> None:
        """Cancel (caller, unanswered), reject (callee, ringing) or hang up; then wait for end."""
        if self.state == "answered":
            await self._send_quality(final=True)
        message = {"calling": "call.cancel", "ringing": "call.reject", "answered": "call.hangup"}
        if self.state in message:
            await self._end_request(message[self.state])

    async def wait_answered(self, timeout: float | None) -> bool:
        """True once answered; False if the call ended (or the time ran out) first."""
        await _first_of(self._answered, self._ended, timeout=timeout)
        return self._answered.is_set()

    async def wait_connected(self, timeout: float | None) -> bool:
        await _first_of(self._connected, self._ended, timeout=timeout)
        return self._connected.is_set()

    async def wait_ended(self, timeout: float | None) -> bool:
        await _first_of(self._ended, timeout=timeout)
        return self._ended.is_set()

    async def result(self) -> CallResult:
        """Measure (when the connection is still open) and return the call's result."""
        if self.pc is not None and not self._ended.is_set():
            self.last_quality = await self._measure()
        quality = self.last_quality or QualitySample()
        return CallResult(
            role=self.role,
            media=self.media,
            call_id=self.call_id,
            outcome=str(self.ended.get("outcome") or ("interrupted" if self.call_id else "failed")),
            reason=self.ended.get("reason"),
            answered=self._answered.is_set(),
            connected=self._connected.is_set(),
            billable_seconds=self.ended.get("billable_seconds"),
            frames_decoded=self.stats.video_frames,
            video_counter_first=self.stats.first_counter,
            video_counter_last=self.stats.last_counter,
            audio_samples=self.stats.audio_samples,
            audio_rms=self.stats.audio_rms,
            audio_rms_dbfs=self.stats.audio_rms_dbfs,
            packets_received=quality.packets_received,
            packets_lost=quality.packets_lost,
            packets_sent=quality.packets_sent,
            remote_received=dict(quality.remote_received),
            rtt_ms=quality.rtt_ms,
            jitter_ms=quality.jitter_ms,
            local_candidate_types=self.local_candidate_types,
            error=self.error,
        )

    async def close(self) -> None:
        await cancel_all(self._tasks)
        await self._close_media()

    # --- signaling events ----------------------------------------------------------------

    async def _dispatch(self) -> None:
        while True:
            event = await self.signaling.next_event()
            if event.type == CLOSED:
                await self._on_signaling_lost()
                return
            try:
                await self._handle(event)
            except Exception as exc:
                self.error = f"{event.type}: {exc}"
                self.progress(f"error handling {event.type}: {exc}")

    async def _handle(self, event: Event) -> None:
        if event.type == "call.incoming":
            if self.state == "idle":
                self._incoming.put_nowait(event)
            return
        if event.type == "error":
            self.progress(f"server error {event.data.get('code')}: {event.data.get('message')}")
            return
        call_id = event.data.get("call_id")
        if not event.type.startswith("call.") or call_id is None:
            return
        if call_id != self.call_id:
            early = self._early.setdefault(str(call_id), [])
            if len(early) < EARLY_EVENT_LIMIT and len(self._early) < EARLY_EVENT_LIMIT:
                early.append(event)
            return
        async with self._lock:
            await self._on_call_event(event)

    async def _on_call_event(self, event: Event) -> None:
        data = event.data
        if self.state == "ended":
            return
        if event.type == "call.ringing":
            self.progress("ringing")
        elif event.type == "call.answered" and self.state == "calling":
            assert self.pc is not None
            await self.pc.setRemoteDescription(RTCSessionDescription(str(data["sdp"]), "answer"))
            self._remote_set = True
            await self._flush_ice()
            self._move("answered")
            self._answered.set()
            self.progress("answered")
        elif event.type == "call.ice":
            self._pending_ice.append(data.get("candidate"))
            if self._remote_set:
                await self._flush_ice()
        elif event.type == "call.connected":
            self.progress("call connected")
        elif event.type == "call.answered_elsewhere":
            await self._finish({"outcome": "answered_elsewhere"})
        elif event.type == "call.ended":
            await self._finish(data)

    async def _adopt(self, call_id: str) -> None:
        """Make ``call_id`` ours and replay what arrived for it before we knew it."""
        self.call_id = call_id
        for event in self._early.pop(call_id, []):
            await self._handle(event)
        self._early.clear()

    async def _flush_ice(self) -> None:
        assert self.pc is not None
        pending, self._pending_ice = self._pending_ice, []
        for candidate in pending:
            if candidate is None or not candidate.get("candidate"):
                await self.pc.addIceCandidate(None)  # end of candidates
            else:
                await self.pc.addIceCandidate(ice_candidate(candidate))

    async def _end_request(self, message: str) -> None:
        try:
            await self.signaling.request(message, {"call_id": self.call_id})
        except (SignalingError, ConnectionError, TimeoutError) as exc:
            self.progress(f"{message} failed: {exc}")
        if not await self.wait_ended(10):
            await self._finish({"outcome": "failed", "reason": "no_end_from_server"})

    async def _finish(self, data: dict[str, Any]) -> None:
        if self.state == "ended":
            return
        was_answered = self.state == "answered"
        self._move("ended")
        self.ended = dict(data)
        if self.pc is not None and was_answered:
            self.last_quality = await self._measure()
            await self._send_quality(final=True)
        await self._close_media()
        self._ended.set()
        reason = f" ({data.get('reason')})" if data.get("reason") else ""
        self.progress(f"call ended: {data.get('outcome')}{reason}")

    async def _on_signaling_lost(self) -> None:
        if self.state not in ("idle", "ended"):
            self.progress("signaling connection lost")
            async with self._lock:
                await self._finish({"outcome": "interrupted", "reason": "signaling_lost"})

    def _move(self, to: CallState) -> None:
        if to not in TRANSITIONS[self.state]:
            raise RuntimeError(f"call cannot go from {self.state} to {to}")
        self.state = to

    # --- media ------------------------------------------------------------------------------

    def _new_peer_connection(self) -> RTCPeerConnection:
        policy = RTCIceTransportPolicy.RELAY if self.relay_only else RTCIceTransportPolicy.ALL
        # an empty list, never None: None makes aiortc fall back to Google's public STUN
        config = RTCConfiguration(
            iceServers=rtc_ice_servers(self.ice_servers), iceTransportPolicy=policy
        )
        pc = RTCPeerConnection(config)
        self.pc = pc
        pc.on("track", self.stats.consume)

        @pc.on("connectionstatechange")
        async def _state_changed() -> None:
            await self._on_connection_state(pc.connectionState)

        return pc

    def _add_tracks(self, pc: RTCPeerConnection, *, video: bool) -> None:
        self._tracks.append(ToneAudioTrack())
        if video:
            self._tracks.append(PatternVideoTrack())
        for track in self._tracks:
            pc.addTrack(track)

    async def _on_connection_state(self, state: str) -> None:
        self.progress(f"media {state}")
        if state == "connected" and not self._connected.is_set() and self.state != "ended":
            self._connected.set()
            self._meter.start()
            with contextlib.suppress(ConnectionError):
                await self.signaling.send("call.media", {"call_id": self.call_id, "state": state})
            self._tasks.append(asyncio.create_task(self._report_quality(), name="call-quality"))

    async def _report_quality(self) -> None:
        while self.state == "answered":
            await asyncio.sleep(self.quality_interval_s)
            if self.state != "answered":
                return
            try:
                await self._send_quality(final=False)
            except Exception as exc:  # a bad sample must not end the reports
                self.progress(f"quality report failed: {exc}")

    async def _send_quality(self, *, final: bool) -> None:
        if self.pc is None or self.call_id is None or self._final_sent:
            return
        if final:
            self._final_sent = True
        if self.state != "ended":
            self.last_quality = await self._measure()
        sample = self.last_quality or QualitySample()
        data = {
            "call_id": self.call_id,
            "rtt_ms": rounded(sample.rtt_ms),
            "jitter_ms": rounded(sample.jitter_ms),
            "loss_pct": round(sample.loss_pct, 2),
            "bitrate_kbps": round(sample.bitrate_kbps, 1),
            "frames_decoded": self.stats.video_frames,
            "audio_bytes_received": sample.audio_bytes_received,
            "final": final,
        }
        with contextlib.suppress(ConnectionError):
            await self.signaling.send("call.quality", data)

    async def _measure(self) -> QualitySample:
        assert self.pc is not None
        return await self._meter.measure(self.pc)

    async def _close_media(self) -> None:
        await self.stats.stop()
        for track in self._tracks:
            track.stop()
        if self.pc is not None:
            await self.pc.close()


async def _first_of(*events: asyncio.Event, timeout: float | None) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def run_call(
    server: str,
    username: str,
    password: str,
    *,
    to: str | None = None,
    answer: bool = False,
    media: Media = "audio",
    from_number: str | None = None,
    duration: float = 10.0,
    device: str | None = None,
    relay_only: bool = False,
    wait_s: float = 60.0,
    ice_servers: list[dict[str, Any]] | None = None,
    progress: Progress | None = None,
    quality_interval_s: float = 5.0,
) -> CallResult:
    """Log in, place a call to ``to`` (or answer the next incoming one), keep it up for
    ``duration`` seconds after the answer, hang up and return the measurements.

    ``wait_s`` bounds the wait for an answer (caller) or for an incoming call (callee).
    ``ice_servers`` replaces the server's GET /ice-servers answer (tests, probes).
    Raises :class:`~yuntong.client.api.ApiError` when the login fails.
    """
    if (to is None) == (not answer):
        raise ValueError("give exactly one of to=… or answer=True")
    say: Progress = progress or (lambda _line: None)
    async with ApiClient(server) as api:
        session = await api.login(username, password)
        servers = ice_servers if ice_servers is not None else await api.ice_servers()
    if relay_only and not any(s.get("username") for s in servers):
        say("relay-only asked for, but no TURN server is configured: ICE will fail")
    signaling = Signaling(server, session.token, device or new_device_id())
    await signaling.connect()
    say(f"signed in as {username} on device {signaling.device}")
    client = CallClient(
        signaling,
        servers,
        relay_only=relay_only,
        progress=say,
        quality_interval_s=quality_interval_s,
    )
    client.start()
    try:
        return await _converse(client, to, media, duration, wait_s, from_number)
    finally:
        if client.state in ("calling", "ringing", "answered"):  # interrupted (Ctrl-C)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.hangup(), 3)
        await client.close()
        await signaling.close()


async def _converse(
    client: CallClient,
    to: str | None,
    media: Media,
    duration: float,
    wait_s: float,
    from_number: str | None = None,
) -> CallResult:
    try:
        if to is not None:
            await client.place(to, media, from_number)
        else:
            await client.answer_next(timeout=wait_s)
    except TimeoutError:
        client.progress("no incoming call")
        return CallResult(role="callee", outcome="no_call", reason="timeout")
    except SignalingError as exc:
        if client.state == "ended":  # e.g. the caller gave up while we were answering
            return await client.result()
        client.progress(f"call refused: {exc.code}: {exc.message}")
        result = await client.result()
        result.outcome, result.reason, result.error = "failed", exc.code, exc.message
        return result
    except Exception:
        if client.state == "ended":  # the peer connection was closed under our feet
            return await client.result()
        raise
    answered = await client.wait_answered(wait_s)
    if not answered or not await client.wait_ended(duration):
        await client.hangup()  # measures a last time before the media stops
    return await client.result()
