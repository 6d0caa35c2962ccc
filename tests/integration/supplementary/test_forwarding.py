"""Call forwarding (TS 22.082): unconditional, on busy (and on a declined call), on no reply
after the user's timer, when not reachable; the loop guard; the original caller's number and
"forwarded by" shown to the final callee; the forwarded leg billed to the forwarding
subscriber, with both legs' records linked (SQLite and PostgreSQL)."""

from __future__ import annotations

from itertools import pairwise

from sqlalchemy import select

from tests.integration.supplementary.conftest import (
    Make,
    Subscriber,
    api,
    records_of,
    set_services,
)
from tests.support.inprocess import InProcessServer
from tests.support.wsclient import FAKE_SDP
from yuntong.billing.ledger.usage import do_collect_call_usage
from yuntong.billing.models import UsageRecord


async def invite(caller: Subscriber, callee: Subscriber) -> dict:
    ack: dict = await caller.client.request(
        "call.invite", {"to": callee.number, "media": "audio", "sdp": FAKE_SDP}
    )
    return ack


async def test_unconditional_forwarding_rings_the_target_with_the_callers_number_and_bills_the_forwarder(  # noqa: E501
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    bob = await subscriber("forwarding")
    carol = await subscriber("clip")
    await set_services(server, bob, cfu=carol.number)
    await set_services(server, carol, clip=True)
    ack = await invite(alice, bob)
    incoming = await carol.client.expect("call.incoming", call_id=ack["call_id"])
    assert incoming["from_number"]["number"] == alice.e164  # the original caller's number
    assert (incoming["forwarded_by"], incoming["forwarding"]) == (bob.e164, "cfu")
    assert incoming["to_number"] == carol.e164
    assert not bob.client.has("call.incoming")
    await carol.client.request("call.answer", {"call_id": ack["call_id"], "sdp": FAKE_SDP})
    await alice.client.expect("call.answered", call_id=ack["call_id"])
    await alice.client.request("call.media", {"call_id": ack["call_id"], "state": "connected"})
    await server.advance(4)
    await carol.client.request("call.hangup", {"call_id": ack["call_id"]})
    assert (await alice.client.expect("call.ended", call_id=ack["call_id"]))[
        "outcome"
    ] == "answered"
    first, leg = await records_of(server, ack["call_id"])
    assert (first.caller_id, first.callee_id, first.called_number) == (
        alice.user_id,
        bob.user_id,
        bob.e164,
    )
    assert (leg.caller_id, leg.callee_id) == (bob.user_id, carol.user_id)
    assert (leg.calling_number, leg.called_number, leg.forwarding) == (
        alice.e164,
        carol.e164,
        "cfu",
    )
    assert first.billable_seconds == leg.billable_seconds == 4
    assert leg.outcome == "answered" and leg.cause == 16
    await do_collect_call_usage(server.app_context)
    async with (await server.context()).db.session() as s:
        query = select(UsageRecord).where(UsageRecord.source_id.in_([first.id, leg.id]))
        billed = {u.source_id: u.user_id for u in (await s.execute(query)).scalars()}
    # the caller pays for the call they dialled, the forwarder for the forwarded leg
    assert billed == {first.id: alice.user_id, leg.id: bob.user_id}


async def test_a_busy_callee_forwards_on_busy(server: InProcessServer, subscriber: Make) -> None:
    alice = await subscriber()
    bob = await subscriber("forwarding")
    carol = await subscriber()
    dave = await subscriber()
    await set_services(server, bob, cfb=carol.number)
    busy = await invite(bob, dave)  # bob is in a call
    await dave.client.expect("call.incoming", call_id=busy["call_id"])
    ack = await invite(alice, bob)
    incoming = await carol.client.expect("call.incoming", call_id=ack["call_id"])
    assert incoming["forwarding"] == "cfb"
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})
    first, leg = await records_of(server, ack["call_id"])
    assert first.outcome == leg.outcome == "canceled"
    assert leg.forwarding == "cfb"


async def test_a_declined_call_forwards_on_busy(server: InProcessServer, subscriber: Make) -> None:
    alice = await subscriber()
    bob = await subscriber("forwarding")
    carol = await subscriber()
    await set_services(server, bob, cfb=carol.number)
    ack = await invite(alice, bob)
    await bob.client.expect("call.incoming", call_id=ack["call_id"])
    await bob.client.request("call.reject", {"call_id": ack["call_id"]})
    ended = await bob.client.expect("call.ended", call_id=ack["call_id"])
    assert ended["reason"] == "forwarded"
    await carol.client.expect("call.incoming", call_id=ack["call_id"], forwarding="cfb")
    assert not alice.client.has("call.ended", call_id=ack["call_id"])
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})


async def test_no_reply_forwards_after_the_users_timer(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    bob = await subscriber("forwarding")
    carol = await subscriber()
    await set_services(server, bob, cfnry=carol.number, cfnry_timer_s=8)
    ack = await invite(alice, bob)
    await bob.client.expect("call.incoming", call_id=ack["call_id"])
    await server.advance(7)
    assert not carol.client.has("call.incoming")
    await server.advance(1)
    assert (await bob.client.expect("call.ended", call_id=ack["call_id"]))["reason"] == "forwarded"
    incoming = await carol.client.expect("call.incoming", call_id=ack["call_id"])
    assert (incoming["forwarded_by"], incoming["forwarding"]) == (bob.e164, "cfnry")
    await carol.client.request("call.answer", {"call_id": ack["call_id"], "sdp": FAKE_SDP})
    await alice.client.expect("call.answered", call_id=ack["call_id"])
    await alice.client.request("call.media", {"call_id": ack["call_id"], "state": "connected"})
    await server.advance(2)
    await alice.client.request("call.hangup", {"call_id": ack["call_id"]})
    first, leg = await records_of(server, ack["call_id"])
    assert (leg.caller_id, leg.callee_id, leg.forwarding) == (bob.user_id, carol.user_id, "cfnry")
    assert first.billable_seconds == leg.billable_seconds == 2


async def test_the_no_reply_timer_defaults_to_20_seconds_and_stays_within_5_to_30(
    server: InProcessServer, subscriber: Make
) -> None:
    bob = await subscriber("forwarding")
    carol = await subscriber()
    view = await set_services(server, bob, cfnry=carol.number)
    assert view["services"]["cfnry_timer_s"] == 20
    for wrong in (4, 31):
        resp = await api(server, bob, "PUT", "/services", {"cfnry_timer_s": wrong})
        assert resp.status_code == 422


async def test_an_unreachable_callee_forwards_when_not_reachable(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    bob = await subscriber("forwarding", online=False)
    carol = await subscriber()
    await set_services(server, bob, cfnrc=carol.number)
    ack = await invite(alice, bob)
    incoming = await carol.client.expect("call.incoming", call_id=ack["call_id"])
    assert incoming["forwarding"] == "cfnrc"
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})


async def test_forwarding_chains_until_someone_answers(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    bob = await subscriber("forwarding")
    carol = await subscriber("forwarding", online=False)
    dave = await subscriber()
    await set_services(server, bob, cfu=carol.number)
    await set_services(server, carol, cfnrc=dave.number)
    ack = await invite(alice, bob)
    incoming = await dave.client.expect("call.incoming", call_id=ack["call_id"])
    assert (incoming["forwarded_by"], incoming["forwarding"]) == (carol.e164, "cfnrc")
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})
    _, leg1, leg2 = await records_of(server, ack["call_id"])
    assert (leg1.caller_id, leg1.forwarding) == (bob.user_id, "cfu")
    assert (leg2.caller_id, leg2.forwarding, leg2.calling_number) == (
        carol.user_id,
        "cfnrc",
        alice.e164,
    )


async def test_a_forwarding_loop_is_refused_with_a_cause(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    bob = await subscriber("forwarding")
    carol = await subscriber("forwarding")
    await set_services(server, bob, cfu=carol.number)
    await set_services(server, carol, cfu=bob.number)
    ack = await invite(alice, bob)
    assert (ack["ended"]["outcome"], ack["ended"]["reason"]) == ("unreachable", "forwarding_loop")
    first, leg = await records_of(server, ack["call_id"])
    assert first.cause == leg.cause == 25  # exchange routing error
    assert not carol.client.has("call.incoming") and not bob.client.has("call.incoming")


async def test_forwarding_stops_after_five_hops(server: InProcessServer, subscriber: Make) -> None:
    alice = await subscriber()
    chain = [await subscriber("forwarding") for _ in range(7)]
    for here, there in pairwise(chain):
        await set_services(server, here, cfu=there.number)
    ack = await invite(alice, chain[0])
    assert ack["ended"]["reason"] == "forwarding_loop"
    assert len(await records_of(server, ack["call_id"])) == 6  # the call and five hops


async def test_five_hops_are_allowed(server: InProcessServer, subscriber: Make) -> None:
    alice = await subscriber()
    chain = [await subscriber("forwarding") for _ in range(6)]
    for here, there in pairwise(chain):
        await set_services(server, here, cfu=there.number)
    ack = await invite(alice, chain[0])
    assert "ended" not in ack
    await chain[-1].client.expect("call.incoming", call_id=ack["call_id"])
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})


async def test_each_party_sees_how_the_call_was_forwarded_in_their_history(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    bob = await subscriber("forwarding")
    carol = await subscriber("forwarding")
    dave = await subscriber()
    await set_services(server, bob, cfu=carol.number)
    await set_services(server, carol, cfu=dave.number)
    ack = await invite(alice, bob)
    await dave.client.expect("call.incoming", call_id=ack["call_id"])
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})
    first, to_carol, to_dave = await records_of(server, ack["call_id"])

    async def history(who: Subscriber) -> dict[str, dict]:
        resp = await api(server, who, "GET", "/calls")
        assert resp.status_code == 200, resp.text
        return {item["id"]: item for item in resp.json()["items"]}

    def links(item: dict) -> tuple:
        return item["direction"], item["forwarding"], item["forwarded_by"], item["forwarded_to"]

    # the caller is not told where the callee forwards their calls
    assert {k: links(v) for k, v in (await history(alice)).items()} == {
        first.id: ("outgoing", None, None, None)
    }
    assert {k: links(v) for k, v in (await history(bob)).items()} == {
        first.id: ("incoming", None, None, {"number": carol.e164, "forwarding": "cfu"}),
        to_carol.id: ("outgoing", "cfu", bob.e164, None),
    }
    assert {k: links(v) for k, v in (await history(carol)).items()} == {
        to_carol.id: ("incoming", "cfu", bob.e164, {"number": dave.e164, "forwarding": "cfu"}),
        to_dave.id: ("outgoing", "cfu", carol.e164, None),
    }
    seen = await history(dave)
    assert {k: links(v) for k, v in seen.items()} == {
        to_dave.id: ("incoming", "cfu", carol.e164, None)
    }
    assert seen[to_dave.id]["calling_number"] == alice.e164
    # one call looked up on its own says the same
    resp = await api(server, carol, "GET", f"/calls/{to_carol.id}")
    assert links(resp.json()) == links((await history(carol))[to_carol.id])
