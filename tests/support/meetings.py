"""A Yuntong server with its own supervised Janus (or remote Janus nodes), and meetings and
participants on it (a server in a child process or, on a clock the test moves,
in the test's loop)."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
from sqlalchemy import select

from tests.support.inprocess import Served
from tests.support.janus import Janus
from tests.support.server import ServerProcess, free_port, wait_for
from yuntong.client.meeting import MeetingClient, get_ticket
from yuntong.meetings.models import MeetingAttendance


class Reachable(Protocol):
    """What the REST and socket helpers need of a server: its URL (a node, or a balancer)."""

    @property
    def url(self) -> str: ...


# a lost Janus noticed within half a second; a dropped participant gone after 3 s
FAST_MEETINGS = {
    "YUNTONG_JANUS_HEALTH_INTERVAL_S": "0.5",
    "YUNTONG_MEETING_RECONNECT_GRACE_S": "3",
}


def janus_env(**extra: str) -> dict[str, str]:
    """Settings for a server that starts its own Janus on free ports."""
    rtp = random.randrange(30000, 39000, 200)
    return {
        "YUNTONG_START_JANUS": "true",
        "YUNTONG_JANUS_WS_PORT": str(free_port()),
        "YUNTONG_JANUS_ADMIN_PORT": str(free_port()),
        "YUNTONG_JANUS_RTP_MIN_PORT": str(rtp),
        "YUNTONG_JANUS_RTP_MAX_PORT": str(rtp + 199),
        **FAST_MEETINGS,
        **extra,
    }


def janus_nodes_env(nodes: dict[str, Janus], **extra: str) -> dict[str, str]:
    """Settings for a server that places meetings on Janus nodes it does not run."""
    return {
        "YUNTONG_START_JANUS": "false",
        "YUNTONG_JANUS_NODES": json.dumps([janus.node(name) for name, janus in nodes.items()]),
        **FAST_MEETINGS,
        **extra,
    }


async def janus_nodes(server: Served) -> dict[str, dict[str, Any]]:
    """What ``/readyz`` says of each Janus node: healthy, participants, rooms."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        checks = (await client.get("/readyz")).json()["checks"]
    nodes: dict[str, dict[str, Any]] = checks.get("janus_nodes", {})
    return nodes


async def janus_ready(server: Served, timeout: float = 60) -> None:
    async def healthy() -> bool:
        nodes = await janus_nodes(server)
        return bool(nodes) and all(n["healthy"] for n in nodes.values())

    await wait_for(healthy, timeout=timeout, interval=0.2)


def janus_pid(server: ServerProcess) -> int:
    return int((server.var_dir / "janus" / "janus.pid").read_text().strip())


async def api(
    server: Reachable, token: str | None, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        return await client.request(method, path, headers=headers, **kwargs)


async def create_meeting(server: Reachable, token: str, **settings: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "周会 weekly", "settings": settings}
    resp = await api(server, token, "POST", "/api/v1/meetings", json=body)
    assert resp.status_code == 201, resp.text
    meeting: dict[str, Any] = resp.json()
    return meeting


async def connect(
    server: Reachable,
    meeting: dict[str, Any],
    *,
    token: str | None = None,
    name: str | None = None,
    join: bool = True,
    **options: Any,
) -> MeetingClient:
    """A connected (and joined) aiortc participant; the caller leaves or closes it."""
    ticket = await get_ticket(
        server.url,
        meeting["number"],
        token=token,
        passcode=meeting.get("passcode") or None,
        display_name=name,
        guest_key=options.pop("guest_key", None),
    )
    client = MeetingClient(server.url, ticket["ticket"], **options)
    await client.connect()
    if join:
        try:
            await client.join()
        except BaseException:
            await client.close()
            raise
    return client


@asynccontextmanager
async def participant(
    server: Served, meeting: dict[str, Any], **options: Any
) -> AsyncIterator[MeetingClient]:
    """:func:`connect`, left and closed afterwards."""
    client = await connect(server, meeting, **options)
    try:
        yield client
    finally:
        await client.leave()


def others(client: MeetingClient, everyone: list[MeetingClient]) -> list[MeetingClient]:
    return [o for o in everyone if o is not client]


async def all_see_all(everyone: list[MeetingClient], frames: int, timeout: float = 20) -> None:
    """Wait until each client has decoded ``frames`` video frames from every other."""
    for c in everyone:
        await c.wait_until(lambda c=c: sees(c, others(c, everyone), frames), timeout)


def sees(client: MeetingClient, others: list[MeetingClient], frames: int) -> bool:
    """``client`` has decoded at least ``frames`` video frames from each of ``others``."""
    return all(client.frames_from(o.participant_id) >= frames for o in others)


async def audio_during(
    listener: MeetingClient, muted: MeetingClient, reference: MeetingClient, frames: int = 50
) -> int:
    """Audio frames ``listener`` receives from ``muted`` while ``frames`` of ``reference``'s
    (someone unmuted) arrive: about ``frames`` when ``muted`` is heard, ≤ 2 when Janus mutes it."""
    before = listener.audio_frames_from(muted.participant_id)
    start = listener.audio_frames_from(reference.participant_id)
    await listener.wait_until(
        lambda: listener.audio_frames_from(reference.participant_id) >= start + frames
    )
    return listener.audio_frames_from(muted.participant_id) - before


@asynccontextmanager
async def three_people(
    server: Served, host: str, member: str, guest: str = "Carol", frames: int = 10
) -> AsyncIterator[tuple[dict[str, Any], list[MeetingClient]]]:
    """A new meeting with its host, a signed-in member and a guest, each decoding the others'
    video (``frames`` each); all leave afterwards."""
    meeting = await create_meeting(server, host)
    async with (
        participant(server, meeting, token=host) as alice,
        participant(server, meeting, token=member) as bob,
        participant(server, meeting, name=guest) as carol,
    ):
        everyone = [alice, bob, carol]
        await all_see_all(everyone, frames)
        yield meeting, everyone


async def stays(server: ServerProcess, meeting_id: str) -> dict[str, MeetingAttendance]:
    """The meeting's stays (attendance rows) by participant id, as the database has them now."""
    ctx = await server.context()
    async with ctx.db.session() as s:
        rows = await s.execute(
            select(MeetingAttendance)
            .where(MeetingAttendance.meeting_id == meeting_id)
            .execution_options(populate_existing=True)
        )
        return {r.id: r for r in rows.scalars()}


def entry(room: dict[str, Any], participant_id: str) -> dict[str, Any]:
    """One participant's entry in a room snapshot."""
    return next(p for p in room["participants"] if p["id"] == participant_id)
