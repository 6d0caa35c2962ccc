"""Two aiortc clients call each other through a live Yuntong server; media is measured."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import unique
from tests.integration.media.coturn import free_udp_tcp_port
from tests.support.server import ServerProcess, private_server
from yuntong.client.call import Media, run_call
from yuntong.client.quality import CallResult

PASSWORD = "correct horse battery"


def signed_in_flag() -> tuple[asyncio.Event, Callable[[str], None]]:
    """An event set once the client's WebSocket is up (so a call to it can ring)."""
    ready = asyncio.Event()

    def progress(line: str) -> None:
        if line.startswith("signed in"):
            ready.set()

    return ready, progress


async def call_between(
    server: Any, media: Media, *, caller_duration: float = 4.0, **kwargs: Any
) -> tuple[CallResult, CallResult]:
    alice, bob = unique("alice"), unique("bob")
    for name in (alice, bob):
        await server.create_user(name, PASSWORD)
    ready, progress = signed_in_flag()
    callee = asyncio.create_task(
        run_call(
            server.url,
            bob,
            PASSWORD,
            answer=True,
            media=media,
            duration=30,
            wait_s=20,
            progress=progress,
            **kwargs,
        )
    )
    await asyncio.wait_for(ready.wait(), 10)
    caller = await run_call(
        server.url,
        alice,
        PASSWORD,
        to=bob,
        media=media,
        duration=caller_duration,
        wait_s=20,
        **kwargs,
    )
    return caller, await asyncio.wait_for(callee, 30)


def assert_media_both_ways(result: CallResult, *, video: bool) -> None:
    assert result.outcome == "answered"
    assert result.answered and result.connected
    assert result.media_both_ways
    # the −9 dBFS tone arrives near −12 dBFS (aiortc upmixes mono to stereo at −3 dB)
    assert result.audio_rms_dbfs > -20
    assert result.audio_samples > 48_000  # more than a second of audio
    if video:
        assert result.frames_decoded >= 20
        assert result.video_counter_first is not None and result.video_counter_last is not None
        assert result.video_counter_last > result.video_counter_first


async def test_video_call_between_two_aiortc_clients(live_server: ServerProcess) -> None:
    caller, callee = await call_between(live_server, "video")
    for result in (caller, callee):
        assert_media_both_ways(result, video=True)
        assert result.call_id == caller.call_id
    assert caller.billable_seconds is not None and caller.billable_seconds >= 2


async def test_audio_call_between_two_aiortc_clients(live_server: ServerProcess) -> None:
    caller, callee = await call_between(live_server, "audio", caller_duration=3.0)
    for result in (caller, callee):
        assert_media_both_ways(result, video=False)
        assert result.frames_decoded == 0


async def test_cli_call_exits_zero_when_media_flowed_both_ways(
    live_server: ServerProcess,
) -> None:
    alice, bob = unique("alice"), unique("bob")
    for name in (alice, bob):
        await live_server.create_user(name, PASSWORD)
    ready, progress = signed_in_flag()
    callee = asyncio.create_task(
        run_call(
            live_server.url,
            bob,
            PASSWORD,
            answer=True,
            media="video",
            duration=30,
            wait_s=30,
            progress=progress,
        )
    )
    await asyncio.wait_for(ready.wait(), 10)
    args = [
        "--server",
        live_server.url,
        "--username",
        alice,
        "--to",
        bob,
        "--media",
        "video",
        "--duration",
        "4",
        "--wait",
        "20",
    ]
    code = f"from yuntong.client.cli import call_command; raise SystemExit(call_command({args!r}))"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env={"YUNTONG_PASSWORD": PASSWORD, "COLUMNS": "120", "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "answered" in text and "video frames decoded" in text
    assert_media_both_ways(await asyncio.wait_for(callee, 30), video=True)


# --- the full TURN path: the server supervises coturn and hands out REST credentials ----------


@pytest.fixture(scope="module")
async def turn_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    if shutil.which("turnserver") is None:
        pytest.skip("coturn not installed")
    var = tmp_path_factory.mktemp("turn-live")
    base = 50000 + free_udp_tcp_port() % 100 * 100
    async with private_server(
        var,
        YUNTONG_START_COTURN="true",
        YUNTONG_COTURN_PORT=str(free_udp_tcp_port()),
        YUNTONG_COTURN_MIN_PORT=str(base),
        YUNTONG_COTURN_MAX_PORT=str(base + 99),
        # both clients' relays are on 127.0.0.1, which coturn refuses unless allowed
        YUNTONG_TURN_ALLOWED_PEER_IPS='["127.0.0.1"]',
    ) as server:
        yield server


async def test_server_hands_out_turn_credentials_for_its_coturn(
    turn_server: ServerProcess,
) -> None:
    name = unique("tina")
    user_id = await turn_server.create_user(name, PASSWORD)
    token = await turn_server.login(name, PASSWORD)
    async with httpx.AsyncClient(base_url=turn_server.url) as http:
        resp = await http.get("/api/v1/ice-servers", headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    body = resp.json()
    servers = body if isinstance(body, list) else body.get("ice_servers", body.get("iceServers"))
    port = turn_server.env["YUNTONG_COTURN_PORT"]
    turn = [s for s in servers if s.get("username")]
    assert turn and f"turn:127.0.0.1:{port}?transport=udp" in turn[0]["urls"]
    assert turn[0]["username"].endswith(":" + str(user_id))


async def test_relay_only_video_call_through_the_servers_coturn(
    turn_server: ServerProcess,
) -> None:
    caller, callee = await call_between(turn_server, "video", relay_only=True)
    for result in (caller, callee):
        assert result.local_candidate_types == ["relay"]
        assert_media_both_ways(result, video=True)


async def test_call_to_an_offline_user_is_not_answered(live_server: ServerProcess) -> None:
    alice, bob = unique("alice"), unique("bob")
    for name in (alice, bob):
        await live_server.create_user(name, PASSWORD)
    result = await run_call(live_server.url, alice, PASSWORD, to=bob, duration=2, wait_s=10)
    assert not result.answered and not result.media_both_ways
    assert (result.outcome, result.reason) == ("unreachable", "offline")
    assert result.frames_decoded == 0 and result.audio_samples == 0
