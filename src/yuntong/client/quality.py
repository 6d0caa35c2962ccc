"""What a 1:1 call measured: one ``getStats()`` sample (:class:`QualitySample`, taken by a
:class:`QualityMeter`) and the finished call's result (:class:`CallResult`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

from aiortc import RTCPeerConnection
from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCRemoteOutboundRtpStreamStats,
    RTCTransportStats,
)

CLOCK_RATES = {"audio": 48_000, "video": 90_000}
AUDIO_THRESHOLD_DBFS = -40.0  # the tone arrives near −9 dBFS; silence is far below −60


@dataclass
class QualitySample:
    """One ``call.quality`` report, measured from ``RTCPeerConnection.getStats()``."""

    rtt_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float = 0.0
    bitrate_kbps: float = 0.0
    packets_received: int = 0
    packets_lost: int = 0
    packets_sent: int = 0
    # packets the peer says it received (its RTCP receiver reports), by kind
    remote_received: dict[str, int] = field(default_factory=dict)
    # octets the peer says it sent us (its RTCP sender reports); aiortc counts no bytes received
    audio_bytes_received: int = 0


@dataclass
class CallResult:
    """What a finished call measured; media figures come from the tracks and getStats()."""

    role: Literal["caller", "callee"]
    media: str = "audio"
    call_id: str | None = None
    outcome: str = "failed"
    reason: str | None = None
    answered: bool = False
    connected: bool = False
    billable_seconds: int | None = None
    frames_decoded: int = 0
    video_counter_first: int | None = None
    video_counter_last: int | None = None
    audio_samples: int = 0
    audio_rms: float = 0.0
    audio_rms_dbfs: float = -math.inf
    packets_received: int = 0
    packets_lost: int = 0
    packets_sent: int = 0
    remote_received: dict[str, int] = field(default_factory=dict)
    rtt_ms: float | None = None
    jitter_ms: float | None = None
    local_candidate_types: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def media_received(self) -> bool:
        """We heard the peer's audio (and saw its video, for a video call)."""
        heard = self.audio_rms_dbfs > AUDIO_THRESHOLD_DBFS
        return heard and (self.media != "video" or self.frames_decoded > 0)

    @property
    def media_delivered(self) -> bool:
        """The peer's receiver reports acknowledge every kind of media we sent."""
        kinds = ["audio", "video"] if self.media == "video" else ["audio"]
        return all(self.remote_received.get(kind, 0) > 0 for kind in kinds)

    @property
    def media_both_ways(self) -> bool:
        return self.answered and self.media_received and self.media_delivered


class QualityMeter:
    """Samples a peer connection's ``getStats()``; the bitrate is over the time since the
    previous sample (or since :meth:`start`)."""

    def __init__(self) -> None:
        self._bytes_mark: tuple[float, int] | None = None

    def start(self) -> None:
        """The media connected: bitrates count from now."""
        self._bytes_mark = (time.monotonic(), 0)

    async def measure(self, pc: RTCPeerConnection) -> QualitySample:
        report = await pc.getStats()
        sample = QualitySample()
        rtts: list[float] = []
        jitters: list[float] = []
        bytes_received = 0
        for stat in report.values():
            if isinstance(stat, RTCInboundRtpStreamStats):
                sample.packets_received += stat.packetsReceived
                sample.packets_lost += max(0, stat.packetsLost)
                jitters.append(stat.jitter / CLOCK_RATES.get(stat.kind, 90_000) * 1000)
            elif isinstance(stat, RTCRemoteInboundRtpStreamStats):
                if stat.roundTripTime:  # None until a report carries LSR/DLSR
                    rtts.append(stat.roundTripTime * 1000)
                got = sample.remote_received.get(stat.kind, 0)
                sample.remote_received[stat.kind] = got + stat.packetsReceived
            elif isinstance(stat, RTCOutboundRtpStreamStats):
                sample.packets_sent += stat.packetsSent
            elif isinstance(stat, RTCRemoteOutboundRtpStreamStats) and stat.kind == "audio":
                sample.audio_bytes_received += stat.bytesSent
            elif isinstance(stat, RTCTransportStats):
                bytes_received = max(bytes_received, stat.bytesReceived)
        sample.rtt_ms = sum(rtts) / len(rtts) if rtts else None
        sample.jitter_ms = max(jitters) if jitters else None
        expected = sample.packets_received + sample.packets_lost
        sample.loss_pct = 100 * sample.packets_lost / expected if expected else 0.0
        now = time.monotonic()
        if self._bytes_mark is not None and now > self._bytes_mark[0]:
            elapsed = now - self._bytes_mark[0]
            sample.bitrate_kbps = (bytes_received - self._bytes_mark[1]) * 8 / elapsed / 1000
        self._bytes_mark = (now, bytes_received)
        return sample


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
