"""A live meeting on two nodes (issue 13): one node owns it under a lease, so two nodes never
open two Janus rooms for one meeting; a node that lost the lease stops acting on the room; the
host's REST controls sent to the other node reach the room where it runs.

Two nodes in the test's loop on one PostgreSQL database and one private Redis, sharing one
real Janus; participants are real aiortc clients connected to the node the test chooses."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.support.janus import needs_janus, running_janus
from tests.support.meetings import all_see_all, api, connect, create_meeting, janus_ready
from tests.support.nodes import Nodes, two_nodes
from tests.support.redis import RedisServer
from tests.support.server import wait_for
from yuntong.billing.models import UsageRecord
from yuntong.client.meeting import MeetingClient, MeetingError, get_ticket
from yuntong.core.errors import YuntongError
from yuntong.meetings.live.room import Room
from yuntong.meetings.live.rooms import live_room, open_room
from yuntong.meetings.models import Meeting, MeetingAttendance

pytestmark = needs_janus
QUIET = {"publish_audio": False, "publish_video": False}
LEASE_S = 2.0
EVENTS_PASSWORD = "remote-janus-secret"


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with (
        running_janus(tmp_path / "janus") as janus,
        two_nodes(
            "postgres",
            tmp_path,
            redis_server.url,
            janus_nodes=[janus.node("sfu")],
            janus_health_interval_s=0.5,
            meeting_lease_s=LEASE_S,
            forward_timeout_s=5.0,
            janus_events_password=EVENTS_PASSWORD,
        ) as started,
    ):
        await janus_ready(started.a)
        await janus_ready(started.b)
        yield started


async def person(nodes: Nodes) -> str:
    """A bearer token of a new user (valid on both nodes)."""
    return await nodes.a.login(await nodes.user("mn"))


async def meeting_row(nodes: Nodes, meeting_id: str) -> Meeting:
    async with nodes.a.app_context.db.session() as s:
        row = await s.get(Meeting, meeting_id, populate_existing=True)
    assert row is not None
    return row


async def test_two_nodes_opening_one_meeting_open_one_room(nodes: Nodes) -> None:
    meeting = await create_meeting(nodes.a, await person(nodes))
    a, b = nodes.a.app_context, nodes.b.app_context
    opened = await asyncio.gather(
        open_room(a, meeting["id"]), open_room(b, meeting["id"]), return_exceptions=True
    )
    rooms = [r for r in opened if isinstance(r, Room)]
    refused = [r for r in opened if isinstance(r, YuntongError)]
    assert len(rooms) == 1 and len(refused) == 1, opened
    assert refused[0].code == "node_unreachable"
    owner = a if live_room(a, meeting["id"]) is not None else b
    row = await meeting_row(nodes, meeting["id"])
    assert row.status == "live" and row.node_id == owner.node_id and row.owner_fence == 1
    # the owner renews its lease: still the owner well after the lease's length
    await asyncio.sleep(LEASE_S * 1.5)
    again = await meeting_row(nodes, meeting["id"])
    assert again.node_id == owner.node_id and again.owner_fence == 1
    assert again.owner_until is not None and again.owner_until > row.owner_until  # type: ignore[operator]
    await rooms[0].end("host")


async def test_a_node_that_lost_the_lease_stops_acting_on_the_room(nodes: Nodes) -> None:
    host = await person(nodes)
    meeting = await create_meeting(nodes.a, host)
    alice = await connect(nodes.a, meeting, token=host, **QUIET)
    try:
        # node a stalled past its lease and node b took the meeting over (the fence moved on)
        async with nodes.a.app_context.db.session() as s:
            await s.execute(
                update(Meeting)
                .where(Meeting.id == meeting["id"])
                .values(node_id="node-b", owner_fence=Meeting.owner_fence + 1)
            )
        # at its next renewal node a finds the lease gone: its room stops, the participant's
        # socket is closed for a restart (1012) so the client comes back to the new owner
        await wait_for(lambda: live_room(nodes.a.app_context, meeting["id"]) is None, timeout=5)
        await wait_for(lambda: alice.signaling.closed, timeout=5)
        row = await meeting_row(nodes, meeting["id"])
        assert row.status == "live" and row.node_id == "node-b"  # node a wrote nothing more
    finally:
        await alice.close()


async def test_host_controls_sent_to_the_other_node_reach_the_room(nodes: Nodes) -> None:
    host, member = await person(nodes), await person(nodes)
    meeting = await create_meeting(nodes.a, host)
    alice = await connect(nodes.a, meeting, token=host, **QUIET)
    bob = await connect(nodes.a, meeting, token=member, **QUIET)
    carol = await connect(nodes.a, meeting, name="Carol", **QUIET)
    clients: list[MeetingClient] = [alice, bob, carol]
    try:
        base = f"/api/v1/meetings/{meeting['id']}"
        # the participant list, asked of node b, is the room's on node a
        listed = await api(nodes.b, host, "GET", f"{base}/participants")
        assert listed.status_code == 200, listed.text
        assert {p["id"] for p in listed.json()} == {c.participant_id for c in clients}
        seen = await api(nodes.b, host, "GET", base)
        assert seen.json()["participants_now"] == 3
        # mute bob through node b: bob is told, and everyone on node a sees him muted
        muted = await api(
            nodes.b, host, "POST", f"{base}/participants/{bob.participant_id}/mute", json={}
        )
        assert muted.status_code == 204, muted.text
        event = await bob.wait_event("meeting.muted")
        assert event.data["audio"] is True
        room = live_room(nodes.a.app_context, meeting["id"])
        assert room is not None and room.get(bob.participant_id).host_muted_audio
        # the owner's refusal comes back as it is: the host cannot be removed
        refused = await api(
            nodes.b, host, "POST", f"{base}/participants/{alice.participant_id}/remove"
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "meeting_forbidden"
        # remove carol through node b
        removed = await api(
            nodes.b, host, "POST", f"{base}/participants/{carol.participant_id}/remove"
        )
        assert removed.status_code == 204, removed.text
        await carol.wait_event("meeting.removed")
        # lock the room through node b: node b then issues no ticket to a newcomer either
        locked = await api(nodes.b, host, "POST", f"{base}/lock", json={"locked": True})
        assert locked.status_code == 204, locked.text
        assert (await alice.wait_event("meeting.state")).data["locked"] is True
        with pytest.raises(MeetingError) as refused_ticket:
            await get_ticket(
                nodes.b.url, meeting["number"], passcode=meeting["passcode"], display_name="Dave"
            )
        assert refused_ticket.value.code == "meeting_locked"
        # end for everyone through node b: the room on node a ends, its participants are told
        ended = await api(nodes.b, host, "POST", f"{base}/end")
        assert ended.status_code == 204, ended.text
        assert (await alice.wait_event("meeting.ended")).data["reason"] == "host"
        await bob.wait_event("meeting.ended")
        row = await meeting_row(nodes, meeting["id"])
        assert row.status == "ended" and row.end_reason == "host" and row.owner_until is None
        assert live_room(nodes.a.app_context, meeting["id"]) is None
    finally:
        for client in clients:
            await client.close()


async def test_janus_events_posted_to_the_other_node_reach_the_room(nodes: Nodes) -> None:
    host, member = await person(nodes), await person(nodes)
    meeting = await create_meeting(nodes.a, host)
    alice = await connect(nodes.a, meeting, token=host, auto_subscribe=False, **QUIET)
    bob = await connect(nodes.a, meeting, token=member, publish_video=False)
    try:
        room = live_room(nodes.a.app_context, meeting["id"])
        assert room is not None
        await wait_for(lambda: "camera" in room.get(bob.participant_id).feeds, timeout=10)
        handle_id = room.get(bob.participant_id).feeds["camera"].handle.id
        # Janus posts statistics of bob's uplink to node b: a poor link, seen in the room on a
        event = {
            "type": 32,
            "handle_id": handle_id,
            "event": {"media": "audio", "in-link-quality": 10},
        }
        token = base64.b64encode(f"janus:{EVENTS_PASSWORD}".encode()).decode()
        posted = await api(
            nodes.b,
            None,
            "POST",
            "/internal/janus/events",
            json=[event],
            headers={"Authorization": f"Basic {token}"},
        )
        assert posted.status_code == 200, posted.text
        quality = await alice.wait_event("meeting.quality")
        assert quality.data == {"participant_id": bob.participant_id, "level": "poor"}
    finally:
        await alice.close()
        await bob.close()


async def test_a_participant_on_the_other_node_is_in_the_room_through_a_relay(
    nodes: Nodes,
) -> None:
    host, member = await person(nodes), await person(nodes)
    meeting = await create_meeting(nodes.a, host)
    alice = await connect(nodes.a, meeting, token=host)
    clients = [alice]
    try:
        # bob's socket reaches node b; the room runs on node a: b relays it there
        bob = await connect(nodes.b, meeting, token=member)
        clients.append(bob)
        assert live_room(nodes.b.app_context, meeting["id"]) is None
        room = live_room(nodes.a.app_context, meeting["id"])
        assert room is not None and room.get(bob.participant_id).state.value == "joined"
        assert {p["id"] for p in bob.room["participants"]} == {
            alice.participant_id,
            bob.participant_id,
        }
        # media both ways: bob published and subscribed through the relay
        await all_see_all([alice, bob], frames=5)
        # a host control on node a reaches bob's socket on node b
        await alice.request("meeting.mute", {"participant_id": bob.participant_id, "audio": True})
        assert (await bob.wait_event("meeting.muted")).data["audio"] is True
        # an error from the owner comes back as it is
        with pytest.raises(MeetingError) as refused:
            await bob.request("meeting.remove", {"participant_id": alice.participant_id})
        assert refused.value.code == "meeting_forbidden"
        # bob leaves through the relay: alice sees it
        await bob.leave()
        left = await alice.wait_event("meeting.left")
        assert left.data == {"participant_id": bob.participant_id, "reason": "left"}
    finally:
        for client in clients:
            await client.close()


async def stay_and_usage(
    nodes: Nodes, participant_id: str
) -> tuple[MeetingAttendance, list[UsageRecord]]:
    """A stay's row and the usage records billed for it (its parts), oldest first."""
    async with nodes.a.app_context.db.session() as s:
        row = await s.get(MeetingAttendance, participant_id, populate_existing=True)
        usage = await s.scalars(
            select(UsageRecord)
            .where(
                UsageRecord.source == "meeting", UsageRecord.source_id.startswith(participant_id)
            )
            .order_by(UsageRecord.id)
        )
        assert row is not None
        return row, list(usage)


async def test_a_node_that_lost_the_lease_neither_extends_nor_closes_its_stays(
    nodes: Nodes,
) -> None:
    """Node a stalled, node b took the meeting over; node a resumes, and what was due on it
    meanwhile (a checkpoint, a participant's grace period running out, a host's mute) writes
    and bills nothing: the stays are node b's to go on with."""
    host, member = await person(nodes), await person(nodes)
    meeting = await create_meeting(nodes.a, host)
    alice = await connect(nodes.a, meeting, token=host, **QUIET)
    bob = await connect(nodes.a, meeting, token=member, **QUIET)
    try:
        room = live_room(nodes.a.app_context, meeting["id"])
        assert room is not None
        await nodes.advance(20)
        await room.checkpoint()
        before, _ = await stay_and_usage(nodes, bob.participant_id)
        assert before.seconds == 20 and before.left_at is None
        async with nodes.a.app_context.db.session() as s:
            await s.execute(
                update(Meeting)
                .where(Meeting.id == meeting["id"])
                .values(node_id="node-b", owner_fence=Meeting.owner_fence + 1)
            )
        await nodes.advance(10)
        p = room.get(bob.participant_id)
        await room.checkpoint()
        with pytest.raises(YuntongError) as refused:
            await room.mute(room.get(alice.participant_id), p.id, True, None)
        assert refused.value.code == "node_unreachable"
        await room.leave(p, "connection_lost")
        after, usage = await stay_and_usage(nodes, bob.participant_id)
        assert (after.left_at, after.seconds, after.muted_audio) == (None, 20, False)
        assert usage == []
    finally:
        await alice.close()
        await bob.close()


async def test_a_stay_closed_by_a_clean_stop_goes_on_when_its_participant_comes_back(
    nodes: Nodes,
) -> None:
    """The node running the meeting stops cleanly (its stays closed and billed as
    ``server_stopped``); the participant's client comes back with the same ticket, to a new
    room: the stay reopens, and its time after the stop is billed as a part of its own."""
    host = await person(nodes)
    meeting = await create_meeting(nodes.a, host)
    alice = await connect(nodes.a, meeting, token=host, **QUIET)
    clients = [alice]
    try:
        room = live_room(nodes.a.app_context, meeting["id"])
        assert room is not None
        await nodes.advance(20)
        await room.shutdown()  # what a stopping process does to each of its rooms
        await wait_for(lambda: alice.signaling.closed, timeout=5)
        stopped, usage = await stay_and_usage(nodes, alice.participant_id)
        assert (stopped.leave_reason, stopped.seconds) == ("server_stopped", 20)
        assert [u.quantity_s for u in usage] == [20]

        again = MeetingClient(nodes.b.url, alice.ticket, **QUIET)
        clients.append(again)
        assert (await again.connect())["participant_id"] == alice.participant_id
        assert (await again.join())["state"] == "joined"
        reopened, _ = await stay_and_usage(nodes, alice.participant_id)
        assert reopened.left_at is None and reopened.joined_at == stopped.joined_at
        await nodes.advance(10)
        await again.leave()

        async def closed() -> bool:
            return (await stay_and_usage(nodes, alice.participant_id))[0].left_at is not None

        await wait_for(closed, timeout=5, interval=0.1)
        stay, usage = await stay_and_usage(nodes, alice.participant_id)
        assert (stay.leave_reason, stay.seconds) == ("left", 30)
        assert [(u.source_id, u.quantity_s) for u in usage] == [
            (alice.participant_id, 20),
            (f"{alice.participant_id}+20", 10),
        ]
    finally:
        for client in clients:
            await client.close()
