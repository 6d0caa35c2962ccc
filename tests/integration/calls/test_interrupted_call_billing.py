"""A call cut by a server crash is billed for the time it was alive, never for the outage
(issue 14, item 16)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.calls.test_credit_limit_back_to_back import make_package, person
from tests.support.server import ServerProcess, private_server
from tests.support.wsclient import FAKE_SDP, WsClient
from yuntong.billing import worker
from yuntong.services import build_context

CHECKPOINT_S = 2.0
ALIVE_S = 6.0  # the call runs this long before the kill
DOWN_S = 8.0  # and the server stays down this long before it is started again


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    async with private_server(
        tmp_path,
        YUNTONG_CALL_CHECKPOINT_S=str(CHECKPOINT_S),
        YUNTONG_BILLING_RATING_INTERVAL_S="3600",  # rated by the test, when it chooses
        YUNTONG_MEDIA_TIMEOUT_S="60",
    ) as started:
        yield started


async def test_a_call_killed_with_its_server_is_billed_up_to_its_last_checkpoint(
    server: ServerProcess,
) -> None:
    """Video at 60.00 a minute in 1/1 increments is 1.00 a second. The call runs ~6 s, the
    server is SIGKILLed, stays down 8 s and is started again: the call is closed as
    interrupted, billed from its answer to its last checkpoint (every 2 s), so at most the
    seconds it was alive and at least those minus one checkpoint interval; the ~8 s of
    downtime (and the restart's) are not billed. The charge is the billed seconds × 1.00."""
    _, staff = await person(server, "operator_admin")
    _, caller_rest = await person(server)
    callee_name, callee_rest = await person(server)
    code = await make_package(
        staff, fee_fen=0, rates={"call.video": {"per_minute_fen": "6000", "increment": "1/1"}}
    )
    await caller_rest("POST", "/api/v1/billing/orders", json={"product_codes": [code]})
    caller = await WsClient(server.ws_url, caller_rest.token).connect()
    callee = await WsClient(server.ws_url, callee_rest.token).connect()
    ack = await caller.request(
        "call.invite", {"to": callee_name, "media": "video", "sdp": FAKE_SDP}
    )
    call_id = str(ack["call_id"])
    await callee.expect("call.incoming", call_id=call_id)
    before_answer = time.monotonic()
    await callee.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await caller.expect("call.answered", call_id=call_id)
    after_answer = time.monotonic()
    await caller.request("call.media", {"call_id": call_id, "state": "connected"})
    await asyncio.sleep(ALIVE_S)

    server.stop(signal.SIGKILL)
    killed = time.monotonic()
    await caller.close()
    await callee.close()
    await asyncio.sleep(DOWN_S)
    server.start()
    restarted = time.monotonic()
    alive_most = killed - before_answer  # the longest the server can have known it alive
    alive_least = killed - after_answer

    record = await caller_rest("GET", f"/api/v1/calls/{call_id}")
    assert (record["outcome"], record["end_reason"]) == ("interrupted", "server_restart")
    billed = record["billable_seconds"]
    assert billed <= alive_most + 1  # rounded up to the second; never the downtime
    assert billed >= alive_least - CHECKPOINT_S - 1  # checkpoints were written meanwhile
    assert billed < (restarted - before_answer) - DOWN_S  # not a second of the outage
    answered = datetime.fromisoformat(record["answered_at"])
    ended = datetime.fromisoformat(record["ended_at"])
    assert abs((ended - answered).total_seconds() - record["duration_ms"] / 1000) < 0.01
    assert billed == -(-record["duration_ms"] // 1000)

    ctx = build_context(server.settings)
    try:
        assert await worker.run_once(ctx) == 1
    finally:
        await ctx.db.dispose()
    account = await caller_rest("GET", "/api/v1/billing/account")
    assert account["balance_fen"] == billed * 100  # 60.00 a minute, 1/1: 1.00 a second
