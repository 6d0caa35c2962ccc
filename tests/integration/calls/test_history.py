"""Call history: filters, pagination, missed-call badge, quality summary and who may see what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import unique
from tests.integration.calls.conftest import Connect
from tests.support.server import ServerProcess
from tests.support.wsclient import FAKE_SDP, WsClient, WsError
from yuntong.accounts import directory, status
from yuntong.accounts.auth import principal_for
from yuntong.accounts.models import User
from yuntong.accounts.validation import uscc_check_character


async def get(server: ServerProcess, token: str, path: str, **params: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


async def missed_call(caller: WsClient, callee: WsClient) -> str:
    ack = await caller.request(
        "call.invite", {"to": callee.username, "media": "audio", "sdp": FAKE_SDP}
    )
    await callee.expect("call.incoming", call_id=ack["call_id"])
    await caller.request("call.cancel", {"call_id": ack["call_id"]})
    await callee.expect("call.ended", call_id=ack["call_id"])
    return str(ack["call_id"])


async def answered_call(caller: WsClient, callee: WsClient, quality: dict | None = None) -> str:
    ack = await caller.request(
        "call.invite", {"to": callee.username, "media": "video", "sdp": FAKE_SDP}
    )
    call_id = ack["call_id"]
    await callee.expect("call.incoming", call_id=call_id)
    await callee.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await caller.request("call.media", {"call_id": call_id, "state": "connected"})
    await caller.request("call.hangup", {"call_id": call_id})
    await callee.expect("call.ended", call_id=call_id)
    if quality:
        await caller.request("call.quality", {"call_id": call_id, "final": True, **quality})
    return str(call_id)


async def test_filters_pagination_and_missed_badge(server: ServerProcess, connect: Connect) -> None:
    me, ann, ben = await connect(), await connect(), await connect()
    first = await missed_call(ann, me)
    second = await answered_call(me, ben)
    third = await missed_call(ben, me)

    def ids(resp: httpx.Response) -> list[str]:
        return [item["id"] for item in resp.json()["items"]]

    assert ids(await get(server, me.token, "/api/v1/calls")) == [third, second, first]
    assert ids(await get(server, me.token, "/api/v1/calls", direction="missed")) == [third, first]
    assert ids(await get(server, me.token, "/api/v1/calls", direction="outgoing")) == [second]
    assert ids(await get(server, me.token, "/api/v1/calls", direction="incoming")) == [third, first]
    ben_id = ben.hello["user"]["user_id"]
    assert ids(await get(server, me.token, "/api/v1/calls", contact=ben_id)) == [third, second]
    page2 = await get(server, me.token, "/api/v1/calls", page=2, page_size=2)
    assert (ids(page2), page2.json()["total"]) == ([first], 3)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ids(await get(server, me.token, "/api/v1/calls", since=future)) == []
    assert ids(await get(server, me.token, "/api/v1/calls", until=future)) == [third, second, first]

    assert (await get(server, me.token, "/api/v1/calls/missed-count")).json() == {"missed": 2}
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/calls/missed-seen", headers={"Authorization": f"Bearer {me.token}"}
        )
        assert resp.status_code == 204
    assert (await get(server, me.token, "/api/v1/calls/missed-count")).json() == {"missed": 0}


async def test_bad_history_filters_get_validation_errors(
    server: ServerProcess, connect: Connect
) -> None:
    me = await connect()
    for params in (
        {"direction": "sideways"},
        {"page": 0},
        {"page_size": 1000},
        {"since": "2026-01-01T00:00:00"},
    ):
        resp = await get(server, me.token, "/api/v1/calls", **params)
        assert resp.status_code == 422, params
        assert resp.json()["error"]["code"] == "validation_failed"


async def test_quality_reports_give_the_call_a_mos(server: ServerProcess, connect: Connect) -> None:
    alice, bob = await connect(), await connect()
    call_id = await answered_call(
        alice,
        bob,
        {"rtt_ms": 400, "jitter_ms": 20, "loss_pct": 0, "bitrate_kbps": 900, "frames_decoded": 100},
    )
    record = (await get(server, alice.token, f"/api/v1/calls/{call_id}")).json()
    # R = 93.2 − (250 − 120)/10 = 80.2 → MOS ≈ 4.03
    assert record["quality"]["mos"] == pytest.approx(4.03, abs=0.01)
    assert record["quality"]["rtt_ms"] == 400


async def test_quality_for_an_unanswered_call_is_refused(connect: Connect) -> None:
    alice, bob = await connect(), await connect()
    call_id = await missed_call(alice, bob)
    with pytest.raises(WsError) as exc:
        await alice.request("call.quality", {"call_id": call_id, "rtt_ms": 10, "final": True})
    assert exc.value.code == "invalid_transition"


async def test_users_never_see_other_peoples_records(
    server: ServerProcess, connect: Connect
) -> None:
    alice, bob, eve = await connect(), await connect(), await connect()
    call_id = await missed_call(alice, bob)
    assert (await get(server, eve.token, f"/api/v1/calls/{call_id}")).status_code == 404
    resp = await get(server, eve.token, "/api/v1/calls", user_id=alice.hello["user"]["user_id"])
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "forbidden"


async def _register_org_admin(server: ServerProcess) -> tuple[str, int]:
    username = unique("org")
    digits = f"{abs(hash(username)) % 10**8:08d}"
    first17 = "9111010" + digits + "MA"
    uscc = first17 + uscc_check_character(first17)
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.post(
            "/api/v1/accounts/register/organisation",
            json={
                "username": username,
                "password": "correct horse battery",
                "display_name": "Acme 学校",
                "email": f"{username}@example.cn",
                "legal_name": "北京某某教育科技有限公司",
                "uscc": uscc,
                "legal_representative": "王五",
                "contact_name": "赵六",
                "contact_phone": "13800138000",
                "address": "北京市海淀区",
            },
        )
        assert resp.status_code == 201, resp.text
    ctx = await server.context()
    admin = await directory.find_user_by_username(ctx, username)
    operator_name = unique("op")
    await server.create_user(operator_name, role="operator_admin")
    operator = principal_for(await directory.find_operator(ctx, operator_name), "", via="test")
    await status.do_approve(ctx, operator, admin.id)
    return username, int(admin.organisation_id or 0)


async def test_org_admin_sees_members_records_but_not_outsiders(
    server: ServerProcess, connect: Connect
) -> None:
    ctx = await server.context()
    admin_name, org_id = await _register_org_admin(server)
    member, outsider, other = await connect(), await connect(), await connect()
    async with ctx.db.session() as session:
        user = await session.get(User, member.hello["user"]["user_id"])
        assert user is not None
        user.organisation_id = org_id
    await missed_call(member, other)
    await missed_call(outsider, other)
    token = await server.login(admin_name)
    ok = await get(server, token, "/api/v1/calls", user_id=member.hello["user"]["user_id"])
    assert ok.status_code == 200
    assert ok.json()["total"] == 1
    denied = await get(server, token, "/api/v1/calls", user_id=outsider.hello["user"]["user_id"])
    assert denied.status_code == 403
