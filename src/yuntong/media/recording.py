"""Turns the ``.mjr`` files a Janus VideoRoom recorded into one playable WebM per publisher.

``janus-pp-rec`` depacketises each stream; PyAV then remuxes a publisher's audio and video
into one file without re-encoding, so no ffmpeg binary is needed. The originals are only read.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream

from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger

log = get_logger(__name__)

PP_REC = "janus-pp-rec"
# Janus 1.x VideoRoom: videoroom-<room>-user-<id>-<µs>-<kind>-<mindex>.mjr, or, for a
# publisher given a ``filename``, <filename>-<kind>-<mindex>.mjr; Janus 0.x had no mindex.
MJR_NAME = re.compile(r"^(?P<base>.+)-(?P<kind>audio|video|data)(?:-(?P<mindex>\d+))?\.mjr$")
JANUS_BASE = re.compile(r"^(?P<key>videoroom-.+?-user-(?P<user>.+))-(?P<created>\d+)$")
# One enable_recording opens every stream of a publisher within microseconds; a later
# start (recording switched off and on again) is another take and another file.
TAKE_GAP_US = 2_000_000
# what janus-pp-rec writes for each codec that can go into WebM
EXTENSIONS = {"opus": ".opus", "vp8": ".webm", "vp9": ".webm"}
MJR_MAGIC = (b"MJR00002", b"MJR00001")


@dataclass(frozen=True)
class RecordingFile:
    """One publisher's recording, ready to download.

    ``publisher`` is the VideoRoom feed id, or the ``filename`` the publisher was given.
    """

    path: Path
    publisher: str
    duration_s: float
    size_bytes: int
    has_audio: bool
    has_video: bool


@dataclass(frozen=True)
class _Track:
    """One ``.mjr`` file: a single audio or video stream of one publisher."""

    mjr: Path
    base: str
    publisher: str
    group: str
    codec: str
    created_us: int
    first_packet_us: int


async def convert_recording(
    rec_dir: Path, out_dir: Path, *, timeout_s: float = 120
) -> list[RecordingFile]:
    """Convert every publisher's recording in ``rec_dir`` into ``<name>.webm`` in ``out_dir``.

    Call it once Janus has closed the files (recording stopped or publishers gone). The
    output is all or nothing: files appear in ``out_dir`` only when every publisher's
    conversion succeeded, and an existing file of the same name is replaced. Streams that
    never received a packet are left out; data channel recordings are ignored.

    Raises:
        YuntongError: ``recording_failed`` if a file is not a Janus recording, holds a
            codec WebM cannot carry, or the conversion fails or exceeds ``timeout_s``.
    """
    mjrs = await asyncio.to_thread(_find_streams, rec_dir)
    if not mjrs:
        return []
    binary = shutil.which(PP_REC)
    if binary is None:
        raise _failed(f"{PP_REC} is not installed")
    deadline = asyncio.get_running_loop().time() + timeout_s  # the loop's monotonic clock
    tracks = [t for mjr in mjrs if (t := await _inspect(binary, mjr, deadline)) is not None]
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    # built next to the results so that moving them into place is an atomic rename
    work = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=".recording-", dir=out_dir))
    try:
        names: set[str] = set()
        built = [await _build(binary, take, work, names, deadline) for take in _takes(tracks)]
        return await asyncio.to_thread(_publish, built, out_dir)
    finally:
        await asyncio.to_thread(shutil.rmtree, work, ignore_errors=True)


def _find_streams(rec_dir: Path) -> list[Path]:
    """The audio and video ``.mjr`` files in ``rec_dir``, by name."""
    if not rec_dir.is_dir():
        raise _failed(f"{rec_dir} is not a directory")
    return sorted(p for p in rec_dir.glob("*.mjr") if _kind(p) in ("audio", "video"))


def _kind(mjr: Path) -> str | None:
    match = MJR_NAME.match(mjr.name)
    return match["kind"] if match else None


async def _inspect(binary: str, mjr: Path, deadline: float) -> _Track | None:
    """The stream in ``mjr`` as janus-pp-rec reads it; ``None`` if it holds no packet."""
    match = MJR_NAME.match(mjr.name)
    assert match is not None
    size, header_size = await asyncio.to_thread(_sizes, mjr)
    if size == 0:
        log.info("recording_stream_empty", file=mjr.name)
        return None
    unreadable = f"{mjr.name} is not a readable Janus recording"
    output = await _run([binary, "--extended-json", str(mjr)], mjr, deadline, failure=unreadable)
    try:
        header = json.loads(output)
        codec, packets = str(header["c"]), int(header["extended"]["packets"])
        created, first_packet = int(header["s"]), int(header["u"])
    except (ValueError, TypeError, KeyError) as exc:
        raise _failed(unreadable) from exc
    if packets == 0:
        if size > header_size:
            raise _failed(f"{mjr.name} is damaged: no readable packet")
        log.info("recording_stream_empty", file=mjr.name)
        return None
    if codec not in EXTENSIONS:
        raise _failed(f"{mjr.name}: {codec} cannot be stored in WebM")
    base = match["base"]
    janus_named = JANUS_BASE.match(base)
    publisher, group = (janus_named["user"], janus_named["key"]) if janus_named else (base, base)
    return _Track(mjr, base, publisher, group, codec, created, first_packet)


def _sizes(mjr: Path) -> tuple[int, int]:
    """Bytes in ``mjr``, and in the magic and JSON header every ``.mjr`` file starts with."""
    with mjr.open("rb") as fh:
        head = fh.read(10)
        size = os.fstat(fh.fileno()).st_size
    if len(head) < 10 or head[:8] not in MJR_MAGIC:
        return size, 0
    return size, 10 + int(struct.unpack(">H", head[8:])[0])


def _takes(tracks: list[_Track]) -> Iterator[list[_Track]]:
    """The tracks grouped by publisher, then by when recording started."""
    by_group: dict[str, list[_Track]] = {}
    for track in sorted(tracks, key=lambda t: t.created_us):
        by_group.setdefault(track.group, []).append(track)
    for group in by_group.values():
        take = [group[0]]
        for track in group[1:]:
            if track.created_us - take[0].created_us > TAKE_GAP_US:
                yield take
                take = []
            take.append(track)
        yield take


async def _build(
    binary: str, take: list[_Track], work: Path, names: set[str], deadline: float
) -> tuple[Path, str]:
    """Depacketise each track of ``take`` and mux them into one WebM in ``work``."""
    parts = []
    for track in take:
        part = work / f"{track.mjr.stem}{EXTENSIONS[track.codec]}"
        await _run([binary, "--debug-level", "1", str(track.mjr), str(part)], track.mjr, deadline)
        parts.append(part)
    first = take[0]
    # one filename given for two takes: Janus overwrote some streams, keep both files apart
    name = first.base if first.base not in names else f"{first.base}-{first.created_us}"
    names.add(name)
    target = work / f"{name}.webm"
    start_us = min(t.first_packet_us for t in take)
    offsets = [Fraction(t.first_packet_us - start_us, 1_000_000) for t in take]
    try:
        await asyncio.to_thread(_mux, parts, offsets, target)
    except av.FFmpegError as exc:
        raise _failed(f"cannot mux {first.base}: {exc}") from exc
    return target, first.publisher


async def _run(args: list[str], mjr: Path, deadline: float, *, failure: str = "") -> str:
    """stdout of ``args``; ``recording_failed`` past the deadline or on a non-zero exit."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout_at(deadline):
            stdout, stderr = await process.communicate()
    except TimeoutError as exc:
        raise _failed(f"{PP_REC} did not finish {mjr.name} in time") from exc
    finally:
        if process.returncode is None:
            process.kill()
            with contextlib.suppress(ProcessLookupError):
                await process.wait()
    if process.returncode != 0:
        lines = (stderr or stdout).decode(errors="replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit status {process.returncode}"
        raise _failed(failure or f"{PP_REC} failed on {mjr.name}: {detail}")
    return stdout.decode(errors="replace")


def _mux(parts: list[Path], offsets: list[Fraction], target: Path) -> None:
    """Copy every stream of ``parts`` into ``target``, each delayed by its offset (s)."""
    for part in parts:
        if not part.is_file() or part.stat().st_size == 0:
            raise _failed(f"{PP_REC} wrote nothing for {part.stem}.mjr")
    with contextlib.ExitStack() as stack:
        inputs = [stack.enter_context(av.open(str(part))) for part in parts]
        output = stack.enter_context(av.open(str(target), mode="w", format="webm"))
        streams: dict[tuple[int, int], Stream] = {}
        for n, container in enumerate(inputs):
            for stream in container.streams:
                streams[n, stream.index] = output.add_stream_from_template(stream)
        timelines = [
            _shifted(container, n, offset)
            for n, (container, offset) in enumerate(zip(inputs, offsets, strict=True))
        ]
        # in time order across files, so the muxer never has to hold much back
        for _at, n, packet in heapq.merge(*timelines, key=lambda item: item[0]):
            packet.stream = streams[n, packet.stream.index]
            output.mux(packet)


def _shifted(
    container: InputContainer, n: int, offset: Fraction
) -> Iterator[tuple[Fraction, int, Packet[Stream]]]:
    """The packets of ``container`` in order, with timestamps moved ``offset`` later.

    Video before its first keyframe is left out: recording starts mid-stream, and a
    decoder cannot use those frames (PyAV refuses them, players show garbage).
    """
    waiting = {s.index for s in container.streams if s.type == "video"}
    for packet in container.demux():
        if packet.dts is None or packet.time_base is None:
            continue  # the empty packet that ends each stream
        if packet.stream.index in waiting:
            if not packet.is_keyframe:
                continue
            waiting.discard(packet.stream.index)
        shift = round(offset / packet.time_base)
        packet.dts += shift
        if packet.pts is not None:
            packet.pts += shift
        yield packet.dts * packet.time_base, n, packet


def _publish(built: list[tuple[Path, str]], out_dir: Path) -> list[RecordingFile]:
    """Move the finished files into ``out_dir`` and describe them."""
    results = []
    for path, publisher in built:
        final = out_dir / path.name
        os.replace(path, final)
        results.append(_describe(final, publisher))
    return results


def _describe(path: Path, publisher: str) -> RecordingFile:
    """What PyAV finds in the finished file."""
    with av.open(str(path)) as container:
        kinds = {stream.type for stream in container.streams}
        duration = (container.duration or 0) / av.time_base  # the muxer writes it
    return RecordingFile(
        path=path,
        publisher=publisher,
        duration_s=duration,
        size_bytes=path.stat().st_size,
        has_audio="audio" in kinds,
        has_video="video" in kinds,
    )


def _failed(reason: str) -> YuntongError:
    return YuntongError("recording_failed", reason=reason)
