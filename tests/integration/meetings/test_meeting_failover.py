"""A meeting whose Janus node dies for good moves to another node: everyone's media comes back
there, and who is in, with which role, hand and mute, is kept."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.janus import Janus, needs_janus, running_janus
from tests.support.meetings import (
    audio_during,
    janus_nodes,
    janus_nodes_env,
    janus_ready,
    others,
    sees,
    three_people,
)
from tests.support.server import ServerProcess, private_server, wait_for
from yuntong.meetings.models import Meeting

pytestmark = needs_janus
FAILOVER_LIMIT_S = 15.0


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[dict[str, Janus]]:
    """Two Janus nodes run by "someone else", by name."""
    async with (
        running_janus(tmp_path / "sfu-a") as a,
        running_janus(tmp_path / "sfu-b") as b,
    ):
        yield {"sfu-a": a, "sfu-b": b}


@pytest.fixture
async def meeting_server(tmp_path: Path, nodes: dict[str, Janus]) -> AsyncIterator[ServerProcess]:
    """This module's meeting server (so ``host`` and ``member`` are its users): no Janus of
    its own, both ``nodes`` as remote nodes."""
    async with private_server(tmp_path / "yuntong", **janus_nodes_env(nodes)) as server:
        await janus_ready(server)
        yield server


async def meeting_node(server: ServerProcess, meeting_id: str) -> str | None:
    """The node the meeting's row says it lives on."""
    ctx = await server.context()
    async with ctx.db.session() as s:
        node: str | None = await s.scalar(
            select(Meeting.janus_node).where(Meeting.id == meeting_id)
        )
    return node


async def test_a_meeting_moves_to_another_node_when_its_janus_dies_for_good(
    meeting_server: ServerProcess, nodes: dict[str, Janus], host: str, member: str
) -> None:
    async with three_people(meeting_server, host, member) as (meeting, everyone):
        alice, bob, carol = everyone
        await alice.request(
            "meeting.role", {"participant_id": bob.participant_id, "role": "cohost"}
        )
        await alice.request("meeting.mute", {"participant_id": carol.participant_id, "audio": True})
        await bob.request("meeting.hand", {"raised": True})
        first = await meeting_node(meeting_server, meeting["id"])
        assert first in nodes
        (second,) = set(nodes) - {first}
        stale = {c: set(c.feeds) for c in everyone}
        pid = nodes[first].pid
        assert pid is not None

        os.kill(pid, signal.SIGKILL)  # and never started again
        killed = time.monotonic()

        def left_s() -> float:
            return max(FAILOVER_LIMIT_S - (time.monotonic() - killed), 0.1)

        for c in everyone:
            await c.wait_until(lambda c=c: c.media_resets == 1, left_s())
        for c in everyone:  # only feeds subscribed after the reset count
            await c.wait_until(lambda c=c: not stale[c] & set(c.feeds), left_s())
            await c.wait_until(lambda c=c: sees(c, others(c, everyone), 5), left_s())
        assert time.monotonic() - killed < FAILOVER_LIMIT_S

        # the meeting's row names the new node; as the pool probes them, the dead node is out and
        # the room and its 3 publishers are on the other
        moved = {
            "row": second,
            first: False,
            second: {"healthy": True, "participants": 3, "rooms": 1},
        }

        async def placement() -> dict[str, Any]:
            status = await janus_nodes(meeting_server)
            return {
                "row": await meeting_node(meeting_server, meeting["id"]),
                first: status[first]["healthy"],
                second: status[second],
            }

        async def placed() -> bool:
            return await placement() == moved

        with contextlib.suppress(TimeoutError):
            await wait_for(placed, timeout=5, interval=0.2)
        assert await placement() == moved

        # nobody left, and what the host decided before the crash still holds
        room = (await alice.request("meeting.join", {"resume": True}))["room"]
        people = {p["id"]: p for p in room["participants"]}
        assert set(people) == {c.participant_id for c in everyone}
        assert [people[c.participant_id]["role"] for c in everyone] == ["host", "cohost", "guest"]
        assert people[bob.participant_id]["hand"] is True
        assert people[carol.participant_id]["audio_muted"] is True
        # carol is still muted in Janus: while a second of alice's audio reaches bob, none of hers
        assert await audio_during(bob, carol, alice) <= 2
