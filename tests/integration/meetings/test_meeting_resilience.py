"""Janus or Yuntong killed in the middle of a meeting, and recordings: with a real Janus."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from tests.support.janus import needs_janus
from tests.support.meetings import (
    api,
    audio_during,
    connect,
    create_meeting,
    janus_env,
    janus_pid,
    janus_ready,
    others,
    participant,
    sees,
    three_people,
)
from tests.support.server import ServerProcess, private_server, wait_for
from yuntong.billing.models import UsageRecord
from yuntong.client.meeting import MeetingClient, MeetingError, get_ticket
from yuntong.meetings.models import MeetingAttendance

pytestmark = needs_janus
RECOVERY_LIMIT_S = 10.0


async def test_janus_sigkill_mid_meeting_media_back_within_ten_seconds(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    async with three_people(meeting_server, host, member) as (_, everyone):
        alice, bob, carol = everyone
        await alice.request("meeting.mute", {"participant_id": carol.participant_id, "audio": True})
        await bob.request("meeting.hand", {"raised": True})
        old_pid = janus_pid(meeting_server)

        os.kill(old_pid, signal.SIGKILL)
        killed = time.monotonic()
        for c in everyone:
            await c.wait_until(lambda c=c: c.media_resets == 1, RECOVERY_LIMIT_S)
        for c in everyone:  # frames counted from zero again: the feeds are new
            remaining = RECOVERY_LIMIT_S - (time.monotonic() - killed)
            await c.wait_until(lambda c=c: sees(c, others(c, everyone), 5), max(remaining, 0.1))
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
        assert await audio_during(bob, carol, alice) <= 2  # still muted in Janus
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


async def test_yuntong_killed_mid_meeting_bills_the_minutes_up_to_the_last_checkpoint(
    tmp_path: Path,
) -> None:
    """SIGKILL of Yuntong itself (no clean stop): the next start closes every stay at its last
    checkpoint and bills it to the host, once; a clean leave before that is billed as usual."""
    env = janus_env(YUNTONG_MEETING_CHECKPOINT_S="0.5")
    async with private_server(tmp_path, **env) as server:
        await janus_ready(server)
        host_id = await server.create_user("crash-host")
        host_token = await server.login("crash-host")
        await server.create_user("crash-member")
        member_token = await server.login("crash-member")
        meeting = await create_meeting(server, host_token)
        ctx = await server.context()

        async def stays() -> dict[str, MeetingAttendance]:
            async with ctx.db.session() as s:
                rows = await s.scalars(
                    select(MeetingAttendance).where(MeetingAttendance.meeting_id == meeting["id"])
                )
                return {r.name: r for r in rows}

        alice = await connect(server, meeting, token=host_token)
        bob = await connect(server, meeting, token=member_token)
        await alice.wait_until(lambda: alice.frames_from(bob.participant_id) >= 10, 20)
        # both stays have been checkpointed past 2 s, with the video they sent
        await wait_for(lambda: _all_past(stays, 2), timeout=15, interval=0.2)
        server.restart(signal.SIGKILL)
        await asyncio.gather(alice.close(), bob.close(), return_exceptions=True)
        await janus_ready(server)

        after = await stays()
        assert set(after) == {"crash-host", "crash-member"}
        for row in after.values():
            assert row.left_at is not None and row.leave_reason == "server_stopped"
            assert row.joined_at is not None and row.seconds >= 2 and row.media == "video"
            assert row.left_at == row.joined_at + timedelta(seconds=row.seconds)
        async with ctx.db.session() as s:
            usage = (
                await s.scalars(select(UsageRecord).where(UsageRecord.source == "meeting"))
            ).all()
        billed = {u.source_id: u for u in usage}
        assert set(billed) == {r.id for r in after.values()}  # one each, none twice
        for row in after.values():
            assert billed[row.id].quantity_s == row.seconds
            assert billed[row.id].usage_type == "meeting.video"
            assert billed[row.id].user_id == host_id

        # the meeting waits again: the host's new ticket opens it on the restarted server
        again = await connect(server, meeting, token=host_token)
        assert again.state == "joined"
        await again.leave()


async def _all_past(
    stays: Callable[[], Awaitable[dict[str, MeetingAttendance]]], seconds: int
) -> bool:
    rows = (await stays()).values()
    return len(rows) == 2 and all(r.seconds >= seconds and r.media == "video" for r in rows)


async def test_someone_removed_stays_out_with_an_old_ticket_after_a_restart(
    tmp_path: Path,
) -> None:
    """A clean restart makes the meeting wait for its participants again; the room opened
    anew keeps out whom the host removed, also when they come back with their old ticket."""
    async with private_server(tmp_path, **janus_env()) as server:
        await janus_ready(server)
        await server.create_user("rm-host")
        host = await server.login("rm-host")
        await server.create_user("rm-member")
        member = await server.login("rm-member")
        meeting = await create_meeting(server, host)
        ticket = await get_ticket(
            server.url, meeting["number"], token=member, passcode=meeting["passcode"]
        )
        alice = await connect(server, meeting, token=host)
        bob = MeetingClient(server.url, ticket["ticket"])
        await bob.connect()
        await bob.join()
        await alice.request("meeting.remove", {"participant_id": bob.participant_id})
        await bob.wait_event("meeting.removed")
        await asyncio.gather(alice.close(), bob.close(), return_exceptions=True)

        server.restart()
        await janus_ready(server)
        again = await connect(server, meeting, token=host)  # the room opens anew
        stale = MeetingClient(server.url, ticket["ticket"])
        try:
            with pytest.raises(MeetingError) as refused:
                await stale.connect()
                await stale.join()
            assert refused.value.code == "meeting_removed"
        finally:
            await stale.close()
            await again.leave()
