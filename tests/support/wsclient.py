"""A protocol-level WebSocket client for tests and the signaling benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import websockets

FAKE_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=fingerprint:sha-256 00:11\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
)


class WsError(Exception):
    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data.get("code"))
        self.code: str = data.get("code", "")
        self.data = data


class WsClient:
    def __init__(self, ws_url: str, token: str, device: str = "dev1") -> None:
        self.ws_url = ws_url
        self.token = token
        self.device = device
        self.ws: Any = None
        self.hello: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self._event_added = asyncio.Event()
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self.last_seq = 0
        self.closed = asyncio.Event()

    async def connect(self, resume: bool = False) -> WsClient:
        url = f"{self.ws_url}?device={self.device}"
        if resume:
            url += f"&resume={self.hello['resume_token']}&last_seq={self.last_seq}"
        self.closed.clear()
        self.ws = await websockets.connect(
            url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            max_size=2**22,
        )
        first = json.loads(await self.ws.recv())
        assert first["type"] == "hello", first
        self.hello = first["data"]
        self.device = self.hello["device_id"]
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg["type"] in ("ack", "error", "pong") and msg.get("re") in self._replies:
                    self._replies.pop(msg["re"]).set_result(msg)
                    continue
                if "seq" in msg:
                    self.last_seq = msg["seq"]
                self.events.append(msg)
                self._event_added.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def send_raw(self, raw: str | bytes) -> None:
        await self.ws.send(raw)

    async def request(
        self, type_: str, data: dict[str, Any] | None = None, timeout: float = 5
    ) -> Any:
        msg_id = f"m{next(self._ids)}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[msg_id] = fut
        await self.ws.send(json.dumps({"v": 1, "type": type_, "id": msg_id, "data": data or {}}))
        reply = await asyncio.wait_for(fut, timeout)
        if reply["type"] == "error":
            raise WsError(reply["data"])
        return reply["data"]

    async def expect(self, type_: str, timeout: float = 5, **match: Any) -> dict[str, Any]:
        """Wait for (and consume) the next event of a type whose data matches ``match``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, msg in enumerate(self.events):
                if msg["type"] == type_ and all(msg["data"].get(k) == v for k, v in match.items()):
                    del self.events[i]
                    data: dict[str, Any] = msg["data"]
                    return data
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [m["type"] for m in self.events]
                raise TimeoutError(f"no {type_} {match} within {timeout}s; saw {seen}")
            self._event_added.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_added.wait(), remaining)

    def has(self, type_: str, **match: Any) -> bool:
        return any(
            m["type"] == type_ and all(m["data"].get(k) == v for k, v in match.items())
            for m in self.events
        )

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader

    async def drop(self) -> None:
        """Lose the connection without a goodbye (as a network change would)."""
        self.ws.transport.abort()
        await self.closed.wait()
