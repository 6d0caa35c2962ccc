"""Call barring (TS 22.088): all outgoing, all incoming, a blacklist and a whitelist of calling
numbers, anonymous calls; a barred call ends at once with its cause; every change needs the
4-digit barring PIN, which is kept hashed and locked after wrong attempts (SQLite and
PostgreSQL)."""

from __future__ import annotations

from tests.integration.supplementary.conftest import (
    Make,
    Subscriber,
    api,
    records_of,
    set_services,
)
from tests.support.inprocess import InProcessServer
from tests.support.wsclient import FAKE_SDP
from yuntong.supplementary.models import ServiceSettings

PIN = "2468"


async def with_pin(server: InProcessServer, who: Subscriber) -> None:
    resp = await api(server, who, "PUT", "/services/pin", {"new_pin": PIN})
    assert resp.status_code == 204, resp.text


async def invite(caller: Subscriber, callee: Subscriber, **extra: object) -> dict:
    ack: dict = await caller.client.request(
        "call.invite", {"to": callee.number, "media": "audio", "sdp": FAKE_SDP, **extra}
    )
    return ack


async def barred(server: InProcessServer, ack: dict, reason: str, cause: int) -> None:
    assert (ack["ended"]["outcome"], ack["ended"]["reason"]) == ("rejected", reason)
    (record,) = await records_of(server, ack["call_id"])
    assert record.cause == cause


async def test_barring_all_outgoing_ends_the_callers_calls_with_cause_52(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber("barring")
    bob = await subscriber()
    await with_pin(server, alice)
    await set_services(server, alice, bar_outgoing=True, barring_pin=PIN)
    await barred(server, await invite(alice, bob), "barred_outgoing", 52)
    assert not bob.client.has("call.incoming")
    await set_services(server, alice, bar_outgoing=False, barring_pin=PIN)
    ack = await invite(alice, bob)
    await bob.client.expect("call.incoming", call_id=ack["call_id"])
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})


async def test_barring_all_incoming_refuses_every_caller_with_cause_54(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    bob = await subscriber("barring")
    await with_pin(server, bob)
    await set_services(server, bob, bar_incoming=True, barring_pin=PIN)
    await barred(server, await invite(alice, bob), "barred_incoming", 54)
    assert not bob.client.has("call.incoming")


async def test_a_blacklist_bars_its_numbers_and_a_whitelist_all_others(
    server: InProcessServer, subscriber: Make
) -> None:
    alice = await subscriber()
    carol = await subscriber()
    bob = await subscriber("barring")
    await with_pin(server, bob)
    await set_services(
        server,
        bob,
        incoming_list_mode="blacklist",
        incoming_list=[alice.number],
        barring_pin=PIN,
    )
    await barred(server, await invite(alice, bob), "barred_incoming", 54)
    ack = await invite(carol, bob)
    await bob.client.expect("call.incoming", call_id=ack["call_id"])
    await carol.client.request("call.cancel", {"call_id": ack["call_id"]})
    await set_services(server, bob, incoming_list_mode="whitelist", barring_pin=PIN)
    await barred(server, await invite(carol, bob), "barred_incoming", 54)
    ack = await invite(alice, bob)
    await bob.client.expect("call.incoming", call_id=ack["call_id"])
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})


async def test_anonymous_call_rejection(server: InProcessServer, subscriber: Make) -> None:
    alice = await subscriber("clir")
    bob = await subscriber("barring")
    await set_services(server, alice, clir_mode="temporary")
    await with_pin(server, bob)
    await set_services(server, bob, bar_anonymous=True, barring_pin=PIN)
    await barred(server, await invite(alice, bob, clir=True), "anonymous_rejected", 24)
    ack = await invite(alice, bob)  # shown: rings
    await bob.client.expect("call.incoming", call_id=ack["call_id"])
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})


async def test_barring_changes_need_the_pin_which_locks_after_three_wrong_tries(
    server: InProcessServer, subscriber: Make
) -> None:
    bob = await subscriber("barring")

    async def change(pin: str | None) -> tuple[int, str]:
        body = {"bar_incoming": True, **({"barring_pin": pin} if pin else {})}
        resp = await api(server, bob, "PUT", "/services", body)
        return resp.status_code, resp.json().get("error", {}).get("code", "")

    assert await change("1111") == (403, "barring_pin_required")
    assert (await api(server, bob, "PUT", "/services/pin", {"new_pin": "12a4"})).json()["error"][
        "code"
    ] == "barring_pin_invalid"
    await with_pin(server, bob)
    async with (await server.context()).db.session() as s:
        row = await s.get(ServiceSettings, bob.user_id)
        assert row is not None and row.pin_hash and PIN not in row.pin_hash  # hashed
    assert await change(None) == (403, "barring_pin_wrong")
    assert await change("0000") == (403, "barring_pin_wrong")
    assert await change("0001") == (403, "barring_pin_wrong")
    assert await change(PIN) == (429, "barring_pin_locked")  # even the right one, for a while
    await server.advance(15 * 60)
    assert await change(PIN) == (200, "")
    # changing the PIN needs the old one
    resp = await api(server, bob, "PUT", "/services/pin", {"new_pin": "1357"})
    assert resp.json()["error"]["code"] == "barring_pin_wrong"
    resp = await api(server, bob, "PUT", "/services/pin", {"old_pin": PIN, "new_pin": "1357"})
    assert resp.status_code == 204
