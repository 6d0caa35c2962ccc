"""A live meeting on three ``yuntong serve`` nodes behind HAProxy (issue 13), on one real
Janus, with aiortc participants publishing real media: their sockets sit on all three nodes
(those on the two other nodes relayed to the node running the room), the host's controls go
through REST to the load balancer (a fourth path), and the node running the room is killed
with SIGKILL in the middle of the meeting.

What the participants see: every control takes effect on every node; media flows; after the
kill each is back on a surviving node within 5 s (reconnecting through the balancer with its
ticket, with the browser's back-off) and receives media again within 10 s of the kill, as who it
was (role, the host's mute — still enforced in Janus —, a raised hand, let in from the lobby,
the lock, the recording going on); the dead node's Janus room is gone; and each stay is one row,
continuous across the take-over, billed once.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import own_database, unique
from tests.support.cluster import Cluster, cluster
from tests.support.janus import needs_janus, running_janus
from tests.support.meetings import (
    all_see_all,
    api,
    audio_during,
    connect,
    create_meeting,
    entry,
    janus_nodes,
    janus_nodes_env,
    janus_ready,
    sees,
    stays,
)
from tests.support.server import wait_for
from yuntong.billing.models import UsageRecord
from yuntong.client.meeting import MeetingClient, MeetingError
from yuntong.meetings.models import Meeting, MeetingRecording

pytestmark = needs_janus
FAST = {  # a dead node is seen in 2 s; its meetings' leases lapse within 3 s
    "YUNTONG_NODE_KEEPALIVE_S": "0.5",
    "YUNTONG_NODE_DEAD_AFTER_S": "2",
    "YUNTONG_JOB_LEASE_S": "3",
    "YUNTONG_MEETING_LEASE_S": "3",
    "YUNTONG_MEETING_CHECKPOINT_S": "1",
    "YUNTONG_MEETING_RECONNECT_GRACE_S": "30",
    "YUNTONG_FORWARD_TIMEOUT_S": "2",  # a socket relayed to the dead owner hears it in 2 s
}
BACK_WITHIN_S = 5.0
MEDIA_WITHIN_S = 10.0
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)  # the browser's (static/js/ws.js), each jittered ½…1×
RETRIED = ("node_unreachable", "node_busy", "connection_refused")  # not final: try again
QUIET = {"publish_audio": False, "publish_video": False, "auto_subscribe": False}
MEDIA: dict[str, Any] = {}


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with (
        running_janus(tmp_path / "janus") as janus,
        own_database("postgres", tmp_path) as url,
        cluster(tmp_path / "cluster", url, count=3, **janus_nodes_env({"sfu": janus}, **FAST)) as c,
    ):
        for node in c.nodes:
            await janus_ready(node)
        yield c


async def come_back(balancer: str, old: MeetingClient, options: dict[str, Any]) -> MeetingClient:
    """``old``'s participant, whose socket was closed, reconnects through the balancer with its
    ticket as the browser does: after a jittered back-off, again while sent back."""
    await old.close()
    for attempt in range(20):
        base = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
        await asyncio.sleep(base / 2 + random.random() * base / 2)
        client = MeetingClient(balancer, old.ticket, **options)
        try:
            hello = await client.connect()
        except (MeetingError, ConnectionError, OSError, TimeoutError) as exc:
            await client.close()
            if isinstance(exc, MeetingError) and exc.code not in RETRIED:
                raise
            continue
        assert hello["participant_id"] == old.participant_id
        return client
    raise AssertionError(f"{old.participant_id} never came back")


async def told(client: MeetingClient, type_: str, check: Callable[[dict[str, Any]], bool]) -> None:
    """``client`` received an event of ``type_`` whose data passes ``check``."""
    await client.wait_until(lambda: any(e.type == type_ and check(e.data) for e in client.events))


def about(pid: str, **values: Any) -> Callable[[dict[str, Any]], bool]:
    """A ``meeting.participant`` event about ``pid`` with these values."""

    def check(data: dict[str, Any]) -> bool:
        person = data["participant"]
        return bool(person["id"] == pid and all(person[k] == v for k, v in values.items()))

    return check


async def test_a_meeting_on_three_nodes_survives_the_death_of_the_node_running_it(
    nodes: Cluster,
) -> None:
    first, second, third = nodes.nodes
    host_name, member_name = unique("mh"), unique("mm")
    host_id = await first.create_user(host_name)
    await first.create_user(member_name)
    host, member = await first.login(host_name), await first.login(member_name)
    meeting = await create_meeting(nodes, host, waiting_room=True)
    mid, base = meeting["id"], f"/api/v1/meetings/{meeting['id']}"

    async def rest(path: str, **body: Any) -> None:
        """A host control through the balancer: whichever node gets it, the room obeys."""
        done = await api(nodes, host, "POST", f"{base}{path}", json=body)
        assert done.status_code in (200, 204), done.text

    clients: list[MeetingClient] = []
    try:
        # the host's socket on node1 opens the room there; the others wait in the lobby, their
        # sockets on node2 and node3 relayed to node1
        alice = await connect(first, meeting, token=host)
        clients.append(alice)
        bob = await connect(second, meeting, token=member, join=False)
        carol = await connect(third, meeting, name="Carol", join=False)
        dave = await connect(second, meeting, name="Dave", join=False, **QUIET)
        erin = await connect(third, meeting, name="Erin", join=False, **QUIET)
        frank = await connect(third, meeting, name="Frank", join=False, **QUIET)
        clients += [bob, carol, dave, erin, frank]
        for waiting in (bob, carol, dave, erin, frank):
            assert (await waiting.join())["state"] == "waiting"

        # REST through the balancer: let them in (erin is let in, and does not join yet)
        for admitted in (bob, carol, dave, erin, frank):
            await rest(f"/participants/{admitted.participant_id}/admit")
        for joining in (bob, carol, dave, frank):
            await joining.join_when_admitted()
        await erin.wait_event("meeting.admitted")
        talking = [alice, bob, carol]  # one on each node
        await all_see_all(talking, frames=10, timeout=30)

        # mute bob: told on node2, seen on node1 and node3, and Janus drops his audio
        await rest(f"/participants/{bob.participant_id}/mute", audio=True)
        assert (await bob.wait_event("meeting.muted")).data["audio"] is True
        for viewer in (alice, carol):
            await told(viewer, "meeting.participant", about(bob.participant_id, audio_muted=True))
        await audio_during(carol, bob, alice)  # what was on its way when he was muted
        assert await audio_during(carol, bob, alice) <= 2
        assert await audio_during(alice, bob, carol) <= 2
        # carol co-host, frank removed, the room locked; carol raises her hand through node3
        await rest(f"/participants/{carol.participant_id}/role", role="cohost")
        await told(alice, "meeting.participant", about(carol.participant_id, role="cohost"))
        await told(bob, "meeting.participant", about(carol.participant_id, role="cohost"))
        await rest(f"/participants/{frank.participant_id}/remove")
        await frank.wait_event("meeting.removed")
        left = await alice.wait_event("meeting.left")
        assert left.data == {"participant_id": frank.participant_id, "reason": "removed"}
        await rest("/lock", locked=True)
        for member_client in (alice, bob, carol, dave):
            assert (await member_client.wait_event("meeting.state")).data["locked"] is True
        await carol.request("meeting.hand", {"raised": True})
        await told(bob, "meeting.participant", about(carol.participant_id, hand=True))
        await alice.request("meeting.record", {"on": True})
        await told(bob, "meeting.state", lambda data: data["recording"] is True)

        # everyone's stay checkpointed at least once
        async def checkpointed() -> bool:
            found = await stays(second, mid)
            joined = [found[c.participant_id] for c in (alice, bob, carol, dave)]
            return all(r.seconds >= 1 for r in joined)

        await wait_for(checkpointed, timeout=10, interval=0.2)
        before = await stays(second, mid)

        first.stop(signal.SIGKILL)
        killed = time.monotonic()

        async def back(old: MeetingClient, opts: dict[str, Any]) -> tuple[MeetingClient, float]:
            await old.wait_until(lambda: old.signaling.closed, BACK_WITHIN_S)
            client = await come_back(nodes.url, old, opts)
            return client, time.monotonic() - killed

        people = [(alice, MEDIA), (bob, MEDIA), (carol, MEDIA), (dave, QUIET), (erin, QUIET)]
        returned = await asyncio.gather(*(back(old, opts) for old, opts in people))
        clients += [c for c, _ in returned]
        for (client, after_s), (old, _) in zip(returned, people, strict=True):
            assert after_s < BACK_WITHIN_S, f"{client.participant_id} back after {after_s:.1f} s"
            assert client.participant_id == old.participant_id
        alice2, bob2, carol2, dave2, erin2 = (c for c, _ in returned)

        # who they were: the host sees it all in her room; erin, let in, joins at once
        joined = await asyncio.gather(*(c.join() for c in (alice2, bob2, carol2, dave2, erin2)))
        assert [j["state"] for j in joined] == ["joined"] * 5
        room = alice2.room
        assert room["me"]["role"] == "host" and room["locked"] and room["recording"]
        assert entry(room, carol.participant_id)["role"] == "cohost"
        assert entry(room, carol.participant_id)["hand"] is True
        assert entry(room, bob.participant_id)["audio_muted"] is True
        assert bob2.room["me"]["audio_muted"] is True
        assert frank.participant_id not in {p["id"] for p in room["participants"]}
        frank2 = MeetingClient(nodes.url, frank.ticket, **QUIET)
        clients.append(frank2)
        with pytest.raises(MeetingError) as refused:
            await frank2.connect()
        assert refused.value.code == "meeting_ticket_invalid"  # as in the room he left

        # media again within 10 s of the kill, bob still muted in Janus
        talking = [alice2, bob2, carol2]
        left_s = MEDIA_WITHIN_S - (time.monotonic() - killed)
        assert left_s > 0
        for c in talking:
            others = [o for o in talking if o is not c]
            await c.wait_until(lambda c=c, o=others: sees(c, o, 5), left_s)
        media_s = time.monotonic() - killed
        assert media_s < MEDIA_WITHIN_S, f"media back after {media_s:.1f} s"
        for listener, speaker in ((alice2, carol2), (carol2, alice2), (bob2, alice2)):
            heard = [
                f for f in listener.feeds.values() if f.participant_id == speaker.participant_id
            ]
            await listener.wait_until(lambda h=heard: sum(f.stats.audio_frames for f in h) > 10)
            assert max(f.stats.audio_rms for f in heard) > 0.01
        assert await audio_during(carol2, bob2, alice2) <= 2

        # one node runs the meeting now, on one Janus room: the dead node's is destroyed
        ctx = await second.context()
        async with ctx.db.session() as s:
            row = await s.get(Meeting, mid, populate_existing=True)
            recording = (
                await s.scalars(select(MeetingRecording).where(MeetingRecording.meeting_id == mid))
            ).one()
        assert row is not None and row.node_id in ("node2", "node3") and row.owner_fence == 2

        async def one_room() -> bool:
            return (await janus_nodes(second))["sfu"].get("rooms") == 1

        await wait_for(one_room, timeout=5, interval=0.2)
        # the recording goes on in the new room: its publishers are recorded in the same folder
        assert recording.status == "recording"
        segment = f"videoroom-{row.janus_room}-"
        await wait_for(
            lambda: any(p.name.startswith(segment) for p in Path(recording.directory).iterdir()),
            timeout=5,
            interval=0.2,
        )

        # everyone leaves: each stay is one row, continuous across the take-over, billed once
        await asyncio.sleep(1.0)
        for c in (alice2, bob2, carol2, dave2, erin2):
            await c.leave()
        everyone = [alice, bob, carol, dave, erin, frank]

        async def all_closed() -> bool:
            return all(r.left_at is not None for r in (await stays(second, mid)).values())

        await wait_for(all_closed, timeout=10, interval=0.2)
        after = await stays(second, mid)
        assert set(after) == {c.participant_id for c in everyone}
        async with ctx.db.session() as s:
            usage = list(
                await s.scalars(
                    select(UsageRecord).where(
                        UsageRecord.source == "meeting",
                        UsageRecord.source_id.in_(list(after)),
                    )
                )
            )
        billed = {u.source_id: u for u in usage}
        assert len(billed) == len(usage) == len(after)  # one record per stay, none twice
        # not billed: from the stay's last checkpoint before the kill (a second, and the time a
        # checkpoint takes) to its return, and each part's seconds counted whole
        gap_s = BACK_WITHIN_S + 1 + 2
        for pid, stay in after.items():
            assert stay.joined_at is not None and stay.left_at is not None
            wall = (stay.left_at - stay.joined_at).total_seconds()
            assert billed[pid].quantity_s == stay.seconds and billed[pid].user_id == host_id
            assert billed[pid].started_at == stay.joined_at
            if pid == frank.participant_id:
                assert stay.leave_reason == "removed" and wall - 1 <= stay.seconds <= wall + 1
                continue
            assert stay.leave_reason == "left" and stay.node_id in ("node2", "node3")
            assert wall - gap_s <= stay.seconds <= wall + 1, (pid, stay.seconds, wall)
            if pid in before and before[pid].seconds:  # carried from the dead node's checkpoint
                assert stay.seconds > before[pid].seconds
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
