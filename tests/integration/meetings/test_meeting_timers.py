"""A live meeting's timers: a dropped participant keeps its place for the reconnect grace
period, and a meeting nobody is in ends after its ``auto_end_after_empty_s``.

The server runs in the test's loop on a clock the test moves (``server.advance``), with a
real Janus as a node it does not run: the Janus pool's health probes and the Janus sessions'
keepalives stay on the wall clock, only the meeting's timers move by hand. The grace period
on the wall clock is covered by the last test, on the shared meeting server (grace 3 s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import unique
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.janus import needs_janus, running_janus
from tests.support.meetings import api, connect, create_meeting, janus_ready
from tests.support.server import ServerProcess, wait_for
from yuntong.client.meeting import MeetingClient
from yuntong.meetings.live.participant import ParticipantState
from yuntong.meetings.live.rooms import live_room

pytestmark = needs_janus

EMPTY_S = 60  # the meeting's own setting (at least 10 s)


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessServer]:
    folder: Path = tmp_path_factory.mktemp("meeting-timers")
    async with (
        running_janus(folder / "janus") as janus,
        inprocess_server(
            folder / "var",
            f"sqlite+aiosqlite:///{folder / 'yuntong.db'}",
            janus_nodes=[janus.node("sfu")],
            janus_health_interval_s=0.5,
        ) as started,
    ):
        await janus_ready(started)
        yield started


async def person(server: InProcessServer | ServerProcess) -> str:
    """A bearer token of a new user."""
    name = unique("mt")
    await server.create_user(name)
    return await server.login(name)


async def two_joined(
    server: InProcessServer | ServerProcess, **settings: object
) -> tuple[str, str, MeetingClient, MeetingClient]:
    """A new meeting (its id and its host's token) with its host (Alice) and a member (Bob)
    in it, publishing nothing."""
    host = await person(server)
    meeting = await create_meeting(server, host, **settings)
    quiet = {"publish_audio": False, "publish_video": False}
    alice = await connect(server, meeting, token=host, **quiet)
    bob = await connect(server, meeting, token=await person(server), **quiet)
    return str(meeting["id"]), host, alice, bob


async def seen_dropped(server: InProcessServer, meeting_id: str, participant_id: str) -> None:
    """Wait until the room has noticed that the participant's socket closed (its grace period
    is running)."""

    def waiting() -> bool:
        room = live_room(server.app_context, meeting_id)
        if room is None:
            return False
        p = room.participants.get(participant_id)
        return p.socket is None and p.grace is not None

    await wait_for(waiting)


async def meeting_status(server: InProcessServer, host: str, meeting_id: str) -> str:
    got = (await api(server, host, "GET", f"/api/v1/meetings/{meeting_id}")).json()
    return f"{got['status']}:{got.get('end_reason')}"


async def test_a_dropped_participant_is_gone_when_the_grace_period_passes(
    server: InProcessServer,
) -> None:
    grace = server.settings.meeting_reconnect_grace_s
    meeting_id, _, alice, bob = await two_joined(server)
    await bob.close()  # the socket closes without a leave
    await seen_dropped(server, meeting_id, bob.participant_id)
    room = live_room(server.app_context, meeting_id)
    assert room is not None
    await server.advance(grace - 1)
    await alice.request("meeting.hand", {"raised": False})  # anything sent before has arrived
    assert room.participants.get(bob.participant_id).state == ParticipantState.JOINED
    assert bob.participant_id not in alice.left
    await server.advance(1)
    await alice.wait_until(lambda: bob.participant_id in alice.left)
    assert alice.left[bob.participant_id][1] == "connection_lost"
    await alice.leave()


async def test_a_meeting_nobody_is_in_ends_when_its_empty_time_passes(
    server: InProcessServer,
) -> None:
    """Alice leaves; Bob's socket drops: the room is empty once his grace period is over, and
    the meeting ends ``EMPTY_S`` later."""
    grace = server.settings.meeting_reconnect_grace_s
    meeting_id, host, alice, bob = await two_joined(server, auto_end_after_empty_s=EMPTY_S)
    await alice.leave()
    await bob.close()
    await seen_dropped(server, meeting_id, bob.participant_id)
    await server.advance(grace)
    room = live_room(server.app_context, meeting_id)
    assert room is not None
    await wait_for(lambda: room._empty_timer is not None)  # Bob has left: the room is empty
    await server.advance(EMPTY_S - 1)
    assert not room.closed
    assert (await meeting_status(server, host, meeting_id)).startswith("live")
    await server.advance(1)
    await wait_for(lambda: live_room(server.app_context, meeting_id) is None)
    assert await meeting_status(server, host, meeting_id) == "ended:empty"


async def test_the_grace_period_on_the_wall_clock(meeting_server: ServerProcess) -> None:
    """The shared meeting server (a child process, grace 3 s) really waits it out."""
    _, _, alice, bob = await two_joined(meeting_server)
    await bob.close()
    await alice.wait_until(lambda: bob.participant_id in alice.left, timeout=3 + 10)
    assert alice.left[bob.participant_id][1] == "connection_lost"
    await alice.leave()
