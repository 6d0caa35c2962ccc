"""A Yuntong server with its own supervised Janus, and meetings and participants on it."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.support.server import ServerProcess, free_port, wait_for
from yuntong.client.meeting import MeetingClient, get_ticket


def janus_env(**extra: str) -> dict[str, str]:
    """Settings for a server that starts its own Janus on free ports."""
    rtp = random.randrange(30000, 39000, 200)
    return {
        "YUNTONG_START_JANUS": "true",
        "YUNTONG_JANUS_WS_PORT": str(free_port()),
        "YUNTONG_JANUS_ADMIN_PORT": str(free_port()),
        "YUNTONG_JANUS_RTP_MIN_PORT": str(rtp),
        "YUNTONG_JANUS_RTP_MAX_PORT": str(rtp + 199),
        "YUNTONG_JANUS_HEALTH_INTERVAL_S": "0.5",
        "YUNTONG_MEETING_RECONNECT_GRACE_S": "3",
        **extra,
    }


async def janus_ready(server: ServerProcess, timeout: float = 20) -> None:
    async def healthy() -> bool:
        async with httpx.AsyncClient(base_url=server.url) as client:
            checks = (await client.get("/readyz")).json()["checks"]
        nodes = checks.get("janus_nodes", {})
        return bool(nodes) and all(n["healthy"] for n in nodes.values())

    await wait_for(healthy, timeout=timeout, interval=0.2)


def janus_pid(server: ServerProcess) -> int:
    return int((server.var_dir / "janus" / "janus.pid").read_text().strip())


async def api(
    server: ServerProcess, token: str | None, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        return await client.request(method, path, headers=headers, **kwargs)


async def create_meeting(server: ServerProcess, token: str, **settings: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "周会 weekly", "settings": settings}
    resp = await api(server, token, "POST", "/api/v1/meetings", json=body)
    assert resp.status_code == 201, resp.text
    meeting: dict[str, Any] = resp.json()
    return meeting


@asynccontextmanager
async def participant(
    server: ServerProcess,
    meeting: dict[str, Any],
    *,
    token: str | None = None,
    name: str | None = None,
    join: bool = True,
    **options: Any,
) -> AsyncIterator[MeetingClient]:
    """A connected (and joined) aiortc participant; left and closed afterwards."""
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
    try:
        if join:
            await client.join()
        yield client
    finally:
        await client.leave()


def sees(client: MeetingClient, others: list[MeetingClient], frames: int) -> bool:
    """``client`` has decoded at least ``frames`` video frames from each of ``others``."""
    return all(client.frames_from(o.participant_id) >= frames for o in others)
