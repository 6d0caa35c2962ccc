"""Every call outcome, seen from both ends and in the call records (SQLite and PostgreSQL).

The server runs in the test's loop on a clock the test moves: ring time-outs, media time-outs
and reconnect grace pass by ``server.advance``, not by waiting (the real clock is covered by
test_timers_on_the_real_clock)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.integration.calls.conftest import Connect
from tests.support.inprocess import InProcessServer
from tests.support.wsclient import FAKE_SDP, WsClient, WsError
from yuntong.accounts import directory
from yuntong.accounts import status as accounts_status
from yuntong.accounts.auth import principal_for


@pytest.fixture
def server(inprocess_server_any: InProcessServer) -> InProcessServer:
    return inprocess_server_any


async def history(server: InProcessServer, client: WsClient, **params: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.get(
            "/api/v1/calls",
            params=params,
            headers={"Authorization": f"Bearer {client.token}"},
        )
        resp.raise_for_status()
        return resp.json()["items"]


async def place(caller: WsClient, callee: WsClient, media: str = "video") -> str:
    ack = await caller.request(
        "call.invite", {"to": callee.username, "media": media, "sdp": FAKE_SDP}
    )
    assert "ended" not in ack, ack
    incoming = await callee.expect("call.incoming", call_id=ack["call_id"])
    assert incoming["media"] == media
    assert incoming["from"]["username"] == caller.username
    await callee.request("call.ringing", {"call_id": ack["call_id"]})
    await caller.expect("call.ringing", call_id=ack["call_id"])
    return str(ack["call_id"])


async def test_answered_call_is_recorded_with_billable_seconds_for_both(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    answered = await alice.expect("call.answered", call_id=call_id)
    assert answered["sdp"] == FAKE_SDP
    await alice.request("call.media", {"call_id": call_id, "state": "connected"})
    await bob.expect("call.connected", call_id=call_id)
    await server.advance(1.2)
    await alice.request("call.hangup", {"call_id": call_id})
    for side in (alice, bob):
        ended = await side.expect("call.ended", call_id=call_id)
        assert ended["outcome"] == "answered"
        assert ended["hung_up_by"] is not None
        assert ended["billable_seconds"] == 2  # 1.2 s rounds up to whole seconds
    out, inc = (await history(server, alice))[0], (await history(server, bob))[0]
    assert (out["id"], out["direction"], out["outcome"]) == (call_id, "outgoing", "answered")
    assert (inc["id"], inc["direction"], inc["missed"]) == (call_id, "incoming", False)
    assert 1200 <= out["duration_ms"] < 2500


async def test_rejected_call_ends_for_caller_as_rejected(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await bob.request("call.reject", {"call_id": call_id})
    assert (await alice.expect("call.ended", call_id=call_id))["outcome"] == "rejected"
    record = (await history(server, alice))[0]
    assert record["outcome"] == "rejected"
    assert record["billable_seconds"] == 0


async def test_caller_cancel_before_answer_is_a_missed_call(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await alice.request("call.cancel", {"call_id": call_id})
    assert (await bob.expect("call.ended", call_id=call_id))["outcome"] == "canceled"
    missed = await history(server, bob, direction="missed")
    assert [m["id"] for m in missed] == [call_id]


async def test_unanswered_call_times_out_as_no_answer(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await server.advance(server.settings.ring_timeout_s - 1)
    assert not alice.has("call.ended", call_id=call_id)
    await server.advance(1)
    ended = await alice.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("no_answer", "ring_timeout")
    assert (await bob.expect("call.ended", call_id=call_id))["outcome"] == "no_answer"


async def test_callee_in_a_call_is_busy(server: InProcessServer, connect: Connect) -> None:
    alice, bob, carol = await connect(), await connect(), await connect()
    await place(alice, bob)
    ack = await carol.request(
        "call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP}
    )
    assert ack["ended"]["outcome"] == "busy"
    assert not bob.has("call.incoming", call_id=ack["call_id"])
    assert (await history(server, carol))[0]["outcome"] == "busy"


async def test_do_not_disturb_makes_callee_busy(server: InProcessServer, connect: Connect) -> None:
    alice, bob = await connect(), await connect()
    assert (await bob.request("presence.set", {"status": "dnd"}))["status"] == "dnd"
    ack = await alice.request(
        "call.invite", {"to": bob.username, "media": "video", "sdp": FAKE_SDP}
    )
    assert (ack["ended"]["outcome"], ack["ended"]["reason"]) == ("busy", "dnd")


async def test_offline_callee_is_unreachable(server: InProcessServer, connect: Connect) -> None:
    alice = await connect()
    bob_name = "off" + alice.username
    await server.create_user(bob_name)
    ack = await alice.request("call.invite", {"to": bob_name, "media": "video", "sdp": FAKE_SDP})
    assert (ack["ended"]["outcome"], ack["ended"]["reason"]) == ("unreachable", "offline")
    assert (await history(server, alice))[0]["outcome"] == "unreachable"


async def test_blocked_caller_is_told_exactly_what_an_offline_callee_gives(
    server: InProcessServer, connect: Connect
) -> None:
    # issue 12: the blocked caller heard "unavailable", an offline callee gives "offline"
    alice, bob = await connect(), await connect()
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/blocks",
            json={"query": alice.username},
            headers={"Authorization": f"Bearer {bob.token}"},
        )
        assert resp.status_code == 201
    carol_name = "off" + alice.username
    await server.create_user(carol_name)
    blocked = await alice.request(
        "call.invite", {"to": bob.username, "media": "video", "sdp": FAKE_SDP}
    )
    offline = await alice.request(
        "call.invite", {"to": carol_name, "media": "video", "sdp": FAKE_SDP}
    )
    assert blocked["ended"] == {
        "call_id": blocked["call_id"],
        "outcome": "unreachable",
        "reason": "offline",
        "hung_up_by": None,
        "billable_seconds": 0,
    }
    assert offline["ended"] == {**blocked["ended"], "call_id": offline["call_id"]}
    events = [await alice.expect("call.ended", call_id=a["call_id"]) for a in (blocked, offline)]
    assert events == [blocked["ended"], offline["ended"]]
    await asyncio.sleep(0.3)
    assert not bob.has("call.incoming")
    records = {r["id"]: r for r in await history(server, alice)}
    to_bob, to_carol = records[blocked["call_id"]], records[offline["call_id"]]

    def seen(entry: dict) -> dict:
        return {
            k: v for k, v in entry.items() if k not in {"id", "other", "created_at", "ended_at"}
        }

    assert seen(to_bob) == seen(to_carol)
    assert to_bob["end_reason"] == "offline"
    assert await history(server, bob) == []


async def test_all_devices_ring_and_first_answer_wins(
    server: InProcessServer, connect: Connect
) -> None:
    alice = await connect()
    bob_phone = await connect(device="phone")
    bob_laptop = await connect(bob_phone.username, device="laptop")
    ack = await alice.request(
        "call.invite", {"to": bob_phone.username, "media": "video", "sdp": FAKE_SDP}
    )
    call_id = ack["call_id"]
    await bob_phone.expect("call.incoming", call_id=call_id)
    await bob_laptop.expect("call.incoming", call_id=call_id)
    await bob_laptop.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await bob_phone.expect("call.answered_elsewhere", call_id=call_id)
    await alice.expect("call.answered", call_id=call_id)
    with pytest.raises(WsError) as exc:
        await bob_phone.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    assert exc.value.code == "invalid_transition"
    # ICE from the caller now goes only to the answering device
    cand = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host", "sdpMid": "0"}
    await alice.request("call.ice", {"call_id": call_id, "candidate": cand})
    assert (await bob_laptop.expect("call.ice", call_id=call_id))["candidate"]["candidate"] == cand[
        "candidate"
    ]
    await asyncio.sleep(0.2)
    assert not bob_phone.has("call.ice")


async def test_hangup_before_answer_and_double_hangup_are_refused(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    with pytest.raises(WsError) as exc:
        await alice.request("call.hangup", {"call_id": call_id})
    assert exc.value.code == "invalid_transition"
    with pytest.raises(WsError) as exc:
        await bob.request("call.cancel", {"call_id": call_id})
    assert exc.value.code == "forbidden"
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await bob.request("call.hangup", {"call_id": call_id})
    with pytest.raises(WsError) as exc:
        await alice.request("call.hangup", {"call_id": call_id})
    assert exc.value.code == "call_not_found"


async def test_caller_vanishing_before_media_connects_fails_the_call(
    server: InProcessServer, connect: Connect
) -> None:
    # a dropped caller ends it after the reconnect grace, before the media time-out
    assert server.settings.reconnect_grace_s < server.settings.media_timeout_s
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.drop()
    await server.seen_dropped(alice)
    await server.advance(server.settings.reconnect_grace_s)
    ended = await bob.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("failed", "connection_lost")


async def test_vanished_client_in_call_is_ended_after_grace(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await bob.request("call.media", {"call_id": call_id, "state": "connected"})
    await bob.drop()
    await server.seen_dropped(bob)
    await server.advance(server.settings.reconnect_grace_s)
    ended = await alice.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "connection_lost")


async def test_reconnect_with_resume_keeps_the_call_and_replays_missed_events(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.expect("call.answered", call_id=call_id)
    await alice.drop()
    await bob.request("call.media", {"call_id": call_id, "state": "connected"})  # alice misses it
    await alice.connect(resume=True)
    assert alice.hello["resumed"] is True
    await alice.expect("call.connected", call_id=call_id)
    await alice.request("call.hangup", {"call_id": call_id})
    ended = await bob.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "hangup")


async def test_calling_a_user_who_does_not_exist_or_yourself(connect: Connect) -> None:
    alice = await connect()
    for to, code in (("nobody-here-xyz", "user_not_found"), (alice.username, "call_self")):
        with pytest.raises(WsError) as exc:
            await alice.request("call.invite", {"to": to, "media": "video", "sdp": FAKE_SDP})
        assert exc.value.code == code
    assert (await alice.request("presence.set", {"status": "online"}))["status"] == "online"


async def _set_status(server: InProcessServer, username: str, status: str) -> None:
    ctx = await server.context()
    operator_name = "op" + username
    await server.create_user(operator_name, role="operator_admin")
    operator = principal_for(await directory.find_operator(ctx, operator_name), "", via="test")
    user = await directory.find_user_by_username(ctx, username)
    await accounts_status.do_set_status(
        ctx, operator, user.id, status, "test of the enforcement ladder"
    )


async def test_suspended_account_cannot_place_calls_and_nothing_is_recorded(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    await _set_status(server, alice.username, "suspended")
    with pytest.raises(WsError) as exc:
        await alice.request("call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP})
    assert exc.value.code == "account_suspended"
    assert not bob.has("call.incoming")
    assert await history(server, alice) == []


async def test_limited_account_may_place_audio_but_not_video_calls(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    await _set_status(server, alice.username, "limited")
    with pytest.raises(WsError) as exc:
        await alice.request("call.invite", {"to": bob.username, "media": "video", "sdp": FAKE_SDP})
    assert exc.value.code == "account_limited"
    ack = await alice.request(
        "call.invite", {"to": bob.username, "media": "audio", "sdp": FAKE_SDP}
    )
    await bob.expect("call.incoming", call_id=ack["call_id"])


async def test_answered_call_whose_media_never_connects_fails(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await server.advance(server.settings.media_timeout_s)
    ended = await alice.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"], ended["billable_seconds"]) == (
        "failed",
        "media_timeout",
        0,
    )


async def test_media_failure_reported_by_a_client_ends_the_call(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await alice.request("call.media", {"call_id": call_id, "state": "failed"})
    ended = await bob.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"], ended["billable_seconds"]) == (
        "failed",
        "media_failed",
        0,
    )


async def test_terminating_an_account_closes_its_sessions_and_ends_its_call(
    server: InProcessServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()
    call_id = await place(alice, bob)
    await bob.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await bob.request("call.media", {"call_id": call_id, "state": "connected"})
    # through the API, so the running server hears about it
    operator_name = "opt" + alice.username
    await server.create_user(operator_name, role="operator_admin")
    op_token = await server.login(operator_name)
    async with httpx.AsyncClient(base_url=server.url) as http:
        headers = {"Authorization": f"Bearer {op_token}"}
        alice_id = alice.hello["user"]["user_id"]
        for status in ("warned", "limited", "suspended", "terminated"):
            resp = await http.post(
                f"/api/v1/admin/users/{alice_id}/status",
                json={"status": status, "reason": "abuse reports"},
                headers=headers,
            )
            assert resp.status_code == 200, resp.text
    await asyncio.wait_for(alice.closed.wait(), 5)
    ended = await bob.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "connection_lost")
