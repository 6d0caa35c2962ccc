"""A device that says goodbye (closes its socket cleanly, or logs out) is gone at once.

Issue 12: a callee who closed the app or logged out rang on for the whole ring time-out and
the call ended ``no_answer``. The reconnect grace period is for connections that drop.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.integration.calls.conftest import Connect
from tests.support.inprocess import InProcessServer
from tests.support.wsclient import FAKE_SDP, WsClient

# the server's clock does not move unless a test moves it: no grace period and no ring
# time-out can pass within this bound, which is only for messages to arrive
AT_ONCE_S = 5


async def ring(caller: WsClient, callee: WsClient) -> str:
    ack = await caller.request(
        "call.invite", {"to": callee.username, "media": "audio", "sdp": FAKE_SDP}
    )
    assert "ended" not in ack, ack
    await callee.expect("call.incoming", call_id=ack["call_id"])
    await callee.request("call.ringing", {"call_id": ack["call_id"]})
    await caller.expect("call.ringing", call_id=ack["call_id"])
    return str(ack["call_id"])


async def outgoing(server: InProcessServer, client: WsClient) -> dict:
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.get("/api/v1/calls", headers={"Authorization": f"Bearer {client.token}"})
        resp.raise_for_status()
        return dict(resp.json()["items"][0])


async def test_callee_closing_the_app_ends_the_ringing_call_as_unreachable_at_once(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await ring(alice, bob)
    await bob.close()
    ended = await alice.expect("call.ended", timeout=AT_ONCE_S, call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("unreachable", "offline")
    record = await outgoing(server, alice)
    assert (record["outcome"], record["end_reason"]) == ("unreachable", "offline")


async def test_callee_logging_out_ends_the_ringing_call_as_unreachable_at_once(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await ring(alice, bob)
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/auth/logout", headers={"Authorization": f"Bearer {bob.token}"}
        )
        assert resp.status_code == 204
    ended = await alice.expect("call.ended", timeout=AT_ONCE_S, call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("unreachable", "offline")
    # the logged-out session's socket is closed by the server, not left signed in
    await asyncio.wait_for(bob.closed.wait(), AT_ONCE_S)
    assert bob.ws.close_code == 4401


async def test_logging_out_leaves_the_users_other_sessions_alone(
    server: InProcessServer, connect: Connect
) -> None:
    alice = await connect()
    bob_phone = await connect(device="phone")
    bob_laptop = await connect(bob_phone.username, device="laptop")
    # a second sign-in of bob: a session of its own
    bob_laptop.token = await server.login(bob_phone.username)
    await bob_laptop.close()
    await bob_laptop.connect()
    call_id = await ring(alice, bob_phone)
    await bob_laptop.expect("call.incoming", call_id=call_id)
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/auth/logout", headers={"Authorization": f"Bearer {bob_phone.token}"}
        )
        assert resp.status_code == 204
    await asyncio.wait_for(bob_phone.closed.wait(), AT_ONCE_S)
    await asyncio.sleep(0.5)
    assert not alice.has("call.ended", call_id=call_id)
    assert not bob_laptop.closed.is_set()
    await bob_laptop.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.expect("call.answered", call_id=call_id)


async def test_a_ringing_call_goes_on_while_another_device_of_the_callee_is_left(
    connect: Connect,
) -> None:
    alice = await connect()
    bob_phone = await connect(device="phone")
    bob_laptop = await connect(bob_phone.username, device="laptop")
    call_id = await ring(alice, bob_phone)
    await bob_laptop.expect("call.incoming", call_id=call_id)
    await bob_phone.close()
    await asyncio.sleep(0.5)
    assert not alice.has("call.ended", call_id=call_id)
    await bob_laptop.close()
    ended = await alice.expect("call.ended", timeout=AT_ONCE_S, call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("unreachable", "offline")


async def test_caller_closing_the_app_cancels_the_ringing_call_at_once(
    connect: Connect,
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await ring(alice, bob)
    await alice.close()
    ended = await bob.expect("call.ended", timeout=AT_ONCE_S, call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("canceled", "connection_lost")


@pytest.mark.parametrize("leaver", ["caller", "callee"])
async def test_closing_the_app_in_a_call_ends_it_at_once(connect: Connect, leaver: str) -> None:
    alice, bob = await connect(), await connect()
    call_id = await ring(alice, bob)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.expect("call.answered", call_id=call_id)
    await alice.request("call.media", {"call_id": call_id, "state": "connected"})
    await bob.expect("call.connected", call_id=call_id)
    gone, other = (alice, bob) if leaver == "caller" else (bob, alice)
    await gone.close()
    ended = await other.expect("call.ended", timeout=AT_ONCE_S, call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "connection_lost")


async def test_a_dropped_connection_keeps_the_grace_period(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await ring(alice, bob)
    await bob.drop()  # no close frame: a network change, not a goodbye
    await server.seen_dropped(bob)
    assert server.settings.reconnect_grace_s < server.settings.ring_timeout_s
    await server.advance(server.settings.reconnect_grace_s - 1)
    assert not alice.has("call.ended", call_id=call_id)
    await bob.connect(resume=True)
    assert bob.hello["resumed"] is True
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.expect("call.answered", call_id=call_id)


async def two_sessions(server: InProcessServer, connect: Connect) -> tuple[WsClient, WsClient]:
    """Bob signed in twice: a phone and a laptop, each on a login session of its own."""
    phone = await connect(device="phone")
    laptop = await connect(phone.username, device="laptop")
    laptop.token = await server.login(phone.username)
    await laptop.close()
    await laptop.connect()
    return phone, laptop


async def as_user(server: InProcessServer, client: WsClient, method: str, path: str, **kw: object):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.request(
            method, path, headers={"Authorization": f"Bearer {client.token}"}, **kw
        )
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else None


async def test_a_session_revoked_from_the_sessions_list_is_disconnected_at_once(
    server: InProcessServer, connect: Connect
) -> None:
    """Bob lost his phone: from the laptop he ends the phone's session. The phone's socket is
    closed (4401) and stops ringing at once; the laptop goes on."""
    alice = await connect()
    phone, laptop = await two_sessions(server, connect)
    sessions = await as_user(server, laptop, "GET", "/api/v1/me/sessions")
    other = [s["id"] for s in sessions if not s["current"]]
    assert len(other) == 1
    call_id = await ring(alice, phone)
    await laptop.expect("call.incoming", call_id=call_id)
    await as_user(server, laptop, "DELETE", f"/api/v1/me/sessions/{other[0]}")
    await asyncio.wait_for(phone.closed.wait(), AT_ONCE_S)
    assert phone.ws.close_code == 4401
    await asyncio.sleep(0.5)
    assert not laptop.closed.is_set()
    await laptop.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.expect("call.answered", call_id=call_id)


async def test_changing_the_password_disconnects_the_other_sessions_at_once(
    server: InProcessServer, connect: Connect
) -> None:
    """A password change ends every other session: their sockets close (4401) at once, the
    session the change was made from stays connected."""
    phone, laptop = await two_sessions(server, connect)
    changed = await as_user(
        server,
        laptop,
        "POST",
        "/api/v1/me/password",
        json={"current_password": "correct horse battery", "new_password": "a new Passw0rd!x"},
    )
    assert changed["sessions_revoked"] == 1
    await asyncio.wait_for(phone.closed.wait(), AT_ONCE_S)
    assert phone.ws.close_code == 4401
    await asyncio.sleep(0.5)
    assert not laptop.closed.is_set()
