"""The client's REST calls, faked at httpx's transport interface."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from yuntong.client.api import ApiClient, ApiError


def transport(ice_body: Any) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/login":
            body = json.loads(request.content)
            if body != {"username": "alice", "password": "pw", "kind": "api"}:
                error = {"code": "invalid_credentials", "message": "Wrong username or password"}
                return httpx.Response(401, json={"error": error})
            return httpx.Response(200, json={"token": "tok", "user": {"id": 1}})
        if request.url.path == "/api/v1/ice-servers":
            if request.headers.get("authorization") != "Bearer tok":
                return httpx.Response(401, json={"error": {"code": "unauthenticated"}})
            return httpx.Response(200, json=ice_body)
        return httpx.Response(404, text="not found")

    return httpx.MockTransport(handle)


SERVERS = [{"urls": ["stun:127.0.0.1:3478"]}]


@pytest.mark.parametrize(
    "body", [SERVERS, {"ice_servers": SERVERS, "ttl_s": 60}, {"iceServers": SERVERS}]
)
async def test_login_then_ice_servers(body: Any) -> None:
    async with ApiClient("http://yt.test/", transport=transport(body)) as api:
        session = await api.login("alice", "pw")
        assert (session.token, session.user) == ("tok", {"id": 1})
        assert await api.ice_servers() == SERVERS


async def test_failed_login_raises_the_servers_code() -> None:
    async with ApiClient("http://yt.test", transport=transport(SERVERS)) as api:
        with pytest.raises(ApiError) as failure:
            await api.login("alice", "wrong")
    assert (failure.value.status, failure.value.code) == (401, "invalid_credentials")


async def test_ice_servers_need_a_login() -> None:
    async with ApiClient("http://yt.test", transport=transport(SERVERS)) as api:
        with pytest.raises(ApiError) as failure:
            await api.ice_servers()
    assert failure.value.code == "unauthenticated"
