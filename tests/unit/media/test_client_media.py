"""The headless client's synthetic media, its measurements and its SDP helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from av import AudioFrame, VideoFrame

from yuntong.client.ice import candidate_types, ice_candidate
from yuntong.client.media import (
    FPS,
    HEIGHT,
    SAMPLE_RATE,
    WIDTH,
    MediaStats,
    PatternVideoTrack,
    ToneAudioTrack,
    read_counter,
)
from yuntong.client.quality import CallResult


@pytest.mark.parametrize("index", [0, 1, 2, 255, 1000, 65535])
def test_frame_number_survives_conversion_to_yuv(index: int) -> None:
    image = PatternVideoTrack().draw(index)
    frame = VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    assert read_counter(frame.to_ndarray(format="gray")) == index


async def test_video_source_is_640x360_at_15_fps_and_moves() -> None:
    track = PatternVideoTrack()
    frames = [await track.recv() for _ in range(3)]
    track.stop()
    assert [(f.width, f.height) for f in frames] == [(WIDTH, HEIGHT)] * 3
    assert [f.pts for f in frames] == [0, 6000, 12000]
    pts, time_base = frames[1].pts, frames[1].time_base
    assert pts is not None and time_base is not None
    assert float(pts * time_base) == 1 / FPS
    first, second = (f.to_ndarray(format="rgb24") for f in frames[:2])
    assert not np.array_equal(first[40:], second[40:])


async def test_tone_is_a_continuous_440_hz_sine_at_minus_9_dbfs() -> None:
    track = ToneAudioTrack()
    frames = [await track.recv() for _ in range(50)]
    track.stop()
    assert {(f.samples, f.sample_rate, f.format.name, f.layout.name) for f in frames} == {
        (960, SAMPLE_RATE, "s16", "mono")
    }
    stats = MediaStats()
    for frame in frames:
        stats.add_audio(frame)
    assert stats.audio_samples == SAMPLE_RATE
    assert stats.audio_rms_dbfs == pytest.approx(-9.03, abs=0.05)
    signal = np.concatenate([f.to_ndarray()[0] for f in frames]).astype(float)
    spectrum = np.abs(np.fft.rfft(signal))
    assert np.argmax(spectrum) == 440  # one second of samples: bin n is n Hz


def test_silence_measures_as_silence() -> None:
    stats = MediaStats()
    frame = AudioFrame(format="s16", layout="stereo", samples=960)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    stats.add_audio(frame)
    assert stats.audio_rms == 0 and math.isinf(stats.audio_rms_dbfs)


def test_stats_read_frame_numbers_of_received_video() -> None:
    stats = MediaStats()
    track = PatternVideoTrack()
    for index in (7, 8):
        stats.add_video(VideoFrame.from_ndarray(track.draw(index), format="rgb24"))
    assert (stats.video_frames, stats.first_counter, stats.last_counter) == (2, 7, 8)


def test_browser_trickled_candidate_is_parsed() -> None:
    candidate = ice_candidate(
        {
            "candidate": "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx "
            "raddr 192.168.1.5 rport 46154 generation 0 ufrag sXyz network-cost 999",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        }
    )
    assert (candidate.foundation, candidate.ip, candidate.port) == (
        "842163049",
        "203.0.113.7",
        46154,
    )
    assert (candidate.type, candidate.protocol, candidate.sdpMid) == ("srflx", "udp", "0")
    assert candidate.relatedAddress == "192.168.1.5"


def test_candidate_types_are_read_from_sdp() -> None:
    sdp = (
        "v=0\r\na=candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host\r\n"
        "a=candidate:2 1 udp 16777215 198.51.100.4 49170 typ relay raddr 0.0.0.0 rport 0\r\n"
    )
    assert candidate_types(sdp) == ["host", "relay"]


def test_media_both_ways_needs_energy_frames_and_peer_reports() -> None:
    good = CallResult(
        role="caller",
        media="video",
        answered=True,
        audio_rms_dbfs=-12.0,
        frames_decoded=40,
        remote_received={"audio": 100, "video": 80},
    )
    assert good.media_both_ways
    assert not CallResult(**{**good.__dict__, "frames_decoded": 0}).media_both_ways
    assert not CallResult(**{**good.__dict__, "audio_rms_dbfs": -70.0}).media_both_ways
    assert not CallResult(**{**good.__dict__, "remote_received": {"audio": 9}}).media_both_ways
    assert not CallResult(**{**good.__dict__, "answered": False}).media_both_ways
    audio = CallResult(**{**good.__dict__, "media": "audio", "frames_decoded": 0})
    assert CallResult(**{**audio.__dict__, "remote_received": {"audio": 9}}).media_both_ways
