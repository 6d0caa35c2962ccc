"""Back-to-back calls against a postpaid credit limit (issue 14, item 14; VP 9).

Before rating catches up (the worker rates every few seconds), the calls that just ended are
not in the ledger; they must still count, so that no call starts once the charges exceed the
limit. Owing exactly the limit is not exceeding it: that call is still allowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import unique
from tests.support.server import ServerProcess, private_server, wait_for
from tests.support.wsclient import FAKE_SDP, WsClient, WsError
from yuntong.billing import worker
from yuntong.services import build_context


class Rest:
    """The server's REST API as one user."""

    def __init__(self, server: ServerProcess, token: str) -> None:
        self.server, self.token = server, token

    async def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.server.url) as http:
            resp = await http.request(
                method, path, headers={"Authorization": f"Bearer {self.token}"}, **kwargs
            )
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else None


async def person(server: ServerProcess, role: str = "subscriber") -> tuple[str, Rest]:
    name = unique("bb")
    await server.create_user(name, role=role)
    return name, Rest(server, await server.login(name))


async def make_package(
    staff: Rest, *, fee_fen: int, rates: dict[str, dict[str, Any]], allowances: Any = None
) -> str:
    code = unique("pkg")
    made = await staff(
        "POST",
        "/api/v1/billing/products",
        json={"code": code, "kind": "package", "name_zh": "测试", "name_en": "Test"},
    )
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    await staff(
        "POST",
        f"/api/v1/billing/products/{made['id']}/prices",
        json={
            "effective_on": today,
            "monthly_fee_fen": fee_fen,
            "rates": rates,
            "allowances": allowances or {},
        },
    )
    return code


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    # limits below the default minimum; the worker's rating is kept out of the way (the test
    # rates from its own process when it wants to), the standing-change poll is on
    async with private_server(
        tmp_path,
        YUNTONG_BILLING_CREDIT_LIMIT_MIN_FEN="1000",
        YUNTONG_BILLING_RATING_INTERVAL_S="3600",
        YUNTONG_MEDIA_TIMEOUT_S="20",
    ) as started:
        yield started


async def one_call(caller: WsClient, callee: WsClient) -> dict[str, Any]:
    """Invite, answer, connect, hang up at once: well under a minute."""
    ack = await caller.request(
        "call.invite", {"to": callee.username, "media": "video", "sdp": FAKE_SDP}
    )
    call_id = str(ack["call_id"])
    await callee.expect("call.incoming", call_id=call_id)
    await callee.request("call.answer", {"call_id": call_id, "sdp": FAKE_SDP})
    await caller.expect("call.answered", call_id=call_id)
    await caller.request("call.media", {"call_id": call_id, "state": "connected"})
    await asyncio.sleep(0.05)  # at least one billable second
    await caller.request("call.hangup", {"call_id": call_id})
    ended: dict[str, Any] = await caller.expect("call.ended", call_id=call_id)
    assert ended["billable_seconds"] >= 1
    return ended


async def balance_is(rest: Rest, fen: int) -> bool:
    return bool((await rest("GET", "/api/v1/billing/account"))["balance_fen"] == fen)


async def refused(caller: WsClient, callee: WsClient) -> str:
    with pytest.raises(WsError) as error:
        await caller.request(
            "call.invite", {"to": callee.username, "media": "video", "sdp": FAKE_SDP}
        )
    return error.value.code


async def test_back_to_back_calls_stop_once_the_charges_exceed_the_limit(
    server: ServerProcess,
) -> None:
    """Limit 50.00; video 10.00 a minute in 60/60 increments, so each call (a second or
    two) costs exactly 10.00. Five calls owe 50.00 — the limit, not more: the sixth call is
    allowed. Six calls owe 60.00 > 50.00: the seventh is refused, although none of them is
    rated yet. Once rated (6 × 10.00 = 60.00 in the ledger), nothing is counted twice: after
    a payment of 10.00 the account owes 50.00 again and may call."""
    _, staff = await person(server, "operator_admin")
    caller_name, caller_rest = await person(server)
    callee_name, _ = await person(server)
    code = await make_package(
        staff, fee_fen=0, rates={"call.video": {"per_minute_fen": "1000", "increment": "60/60"}}
    )
    await caller_rest("POST", "/api/v1/billing/orders", json={"product_codes": [code]})
    await caller_rest(
        "PUT", "/api/v1/billing/account/credit-limit", json={"credit_limit_fen": 5000}
    )
    account = await caller_rest("GET", "/api/v1/billing/account")
    assert (account["credit_limit_fen"], account["balance_fen"]) == (5000, 0)

    caller = await WsClient(server.ws_url, caller_rest.token).connect()
    callee = await WsClient(server.ws_url, await server.login(callee_name)).connect()
    caller.username, callee.username = caller_name, callee_name  # type: ignore[attr-defined]
    try:
        for _ in range(5):
            await one_call(caller, callee)
        # 5 × 10.00 = 50.00: exactly the limit, still allowed
        await one_call(caller, callee)
        # 6 × 10.00 = 60.00 > 50.00, none of it rated yet: refused
        assert await refused(caller, callee) == "credit_exhausted"
        assert (await caller_rest("GET", "/api/v1/billing/account"))["balance_fen"] == 0

        # rated by another process (as `yuntong billing rate` would): 60.00 in the ledger
        ctx = build_context(server.settings)
        try:
            assert await worker.run_once(ctx) == 6
        finally:
            await ctx.db.dispose()
        # the server sees the other process's rating within its poll (1 s)
        await wait_for(lambda: balance_is(caller_rest, 6000), timeout=5)
        assert await refused(caller, callee) == "credit_exhausted"

        await staff(
            "POST",
            "/api/v1/billing/payments",
            json={
                "account_id": account["id"],
                "amount": "10.00",
                "method": "cash",
                "idempotency_key": unique("pay"),
            },
        )
        # 60.00 − 10.00 = 50.00: at the limit again, and the rated calls are not counted twice
        assert (await caller_rest("GET", "/api/v1/billing/account"))["balance_fen"] == 5000
        await one_call(caller, callee)
        assert await refused(caller, callee) == "credit_exhausted"
    finally:
        await caller.close()
        await callee.close()
