"""Hold periods are recorded with the call (``call_holds``): each hold's holder, start and end,
in both parties' history (API), an open hold closed when the call ends — by a hang-up, or by
the recovery of a call its server left open (SQLite and PostgreSQL, a clock the test moves)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.integration.supplementary.conftest import Make, Subscriber, api
from tests.integration.supplementary.test_call_waiting import in_call, waiting_call, with_waiting
from tests.support.inprocess import InProcessServer
from tests.support.wsclient import FAKE_SDP
from yuntong.calls.engine import _cancel_timers, do_checkpoint_calls, engine_of
from yuntong.calls.recovery import do_close_interrupted_calls


async def history_entry(server: InProcessServer, who: Subscriber, call_id: str) -> dict[str, Any]:
    """The call as ``who`` sees it in their history, and as one call (they must agree)."""
    resp = await api(server, who, "GET", "/calls")
    assert resp.status_code == 200, resp.text
    (found,) = [item for item in resp.json()["items"] if item["id"] == call_id]
    one = await api(server, who, "GET", f"/calls/{call_id}")
    assert one.status_code == 200, one.text
    assert one.json()["holds"] == found["holds"]
    return found


def periods(entry: dict[str, Any], start: datetime) -> list[tuple[str, float, float | None]]:
    """Each hold as (who held it, seconds from ``start`` to its start, to its end)."""

    def at(value: str | None) -> float | None:
        return None if value is None else (datetime.fromisoformat(value) - start).total_seconds()

    return [(h["held_by"], at(h["started_at"]), at(h["ended_at"])) for h in entry["holds"]]


async def test_each_hold_is_recorded_with_its_holder_and_times_and_one_open_at_the_end_closes(
    server: InProcessServer, subscriber: Make
) -> None:
    alice, carol = await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server)
    first = await in_call(alice, bob)
    start = server.app_context.clock.now()
    await server.advance(2)
    second = await waiting_call(carol, bob)
    await bob.client.request("call.answer", {"call_id": second, "sdp": FAKE_SDP, "mode": "hold"})
    await alice.client.expect("call.held", call_id=first)
    await carol.client.expect("call.answered", call_id=second)
    assert periods(await history_entry(server, bob, first), start) == [("self", 2, None)]
    await server.advance(3)
    await bob.client.request("call.resume", {"call_id": first})  # a swap: carol is held
    await alice.client.expect("call.resumed", call_id=first)
    await carol.client.expect("call.held", call_id=second)
    await server.advance(2)
    await alice.client.request("call.hangup", {"call_id": first})
    await bob.client.expect("call.ended", call_id=first)
    await server.advance(3)
    await carol.client.request("call.hangup", {"call_id": second})  # bob still holds it
    await bob.client.expect("call.ended", call_id=second)

    assert periods(await history_entry(server, bob, first), start) == [("self", 2, 5)]
    seen_by_alice = await history_entry(server, alice, first)
    assert periods(seen_by_alice, start) == [("other", 2, 5)]
    assert [h["user_id"] for h in seen_by_alice["holds"]] == [bob.user_id]
    assert seen_by_alice["billable_seconds"] == 7  # held time is billed as usual
    # the hold open when carol hung up closed with the call
    assert periods(await history_entry(server, carol, second), start) == [("other", 5, 10)]
    assert periods(await history_entry(server, bob, second), start) == [("self", 5, 10)]


async def test_a_call_never_held_has_no_holds(server: InProcessServer, subscriber: Make) -> None:
    alice, bob = await subscriber(), await subscriber()
    call_id = await in_call(alice, bob)
    await alice.client.request("call.hangup", {"call_id": call_id})
    await bob.client.expect("call.ended", call_id=call_id)
    assert (await history_entry(server, alice, call_id))["holds"] == []


async def crash(server: InProcessServer, call_id: str) -> None:
    """The server loses the call (as a crash would); its record stays open."""
    engine = engine_of(server.app_context)
    call = engine.calls[call_id]
    _cancel_timers(call)
    engine.remove(call)


async def test_recovery_closes_a_call_left_open_with_its_hold_when_the_call_ends(
    server: InProcessServer, subscriber: Make
) -> None:
    """Closed as interrupted at its last checkpoint: the hold open then ends then too."""
    alice, carol = await subscriber(), await subscriber()
    bob = await with_waiting(subscriber, server)
    ctx = server.app_context
    first = await in_call(alice, bob)
    start = ctx.clock.now()
    await server.advance(2)
    second = await waiting_call(carol, bob)
    await bob.client.request("call.answer", {"call_id": second, "sdp": FAKE_SDP, "mode": "hold"})
    await alice.client.expect("call.held", call_id=first)
    await server.advance(2)
    await do_checkpoint_calls(ctx)  # both alive 4 s in
    await server.advance(3)

    await crash(server, first)
    await crash(server, second)
    assert await do_close_interrupted_calls(ctx) == 2
    entry = await history_entry(server, bob, first)
    assert (entry["outcome"], entry["billable_seconds"]) == ("interrupted", 4)
    assert periods(entry, start) == [("self", 2, 4)]
    assert (await history_entry(server, bob, second))["holds"] == []
