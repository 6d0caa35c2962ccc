"""Relay-only calls: every candidate is a TURN relay on the supervised coturn, media still flows."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.client.switch import Switch
from tests.integration.media.coturn import running_coturn
from yuntong.client.call import CallClient
from yuntong.client.signaling import Signaling
from yuntong.media.turn import ice_servers

pytestmark = pytest.mark.skipif(shutil.which("turnserver") is None, reason="coturn not installed")


async def test_relay_only_video_call_flows_through_coturn(
    plain_switch: Switch, tmp_path: Path
) -> None:
    async with running_coturn(tmp_path / "var") as coturn:
        clients = []
        for user in ("alice", "bob"):
            servers = ice_servers(coturn.settings, user, datetime.now(UTC))
            signaling = Signaling(plain_switch.url, token=user, device=f"{user}-dev")
            await signaling.connect()
            client = CallClient(signaling, servers, relay_only=True)
            client.start()
            clients.append(client)
        alice, bob = clients
        try:
            answering = asyncio.create_task(bob.answer_next(timeout=10))
            await alice.place("bob", "video")
            await answering
            assert await alice.wait_connected(15) and await bob.wait_connected(15)
            await asyncio.sleep(3)
            await alice.hangup()
            results = [await alice.result(), await bob.result()]
        finally:
            for client in clients:
                await client.close()
                await client.signaling.close()

    for result in results:
        assert result.local_candidate_types == ["relay"]
        assert result.media_both_ways
        assert result.frames_decoded >= 20
        assert result.audio_rms_dbfs > -20


async def test_relay_only_without_turn_never_connects(plain_switch: Switch) -> None:
    clients = []
    for user in ("carol", "dave"):
        signaling = Signaling(plain_switch.url, token=user, device=f"{user}-dev")
        await signaling.connect()
        client = CallClient(signaling, [], relay_only=True)
        client.start()
        clients.append(client)
    carol, dave = clients
    try:
        answering = asyncio.create_task(dave.answer_next(timeout=10))
        await carol.place("dave", "audio")
        await answering
        assert carol.local_candidate_types == []
        assert not await carol.wait_connected(3)
        await carol.hangup()
    finally:
        for client in clients:
            await client.close()
            await client.signaling.close()
