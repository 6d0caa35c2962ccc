from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.client.switch import Switch


@pytest.fixture(params=[False, True], ids=["full-sdp", "trickled"])
async def switch(request: pytest.FixtureRequest) -> AsyncIterator[Switch]:
    """The stand-in signaling server; ``trickled`` sends candidates as call.ice like a browser."""
    server = Switch(trickle=request.param)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def plain_switch() -> AsyncIterator[Switch]:
    server = Switch()
    await server.start()
    yield server
    await server.stop()
