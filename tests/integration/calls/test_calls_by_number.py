"""Calls by number (CP 1.3): a number assigned to a user rings that user as a call by username
does, the records carry the calling and called numbers and the Q.850 cause of the ending, and a
number that is not in service is told as such (SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from tests.conftest import unique
from tests.integration.calls.conftest import Connect
from tests.support.inprocess import InProcessServer
from tests.support.numbers import number_for
from tests.support.wsclient import FAKE_SDP, WsClient, WsError
from yuntong.core import changes
from yuntong.numbers import directory as numbers_directory
from yuntong.numbers.models import NumberState, PhoneNumber


@pytest.fixture
def server(inprocess_server_any: InProcessServer) -> InProcessServer:
    return inprocess_server_any


async def user_with_number(server: InProcessServer, connect: Connect) -> tuple[WsClient, str]:
    username = unique("num")
    user_id = await server.create_user(username)
    return await connect(username), await number_for(server, user_id)


async def history(server: InProcessServer, client: WsClient) -> list[dict]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.get("/api/v1/calls", headers={"Authorization": f"Bearer {client.token}"})
        resp.raise_for_status()
        return resp.json()["items"]


async def test_a_number_rings_its_user_and_the_records_carry_both_numbers(
    server: InProcessServer, connect: Connect
) -> None:
    alice, alice_number = await user_with_number(server, connect)
    bob, bob_number = await user_with_number(server, connect)
    dialled = f"+86 {bob_number[:3]} {bob_number[3:7]} {bob_number[7:]}"
    ack = await alice.request("call.invite", {"to": dialled, "media": "audio", "sdp": FAKE_SDP})
    assert "ended" not in ack, ack
    incoming = await bob.expect("call.incoming", call_id=ack["call_id"])
    assert incoming["from"]["username"] == alice.username
    assert incoming["to_number"] == f"+86{bob_number}"
    await bob.request("call.answer", {"call_id": ack["call_id"], "sdp": FAKE_SDP})
    await alice.expect("call.answered", call_id=ack["call_id"])
    await alice.request("call.media", {"call_id": ack["call_id"], "state": "connected"})
    await server.advance(3)
    await bob.request("call.hangup", {"call_id": ack["call_id"]})
    assert (await alice.expect("call.ended", call_id=ack["call_id"]))["outcome"] == "answered"
    for side, direction in ((alice, "outgoing"), (bob, "incoming")):
        entry = (await history(server, side))[0]
        assert entry["direction"] == direction
        assert entry["calling_number"] == f"+86{alice_number}"
        assert entry["called_number"] == f"+86{bob_number}"
        assert entry["cause"] == 16  # normal clearing
        assert entry["billable_seconds"] == 3


async def test_a_caller_with_several_numbers_chooses_and_may_not_borrow_one(
    server: InProcessServer, connect: Connect
) -> None:
    username = unique("num")
    user_id = await server.create_user(username)
    alice = await connect(username)
    await number_for(server, user_id)
    second = await number_for(server, user_id)
    bob, bob_number = await user_with_number(server, connect)
    ack = await alice.request(
        "call.invite",
        {"to": bob_number, "media": "audio", "sdp": FAKE_SDP, "from_number": f"0086{second}"},
    )
    await bob.expect("call.incoming", call_id=ack["call_id"])
    await alice.request("call.cancel", {"call_id": ack["call_id"]})
    await bob.expect("call.ended", call_id=ack["call_id"])
    entry = (await history(server, alice))[0]
    assert entry["calling_number"] == f"+86{second}"
    assert (entry["outcome"], entry["cause"]) == ("canceled", 16)
    with pytest.raises(WsError) as refused:
        await alice.request(
            "call.invite",
            {"to": bob_number, "media": "audio", "sdp": FAKE_SDP, "from_number": bob_number},
        )
    assert refused.value.code == "number_not_yours"
    assert len(await history(server, alice)) == 1  # no record of a refused invite


@pytest.mark.parametrize("state", [NumberState.AVAILABLE, NumberState.QUARANTINED])
async def test_a_number_not_in_service_is_unallocated_and_never_rings_its_former_user(
    server: InProcessServer, connect: Connect, state: NumberState
) -> None:
    alice = await connect()
    former = unique("num")
    former_id = await server.create_user(former)
    bob = await connect(former)
    number = await number_for(server, former_id, state)
    with pytest.raises(WsError) as refused:
        await alice.request("call.invite", {"to": number, "media": "audio", "sdp": FAKE_SDP})
    assert refused.value.code == "number_unallocated"
    assert refused.value.data["message"] in (
        "您拨打的号码是空号",
        "The number you dialled is not in service",
    )
    assert not [e for e in bob.events if e["type"] == "call.incoming"]
    assert await history(server, alice) == []


async def test_dialling_unallocated_numbers_in_bulk_is_throttled(
    server: InProcessServer, connect: Connect
) -> None:
    alice = await connect()
    limit = server.settings.lookup_per_minute
    number = await number_for(server, None, NumberState.AVAILABLE)
    codes = []
    for _ in range(limit + 1):
        with pytest.raises(WsError) as refused:
            await alice.request("call.invite", {"to": number, "media": "audio", "sdp": FAKE_SDP})
        codes.append(refused.value.code)
    assert codes == ["number_unallocated"] * limit + ["rate_limited"]


async def test_each_ending_by_number_has_its_cause(
    server: InProcessServer, connect: Connect
) -> None:
    alice, _ = await user_with_number(server, connect)
    bob, bob_number = await user_with_number(server, connect)
    # rejected
    ack = await alice.request("call.invite", {"to": bob_number, "media": "audio", "sdp": FAKE_SDP})
    await bob.expect("call.incoming", call_id=ack["call_id"])
    await bob.request("call.reject", {"call_id": ack["call_id"]})
    await alice.expect("call.ended", call_id=ack["call_id"])
    # no answer: the ring time-out passes
    ack = await alice.request("call.invite", {"to": bob_number, "media": "audio", "sdp": FAKE_SDP})
    await bob.expect("call.incoming", call_id=ack["call_id"])
    await server.advance(server.settings.ring_timeout_s + 1)
    await alice.expect("call.ended", call_id=ack["call_id"], outcome="no_answer")
    # the callee offline: unreachable at once
    await bob.close()
    ack = await alice.request("call.invite", {"to": bob_number, "media": "audio", "sdp": FAKE_SDP})
    assert ack["ended"]["outcome"] == "unreachable"
    causes = sorted((e["outcome"], e["cause"]) for e in await history(server, alice))
    assert causes == [("no_answer", 19), ("rejected", 21), ("unreachable", 20)]


async def test_calls_by_username_stay_without_numbers(
    server: InProcessServer, connect: Connect
) -> None:
    alice, _ = await user_with_number(server, connect)
    bob, _ = await user_with_number(server, connect)
    ack = await alice.request(
        "call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP}
    )
    incoming = await bob.expect("call.incoming", call_id=ack["call_id"])
    assert "to_number" not in incoming
    await bob.request("call.reject", {"call_id": ack["call_id"]})
    await alice.expect("call.ended", call_id=ack["call_id"])
    entry = (await history(server, alice))[0]
    assert (entry["calling_number"], entry["called_number"], entry["cause"]) == (None, None, 21)


async def test_a_number_given_to_someone_else_rings_them_once_the_change_is_announced(
    server: InProcessServer, connect: Connect
) -> None:
    """Servers keep numbers in memory; a change made elsewhere (the CLI, another node) reaches
    them through the change feed, and the next call goes to the number's new user."""
    alice = await connect()
    bob_name, carol_name = unique("num"), unique("num")
    bob_id = await server.create_user(bob_name)
    carol_id = await server.create_user(carol_name)
    bob, carol = await connect(bob_name), await connect(carol_name)
    number = await number_for(server, bob_id)

    async def ring(callee: WsClient) -> None:
        ack = await alice.request("call.invite", {"to": number, "media": "audio", "sdp": FAKE_SDP})
        await callee.expect("call.incoming", call_id=ack["call_id"])
        await alice.request("call.cancel", {"call_id": ack["call_id"]})
        await callee.expect("call.ended", call_id=ack["call_id"])

    await ring(bob)  # the server now knows the number is bob's
    other = await server.context()  # another process: its own bus
    async with other.db.session() as s:
        await s.execute(
            update(PhoneNumber).where(PhoneNumber.national == number).values(user_id=carol_id)
        )
    await numbers_directory.publish_changed(other)
    await changes.do_poll(server.app_context)  # the server's next poll of the feed
    await ring(carol)
    assert not [e for e in bob.events if e["type"] == "call.incoming"]
