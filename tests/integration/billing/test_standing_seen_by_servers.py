"""A standing changed by another process is seen by a running server (issue 14, item 15).

`yuntong billing close` and `yuntong billing daily` run in a process of their own. The server
keeps credit standings in memory; it must drop them when any process changes them, so that
an account the CLI just suspended or pushed over its limit cannot place its next call.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.conftest import own_server
from tests.integration.calls.test_credit_limit_back_to_back import Rest, make_package, person
from tests.support.server import ServerProcess
from tests.support.wsclient import FAKE_SDP, WsClient, WsError
from yuntong.billing.catalog.catalog import business_tz
from yuntong.billing.catalog.cycles import cycle_of
from yuntong.billing.models import Statement
from yuntong.billing.statements import statements
from yuntong.core.clock import Clock, FrozenClock
from yuntong.services import build_context

SEEN_WITHIN_S = 3.0  # the server polls every second


@pytest.fixture(params=["sqlite", "postgres"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    """A server on a database of its own: closing a cycle touches every account in it."""
    async with own_server(
        request.param, tmp_path, YUNTONG_BILLING_RATING_INTERVAL_S="3600"
    ) as started:
        yield started


async def customer(server: ServerProcess, fee_fen: int) -> tuple[Rest, WsClient, str, int]:
    """A postpaid customer (limit 100.00) on a package of ``fee_fen`` a month with chargeable
    video calls, connected; and someone it calls who is never online."""
    _, staff = await person(server, "operator_admin")
    _, rest = await person(server)
    offline, _ = await person(server)
    code = await make_package(
        staff,
        fee_fen=fee_fen,
        rates={"call.video": {"per_minute_fen": "100", "increment": "60/60"}},
    )
    await rest("POST", "/api/v1/billing/orders", json={"product_codes": [code]})
    await rest("PUT", "/api/v1/billing/account/credit-limit", json={"credit_limit_fen": 10_000})
    account = await rest("GET", "/api/v1/billing/account")
    client = await WsClient(server.ws_url, rest.token).connect()
    return rest, client, offline, int(account["id"])


async def invite(client: WsClient, to: str) -> str | None:
    """Place a video call to someone offline: None when allowed (it ends at once as
    unreachable), else the refusal's code."""
    try:
        ack = await client.request("call.invite", {"to": to, "media": "video", "sdp": FAKE_SDP})
    except WsError as exc:
        return exc.code
    assert ack["ended"]["outcome"] == "unreachable"
    return None


async def refused_within(client: WsClient, to: str, seconds: float) -> tuple[str, float]:
    started = time.monotonic()
    while True:
        code = await invite(client, to)
        waited = time.monotonic() - started
        if code is not None:
            return code, waited
        if waited > seconds:
            raise AssertionError(f"still allowed {waited:.1f} s after the change")
        await asyncio.sleep(0.2)


async def test_a_cycle_closed_by_another_process_stops_the_next_call(
    server: ServerProcess,
) -> None:
    """Limit 100.00, package 100.00 a month: the order charged the rest of this cycle (at
    most 100.00: allowed). Closing the cycle, in another process on the same database,
    charges next cycle's 100.00 in advance: more than the limit, and the server refuses the
    customer's next chargeable call within a couple of seconds."""
    rest, client, offline, _ = await customer(server, fee_fen=10_000)
    try:
        owed = (await rest("GET", "/api/v1/billing/account"))["balance_fen"]
        assert 0 < owed <= 10_000
        assert await invite(client, offline) is None  # the standing is in the server's memory

        # `yuntong billing close` for this cycle, run (by its code path) in this process, on
        # the server's database, once the cycle has ended
        tz = business_tz(await server.context())
        settings = server.settings
        cycle = cycle_of(Clock().now(), settings.billing_close_day, tz)
        ctx = build_context(settings, clock=FrozenClock(cycle.end + timedelta(hours=2)))
        try:
            result = await statements.do_close_cycle(ctx, cycle.label)
        finally:
            await ctx.db.dispose()
        assert result.issued == 1

        code, waited = await refused_within(client, offline, SEEN_WITHIN_S)
        assert code == "credit_exhausted"
        assert waited <= SEEN_WITHIN_S
        assert (await rest("GET", "/api/v1/billing/account"))["balance_fen"] == owed + 10_000
    finally:
        await client.close()


async def test_an_account_the_cli_suspends_places_no_more_calls(server: ServerProcess) -> None:
    """The first statement was due 60 days ago and is unpaid: `yuntong billing daily`, run as
    a command of its own, suspends the account (more than a month overdue); the running
    server refuses its next chargeable call within a couple of seconds."""
    rest, client, offline, account_id = await customer(server, fee_fen=3000)
    try:
        assert await invite(client, offline) is None
        ctx = await server.context()
        today = Clock().now().astimezone(business_tz(ctx)).date()
        async with ctx.db.session() as s:
            await s.execute(
                update(Statement)
                .where(Statement.account_id == account_id)
                .values(due_on=today - timedelta(days=60))
            )
        await asyncio.sleep(1.5)  # the server's poll has nothing new: still allowed
        assert await invite(client, offline) is None

        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", "from yuntong.cli import app; app()", "billing", "daily"],
            env=server.env,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        code, waited = await refused_within(client, offline, SEEN_WITHIN_S)
        assert code == "billing_suspended"
        assert waited <= SEEN_WITHIN_S
        assert (await rest("GET", "/api/v1/billing/account"))["state"] == "suspended"
    finally:
        await client.close()
