"""The call timers on the wall clock, end to end: a server in a child process with short
time-outs really waits out the ring time-out, the media time-out, the reconnect grace and a
prepaid call's credit.

The other tests of these timers move a fake clock (test_call_outcomes, realtime/test_leaving,
test_credit_control);
these keep the real thing covered: the engine's timers and the hub's grace period on the
event loop's own timers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import unique
from tests.integration.calls.test_credit_control import Desk, connected_call
from tests.support.server import ServerProcess, private_server
from tests.support.wsclient import FAKE_SDP, WsClient

TIMER_S = 1.0  # ring time-out, media time-out and reconnect grace alike


@pytest.fixture(scope="module")
async def quick_timer_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("timers")
    async with private_server(
        folder,
        YUNTONG_RING_TIMEOUT_S=str(TIMER_S),
        YUNTONG_MEDIA_TIMEOUT_S=str(TIMER_S),
        YUNTONG_RECONNECT_GRACE_S=str(TIMER_S),
    ) as server:
        yield server


async def two_ringing(server: ServerProcess) -> tuple[WsClient, WsClient, str]:
    names = [unique("rt"), unique("rt")]
    clients = []
    for name in names:
        await server.create_user(name)
        clients.append(await WsClient(server.ws_url, await server.login(name)).connect())
    alice, bob = clients
    ack = await alice.request("call.invite", {"to": names[1], "media": "audio", "sdp": FAKE_SDP})
    await bob.expect("call.incoming", call_id=ack["call_id"])
    return alice, bob, str(ack["call_id"])


async def test_an_unanswered_call_ends_no_answer_when_the_ring_time_out_passes(
    quick_timer_server: ServerProcess,
) -> None:
    alice, bob, call_id = await two_ringing(quick_timer_server)
    ended = await alice.expect("call.ended", timeout=TIMER_S + 5, call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("no_answer", "ring_timeout")
    await alice.close()
    await bob.close()


async def test_an_answered_call_whose_media_never_connects_fails_after_the_media_time_out(
    quick_timer_server: ServerProcess,
) -> None:
    alice, bob, call_id = await two_ringing(quick_timer_server)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    ended = await alice.expect("call.ended", timeout=TIMER_S + 5, call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("failed", "media_timeout")
    await alice.close()
    await bob.close()


async def test_a_dropped_device_is_gone_when_the_reconnect_grace_passes(
    quick_timer_server: ServerProcess,
) -> None:
    alice, bob, call_id = await two_ringing(quick_timer_server)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await bob.request("call.media", {"call_id": call_id, "state": "connected"})
    await alice.expect("call.connected", call_id=call_id)
    await bob.drop()
    ended = await alice.expect("call.ended", timeout=TIMER_S + 5, call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "connection_lost")
    await alice.close()


async def test_a_prepaid_call_is_warned_and_ended_when_its_credit_runs_out(
    quick_timer_server: ServerProcess,
) -> None:
    """120.00 a minute, 1/1 increments, 2.00 in hand: the call may last 1 s."""
    server = quick_timer_server
    desk = await Desk(server).start()
    clients = []
    for name in (unique("rt"), unique("rt")):
        await server.create_user(name)
        client = await WsClient(server.ws_url, await server.login(name)).connect()
        client.username = name  # type: ignore[attr-defined]
        clients.append(client)
    alice, bob = clients
    await desk.prepaid(alice, await desk.package("12000"), "2.00")
    call_id = await connected_call(alice, bob)
    low = await alice.expect("call.credit_low", call_id=call_id)
    assert 0 <= low["seconds_left"] <= 1
    ended = await alice.expect("call.ended", timeout=TIMER_S + 5, call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "credit_exhausted")
    assert ended["billable_seconds"] <= 1
    await alice.close()
    await bob.close()
