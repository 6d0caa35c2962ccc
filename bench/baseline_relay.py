"""A minimal bare ``websockets`` relay: the floor the signaling benchmark compares Yuntong to.

It speaks just enough of docs/protocol.md for the benchmark's call exchange — ``hello``,
``ping``/``pong``, ``call.invite`` → ``call.incoming`` + ack, ``call.ringing``, ``call.answer`` →
``call.answered`` + ack, ``call.hangup`` → ``call.ended`` to both + ack — with no
authentication, no database, no validation beyond JSON parsing and no presence. The bearer
token *is* the user name. Run by ``bench/signaling.py`` in a child process::

    python bench/baseline_relay.py --port 8765

It prints ``ready <port>`` on stdout once listening. Like Yuntong by default
(``YUNTONG_WS_COMPRESSION=false``) it refuses permessage-deflate unless ``--compression``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import uuid
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


class Relay:
    def __init__(self) -> None:
        self.users: dict[str, ServerConnection] = {}
        self.seq: dict[ServerConnection, int] = {}
        self.calls: dict[str, tuple[str, str]] = {}

    async def event(self, ws: ServerConnection | None, type_: str, data: dict[str, Any]) -> None:
        if ws is None:
            return
        self.seq[ws] = seq = self.seq.get(ws, 0) + 1
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"v": 1, "type": type_, "seq": seq, "data": data}))

    @staticmethod
    async def reply(ws: ServerConnection, type_: str, re: Any, data: dict[str, Any]) -> None:
        await ws.send(json.dumps({"v": 1, "type": type_, "re": re, "data": data}))

    async def handler(self, ws: ServerConnection) -> None:
        header = ws.request.headers.get("Authorization", "") if ws.request else ""
        user = header.partition(" ")[2].strip()
        if not user:
            await ws.close(code=4401, reason="unauthenticated")
            return
        self.users[user] = ws
        try:
            hello = {
                "connection_id": uuid.uuid4().hex[:16],
                "device_id": "bench",
                "resume_token": uuid.uuid4().hex,
                "heartbeat_s": 20.0,
                "resumed": False,
                "last_seq": 0,
                "user": {"user_id": 0, "username": user, "display_name": user},
            }
            await ws.send(json.dumps({"v": 1, "type": "hello", "data": hello}))
            await self.event(ws, "presence.snapshot", {"contacts": []})
            async for raw in ws:
                await self.dispatch(ws, user, raw)
        except ConnectionClosed:
            pass
        finally:
            if self.users.get(user) is ws:
                del self.users[user]
            self.seq.pop(ws, None)

    async def dispatch(self, ws: ServerConnection, user: str, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
            type_, msg_id, data = msg["type"], msg.get("id"), msg.get("data") or {}
        except (ValueError, KeyError, TypeError):
            await self.reply(ws, "error", None, {"code": "malformed_message"})
            return
        if type_ == "ping":
            await self.reply(ws, "pong", msg_id, {})
            return
        if type_ == "call.invite":
            callee = str(data.get("to"))
            if callee not in self.users:
                await self.reply(ws, "error", msg_id, {"code": "user_not_found"})
                return
            call_id = uuid.uuid4().hex
            self.calls[call_id] = (user, callee)
            incoming = {
                "call_id": call_id,
                "from": {"user_id": 0, "username": user, "display_name": user},
                "media": data.get("media", "audio"),
                "sdp": data.get("sdp", ""),
            }
            await self.event(self.users.get(callee), "call.incoming", incoming)
            result: dict[str, Any] = {"call_id": call_id}
        else:
            call_id = str(data.get("call_id"))
            call = self.calls.get(call_id)
            if call is None:
                if msg_id is not None:
                    await self.reply(ws, "error", msg_id, {"code": "call_not_found"})
                return
            caller, callee = call
            if type_ == "call.ringing":
                await self.event(self.users.get(caller), "call.ringing", {"call_id": call_id})
            elif type_ == "call.answer":
                answered = {"call_id": call_id, "sdp": data.get("sdp", "")}
                await self.event(self.users.get(caller), "call.answered", answered)
            elif type_ == "call.hangup":
                del self.calls[call_id]
                ended = {
                    "call_id": call_id,
                    "outcome": "answered",
                    "reason": "hangup",
                    "hung_up_by": 0,
                    "billable_seconds": 0,
                }
                await self.event(self.users.get(caller), "call.ended", ended)
                await self.event(self.users.get(callee), "call.ended", ended)
            result = {}
        if msg_id is not None:
            await self.reply(ws, "ack", msg_id, result)


async def main(port: int, compression: bool) -> None:
    relay = Relay()
    async with serve(
        relay.handler,
        "127.0.0.1",
        port,
        max_size=2**17,
        backlog=4096,
        compression="deflate" if compression else None,
    ):
        print(f"ready {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--compression",
        action="store_true",
        help="accept permessage-deflate (off by default, as in Yuntong: YUNTONG_WS_COMPRESSION)",
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop  # same event loop as uvicorn[standard] gives Yuntong
    except ImportError:
        asyncio.run(main(args.port, args.compression))
    else:
        uvloop.run(main(args.port, args.compression))
