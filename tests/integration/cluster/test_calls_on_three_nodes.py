"""Calls across three ``yuntong serve`` processes behind HAProxy, with real aiortc media: the
caller's socket on one node, the callee's on another, and the node that owns the call killed
with SIGKILL in the middle of it.

What a user would see: the caller's client is back (resumed, on another node) within 5 s, the
peer-to-peer media never stops (frames and audio keep arriving throughout), a surviving node
takes the call over, and when the callee hangs up the record is complete, billed from the
answer to the hang-up.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import own_database, unique
from tests.support.cluster import FAST_FAILOVER, cluster
from tests.support.server import ServerProcess
from yuntong.client.call import CallClient
from yuntong.client.signaling import Signaling, ws_url

FAST = {**FAST_FAILOVER, "YUNTONG_RECONNECT_GRACE_S": "20"}


@asynccontextmanager
async def party(
    node: ServerProcess, balancer: str, username: str, device: str
) -> AsyncIterator[CallClient]:
    """A user's call client whose socket opens on ``node`` and comes back through the
    balancer."""
    token = await node.login(username)
    signaling = Signaling(node.url, token, device)
    await signaling.connect()
    signaling.url = ws_url(balancer, device)  # from now on: wherever the balancer sends it
    client = CallClient(signaling, [], quality_interval_s=1.0)
    client.start()
    try:
        yield client
    finally:
        await client.close()
        await signaling.close()


async def flowing(client: CallClient, seconds: float) -> tuple[int, int]:
    """Frames and audio samples received over ``seconds``."""
    frames, samples = client.stats.video_frames, client.stats.audio_samples
    await asyncio.sleep(seconds)
    return client.stats.video_frames - frames, client.stats.audio_samples - samples


async def test_a_call_across_nodes_keeps_its_media_and_record_when_its_owner_is_killed(
    tmp_path: Path,
) -> None:
    async with (
        own_database("postgres", tmp_path) as url,
        cluster(tmp_path / "cluster", url, count=3, **FAST) as nodes,
    ):
        owner, other, spare = nodes.nodes
        alice, bob = unique("alice"), unique("bob")
        await owner.create_user(alice)
        await owner.create_user(bob)
        async with (
            party(owner, nodes.url, alice, "alice-cli") as caller,
            party(other, nodes.url, bob, "bob-cli") as callee,
        ):
            answering = asyncio.create_task(callee.answer_next(timeout=10))
            call_id = await caller.place(bob, "video")  # node1 took the invite: it owns it
            assert await answering == call_id
            assert await caller.wait_connected(15) and await callee.wait_connected(15)
            frames, samples = await flowing(caller, 2)
            assert frames > 5 and samples > 0
            answered_at = time.monotonic()

            owner.stop(signal.SIGKILL)
            killed = time.monotonic()
            while caller.signaling.resumes == 0:
                assert time.monotonic() - killed < 5, "the caller did not resume within 5 s"
                await asyncio.sleep(0.05)
            # the media went on the whole time, peer to peer
            for _ in range(3):
                frames, samples = await flowing(caller, 1)
                assert frames > 3 and samples > 0
                assert (await flowing(callee, 0.2))[1] > 0

            # a survivor takes the call over once node1 is dead
            assert await nodes.taken_over(call_id, "node1") in {"node2", "node3"}
            await asyncio.sleep(2)
            await callee.hangup()
            assert await caller.wait_ended(10)
            talked = time.monotonic() - answered_at
            engine = create_async_engine(url)
            try:
                async with engine.connect() as db:
                    row = (
                        await db.execute(
                            text(
                                "SELECT outcome, end_reason, billable_seconds FROM call_records"
                                " WHERE id = :id"
                            ),
                            {"id": call_id},
                        )
                    ).one()
            finally:
                await engine.dispose()
            assert (row.outcome, row.end_reason) == ("answered", "hangup")
            # billed from the answer (2 s before the first sample) to the hang-up, failover included
            assert talked + 1 <= row.billable_seconds <= talked + 5
            result = await caller.result()
            assert result.outcome == "answered" and result.media_both_ways
        del spare
