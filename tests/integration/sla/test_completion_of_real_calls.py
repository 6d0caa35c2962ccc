"""The completion rate counts calls placed for real (over /ws, by number): an answered call and
a rejected one are both effective, and appear under the caller's number and account."""

from __future__ import annotations

import pytest

from tests.conftest import unique
from tests.integration.calls.conftest import Connect, connect  # noqa: F401  (the fixture)
from tests.support.inprocess import InProcessServer
from tests.support.numbers import number_for
from tests.support.wsclient import FAKE_SDP
from yuntong.accounts import registration
from yuntong.accounts.auth import principal_for
from yuntong.billing.catalog.catalog import local_day
from yuntong.billing.ledger.accounts import account_for_user
from yuntong.sla import completion


@pytest.fixture
def server(inprocess_server_any: InProcessServer) -> InProcessServer:
    return inprocess_server_any


async def test_real_calls_by_number_are_counted_for_the_caller(
    server: InProcessServer,
    connect: Connect,  # noqa: F811
) -> None:
    ctx = await server.context()
    names = [unique("cmp") for _ in range(2)]
    ids = [await server.create_user(name) for name in names]
    alice, bob = [await connect(name) for name in names]
    alice_number = await number_for(server, ids[0])
    bob_number = await number_for(server, ids[1])
    invite = {"to": bob_number, "media": "audio", "sdp": FAKE_SDP}
    # rejected by the callee: a user outcome
    ack = await alice.request("call.invite", invite)
    await bob.expect("call.incoming", call_id=ack["call_id"])
    await bob.request("call.reject", {"call_id": ack["call_id"]})
    await alice.expect("call.ended", call_id=ack["call_id"])
    # answered
    ack = await alice.request("call.invite", invite)
    await bob.expect("call.incoming", call_id=ack["call_id"])
    await bob.request("call.answer", {"call_id": ack["call_id"], "sdp": FAKE_SDP})
    await alice.expect("call.answered", call_id=ack["call_id"])
    await alice.request("call.media", {"call_id": ack["call_id"], "state": "connected"})
    await bob.request("call.hangup", {"call_id": ack["call_id"]})
    await alice.expect("call.ended", call_id=ack["call_id"], outcome="answered")

    staff_user = await registration.do_create_admin(
        ctx, unique("ops"), "correct horse battery", "operator_admin"
    )
    staff = principal_for(staff_user, "", "cli")
    today = local_day(ctx, ctx.clock.now())
    account = await account_for_user(ctx, ids[0])
    report = await completion.report_for(ctx, staff, account.id, None, today, today)
    total = report.total
    assert (total.attempts, total.answered, total.effective) == (2, 1, 2)
    assert (total.asr, total.ner) == ("50.00", "100.00")
    assert [(n, t.attempts) for n, t in report.numbers] == [(f"+86{alice_number}", 2)]
