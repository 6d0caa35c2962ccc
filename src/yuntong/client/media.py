"""Synthetic media for the headless client, and a sink that measures what arrives.

The video source draws a moving colour pattern with its frame number as 16 black/white
blocks along the top edge, so the receiving side can read which frame it decoded.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import (
    AudioStreamTrack,
    MediaStreamError,
    MediaStreamTrack,
    VideoStreamTrack,
)
from av import AudioFrame, VideoFrame

from yuntong.client.aio import cancel_all

WIDTH, HEIGHT, FPS = 640, 360, 15
VIDEO_CLOCK = 90_000
COUNTER_BITS = 16
COUNTER_BLOCK = WIDTH // COUNTER_BITS  # 40 px per bit
COUNTER_ROWS = 32

SAMPLE_RATE = 48_000
AUDIO_FRAME_SAMPLES = SAMPLE_RATE // 50  # 20 ms
TONE_HZ = 440.0
TONE_AMPLITUDE = 0.5  # RMS 0.354, i.e. −9 dBFS


class PatternVideoTrack(VideoStreamTrack):
    """640×360 at 15 fps: drifting colour gradients, a bouncing square, the frame number."""

    def __init__(self) -> None:
        super().__init__()
        self.frames_sent = 0
        self._started: float | None = None
        self._xs = np.arange(WIDTH, dtype=np.uint16)[np.newaxis, :]
        self._ys = np.arange(HEIGHT, dtype=np.uint16)[:, np.newaxis]

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = self.frames_sent
        if self._started is None:
            self._started = time.monotonic()
        else:
            await asyncio.sleep(self._started + index / FPS - time.monotonic())
        frame = VideoFrame.from_ndarray(self.draw(index), format="rgb24")
        frame.pts = index * (VIDEO_CLOCK // FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.frames_sent += 1
        return frame

    def draw(self, index: int) -> npt.NDArray[np.uint8]:
        image = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
        # offsets are reduced mod 256 first so uint16 arithmetic never overflows
        image[:, :, 0] = ((self._xs + 4 * index % 256) % 256).astype(np.uint8)
        image[:, :, 1] = ((self._ys + 3 * index % 256) % 256).astype(np.uint8)
        blue_shift = 256 - 2 * index % 256
        image[:, :, 2] = ((self._xs // 3 + self._ys // 2 + blue_shift) % 256).astype(np.uint8)
        x = (index * 8) % (2 * (WIDTH - 60))
        x = x if x < WIDTH - 60 else 2 * (WIDTH - 60) - x
        image[200:260, x : x + 60] = 255
        draw_counter(image, index)
        return image


def draw_counter(image: npt.NDArray[np.uint8], value: int) -> None:
    """Write ``value`` (mod 2¹⁶) as white (1) / black (0) blocks along the top, MSB first."""
    for bit in range(COUNTER_BITS):
        on = (value >> (COUNTER_BITS - 1 - bit)) & 1
        image[:COUNTER_ROWS, bit * COUNTER_BLOCK : (bit + 1) * COUNTER_BLOCK] = 255 * on


def read_counter(luma: npt.NDArray[Any]) -> int:
    """Read the frame number back from a decoded frame's luma plane (centre of each block)."""
    value = 0
    margin = COUNTER_BLOCK // 4
    for bit in range(COUNTER_BITS):
        left = bit * COUNTER_BLOCK + margin
        block = luma[margin : COUNTER_ROWS - margin, left : left + COUNTER_BLOCK - 2 * margin]
        value = (value << 1) | int(block.mean() > 128)
    return value


class ToneAudioTrack(AudioStreamTrack):
    """A 440 Hz sine, 48 kHz signed 16-bit mono, in 20 ms frames."""

    def __init__(self) -> None:
        super().__init__()
        self.samples_sent = 0
        self._started: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        start = self.samples_sent
        if self._started is None:
            self._started = time.monotonic()
        else:
            await asyncio.sleep(self._started + start / SAMPLE_RATE - time.monotonic())
        t = np.arange(start, start + AUDIO_FRAME_SAMPLES) / SAMPLE_RATE
        wave = TONE_AMPLITUDE * 32767 * np.sin(2 * math.pi * TONE_HZ * t)
        frame = AudioFrame.from_ndarray(
            wave.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self.samples_sent += AUDIO_FRAME_SAMPLES
        return frame


class MediaStats:
    """Consumes received tracks and measures them: frames decoded, audio energy."""

    def __init__(self) -> None:
        self.video_frames = 0
        self.video_size: tuple[int, int] | None = None
        self.first_counter: int | None = None
        self.last_counter: int | None = None
        self.audio_frames = 0
        self.audio_samples = 0  # per channel
        self._sum_squares = 0.0
        self._values = 0
        self._tasks: list[asyncio.Task[None]] = []

    def consume(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._drain(track), name=f"sink-{track.kind}"))

    async def _drain(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, VideoFrame):
                self.add_video(frame)
            elif isinstance(frame, AudioFrame):
                self.add_audio(frame)

    def add_video(self, frame: VideoFrame) -> None:
        self.video_frames += 1
        self.video_size = (frame.width, frame.height)
        if (frame.width, frame.height) == (WIDTH, HEIGHT):
            counter = read_counter(frame.to_ndarray(format="gray"))
            if self.first_counter is None:
                self.first_counter = counter
            self.last_counter = counter

    def add_audio(self, frame: AudioFrame) -> None:
        values = frame.to_ndarray().astype(np.float64)
        if frame.format.name.startswith("s16"):
            values /= 32768.0
        self.audio_frames += 1
        self.audio_samples += frame.samples
        self._sum_squares += float(np.square(values).sum())
        self._values += values.size

    @property
    def audio_rms(self) -> float:
        """RMS of every received sample, 0 … 1 of full scale."""
        return math.sqrt(self._sum_squares / self._values) if self._values else 0.0

    @property
    def audio_rms_dbfs(self) -> float:
        """``audio_rms`` in dB relative to full scale (a full-scale sine reads −3 dBFS)."""
        return 20 * math.log10(self.audio_rms) if self.audio_rms > 0 else -math.inf

    async def stop(self) -> None:
        await cancel_all(self._tasks)
