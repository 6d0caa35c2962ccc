"""A forwarded call cut by a server crash bills the forwarder's leg for the time it was alive,
as it bills the caller: the leg is answered with its call and checkpointed with it. Before, the
leg stayed ``ringing`` while the call ran and a crash closed it with nothing billed to the
forwarder (the forwarded leg is the forwarder's to pay, issue 16)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import unique
from tests.integration.supplementary.conftest import Subscriber, records_of, set_services
from tests.support.numbers import number_for
from tests.support.server import ServerProcess, private_server
from tests.support.wsclient import FAKE_SDP, WsClient
from yuntong.accounts import directory
from yuntong.accounts.auth import principal_for
from yuntong.billing.orders.orders import do_place_order
from yuntong.supplementary import products

CHECKPOINT_S = 1.0
ALIVE_S = 4.0


@pytest.fixture
async def crash_server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    async with private_server(
        tmp_path,
        YUNTONG_CALL_CHECKPOINT_S=str(CHECKPOINT_S),
        YUNTONG_BILLING_RATING_INTERVAL_S="3600",
        YUNTONG_MEDIA_TIMEOUT_S="60",
    ) as started:
        yield started


async def _subscriber(server: ServerProcess, *services: str) -> Subscriber:
    ctx = await server.context()
    username = unique("leg")
    user_id = await server.create_user(username)
    number = await number_for(server, user_id)
    token = await server.login(username)
    client = await WsClient(server.ws_url, token, "dev1").connect()
    if services:
        user = principal_for(await directory.get_user(ctx, user_id), "", "web")
        await do_place_order(ctx, user, None, [products.BY_SERVICE[s].code for s in services])
    return Subscriber(client, user_id, number, token, username)


async def test_a_crash_bills_the_forwarded_leg_up_to_its_last_checkpoint(
    crash_server: ServerProcess,
) -> None:
    server = crash_server
    ctx = await server.context()
    staff_id = await server.create_user(unique("staff"), role="operator_admin")
    staff = principal_for(await directory.get_user(ctx, staff_id), "", "cli")
    await products.do_add_products(ctx, staff)
    alice = await _subscriber(server)
    bob = await _subscriber(server, "forwarding")
    carol = await _subscriber(server)
    await set_services(server, bob, cfu=carol.number)  # type: ignore[arg-type]

    ack = await alice.client.request(
        "call.invite", {"to": bob.number, "media": "audio", "sdp": FAKE_SDP}
    )
    call_id = str(ack["call_id"])
    await carol.client.expect("call.incoming", call_id=call_id)
    await carol.client.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.client.expect("call.answered", call_id=call_id)
    answered = time.monotonic()
    [_, leg] = await records_of(server, call_id)  # type: ignore[arg-type]
    assert (leg.caller_id, leg.callee_id, leg.state) == (bob.user_id, carol.user_id, "answered")
    await asyncio.sleep(ALIVE_S)

    server.stop(signal.SIGKILL)
    alive = time.monotonic() - answered
    for who in (alice, bob, carol):
        await who.client.close()
    server.start()

    call, leg = await records_of(server, call_id)  # type: ignore[arg-type]
    for record in (call, leg):
        assert (record.outcome, record.end_reason) == ("interrupted", "server_restart")
        assert record.answered_at == call.answered_at
        # billed up to a checkpoint: at least one was written, never past the crash
        assert ALIVE_S - CHECKPOINT_S - 1 <= record.billable_seconds <= alive + 1
    assert leg.billable_seconds == call.billable_seconds  # the forwarder pays the same time
    assert (leg.caller_id, leg.parent_call_id, leg.forwarding) == (bob.user_id, call_id, "cfu")
