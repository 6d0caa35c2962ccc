"""What another process changes is seen by a running server (issue 14, item 15, neighbours).

A server keeps account statuses, block lists and presence watchers, the price catalogue and
credit standings in memory, so that a call invite reads no database. A change made by another
process (the ``yuntong`` command, another node) reaches it through the durable change feed
(``core/changes.py``) within ``change_poll_s`` (1 s).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from tests.conftest import unique
from tests.support.inprocess import Served
from tests.support.server import ServerProcess
from tests.support.wsclient import FAKE_SDP, WsClient, WsError
from yuntong.contacts import service as contacts
from yuntong.core.context import close_context
from yuntong.services import build_context

SEEN_WITHIN_S = 3.0  # the server polls every second


async def invite(client: WsClient, to: str) -> tuple[str, str]:
    """Place a call to ``to``: ("ended", public reason) when it ended at once (``to`` is not
    online, or does not take the call), ("ringing", "") when it rings (it is cancelled), or
    ("refused", error code)."""
    try:
        ack = await client.request("call.invite", {"to": to, "media": "audio", "sdp": FAKE_SDP})
    except WsError as exc:
        return "refused", exc.code
    if "ended" not in ack:
        await client.request("call.cancel", {"call_id": ack["call_id"]})
        return "ringing", ""
    return "ended", str(ack["ended"]["reason"])


async def changed_within(
    client: WsClient, to: str, before: tuple[str, str], seconds: float
) -> tuple[tuple[str, str], float]:
    started = time.monotonic()
    while True:
        answer = await invite(client, to)
        waited = time.monotonic() - started
        if answer != before:
            return answer, waited
        if waited > seconds:
            raise AssertionError(f"still {answer} {waited:.1f} s after the change")
        await asyncio.sleep(0.2)


async def test_a_user_the_cli_suspends_places_no_more_calls(
    live_server_any: ServerProcess,
) -> None:
    """`yuntong user status <name> suspended`, run as a command of its own while the user
    is connected and calling: the running server refuses the user's next call."""
    server = live_server_any
    caller, callee, operator = unique("sus"), unique("sus"), unique("op")
    await server.create_user(caller)
    await server.create_user(callee)
    await server.create_user(operator, role="operator_admin")
    client = await WsClient(server.ws_url, await server.login(caller)).connect()
    try:
        placed = ("ended", "offline")
        assert await invite(client, callee) == placed  # the caller's status is cached now
        assert await invite(client, callee) == placed

        command = ["user", "status", caller, "suspended", "--reason", "abuse", "--as", operator]
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", "from yuntong.cli import app; app()", *command],
            env=server.env,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        answer, waited = await changed_within(client, callee, placed, SEEN_WITHIN_S)
        assert answer == ("refused", "account_suspended")
        assert waited <= SEEN_WITHIN_S
    finally:
        await client.close()


async def block_is_honoured_within(server: Served, within_s: float) -> None:
    """The callee, online, blocks the caller through another process on the same database
    (as another node would): within ``within_s`` the server stops putting the caller's calls
    through (the caller is told what an offline callee gives, never that it is blocked)."""
    caller, callee = unique("blk"), unique("blk")
    await server.create_user(caller)
    callee_id = await server.create_user(callee)
    client = await WsClient(server.ws_url, await server.login(caller)).connect()
    callee_client = await WsClient(server.ws_url, await server.login(callee)).connect()
    other = build_context(server.settings)  # another process's Context, its own bus
    try:
        placed = ("ringing", "")
        assert await invite(client, callee) == placed  # the callee's block list is cached
        await contacts.do_block(other, callee_id, query=caller)
        answer, waited = await changed_within(client, callee, placed, within_s)
        assert answer == ("ended", "offline")
        assert waited <= within_s
    finally:
        await client.close()
        await callee_client.close()
        await close_context(other)


async def test_a_block_added_by_another_process_is_honoured(
    live_server_any: ServerProcess,
) -> None:
    await block_is_honoured_within(live_server_any, SEEN_WITHIN_S)
