"""Call waiting (TS 22.083): a user in an answered call is rung by a second call as a waiting
call, and answers it holding or ending the first, rejects it (busy, forwarded on busy) or lets
it ring (forwarded on no reply or busy); one waiting call at most; a held call runs on and is
billed, and is resumed or swapped; without call waiting, busy as before (SQLite and
PostgreSQL, a server on a clock the test moves)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.integration.accounts.conftest import run_cli
from tests.integration.supplementary.conftest import (
    Make,
    Subscriber,
    api,
    records_of,
    set_services,
)
from tests.support.inprocess import InProcessServer
from tests.support.wsclient import FAKE_SDP, WsError
from yuntong.billing.ledger.accounts import account_for_user
from yuntong.billing.ledger.usage import do_collect_call_usage
from yuntong.billing.models import Subscription, UsageRecord
from yuntong.presence.service import status_of


async def invite(caller: Subscriber, callee: Subscriber) -> dict:
    ack: dict = await caller.client.request(
        "call.invite", {"to": callee.number, "media": "audio", "sdp": FAKE_SDP}
    )
    return ack


async def in_call(caller: Subscriber, callee: Subscriber) -> str:
    """A call ``callee`` answered and whose media connected; its id."""
    ack = await invite(caller, callee)
    assert "ended" not in ack, ack
    call_id: str = ack["call_id"]
    incoming = await callee.client.expect("call.incoming", call_id=call_id)
    assert "waiting" not in incoming
    await callee.client.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await caller.client.expect("call.answered", call_id=call_id)
    await caller.client.request("call.media", {"call_id": call_id, "state": "connected"})
    await callee.client.expect("call.connected", call_id=call_id)
    return call_id


async def waiting_call(caller: Subscriber, callee: Subscriber) -> str:
    """A call that rings ``callee`` (in a call) as a waiting call; its id."""
    ack = await invite(caller, callee)
    assert "ended" not in ack, ack
    call_id: str = ack["call_id"]
    incoming = await callee.client.expect("call.incoming", call_id=call_id)
    assert (incoming["waiting"], incoming["answer_modes"]) == (True, ["hold", "end"])
    return call_id


async def pass_time(server: InProcessServer, seconds: float, *people: Subscriber) -> None:
    """Move the clock, ``people``'s sockets heard from every 15 s (as their heartbeats are)."""
    while seconds > 0:
        step = min(seconds, 15)
        await server.advance(step)
        seconds -= step
        for who in people:
            await who.client.request("ping")


async def with_waiting(subscriber: Make, server: InProcessServer, *more: str) -> Subscriber:
    """A subscriber who ordered call waiting (and ``more``) and switched it on."""
    who = await subscriber("waiting", *more)
    assert (await set_services(server, who, waiting=True))["services"]["waiting"] is True
    return who


async def test_a_second_call_rings_a_user_in_a_call_as_waiting_and_the_caller_is_told(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol = await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server)
    first = await in_call(alice, bob)
    second = await waiting_call(carol, bob)
    await bob.client.request("call.ringing", {"call_id": second})
    assert (await carol.client.expect("call.ringing", call_id=second))["waiting"] is True
    assert await status_of(server.app_context, bob.user_id) == "busy"
    await carol.client.request("call.cancel", {"call_id": second})
    await bob.client.expect("call.ended", call_id=second)
    assert not alice.client.has("call.ended") and not alice.client.has("call.held")
    await alice.client.request("call.hangup", {"call_id": first})
    await bob.client.expect("call.ended", call_id=first)
    assert await status_of(server.app_context, bob.user_id) == "online"


async def test_answering_a_waiting_call_and_ending_the_first(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol = await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server)
    first = await in_call(alice, bob)
    await server.advance(6)
    second = await waiting_call(carol, bob)
    await bob.client.request("call.answer", {"call_id": second, "sdp": FAKE_SDP, "mode": "end"})
    ended = await alice.client.expect("call.ended", call_id=first)
    assert (ended["outcome"], ended["reason"], ended["hung_up_by"]) == (
        "answered",
        "hangup",
        bob.user_id,
    )
    assert ended["billable_seconds"] == 6
    await carol.client.expect("call.answered", call_id=second)
    await carol.client.request("call.media", {"call_id": second, "state": "connected"})
    await server.advance(3)
    await carol.client.request("call.hangup", {"call_id": second})
    await bob.client.expect("call.ended", call_id=second)
    (one,) = await records_of(server, first)
    (two,) = await records_of(server, second)
    assert (one.outcome, one.hung_up_by, one.billable_seconds, one.cause) == (
        "answered",
        bob.user_id,
        6,
        16,
    )
    assert (two.outcome, two.billable_seconds) == ("answered", 3)


async def test_answering_a_waiting_call_holds_the_first_which_runs_on_is_resumed_and_billed(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol = await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server)
    first = await in_call(alice, bob)
    await server.advance(2)
    second = await waiting_call(carol, bob)
    await bob.client.request("call.answer", {"call_id": second, "sdp": FAKE_SDP, "mode": "hold"})
    # both parties of the first call are told it is held; only bob may resume it
    held_alice = await alice.client.expect("call.held", call_id=first)
    held_bob = await bob.client.expect("call.held", call_id=first)
    assert (held_alice["on_hold"], held_alice["can_resume"]) == (True, False)
    assert (held_bob["on_hold"], held_bob["can_resume"]) == (True, True)
    await carol.client.expect("call.answered", call_id=second)
    await carol.client.request("call.media", {"call_id": second, "state": "connected"})
    with_carol = await bob.client.expect("call.connected", call_id=second)
    assert with_carol["call_id"] == second
    # alice cannot resume bob's hold
    with pytest.raises(WsError) as refused:
        await alice.client.request("call.resume", {"call_id": first})
    assert refused.value.code == "call_not_held"
    await server.advance(5)

    # swap: bob takes alice back, carol is held in her place
    await bob.client.request("call.resume", {"call_id": first})
    resumed = await alice.client.expect("call.resumed", call_id=first)
    assert (resumed["on_hold"], resumed["can_resume"]) == (False, False)
    await bob.client.expect("call.resumed", call_id=first)
    held_carol = await carol.client.expect("call.held", call_id=second)
    assert (held_carol["on_hold"], held_carol["can_resume"]) == (True, False)
    assert (await bob.client.expect("call.held", call_id=second))["can_resume"] is True
    await server.advance(4)

    # the first call ends; bob resumes carol, whose call ran on while held
    await alice.client.request("call.hangup", {"call_id": first})
    await bob.client.expect("call.ended", call_id=first)
    await bob.client.request("call.resume", {"call_id": second})
    assert (await carol.client.expect("call.resumed", call_id=second))["on_hold"] is False
    await server.advance(1)
    await bob.client.request("call.hangup", {"call_id": second})
    await carol.client.expect("call.ended", call_id=second)

    (one,) = await records_of(server, first)
    (two,) = await records_of(server, second)
    # every second of each call counts, the held ones too
    assert (one.outcome, one.billable_seconds, one.hung_up_by) == ("answered", 11, alice.user_id)
    assert (two.outcome, two.billable_seconds, two.hung_up_by) == ("answered", 10, bob.user_id)
    await do_collect_call_usage(server.app_context)
    async with (await server.context()).db.session() as s:
        query = select(UsageRecord).where(UsageRecord.source_id.in_([first, second]))
        billed = {u.source_id: u.user_id for u in (await s.execute(query)).scalars()}
    assert billed == {first: alice.user_id, second: carol.user_id}  # each caller pays their call
    assert await status_of(server.app_context, bob.user_id) == "online"


async def test_rejecting_a_waiting_call_is_user_busy_for_the_caller(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol = await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server)
    first = await in_call(alice, bob)
    second = await waiting_call(carol, bob)
    await bob.client.request("call.reject", {"call_id": second})
    ended = await carol.client.expect("call.ended", call_id=second)
    assert (ended["outcome"], ended["reason"]) == ("busy", "waiting_rejected")
    (record,) = await records_of(server, second)
    assert (record.outcome, record.cause) == ("busy", 17)  # Q.850 user busy
    assert not alice.client.has("call.ended") and not alice.client.has("call.held")
    await bob.client.request("call.hangup", {"call_id": first})
    await alice.client.expect("call.ended", call_id=first)


async def test_a_rejected_waiting_call_forwards_on_busy(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol, dave = await subscriber(), await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server, "forwarding")
    await set_services(server, bob, cfb=dave.number)
    first = await in_call(alice, bob)
    second = await waiting_call(carol, bob)
    await bob.client.request("call.reject", {"call_id": second})
    assert (await bob.client.expect("call.ended", call_id=second))["reason"] == "forwarded"
    incoming = await dave.client.expect("call.incoming", call_id=second)
    assert (incoming["forwarding"], incoming["forwarded_by"]) == ("cfb", bob.e164)
    assert "waiting" not in incoming  # dave is in no call: it rings him as usual
    await dave.client.request("call.answer", {"call_id": second, "sdp": FAKE_SDP})
    await carol.client.expect("call.answered", call_id=second)
    await carol.client.request("call.hangup", {"call_id": second})
    _, leg = await records_of(server, second)
    assert (leg.caller_id, leg.callee_id, leg.forwarding) == (bob.user_id, dave.user_id, "cfb")
    await alice.client.request("call.hangup", {"call_id": first})


async def test_an_unanswered_waiting_call_forwards_on_busy_after_the_ring_timer(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol, dave = await subscriber(), await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server, "forwarding")
    await set_services(server, bob, cfb=dave.number)
    first = await in_call(alice, bob)
    second = await waiting_call(carol, bob)
    await server.advance(server.settings.ring_timeout_s - 1)
    assert not dave.client.has("call.incoming")
    await server.advance(1)
    assert (await bob.client.expect("call.ended", call_id=second))["reason"] == "forwarded"
    assert (await dave.client.expect("call.incoming", call_id=second))["forwarding"] == "cfb"
    await carol.client.request("call.cancel", {"call_id": second})
    await alice.client.request("call.hangup", {"call_id": first})


async def test_an_unanswered_waiting_call_forwards_on_no_reply_when_set_else_ends_unanswered(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol, dave, erin = [await subscriber() for _ in range(4)]
    bob = await with_waiting(subscriber, server, "forwarding")
    await set_services(server, bob, cfnry=dave.number, cfb=erin.number, cfnry_timer_s=8)
    first = await in_call(alice, bob)
    second = await waiting_call(carol, bob)
    await server.advance(8)
    assert (await dave.client.expect("call.incoming", call_id=second))["forwarding"] == "cfnry"
    await carol.client.request("call.cancel", {"call_id": second})

    await set_services(server, bob, clear=["cfnry", "cfb"])
    third = await waiting_call(carol, bob)
    await pass_time(server, server.settings.ring_timeout_s, alice, bob, carol)
    ended = await carol.client.expect("call.ended", call_id=third)
    assert (ended["outcome"], ended["reason"]) == ("no_answer", "ring_timeout")
    assert not alice.client.has("call.ended")
    await alice.client.request("call.hangup", {"call_id": first})


async def test_one_call_waits_at_most_and_a_third_caller_is_busy(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol, dave = await subscriber(), await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server)
    first = await in_call(alice, bob)
    second = await waiting_call(carol, bob)
    refused = await invite(dave, bob)
    assert (refused["ended"]["outcome"], refused["ended"]["reason"]) == ("busy", "in_call")
    assert not bob.client.has("call.incoming", call_id=refused["call_id"])
    # also once the waiting call is answered (one call held, one active)
    await bob.client.request("call.answer", {"call_id": second, "sdp": FAKE_SDP})
    await alice.client.expect("call.held", call_id=first)  # holding is the default
    refused = await invite(dave, bob)
    assert refused["ended"]["outcome"] == "busy"
    await carol.client.request("call.hangup", {"call_id": second})
    await alice.client.request("call.hangup", {"call_id": first})


async def test_when_the_first_call_ends_the_waiting_call_rings_on_as_an_ordinary_call(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol, dave = await subscriber(), await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server)
    first = await in_call(alice, bob)
    second = await waiting_call(carol, bob)
    await alice.client.request("call.hangup", {"call_id": first})
    await bob.client.expect("call.ended", call_id=first)
    told = await bob.client.expect("call.waiting", call_id=second)
    assert (told["waiting"], told["answer_modes"]) == (False, [])
    assert await status_of(server.app_context, bob.user_id) == "busy"  # ringing still
    # a call that no longer waits is declined as an ordinary call, and answered as one
    await bob.client.request("call.answer", {"call_id": second, "sdp": FAKE_SDP, "mode": "end"})
    await carol.client.expect("call.answered", call_id=second)
    await carol.client.request("call.media", {"call_id": second, "state": "connected"})
    # bob's busy mark moved to the second call: a new caller waits behind it
    third = await waiting_call(dave, bob)
    await bob.client.request("call.reject", {"call_id": third})
    await dave.client.expect("call.ended", call_id=third, outcome="busy")
    await carol.client.request("call.hangup", {"call_id": second})
    await bob.client.expect("call.ended", call_id=second)
    assert await status_of(server.app_context, bob.user_id) == "online"


async def test_a_waiting_call_declined_after_the_first_ended_is_rejected_as_usual(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol = await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server)
    first = await in_call(alice, bob)
    second = await waiting_call(carol, bob)
    await bob.client.request("call.hangup", {"call_id": first})
    await bob.client.expect("call.waiting", call_id=second)
    await bob.client.request("call.reject", {"call_id": second})
    ended = await carol.client.expect("call.ended", call_id=second)
    assert (ended["outcome"], ended["reason"]) == ("rejected", "rejected")


async def test_without_call_waiting_a_second_call_is_busy_as_before(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol, dave = await subscriber(), await subscriber(), await subscriber()
    bob = await subscriber("waiting")  # ordered, not switched on
    first = await in_call(alice, bob)
    refused = await invite(carol, bob)
    assert (refused["ended"]["outcome"], refused["ended"]["reason"]) == ("busy", "in_call")
    await alice.client.request("call.hangup", {"call_id": first})
    # with call waiting on, a callee whose call still rings is busy too
    await set_services(server, bob, waiting=True)
    ringing = await invite(alice, bob)
    await bob.client.expect("call.incoming", call_id=ringing["call_id"])
    refused = await invite(carol, bob)
    assert refused["ended"]["outcome"] == "busy"
    await alice.client.request("call.cancel", {"call_id": ringing["call_id"]})
    # and so is a user placing a call that is not answered yet
    placing = await invite(bob, dave)
    await dave.client.expect("call.incoming", call_id=placing["call_id"])
    refused = await invite(carol, bob)
    assert refused["ended"]["outcome"] == "busy"
    await bob.client.request("call.cancel", {"call_id": placing["call_id"]})


async def test_call_waiting_must_be_ordered_and_has_keypad_codes(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    resp = await api(server, alice, "PUT", "/services", {"waiting": True})
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "service_not_ordered")
    resp = await api(server, alice, "POST", "/services/mmi", {"code": "*43#"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "service_not_ordered")

    bob = await subscriber("waiting")
    view = (await api(server, bob, "GET", "/services")).json()
    assert (view["services"]["waiting"], view["ordered"]) == (False, ["waiting"])
    for code, active in (("*43#", True), ("*#43#", True), ("#43#", False), ("*#43#", False)):
        resp = await api(server, bob, "POST", "/services/mmi", {"code": code})
        assert resp.status_code == 200, resp.text
        done = resp.json()
        assert (done["service"], done["active"], done["profile"]["waiting"]) == (
            "waiting",
            active,
            active,
        )


async def test_call_waiting_from_the_command_line(
    server: InProcessServer, subscriber: Make
) -> None:
    ctx = server.app_context
    bob, carol = await subscriber("waiting"), await subscriber()
    # the CLI runs on the wall clock, the shared server on a fake one other tests moved ahead
    account = await account_for_user(ctx, bob.user_id)
    async with (await server.context()).db.session() as s:
        await s.execute(
            update(Subscription)
            .where(Subscription.account_id == account.id)
            .values(starts_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    done = await run_cli(ctx, "services", "set", bob.username, "waiting=on")
    assert done.exit_code == 0, done.output
    assert "waiting=True" in done.output
    shown = await run_cli(ctx, "services", "show", bob.username)
    assert "ordered: waiting" in shown.output
    refused = await run_cli(ctx, "services", "set", carol.username, "waiting=on")
    assert refused.exit_code == 1
    assert "service_not_ordered" in refused.output
