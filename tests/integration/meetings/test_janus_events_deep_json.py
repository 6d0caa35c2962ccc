"""Janus's event endpoint: a body nested too deeply to parse is a 400, not a 500 (issue 14,
item 6's neighbour: every JSON parser of input from outside the process)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.meetings.test_janus_events import basic


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"janus_events_password": "remote-node-secret"}


async def test_deeply_nested_events_are_refused(app_client: httpx.AsyncClient) -> None:
    good = basic("janus", "remote-node-secret")
    resp = await app_client.post("/internal/janus/events", content=b"[" * 60_000, headers=good)
    assert resp.status_code == 400
    assert (
        await app_client.post("/internal/janus/events", json=[], headers=good)
    ).status_code == 200
