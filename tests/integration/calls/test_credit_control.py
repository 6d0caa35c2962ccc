"""Credit control on real signaling: a prepaid call is warned and cut off when its balance runs
out; an account over its credit limit cannot start the next chargeable call.

The server runs in the test's loop on a clock the test moves: the warning and the cut-off
timers fire by ``server.advance``, and the test rates (the server's own rating step) when it
chooses, rather than waiting for a worker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import unique
from tests.integration.calls.conftest import Connect
from tests.support.inprocess import InProcessServer, Served
from tests.support.wsclient import FAKE_SDP, WsClient, WsError
from yuntong.billing import worker


class Desk:
    """The operator's billing desk and a customer, both over the server's REST API."""

    def __init__(self, server: Served) -> None:
        self.server = server
        self.staff_token = ""

    async def start(self) -> Desk:
        name = unique("ops")
        await self.server.create_user(name, role="operator_admin")
        self.staff_token = await self.server.login(name)
        return self

    async def call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.server.url) as http:
            resp = await http.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else None

    async def package(self, per_minute_fen: str) -> str:
        code = unique("pkg")
        made = await self.call(
            "POST",
            "/api/v1/billing/products",
            self.staff_token,
            json={"code": code, "kind": "package", "name_zh": "测试", "name_en": "Test"},
        )
        await self.call(
            "POST",
            f"/api/v1/billing/products/{made['id']}/prices",
            self.staff_token,
            json={
                "effective_on": await self.today(),
                "monthly_fee_fen": 0,
                "rates": {"call.video": {"per_minute_fen": per_minute_fen, "increment": "1/1"}},
            },
        )
        return code

    async def today(self) -> str:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()

    async def subscribe(self, client: WsClient, code: str) -> int:
        await self.call(
            "POST", "/api/v1/billing/orders", client.token, json={"product_codes": [code]}
        )
        account = await self.call("GET", "/api/v1/billing/account", client.token)
        return int(account["id"])

    async def prepaid(self, client: WsClient, code: str, amount: str) -> None:
        """``client`` prepaid on package ``code`` with ``amount`` (yuan) in hand."""
        account_id = await self.subscribe(client, code)
        await self.call(
            "POST",
            f"/api/v1/billing/accounts/{account_id}/kind",
            self.staff_token,
            json={"kind": "prepaid"},
        )
        await self.call(
            "POST",
            "/api/v1/billing/payments",
            self.staff_token,
            json={
                "account_id": account_id,
                "amount": amount,
                "method": "cash",
                "idempotency_key": unique("pay"),
            },
        )

    async def balance(self, client: WsClient) -> int:
        account = await self.call("GET", "/api/v1/billing/account", client.token)
        return int(account["balance_fen"])


@pytest.fixture
def server(inprocess_server_any: InProcessServer) -> InProcessServer:
    return inprocess_server_any


@pytest.fixture
async def desk(server: InProcessServer) -> Desk:
    return await Desk(server).start()


async def connected_call(caller: WsClient, callee: WsClient) -> str:
    ack = await caller.request(
        "call.invite", {"to": callee.username, "media": "video", "sdp": FAKE_SDP}
    )
    call_id = str(ack["call_id"])
    await callee.expect("call.incoming", call_id=call_id)
    await callee.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await caller.expect("call.answered", call_id=call_id)
    await caller.request("call.media", {"call_id": call_id, "state": "connected"})
    return call_id


async def test_a_prepaid_call_is_warned_and_ended_when_the_balance_runs_out(
    server: InProcessServer, connect: Connect, desk: Desk
) -> None:
    """60.00 a minute, 1/1 increments, 2.00 in hand: the call may last 2 s."""
    caller, callee = await connect(), await connect()
    await desk.prepaid(caller, await desk.package("6000"), "2.00")
    call_id = await connected_call(caller, callee)
    await server.advance(0)  # less than a minute in hand: warned at once
    low = await caller.expect("call.credit_low", call_id=call_id)
    assert low["seconds_left"] == 2
    await server.advance(1.9)
    assert not caller.has("call.ended", call_id=call_id)
    await server.advance(0.1)
    ended = await caller.expect("call.ended", call_id=call_id)
    assert (ended["outcome"], ended["reason"]) == ("answered", "credit_exhausted")
    assert ended["billable_seconds"] == 2
    await callee.expect("call.ended", call_id=call_id)

    # once rated, nothing is left in hand
    assert await worker.run_once(server.app_context) >= 1
    assert await desk.balance(caller) <= 0
    with pytest.raises(WsError) as refused:
        await caller.request(
            "call.invite", {"to": callee.username, "media": "video", "sdp": FAKE_SDP}
        )
    assert refused.value.code == "balance_exhausted"
    # an audio call costs nothing on this package: still allowed
    ack = await caller.request(
        "call.invite", {"to": callee.username, "media": "audio", "sdp": FAKE_SDP}
    )
    await caller.request("call.cancel", {"call_id": ack["call_id"]})


async def test_over_the_credit_limit_the_next_call_is_refused_not_the_current_one(
    server: InProcessServer, connect: Connect, desk: Desk
) -> None:
    """Postpaid, limit 100.00, 10,000.00 a minute: a 2 s call costs far more than the limit,
    yet runs until it is hung up; the next video call is refused with the reason."""
    caller, callee = await connect(), await connect()
    await desk.subscribe(caller, await desk.package("1000000"))
    await desk.call(
        "PUT",
        "/api/v1/billing/account/credit-limit",
        caller.token,
        json={"credit_limit_fen": 10_000},
    )
    # the account says whether its credit is used up: not yet, so the call is accepted
    account = await desk.call("GET", "/api/v1/billing/account", caller.token)
    assert account["credit_exhausted"] is False
    call_id = await connected_call(caller, callee)
    await server.advance(2)
    assert not [e for e in caller.events if e["type"] == "call.ended"]
    await caller.request("call.hangup", {"call_id": call_id})
    await caller.expect("call.ended", call_id=call_id)
    assert await worker.run_once(server.app_context) >= 1
    with pytest.raises(WsError) as refused:
        await caller.request(
            "call.invite", {"to": callee.username, "media": "video", "sdp": FAKE_SDP}
        )
    assert refused.value.code == "credit_exhausted"
    account = await desk.call("GET", "/api/v1/billing/account", caller.token)
    assert account["credit_exhausted"] is True  # and the invite was refused for it
    assert "pay" in refused.value.data["message"] or "缴费" in refused.value.data["message"]
