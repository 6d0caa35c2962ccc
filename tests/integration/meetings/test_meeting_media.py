"""Meetings through Yuntong on a real Janus, with aiortc participants measuring what arrives."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.support.janus import needs_janus
from tests.support.meetings import create_meeting, participant, three_people
from tests.support.server import ServerProcess
from yuntong.client.meeting import MeetingError

pytestmark = needs_janus
FRAMES = 10  # decoded frames from a participant that count as "seeing" them


async def test_three_participants_each_decode_video_from_every_other(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    guest = "访客 Carol"
    async with three_people(meeting_server, host, member, guest, FRAMES) as (_, everyone):
        carol = everyone[2]
        assert carol.room["me"]["role"] == "guest"
        assert {p["name"] for p in carol.room["participants"]} >= {"访客 Carol"}
        for client in everyone:
            for other in everyone:
                if other is not client:
                    assert client.audio_frames_from(other.participant_id) > 0


async def test_host_mute_all_stops_audio_at_the_sfu_and_the_participant_may_unmute(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, token=member) as bob,
        participant(meeting_server, meeting, name="Carol", publish_audio=False) as carol,
    ):
        await carol.wait_until(lambda: carol.audio_frames_from(bob.participant_id) > 20, 20)
        muted = await alice.request("meeting.mute_all", {})
        assert muted == {"muted": 2}
        await bob.wait_event("meeting.muted")
        await asyncio.sleep(1.0)  # packets already on the way
        audio, video = (
            carol.audio_frames_from(bob.participant_id),
            carol.frames_from(bob.participant_id),
        )
        await asyncio.sleep(2.0)
        # bob's client still sends its tone: Janus no longer forwards it
        assert carol.audio_frames_from(bob.participant_id) - audio <= 2
        assert carol.frames_from(bob.participant_id) - video >= 10  # video still flows
        listed = {
            p["id"]: p
            for p in (await alice.request("meeting.join", {"resume": True}))["room"]["participants"]
        }
        assert listed[bob.participant_id]["audio_muted"] is True

        await bob.request("meeting.self", {"audio_muted": False})  # allowed: no "ask to unmute"
        audio = carol.audio_frames_from(bob.participant_id)
        await carol.wait_until(lambda: carol.audio_frames_from(bob.participant_id) > audio + 20, 10)


async def test_ask_to_unmute_keeps_a_muted_participant_muted(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, token=member) as bob,
    ):
        await alice.request("meeting.mute", {"participant_id": bob.participant_id, "audio": True})
        await alice.request("meeting.mute_all", {"ask_to_unmute": True})
        with pytest.raises(MeetingError) as refused:
            await bob.request("meeting.self", {"audio_muted": False})
        assert refused.value.code == "meeting_unmute_needs_host"
        await alice.request("meeting.mute", {"participant_id": bob.participant_id, "audio": False})
        await bob.request("meeting.self", {"audio_muted": False})


async def test_screen_share_reaches_the_others_as_a_second_video_stream(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, name="Bob") as bob,
    ):
        await bob.wait_until(lambda: bob.frames_from(alice.participant_id) >= FRAMES, 20)
        await alice.share_screen()
        await bob.wait_until(
            lambda: (
                [
                    f.kind for f in bob.feeds.values() if f.participant_id == alice.participant_id
                ].count("screen")
                == 1
            ),
            10,
        )
        screen = next(f for f in bob.feeds.values() if f.kind == "screen")
        camera = next(
            f
            for f in bob.feeds.values()
            if f.kind == "camera" and f.participant_id == alice.participant_id
        )
        await bob.wait_until(lambda: screen.stats.video_frames >= FRAMES, 10)
        assert camera.stats.video_frames >= FRAMES and screen.feed_id != camera.feed_id


async def test_cli_guest_joins_and_reports_the_hosts_video(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with participant(meeting_server, meeting, token=host) as alice:
        args = [
            "join",
            meeting["number"],
            "--passcode",
            meeting["passcode"],
            "--name",
            "终端访客",
            "--server",
            meeting_server.url,
            "--duration",
            "4",
        ]
        code = (
            "from yuntong.client.meeting_cli import meeting_command; "
            f"raise SystemExit(meeting_command({args!r}))"
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            env={"COLUMNS": "140", "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        text = out.decode()
        assert proc.returncode == 0, text
        assert "joined" in text and alice.room["me"]["name"] in text
        joined = [e for e in alice.events if e.type == "meeting.participant"]
        assert any(e.data["participant"]["name"] == "终端访客" for e in joined)
