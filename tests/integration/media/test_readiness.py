"""``/readyz`` reports the Janus nodes meetings would be placed on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.support.janus import Janus, needs_janus
from yuntong.config import JanusNode

pytestmark = needs_janus


@pytest.fixture
def settings_overrides(janus: Janus) -> dict[str, Any]:
    node = JanusNode(
        name="sfu-1",
        url=janus.url,
        token_secret=SecretStr(janus.token_secret),
        videoroom_admin_key=SecretStr(janus.admin_key),
    )
    return {"janus_nodes": [node]}


async def test_readiness_shows_each_janus_node_and_no_local_janus(
    app_client: httpx.AsyncClient,
) -> None:
    reply = await app_client.get("/readyz")
    assert reply.status_code == 200
    checks = reply.json()["checks"]
    assert checks["media"]["janus"] == "disabled"  # remote nodes: none of our own
    assert checks["janus_nodes"]["sfu-1"]["healthy"] is True
    assert set(checks["janus_nodes"]["sfu-1"]) == {"healthy", "participants", "rooms"}
