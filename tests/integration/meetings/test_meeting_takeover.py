"""A node running a live meeting dies (SIGKILL): once its lease has expired, a surviving node
takes the meeting over (issue 13). The room comes back there with who was in it, their roles,
the lobby and the host's mutes; the participants reconnect to the survivor with their tickets
and are who they were; each stay goes on from its last checkpoint, billed once.

Two ``yuntong serve`` processes on one PostgreSQL database and one Redis (behind HAProxy, as
in production; the test reaches each node directly), one real Janus shared by both; one
participant's socket is relayed by the survivor to the dying owner."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import own_database, unique
from tests.support.cluster import Cluster, cluster
from tests.support.janus import needs_janus, running_janus
from tests.support.meetings import (
    api,
    connect,
    create_meeting,
    entry,
    janus_nodes_env,
    janus_ready,
    stays,
)
from tests.support.server import ServerProcess, wait_for
from yuntong.client.meeting import MeetingClient
from yuntong.meetings.models import Meeting

pytestmark = needs_janus
QUIET = {"publish_audio": False, "publish_video": False}
CHECKPOINT_S = 1
FAST_NODES = {
    "YUNTONG_NODE_KEEPALIVE_S": "0.2",
    "YUNTONG_NODE_DEAD_AFTER_S": "1",
    "YUNTONG_JOB_LEASE_S": "2",
    "YUNTONG_MEETING_LEASE_S": "2",
    "YUNTONG_MEETING_CHECKPOINT_S": str(CHECKPOINT_S),
    "YUNTONG_MEETING_RECONNECT_GRACE_S": "30",
}


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with (
        running_janus(tmp_path / "janus") as janus,
        own_database("postgres", tmp_path) as url,
        cluster(
            tmp_path / "cluster", url, count=2, **janus_nodes_env({"sfu": janus}, **FAST_NODES)
        ) as started,
    ):
        for node in started.nodes:
            await janus_ready(node)
        yield started


async def person(node: ServerProcess) -> str:
    name = unique("to")
    await node.create_user(name)
    return await node.login(name)


async def meeting_row(node: ServerProcess, meeting_id: str) -> Meeting:
    ctx = await node.context()
    async with ctx.db.session() as s:
        row = await s.get(Meeting, meeting_id, populate_existing=True)
    assert row is not None
    return row


async def back(node: ServerProcess, old: MeetingClient) -> MeetingClient:
    """``old``'s participant reconnected to ``node`` with its ticket, and joined again."""
    client = MeetingClient(node.url, old.ticket, **QUIET)
    hello = await client.connect()
    assert hello["participant_id"] == old.participant_id
    await client.join()
    return client


async def test_a_dead_nodes_meeting_is_taken_over_by_a_survivor(nodes: Cluster) -> None:
    first, second = nodes.nodes
    host, member = await person(first), await person(first)
    meeting = await create_meeting(first, host, waiting_room=True)
    mid = meeting["id"]
    clients: list[MeetingClient] = []
    try:
        alice = await connect(first, meeting, token=host, **QUIET)
        bob = await connect(first, meeting, token=member, join=False, **QUIET)
        carol = await connect(first, meeting, name="Carol", join=False, **QUIET)
        # dave's socket reaches the other node, which relays it to the room on the first
        dave = await connect(second, meeting, name="Dave", join=False, **QUIET)
        clients += [alice, bob, carol, dave]
        for waiting in (bob, carol, dave):
            assert (await waiting.join())["state"] == "waiting"
        for admitted in (bob, carol):  # dave stays in the lobby
            await alice.request("meeting.admit", {"participant_id": admitted.participant_id})
            await admitted.join_when_admitted()
        await alice.request(
            "meeting.role", {"participant_id": bob.participant_id, "role": "cohost"}
        )
        await alice.request("meeting.mute", {"participant_id": carol.participant_id, "audio": True})
        await asyncio.sleep(CHECKPOINT_S * 2.5)  # a checkpoint or two of everyone's stay
        before = await stays(first, mid)
        assert before[alice.participant_id].seconds >= CHECKPOINT_S
        old_room = (await meeting_row(first, mid)).janus_room

        first.stop(signal.SIGKILL)
        # the relay closes dave's socket for a restart once the room's owner is gone
        await wait_for(lambda: dave.signaling.closed, timeout=20, interval=0.2)
        for client in clients:
            await client.close()

        # the survivor takes the meeting over once the dead node's lease expired, and marks it
        # live in its new room (the stays move to it in that same transaction)
        async def taken() -> bool:
            row = await meeting_row(second, mid)
            return row.node_id == "node2" and row.status == "live" and row.janus_room != old_room

        await wait_for(taken, timeout=30, interval=0.2)
        row = await meeting_row(second, mid)
        assert row.owner_fence == 2  # one take by node1, one by node2
        after = await stays(second, mid)
        open_stays = {pid for pid, r in after.items() if r.left_at is None}
        everyone = {c.participant_id for c in (alice, bob, carol, dave)}
        assert open_stays == everyone  # nobody was closed as server_stopped
        assert all(after[pid].node_id == "node2" for pid in everyone - {dave.participant_id})

        # the host sees the room as it was, through the API of the survivor
        listed = await api(second, host, "GET", f"/api/v1/meetings/{mid}/participants")
        assert listed.status_code == 200, listed.text
        found = {p["id"]: p for p in listed.json()}
        assert found[bob.participant_id]["role"] == "cohost"
        assert found[carol.participant_id]["audio_muted"] is True
        assert found[dave.participant_id]["state"] == "waiting"
        assert found[alice.participant_id]["role"] == "host"

        # the participants come back to the survivor with their tickets: who they were
        alice2 = await back(second, alice)
        clients.append(alice2)
        room = alice2.room
        assert room["me"]["role"] == "host"
        assert entry(room, bob.participant_id)["role"] == "cohost"
        assert [w["id"] for w in room["waiting"]] == [dave.participant_id]
        carol2 = await back(second, carol)
        clients.append(carol2)
        assert carol2.room["me"]["audio_muted"] is True  # the host's mute is kept
        dave2 = MeetingClient(second.url, dave.ticket, **QUIET)
        clients.append(dave2)
        assert (await dave2.connect())["participant_id"] == dave.participant_id
        assert (await dave2.join())["state"] == "waiting"  # still in the lobby

        # attendance goes on from the checkpoint: alice's stay ends once, with what was
        # checkpointed on the dead node and her time on the survivor
        await asyncio.sleep(1.0)
        await alice2.leave()
        carried = before[alice.participant_id].seconds

        async def left() -> bool:
            return (await stays(second, mid))[alice.participant_id].left_at is not None

        await wait_for(left, timeout=10, interval=0.2)
        stay = (await stays(second, mid))[alice.participant_id]
        assert stay.leave_reason == "left"
        assert carried + 1 <= stay.seconds <= carried + 10
    finally:
        for client in clients:
            await client.close()
