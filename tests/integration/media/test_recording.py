"""Janus VideoRoom recordings become one playable WebM per publisher (real Janus, real files)."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from tests.support.janus import Janus, needs_janus
from yuntong.client.media import HEIGHT, WIDTH, MediaStats, PatternVideoTrack, ToneAudioTrack
from yuntong.core.errors import YuntongError
from yuntong.media.janus import VIDEOROOM, JanusClient, JanusHandle, JanusSession
from yuntong.media.recording import convert_recording

needs_pp_rec = pytest.mark.skipif(
    shutil.which("janus-pp-rec") is None, reason="janus-pp-rec not installed (Debian janus-tools)"
)


@pytest.fixture
async def session(janus_client: JanusClient) -> AsyncIterator[JanusSession]:
    session = await janus_client.create_session(keepalive_s=2)
    yield session
    await session.destroy()


async def publish(
    session: JanusSession, room: int, display: str, *tracks: MediaStreamTrack
) -> tuple[JanusHandle, RTCPeerConnection, str]:
    """Join ``room`` as a publisher sending ``tracks``; the handle, the PC and the feed id."""
    handle = await session.attach(VIDEOROOM)
    joined = await handle.message(
        {"request": "join", "ptype": "publisher", "room": room, "display": display}
    )
    pc = RTCPeerConnection()
    for track in tracks:
        pc.addTrack(track)
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": "offer", "sdp": pc.localDescription.sdp}
    published = await handle.message({"request": "publish"}, offer)
    assert published.jsep is not None
    await pc.setRemoteDescription(RTCSessionDescription(**published.jsep))
    async with asyncio.timeout(10):
        while (await handle.events.get()).kind != "webrtcup":
            pass
    return handle, pc, str(joined.data["id"])


def decoded(path: Path) -> MediaStats:
    """Every frame PyAV decodes from ``path``, measured."""
    stats = MediaStats()
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                stats.add_video(frame)
            elif isinstance(frame, av.AudioFrame):
                stats.add_audio(frame)
    return stats


@needs_janus
@needs_pp_rec
async def test_each_recorded_publisher_becomes_one_playable_webm(
    janus: Janus, session: JanusSession, tmp_path: Path
) -> None:
    rec_dir, out_dir = tmp_path / "rec", tmp_path / "out"
    rec_dir.mkdir()
    room, secret = secrets.randbelow(2**31) + 1, secrets.token_urlsafe(12)
    owner = await session.attach(VIDEOROOM)
    await owner.request(
        {
            "request": "create",
            "room": room,
            "admin_key": janus.admin_key,
            "secret": secret,
            "record": False,
            "rec_dir": str(rec_dir),
        }
    )
    alice, alice_pc, alice_id = await publish(
        session, room, "alice", ToneAudioTrack(), PatternVideoTrack()
    )
    bob, bob_pc, bob_id = await publish(session, room, "bob", ToneAudioTrack())
    recording = {"request": "enable_recording", "room": room, "secret": secret}
    try:
        await owner.request({**recording, "record": True})
        await asyncio.sleep(4)
        await owner.request({**recording, "record": False})  # Janus closes the files here
        for handle in (alice, bob):
            await handle.message({"request": "leave"})
    finally:
        await alice_pc.close()
        await bob_pc.close()
    written = sorted(p.name for p in rec_dir.iterdir())

    files = {f.publisher: f for f in await convert_recording(rec_dir, out_dir)}

    janus_name = re.compile(rf"videoroom-{room}-user-(\d+)-\d+-(audio|video)-(\d+)\.mjr")
    streams = sorted(m.groups() for name in written if (m := janus_name.fullmatch(name)))
    expected = [(alice_id, "audio", "0"), (alice_id, "video", "1"), (bob_id, "audio", "0")]
    assert (len(written), streams) == (3, sorted(expected)), written
    assert sorted(p.name for p in rec_dir.iterdir()) == written  # the originals stay
    assert files.keys() == {alice_id, bob_id}
    both, audio_only = files[alice_id], files[bob_id]
    assert (both.has_audio, both.has_video) == (True, True)
    assert (audio_only.has_audio, audio_only.has_video) == (True, False)
    for file in (both, audio_only):
        assert file.path.parent == out_dir and file.path.suffix == ".webm"
        assert file.size_bytes == file.path.stat().st_size > 0
        assert 2 <= file.duration_s <= 8
    seen = decoded(both.path)
    assert seen.video_frames >= 20 and seen.video_size == (WIDTH, HEIGHT)
    assert seen.first_counter is not None and seen.last_counter is not None
    assert seen.last_counter - seen.first_counter >= 20  # the frames alice sent, in order
    assert seen.audio_rms > 0.1  # the tone sends RMS 0.35; silence would be ~0
    heard = decoded(audio_only.path)
    assert heard.video_frames == 0 and heard.audio_rms > 0.1


async def test_a_directory_without_recordings_gives_no_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no recording here")

    assert await convert_recording(tmp_path, tmp_path / "out") == []


def mjr_header(kind: str, codec: str) -> bytes:
    """The start of a ``.mjr`` file as Janus 1.x writes it (magic, length, JSON)."""
    info = json.dumps({"t": kind[0], "c": codec, "s": 1, "u": 2}).encode()
    return b"MJR00002" + len(info).to_bytes(2, "big") + info


@needs_pp_rec
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x8f" * 4096, "is not a readable Janus recording"),
        (mjr_header("audio", "opus") + b"\x00garbage" * 512, "is damaged"),
    ],
    ids=["garbage", "header then garbage"],
)
async def test_a_corrupt_recording_fails_and_is_kept(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    rec_dir, out_dir = tmp_path / "rec", tmp_path / "out"
    rec_dir.mkdir()
    mjr = rec_dir / "alice-audio-0.mjr"
    mjr.write_bytes(content)

    with pytest.raises(YuntongError) as failed:
        await convert_recording(rec_dir, out_dir)

    assert failed.value.code == "recording_failed"
    assert reason in failed.value.message("en")
    assert failed.value.message("en").startswith("The recording could not be processed: ")
    assert mjr.read_bytes() == content
    assert list(rec_dir.iterdir()) == [mjr]
    assert not out_dir.exists() or list(out_dir.iterdir()) == []
