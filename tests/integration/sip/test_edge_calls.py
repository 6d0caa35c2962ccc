"""SIP phones (SIPp) through the edge Yuntong runs (Kamailio deciding nothing itself): digest
registration, phone-to-phone calls with their records and post-dial delay, the number rules
(barring, do-not-disturb, forwarding) answered with the right SIP responses, and the carrier
trunk both ways with the caller's identity asserted or withheld (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy import select

from tests.conftest import unique
from tests.integration.billing.conftest import product, rate
from tests.integration.sip.conftest import Make, Phone, SipWorld, sip_account
from tests.integration.supplementary.conftest import api, set_services
from tests.integration.supplementary.test_barring import PIN, with_pin
from tests.support.inprocess import InProcessServer
from tests.support.server import wait_for
from tests.support.sipp import Uas, free_udp_port, invite_scenario, register_scenario, run
from yuntong.accounts import directory
from yuntong.accounts.auth import principal_for
from yuntong.billing.ledger.accounts import account_for_user, do_set_kind
from yuntong.billing.orders.orders import do_place_order
from yuntong.billing.payments import payments
from yuntong.presence.busy import busy_marks
from yuntong.sip.models import SipCall
from yuntong.tariffs.charges import charged_before


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


async def call(world: SipWorld, caller: Phone, to: str, folder: Path, expect: int) -> None:
    done = await run(
        world.edge,
        invite_scenario(to, expect),
        folder,
        service=caller.username,
        user=caller.username,
        password=caller.password,
    )
    assert done.code == 0, done.output


async def last_call(server: InProcessServer, number: str) -> SipCall:
    async def ended() -> SipCall | None:
        found = await calls_of(server, number)
        return found[-1] if found and found[-1].state == "ended" else None

    found: SipCall = await wait_for(ended, timeout=20)
    return found


async def test_the_number_rules_answer_with_sip_responses(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    server = sip_world.server
    alice = await sip_account(server, await subscriber("barring"))
    bob = await sip_account(server, await subscriber())
    # bob has no phone registered: 480, not reachable
    await call(sip_world, alice, bob.username, tmp_path / "offline", 480)
    assert (await last_call(server, alice.who.e164)).outcome == "unreachable"
    # digits that are no number: 484
    await call(sip_world, alice, "123", tmp_path / "nonumber", 484)
    # do-not-disturb: busy
    resp = await api(server, bob.who, "PUT", "/presence/dnd", {"on": True})
    assert resp.status_code == 200, resp.text
    await call(sip_world, alice, bob.username, tmp_path / "dnd", 486)
    record = await last_call(server, alice.who.e164)
    assert (record.outcome, record.final_code, record.cause) == ("busy", 486, 17)
    await api(server, bob.who, "PUT", "/presence/dnd", {"on": False})
    # alice bars her own outgoing calls: 403, cause 52
    await with_pin(server, alice.who)
    await set_services(server, alice.who, bar_outgoing=True, barring_pin=PIN)
    await call(sip_world, alice, bob.username, tmp_path / "barred", 403)
    record = await last_call(server, alice.who.e164)
    assert (record.outcome, record.cause) == ("rejected", 52)


async def test_unconditional_forwarding_rings_the_target_phone_with_a_diversion_header(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    server = sip_world.server
    alice = await sip_account(server, await subscriber())
    bob = await sip_account(server, await subscriber("forwarding"))
    carol = await sip_account(server, await subscriber("clip"))
    await set_services(server, bob.who, cfu=carol.who.number)
    await set_services(server, carol.who, clip=True)
    port = await register(sip_world, carol, tmp_path)
    uas = Uas(sip_world.edge, tmp_path / "carol", port, service=carol.username)
    await uas.start()
    try:
        await call(sip_world, alice, bob.username, tmp_path / "alice", 200)
        seen = await uas.wait()
    finally:
        await uas.stop()
    assert seen.code == 0, seen.output
    invite = seen.messages.split("INVITE sip:", 1)[1].split("\n\n", 1)[0]
    assert f"Diversion: <sip:{bob.who.e164}@" in invite
    assert "reason=unconditional" in invite
    assert f"From: <sip:{alice.who.e164}@" in invite  # the original caller, shown (CLIP)
    record = await last_call(server, alice.who.e164)
    assert (record.callee_user_id, record.outcome) == (carol.who.user_id, "answered")
    assert record.route["hops"][0][0] == "cfu"


async def test_calls_to_the_public_network_leave_by_the_trunk_with_the_callers_number(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    server = sip_world.server
    alice = await sip_account(server, await subscriber("clir"))
    trunk = Uas(sip_world.edge, tmp_path / "trunk", sip_world.trunk_port, service="carrier")
    await trunk.start()
    try:
        await call(sip_world, alice, "13800138000", tmp_path / "out", 200)
        seen = await trunk.wait()
    finally:
        await trunk.stop()
    invite = seen.messages.split("INVITE sip:", 1)[1].split("\n\n", 1)[0]
    assert invite.startswith("+8613800138000@")
    assert f"P-Asserted-Identity: <sip:{alice.who.e164}@" in invite
    assert "Privacy:" not in invite
    record = await last_call(server, alice.who.e164)
    assert (record.direction, record.trunk, record.outcome) == ("outbound", "carrier", "answered")
    # priced by the tariffs: a mainland mobile, 0.12 a minute by the started minute
    charged = await wait_for(lambda: charged_before(server.app_context, record.id), timeout=10)
    assert charged.category == "mobile" and charged.user_id == alice.who.user_id
    assert charged.price_fen == 12 * math.ceil(record.billable_seconds / 60)
    # withheld with #31#: From anonymous, the identity asserted with Privacy: id (RFC 3325)
    await set_services(server, alice.who, clir_mode="temporary")
    trunk = Uas(sip_world.edge, tmp_path / "trunk2", sip_world.trunk_port, service="carrier")
    await trunk.start()
    try:
        await call(sip_world, alice, "%2331%2313800138000", tmp_path / "out2", 200)
        seen = await trunk.wait()
    finally:
        await trunk.stop()
    invite = seen.messages.split("INVITE sip:", 1)[1].split("\n\n", 1)[0]
    assert "<sip:anonymous@anonymous.invalid>" in invite.split("From: ", 1)[1].split("\n")[0]
    assert "Privacy: id" in invite
    assert f"P-Asserted-Identity: <sip:{alice.who.e164}@" in invite


async def test_a_trunk_that_fails_gives_the_caller_its_failure_and_nothing_stays_busy(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    server = sip_world.server
    alice = await sip_account(server, await subscriber())
    trunk = Uas(sip_world.edge, tmp_path / "trunk", sip_world.trunk_port, answer=503)
    await trunk.start()
    try:
        # a proxy turns a 503 into a 500 towards the caller (RFC 3261 §16.7)
        await call(sip_world, alice, "13800138000", tmp_path / "out", 500)
    finally:
        await trunk.stop()
    record = await last_call(server, alice.who.e164)
    assert (record.outcome, record.final_code) == ("failed", 503)
    # alice is not left busy: a browser call to her number reaches her
    assert not await busy_marks(server.app_context).busy_among([alice.who.user_id])


async def test_a_carrier_call_reaches_a_registered_phone(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    server = sip_world.server
    bob = await sip_account(server, await subscriber())
    port = await register(sip_world, bob, tmp_path)
    uas = Uas(sip_world.edge, tmp_path / "bob", port, service=bob.username)
    await uas.start()
    try:
        done = await run(
            sip_world.edge,
            invite_scenario(bob.who.e164, auth=False),
            tmp_path / "carrier",
            service="+8613911112222",
            port=sip_world.trunk_port,
        )
        assert done.code == 0, done.output
        seen = await uas.wait()
    finally:
        await uas.stop()
    assert seen.code == 0, seen.output
    record = await last_call(server, "+8613911112222")
    assert (record.direction, record.callee_user_id, record.outcome) == (
        "inbound",
        bob.who.user_id,
        "answered",
    )


async def test_the_completion_rate_counts_calls_through_the_edge(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    server = sip_world.server
    alice = await sip_account(server, await subscriber())
    bob = await sip_account(server, await subscriber())
    await call(sip_world, alice, bob.username, tmp_path / "offline", 480)  # user outcome
    await call(sip_world, alice, "123", tmp_path / "nonumber", 484)  # refused: no attempt
    trunk = Uas(sip_world.edge, tmp_path / "trunk", sip_world.trunk_port, answer=503)
    await trunk.start()
    try:
        await call(sip_world, alice, "13800138000", tmp_path / "out", 500)  # network failure
    finally:
        await trunk.stop()
    await last_call(server, alice.who.e164)
    resp = await api(server, alice.who, "GET", f"/completion?number={alice.who.number}")
    assert resp.status_code == 200, resp.text
    total = resp.json()["total"]
    assert (total["attempts"], total["effective"], total["network_failures"]) == (2, 1, 1)
    assert total["ner_pct"] == "50.00"


async def test_forwarding_to_an_outside_number_leaves_by_the_trunk_with_the_original_caller(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    server = sip_world.server
    alice = await sip_account(server, await subscriber())
    bob = await sip_account(server, await subscriber("forwarding"))
    await set_services(server, bob.who, cfu="13800138000")
    trunk = Uas(sip_world.edge, tmp_path / "trunk", sip_world.trunk_port, service="carrier")
    await trunk.start()
    try:
        await call(sip_world, alice, bob.username, tmp_path / "alice", 200)
        seen = await trunk.wait()
    finally:
        await trunk.stop()
    invite = seen.messages.split("INVITE sip:", 1)[1].split("\n\n", 1)[0]
    assert invite.startswith("+8613800138000@")
    assert f"P-Asserted-Identity: <sip:{alice.who.e164}@" in invite  # the original caller
    assert f"Diversion: <sip:{bob.who.e164}@" in invite and "reason=unconditional" in invite
    record = await last_call(server, alice.who.e164)
    assert (record.trunk, record.outcome) == ("carrier", "answered")
    assert record.route["billed_to"] == bob.who.user_id  # the outside leg is bob's


async def test_a_prepaid_callers_call_is_ended_by_the_edge_when_the_credit_runs_out(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    server = sip_world.server
    ctx = server.app_context
    staff_id = await server.create_user(unique("staff"), role="operator_admin")
    staff = principal_for(await directory.get_user(ctx, staff_id), "", "cli")
    alice = await sip_account(server, await subscriber())
    user = principal_for(await directory.get_user(ctx, alice.who.user_id), "", "web")
    # 6.00 a minute by the second, 0.30 in hand: 3 seconds of talk
    package = await product(ctx, staff, fee_fen=0, rates={"call.audio": rate("600", "1/1")})
    await do_place_order(ctx, user, None, [package.code])
    account = await account_for_user(ctx, alice.who.user_id)
    await do_set_kind(ctx, staff, account.id, "prepaid")
    await payments.do_record_payment(
        ctx, staff, payments.PaymentIn(account.id, 30, "cash", key=unique("top-up"))
    )
    bob = await sip_account(server, await subscriber())
    port = await register(sip_world, bob, tmp_path)
    phone = Uas(sip_world.edge, tmp_path / "bob", port, service=bob.username)
    await phone.start()
    try:
        done = await run(
            sip_world.edge,
            invite_scenario(bob.username, hold_ms=20_000, hung_up=True),
            tmp_path / "alice",
            service=alice.username,
            user=alice.username,
            password=alice.password,
        )
        assert done.code == 0, done.output  # the edge's BYE came, well before 20 s
        # (Kamailio 5.6's dialog timer sends the callee's BYE only sometimes: docs/sip.md)
    finally:
        await phone.stop()
    record = await last_call(server, alice.who.e164)
    assert record.route["max_s"] == 3
    assert record.outcome == "answered" and 2 <= record.billable_seconds <= 5
