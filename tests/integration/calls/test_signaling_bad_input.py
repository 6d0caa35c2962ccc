"""Bad input on the WebSocket: a clear error code, the connection survives, nothing half-stored."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.calls.conftest import Connect
from tests.support.server import ServerProcess
from tests.support.wsclient import FAKE_SDP, WsClient, WsError


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "malformed_message"),
        ("[1, 2, 3]", "malformed_message"),
        (json.dumps({"v": 2, "type": "ping", "id": "x"}), "unsupported_version"),
        (json.dumps({"v": 1, "type": "call.teleport", "id": "x"}), "unknown_message_type"),
        (
            json.dumps({"v": 1, "type": "call.invite", "id": "x", "data": {"to": 5}}),
            "malformed_message",
        ),
        (
            json.dumps({"v": 1, "type": "call.ice", "id": "x", "data": {"call_id": []}}),
            "malformed_message",
        ),
        (json.dumps({"v": 1, "type": "ping", "id": "x", "extra": 1}), "malformed_message"),
    ],
)
async def test_bad_messages_get_error_codes_and_the_connection_survives(
    connect: Connect, raw: str, code: str
) -> None:
    client = await connect()
    await client.send_raw(raw)
    err = await _raw_error(client)
    assert err["code"] == code
    assert err["message"]
    assert await client.request("ping") == {}


async def _raw_error(client: WsClient) -> dict:
    # errors for messages without a readable id arrive as replies with re=None or re="x"
    import asyncio

    for _ in range(100):
        for msg in client.events:
            if msg["type"] == "error":
                client.events.remove(msg)
                return msg["data"]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no error received; events: {client.events}")


async def test_oversized_message_is_refused_with_message_too_large(connect: Connect) -> None:
    client = await connect()
    big = json.dumps({"v": 1, "type": "ping", "id": "x", "data": {"pad": "x" * 70_000}})
    await client.send_raw(big)
    assert (await _raw_error(client))["code"] == "message_too_large"
    assert await client.request("ping") == {}


@pytest.mark.parametrize(
    "sdp",
    ["", "hello", "v=0\r\ns=-\r\n", "v=0\r\nm=audio 9 RTP/AVP 0\r\n", "v=0\r\n" + "a" * 61_000],
)
async def test_invalid_sdp_is_refused_and_no_call_is_recorded(
    server: ServerProcess, connect: Connect, sdp: str
) -> None:
    alice, bob = await connect(), await connect()
    with pytest.raises(WsError) as exc:
        await alice.request("call.invite", {"to": bob.username, "media": "video", "sdp": sdp})
    assert exc.value.code in {"invalid_sdp", "malformed_message"}
    assert not bob.has("call.incoming")
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.get("/api/v1/calls", headers={"Authorization": f"Bearer {alice.token}"})
        assert resp.json()["total"] == 0


async def test_messages_about_other_peoples_calls_are_not_found(connect: Connect) -> None:
    alice, bob, mallory = await connect(), await connect(), await connect()
    ack = await alice.request(
        "call.invite", {"to": bob.username, "media": "video", "sdp": FAKE_SDP}
    )
    for kind in ("call.answer", "call.hangup", "call.reject", "call.cancel"):
        data = {"call_id": ack["call_id"]}
        if kind == "call.answer":
            data["sdp"] = FAKE_SDP
        with pytest.raises(WsError) as exc:
            await mallory.request(kind, data)
        assert exc.value.code == "call_not_found"
    await bob.expect("call.incoming", call_id=ack["call_id"])


async def test_unauthenticated_socket_is_closed_with_4401(server: ServerProcess) -> None:
    import websockets

    with pytest.raises(websockets.InvalidStatus) as exc:
        async with websockets.connect(server.ws_url + "?device=x") as ws:
            await ws.recv()
    assert exc.value.response.status_code == 403


async def test_error_messages_follow_the_users_locale(connect: Connect) -> None:
    client = await connect()
    with pytest.raises(WsError) as exc:
        await client.request("call.hangup", {"call_id": "nope"})
    assert exc.value.code == "call_not_found"
    assert exc.value.data["message"] in {"找不到该通话", "No such call"}


async def test_cookie_socket_from_another_site_is_refused(server: ServerProcess) -> None:
    import websockets

    from tests.conftest import unique

    name = unique("co")
    await server.create_user(name)
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/auth/login",
            json={"username": name, "password": "correct horse battery", "kind": "web"},
        )
        cookie = resp.cookies["yt_session"]
    headers = {"Cookie": f"yt_session={cookie}"}
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(
            server.ws_url + "?device=x", additional_headers=headers, origin="http://evil.example"
        ) as ws:
            await ws.recv()
    host = server.url.removeprefix("http://")
    async with websockets.connect(
        server.ws_url + "?device=x", additional_headers=headers, origin=f"http://{host}"
    ) as ws:
        assert '"hello"' in await ws.recv()
