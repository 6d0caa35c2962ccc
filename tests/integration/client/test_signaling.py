"""The client's WebSocket session: bearer auth, hello, ack/error correlation, heartbeats."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.client.switch import Switch
from tests.support.server import wait_for
from yuntong.client.signaling import CLOSED, Signaling, SignalingError, ws_url


def test_ws_url_follows_the_server_url() -> None:
    assert ws_url("http://127.0.0.1:8000", "d1") == "ws://127.0.0.1:8000/ws?device=d1"
    assert ws_url("https://yt.example.cn/app/", "d 2") == "wss://yt.example.cn/app/ws?device=d+2"


async def test_hello_arrives_and_bearer_token_is_sent(plain_switch: Switch) -> None:
    signaling = Signaling(plain_switch.url, token="alice", device="alice-1")
    hello = await signaling.connect()
    try:
        assert hello["heartbeat_s"] == 20.0
        assert plain_switch.headers[-1]["authorization"] == "Bearer alice"
        first = await signaling.next_event()
        assert (first.type, first.seq) == ("hello", 1)
        assert (await signaling.next_event()).type == "presence.snapshot"
        assert signaling.last_seq == 2
    finally:
        await signaling.close()


async def test_requests_get_their_own_ack_or_error(plain_switch: Switch) -> None:
    alice = Signaling(plain_switch.url, token="alice", device="a")
    bob = Signaling(plain_switch.url, token="bob", device="b")
    await alice.connect()
    await bob.connect()
    try:
        acks = await asyncio.gather(
            alice.request("call.invite", {"to": "bob", "media": "audio", "sdp": "v=0"}),
            alice.request("call.invite", {"to": "bob", "media": "video", "sdp": "v=0"}),
        )
        assert len({ack["call_id"] for ack in acks}) == 2
        with pytest.raises(SignalingError) as failure:
            await alice.request("call.hangup", {"call_id": "nope"})
        assert failure.value.code == "call_not_found"
        ids = [m["id"] for _, m in plain_switch.received]
        assert len(set(ids)) == len(ids) == 3
    finally:
        await alice.close()
        await bob.close()


async def test_pings_every_heartbeat_interval() -> None:
    switch = Switch(heartbeat_s=0.1)
    await switch.start()
    signaling = Signaling(switch.url, token="alice", device="a")
    await signaling.connect()
    try:
        await wait_for(lambda: len(switch.of_type("ping")) >= 3, timeout=3)
    finally:
        await signaling.close()
        await switch.stop()


async def test_a_lost_connection_that_cannot_be_resumed_becomes_a_closed_event(
    plain_switch: Switch,
) -> None:
    # the server is gone for longer than the client tries to resume (1 s here)
    signaling = Signaling(plain_switch.url, token="alice", device="a", resume_within_s=1.0)
    await signaling.connect()
    await plain_switch.stop()
    seen: list[str] = []
    while not seen or seen[-1] != CLOSED:
        seen.append((await asyncio.wait_for(signaling.next_event(), 5)).type)
    assert (await signaling.next_event()).type == CLOSED  # repeats for every reader
    with pytest.raises(ConnectionError):
        await signaling.request("ping")
    await signaling.close()


async def test_an_unauthenticated_session_fails_to_connect(plain_switch: Switch) -> None:
    signaling = Signaling(plain_switch.url, token="", device="a")
    signaling.token = ""
    with pytest.raises(ConnectionError):
        await signaling.connect(timeout=5)
    await signaling.close()
