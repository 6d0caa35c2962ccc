"""SIP phones (SIPp) through the edge Yuntong runs (Kamailio deciding nothing itself): digest
registration, phone-to-phone calls with their records and post-dial delay, the number rules
(barring, do-not-disturb, forwarding) answered with the right SIP responses, and the carrier
trunk both ways with the caller's identity asserted or withheld (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.integration.sip.conftest import Make, Phone, SipWorld, sip_account
from tests.integration.supplementary.conftest import api
from tests.support.inprocess import InProcessServer
from tests.support.server import wait_for
from tests.support.sipp import Uas, free_udp_port, invite_scenario, register_scenario, run
from yuntong.sip.models import SipCall


async def register(world: SipWorld, phone: Phone, folder: Path, port: int | None = None) -> int:
    port = port or free_udp_port()
    done = await run(
        world.edge,
        register_scenario(),
        folder / f"reg-{port}",
        service=phone.username,
        user=phone.username,
        password=phone.password,
        port=port,
    )
    assert done.code == 0, done.output
    return port


async def calls_of(server: InProcessServer, number: str) -> list[SipCall]:
    async with (await server.context()).db.session() as s:
        query = select(SipCall).where(SipCall.calling_number == number)
        return list((await s.execute(query.order_by(SipCall.created_at))).scalars())


async def test_a_phone_registers_with_its_numbers_password_and_not_with_a_wrong_one(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    alice = await sip_account(sip_world.server, await subscriber())
    await register(sip_world, alice, tmp_path)
    resp = await api(
        sip_world.server, alice.who, "GET", f"/numbers/{alice.who.number}/sip-credentials"
    )
    assert resp.status_code == 200
    assert resp.json()["password"] is None
    assert len(resp.json()["registered"]) == 1
    wrong = await run(
        sip_world.edge,
        register_scenario(expect=403),
        tmp_path / "wrong",
        service=alice.username,
        user=alice.username,
        password="not-" + alice.password,
    )
    assert wrong.code == 0, wrong.output


async def test_a_phone_calls_another_phone_and_the_call_is_recorded(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    alice = await sip_account(sip_world.server, await subscriber())
    bob = await sip_account(sip_world.server, await subscriber())
    port = await register(sip_world, bob, tmp_path)
    uas = Uas(sip_world.edge, tmp_path / "bob", port, service=bob.username)
    await uas.start()
    try:
        call = await run(
            sip_world.edge,
            invite_scenario(bob.username),
            tmp_path / "alice",
            service=alice.username,
            user=alice.username,
            password=alice.password,
        )
        assert call.code == 0, call.output
        answered = await uas.wait()
        assert answered.code == 0, answered.output
    finally:
        await uas.stop()

    async def ended() -> list[SipCall]:
        found = await calls_of(sip_world.server, alice.who.e164)
        return found if found and found[0].state == "ended" else []

    [record] = await wait_for(ended, timeout=10)
    assert (record.caller_user_id, record.callee_user_id) == (alice.who.user_id, bob.who.user_id)
    assert (record.outcome, record.final_code, record.cause) == ("answered", 200, 16)
    assert record.called_number == bob.who.e164
    assert record.billable_seconds >= 1
    assert record.pdd_ms is not None and 0 <= record.pdd_ms < 5000
