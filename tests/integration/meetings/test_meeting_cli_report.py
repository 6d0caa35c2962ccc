"""`yuntong meeting join`'s report and exit status when someone leaves before it does."""

from __future__ import annotations

import asyncio
import re
import sys

from tests.support.janus import needs_janus
from tests.support.meetings import connect, create_meeting, participant
from tests.support.server import ServerProcess
from yuntong.client.meeting import MeetingClient

pytestmark = needs_janus
FRAMES = 10
CLI_NAME = "终端访客"


def cli_id(client: MeetingClient) -> str | None:
    """The CLI participant's id, once ``client`` has been told it joined."""
    for event in client.events:
        person = event.data.get("participant") or {}
        if event.type == "meeting.participant" and person.get("name") == CLI_NAME:
            return str(person["id"])
    return None


async def test_cli_reports_a_participant_who_left_and_exits_0_as_media_arrived(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    # the host stays, publishing nothing (the meeting is not empty); Bob publishes, then leaves
    async with participant(
        meeting_server, meeting, token=host, publish_audio=False, publish_video=False
    ) as alice:
        bob = await connect(meeting_server, meeting, name="Bob")
        try:
            args = [
                "join",
                meeting["number"],
                "--passcode",
                meeting["passcode"],
                "--name",
                CLI_NAME,
                "--server",
                meeting_server.url,
                "--duration",
                "8",
            ]
            code = (
                "from yuntong.client.meeting_cli import meeting_command; "
                f"raise SystemExit(meeting_command({args!r}))"
            )
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                code,
                env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            await bob.wait_until(lambda: cli_id(bob) is not None, 30)
            cli = cli_id(bob)
            assert cli is not None
            # the CLI publishes and subscribes side by side: once Bob sees its video, give its
            # subscription to Bob a moment to decode some frames too
            await bob.wait_until(lambda: bob.frames_from(cli) >= FRAMES, 20)
            await asyncio.sleep(2)
        finally:
            await bob.leave()
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        text = out.decode()
        assert proc.returncode == 0, text  # media arrived (from Bob, before he left)
        bob_row = next(line for line in text.splitlines() if "Bob" in line)
        assert "camera" in bob_row and re.search(r"\d+\.\d\ds \(left\)", bob_row), text
        frames = [int(n) for n in re.findall(r"\b(\d+)\b", bob_row.split("camera", 1)[1])]
        assert frames[0] > 0, text  # video frames from Bob
        alice_row = next(line for line in text.splitlines() if alice.room["me"]["name"] in line)
        assert "left" not in alice_row.split(alice.room["me"]["name"], 1)[1], text
