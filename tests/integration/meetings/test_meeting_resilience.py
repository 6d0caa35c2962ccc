"""Janus killed in the middle of a meeting, and recordings: both with a real Janus."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import av

from tests.support.janus import needs_janus
from tests.support.meetings import (
    api,
    create_meeting,
    janus_pid,
    janus_ready,
    participant,
    sees,
)
from tests.support.server import ServerProcess, wait_for

pytestmark = needs_janus
RECOVERY_LIMIT_S = 10.0


async def test_janus_sigkill_mid_meeting_media_back_within_ten_seconds(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, token=member) as bob,
        participant(meeting_server, meeting, name="Carol") as carol,
    ):
        everyone = [alice, bob, carol]
        for c in everyone:
            await c.wait_until(lambda c=c: sees(c, [o for o in everyone if o is not c], 10), 20)
        await alice.request("meeting.mute", {"participant_id": carol.participant_id, "audio": True})
        await bob.request("meeting.hand", {"raised": True})
        old_pid = janus_pid(meeting_server)

        os.kill(old_pid, signal.SIGKILL)
        killed = time.monotonic()
        for c in everyone:
            await c.wait_until(lambda c=c: c.media_resets == 1, RECOVERY_LIMIT_S)
        for c in everyone:  # frames counted from zero again: the feeds are new
            others = [o for o in everyone if o is not c]
            remaining = RECOVERY_LIMIT_S - (time.monotonic() - killed)
            await c.wait_until(lambda c=c, o=others: sees(c, o, 5), max(remaining, 0.1))
        recovered_s = time.monotonic() - killed
        assert recovered_s < RECOVERY_LIMIT_S
        assert janus_pid(meeting_server) != old_pid

        # nobody left, and what the host decided before the crash still holds
        room = (await alice.request("meeting.join", {"resume": True}))["room"]
        people = {p["id"]: p for p in room["participants"]}
        assert set(people) == {c.participant_id for c in everyone}
        assert people[carol.participant_id]["audio_muted"] is True
        assert people[bob.participant_id]["hand"] is True
        assert people[alice.participant_id]["role"] == "host"
        audio = bob.audio_frames_from(carol.participant_id)
        await asyncio.sleep(1.5)
        assert bob.audio_frames_from(carol.participant_id) - audio <= 2  # still muted in Janus
    await janus_ready(meeting_server)


async def test_recording_gives_the_host_a_playable_file(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, token=member) as bob,
    ):
        await alice.wait_until(lambda: alice.frames_from(bob.participant_id) >= 10, 20)
        await alice.request("meeting.record", {"on": True})
        state = await bob.wait_event("meeting.state")
        assert state.data["recording"] is True
        await asyncio.sleep(4)
        await alice.request("meeting.record", {"on": False})
    path = f"/api/v1/meetings/{meeting['id']}/recordings"

    async def ready() -> list[dict[str, object]] | None:
        rows = (await api(meeting_server, host, "GET", path)).json()
        return rows if rows and rows[0]["status"] in ("ready", "failed") else None

    rows = await wait_for(ready, timeout=30, interval=0.3)
    assert rows[0]["status"] == "ready", rows
    files = rows[0]["files"]
    assert len(files) == 2 and all(f["has_video"] and f["has_audio"] for f in files)
    name = files[0]["name"]
    resp = await api(meeting_server, host, "GET", f"{path}/{rows[0]['id']}/files/{name}")
    assert resp.status_code == 200 and resp.headers["content-type"] == "video/webm"
    local = meeting_server.var_dir / "download.webm"
    local.write_bytes(resp.content)
    with av.open(str(local)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 20 and files[0]["duration_s"] >= 2
    denied = await api(meeting_server, member, "GET", f"{path}/{rows[0]['id']}/files/{name}")
    assert denied.status_code == 404
