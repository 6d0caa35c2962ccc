"""A stand-in for Yuntong's call signaling (docs/protocol.md), small enough to read at once.

It lets the client's own tests run without the calls engine: it authenticates ``Bearer
<username>``, relays the ``call.*`` messages between two users and records what clients
send. With ``trickle=True`` it strips the candidates out of every SDP and sends them as
``call.ice`` messages afterwards, the way a browser trickles them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

OUTCOMES = {"call.cancel": "canceled", "call.reject": "rejected", "call.hangup": "answered"}


@dataclass
class SwitchedCall:
    call_id: str
    caller: str
    callee: str
    media: str
    answered: bool = False


def split_candidates(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """Remove ``a=candidate`` / ``a=end-of-candidates`` lines; return them as trickle dicts."""
    kept: list[str] = []
    candidates: list[dict[str, Any]] = []
    index, mid = -1, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            index, mid = index + 1, None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        if line.startswith("a=candidate:"):
            candidates.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": index})
            continue
        if line.startswith("a=end-of-candidates"):
            continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


@dataclass
class Switch:
    trickle: bool = False
    heartbeat_s: float = 20.0
    url: str = ""
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    calls: dict[str, SwitchedCall] = field(default_factory=dict)
    users: dict[str, list[ServerConnection]] = field(default_factory=dict)
    headers: list[dict[str, str]] = field(default_factory=list)
    _server: Server | None = None
    _seq: int = 0

    async def start(self) -> str:
        self._server = await serve(self._session, "127.0.0.1", 0)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def of_type(self, type_: str) -> list[tuple[str, dict[str, Any]]]:
        return [(user, msg) for user, msg in self.received if msg.get("type") == type_]

    async def _session(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.headers.append(dict(ws.request.headers))
        auth = ws.request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or "device=" not in (ws.request.path or ""):
            await ws.close(4401, "unauthenticated")
            return
        user = auth.removeprefix("Bearer ")
        self.users.setdefault(user, []).append(ws)
        hello = {"connection_id": uuid.uuid4().hex, "resume_token": "r", "resumed": False}
        await self._event(ws, "hello", {**hello, "heartbeat_s": self.heartbeat_s, "user": {}})
        await self._event(ws, "presence.snapshot", {"contacts": []})
        try:
            async for raw in ws:
                message = json.loads(raw)
                self.received.append((user, message))
                await self._on_message(ws, user, message)
        finally:
            self.users[user].remove(ws)

    async def _event(self, ws: ServerConnection, type_: str, data: dict[str, Any]) -> None:
        self._seq += 1
        await ws.send(json.dumps({"v": 1, "type": type_, "seq": self._seq, "data": data}))

    async def _to(self, user: str, type_: str, data: dict[str, Any]) -> None:
        for ws in list(self.users.get(user, [])):
            await self._event(ws, type_, data)

    async def _ack(self, ws: ServerConnection, msg: dict[str, Any], data: dict[str, Any]) -> None:
        if msg.get("id"):
            await ws.send(json.dumps({"v": 1, "type": "ack", "re": msg["id"], "data": data}))

    async def _error(self, ws: ServerConnection, msg: dict[str, Any], code: str) -> None:
        body = {"code": code, "message": code}
        await ws.send(json.dumps({"v": 1, "type": "error", "re": msg.get("id"), "data": body}))

    async def _send_sdp(self, user: str, type_: str, data: dict[str, Any]) -> None:
        if not self.trickle:
            await self._to(user, type_, data)
            return
        sdp, candidates = split_candidates(data["sdp"])
        await self._to(user, type_, {**data, "sdp": sdp})
        for candidate in [*candidates, None]:
            await asyncio.sleep(0.01)
            await self._to(user, "call.ice", {"call_id": data["call_id"], "candidate": candidate})

    async def _on_message(self, ws: ServerConnection, user: str, msg: dict[str, Any]) -> None:
        type_, data = msg.get("type"), msg.get("data") or {}
        if type_ == "ping":
            await ws.send(json.dumps({"v": 1, "type": "pong", "data": {}}))
            return
        if type_ == "call.invite":
            if data["to"] not in self.users or data["to"] == user:
                await self._error(ws, msg, "user_not_found")
                return
            new = SwitchedCall(uuid.uuid4().hex, user, data["to"], data["media"])
            self.calls[new.call_id] = new
            await self._ack(ws, msg, {"call_id": new.call_id})
            caller = {"user_id": 1, "username": user, "display_name": user}
            incoming = {"call_id": new.call_id, "from": caller, "media": new.media}
            await self._send_sdp(new.callee, "call.incoming", {**incoming, "sdp": data["sdp"]})
            return
        call = self.calls.get(str(data.get("call_id")))
        if call is None:
            await self._error(ws, msg, "call_not_found")
            return
        other = call.callee if user == call.caller else call.caller
        await self._ack(ws, msg, {})
        if type_ == "call.ringing":
            await self._to(call.caller, "call.ringing", {"call_id": call.call_id})
        elif type_ == "call.answer":
            call.answered = True
            answered = {"call_id": call.call_id, "sdp": data["sdp"]}
            await self._send_sdp(call.caller, "call.answered", answered)
            for party in (call.caller, call.callee):
                await self._to(party, "call.connected", {"call_id": call.call_id})
        elif type_ == "call.ice":
            await self._to(other, "call.ice", data)
        elif type_ in OUTCOMES:
            self.calls.pop(call.call_id)
            ended = {
                "call_id": call.call_id,
                "outcome": OUTCOMES[type_],
                "reason": "normal",
                "hung_up_by": user,
                "billable_seconds": 1 if call.answered else 0,
            }
            for party in (call.caller, call.callee):
                await self._to(party, "call.ended", ended)
