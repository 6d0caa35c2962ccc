"""The error messages of ``/ws`` are in the page's language: the ``locale`` the page sends (its
own ``lang``), else the ``yt_locale`` cookie the language switch sets, else the account's
language. Before, an account in zh-CN got Chinese errors on a page switched to English."""

from __future__ import annotations

import json

import pytest
import websockets

from tests.conftest import unique
from tests.support.inprocess import InProcessServer

UNKNOWN = json.dumps({"v": 1, "type": "call.teleport", "id": "x1"})


async def _error_message(
    server: InProcessServer, token: str, query: str = "", cookie: str | None = None
) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    if cookie:
        headers["Cookie"] = f"yt_locale={cookie}"
    url = f"{server.ws_url}?device=lang1{query}"
    async with websockets.connect(url, additional_headers=headers) as ws:
        while json.loads(await ws.recv())["type"] != "hello":
            pass
        await ws.send(UNKNOWN)
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "error":
                return str(msg["data"]["message"])


@pytest.mark.parametrize(
    ("query", "cookie", "expected"),
    [
        ("", None, "未知的消息类型：call.teleport"),  # the account's language
        ("&locale=en", None, "Unknown message type: call.teleport"),
        ("", "en", "Unknown message type: call.teleport"),
        ("&locale=zh-CN", "en", "未知的消息类型：call.teleport"),  # the page says which
    ],
)
async def test_socket_errors_follow_the_pages_language(
    server: InProcessServer, query: str, cookie: str | None, expected: str
) -> None:
    name = unique("lang")
    await server.create_user(name)  # an account in zh-CN, the default
    token = await server.login(name)
    assert await _error_message(server, token, query, cookie) == expected
