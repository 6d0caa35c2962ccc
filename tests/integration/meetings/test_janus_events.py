"""Janus's event handler posts media statistics to Yuntong; only with the right password."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.support.janus import needs_janus
from tests.support.meetings import api, create_meeting, participant
from tests.support.server import ServerProcess, wait_for

MEDIA_EVENTS = 'yuntong_janus_events_total{type="32"}'


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"janus_events_password": "remote-node-secret"}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_events_need_the_password_and_survive_junk(app_client: httpx.AsyncClient) -> None:
    path = "/internal/janus/events"
    assert (await app_client.post(path, json=[])).status_code == 401
    wrong = await app_client.post(path, json=[], headers=basic("janus", "guess"))
    assert wrong.status_code == 401
    other_user = await app_client.post(path, json=[], headers=basic("admin", "remote-node-secret"))
    assert other_user.status_code == 401
    good = basic("janus", "remote-node-secret")
    assert (await app_client.post(path, content=b"{not json", headers=good)).status_code == 400
    unknown = [{"type": 32, "handle_id": 42, "event": {"media": "video", "in-link-quality": 10}}]
    assert (
        await app_client.post(path, json=[*unknown, "junk", 3], headers=good)
    ).status_code == 200


def media_events(text: str) -> float:
    for line in text.splitlines():
        if line.startswith(MEDIA_EVENTS):
            return float(line.split()[-1])
    return 0.0


@needs_janus
async def test_the_supervised_janus_posts_media_statistics(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with participant(meeting_server, meeting, token=host):

        async def counted() -> float:
            metrics = await api(meeting_server, None, "GET", "/metrics")
            return media_events(metrics.text)

        assert await wait_for(counted, timeout=15, interval=0.5) > 0
