"""The browsers' SIP lines (Janus SIP handles driven by Yuntong) with a real Janus and a real
Kamailio: a browser's line registers as its number with the number's digest secret, which never
reaches the socket; a phone calling that number rings the browser (``sip.incoming`` with Janus's
WebRTC offer) and the phone hears the browser decline; a user without a SIP account is told so.
Media through the gateway is proven in Chromium (tests/e2e/test_sip_browser.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection

from tests.conftest import own_database
from tests.integration.sip.conftest import sip_account
from tests.integration.sip.test_edge_calls import calls_of
from tests.integration.supplementary.conftest import Make, api, set_services
from tests.integration.supplementary.conftest import subscriber as subscriber
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.server import free_port, wait_for
from tests.support.sipp import (
    Edge,
    Uas,
    free_udp_port,
    invite_scenario,
    register_scenario,
    run,
)
from tests.support.wsclient import WsError

DOMAIN = "yuntong.test"


@pytest.fixture(scope="module")
async def gateway_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessServer]:
    folder = tmp_path_factory.mktemp("sipgw")
    rtp = 31000 + 200 * (free_udp_port() % 20)
    async with (
        own_database("sqlite", folder) as url,
        inprocess_server(
            folder / "var",
            url,
            start_sip=True,
            sip_port=free_udp_port(),
            sip_tls_port=None,
            sip_domain=DOMAIN,
            sip_children=2,
            start_janus=True,
            janus_ws_port=free_port(),
            janus_admin_port=free_port(),
            janus_rtp_min_port=rtp,
            janus_rtp_max_port=rtp + 199,
        ) as server,
    ):
        fifo = Path(server.settings.var_dir) / "sip" / "kamailio_rpc.fifo"
        await wait_for(fifo.exists, timeout=20, interval=0.05)
        yield server


@pytest.fixture
def server(gateway_world: InProcessServer) -> InProcessServer:
    return gateway_world


def edge_of(server: InProcessServer) -> Edge:
    return Edge("127.0.0.1", server.settings.sip_port, DOMAIN)


async def test_a_browser_line_registers_as_its_number_and_a_phone_call_rings_it(
    server: InProcessServer, subscriber: Make, tmp_path: Path
) -> None:
    alice = await sip_account(server, await subscriber("clip"))
    await set_services(server, alice.who, clip=True)  # shown who calls
    bob = await sip_account(server, await subscriber())
    online = await alice.who.client.request("sip.online", timeout=20)
    assert online == {"number": alice.who.e164}
    resp = await api(server, alice.who, "GET", f"/numbers/{alice.who.number}/sip-credentials")
    registered = resp.json()["registered"]
    assert len(registered) == 1
    assert registered[0].startswith(f"sip:{alice.username}@127.0.0.1:")
    # the secret stays on the server: nothing the socket was sent carries it
    assert all("ha1" not in str(event).lower() for event in alice.who.client.events)

    call = tmp_path / "bob-calls"
    phone = run(
        edge_of(server),
        invite_scenario(alice.username, expect=486),
        call,
        service=bob.username,
        user=bob.username,
        password=bob.password,
    )
    calling = asyncio.ensure_future(phone)
    incoming = await alice.who.client.expect("sip.incoming", timeout=15)
    assert incoming["from"] == bob.who.e164
    assert incoming["to"] == alice.who.e164
    assert "m=audio" in incoming["sdp"] and "ice-ufrag" in incoming["sdp"]
    await alice.who.client.request("sip.hangup", {"call_id": incoming["call_id"]})
    done = await calling
    assert done.code == 0, done.output


async def webrtc_offer() -> tuple[RTCPeerConnection, str]:
    """A WebRTC audio offer as a browser makes one (aiortc: Opus, G.711), candidates in it."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_a_browser_line_calls_as_its_number_through_the_edge_rules(
    server: InProcessServer, subscriber: Make, tmp_path: Path
) -> None:
    alice = await sip_account(server, await subscriber())
    bob = await sip_account(server, await subscriber())
    edge = edge_of(server)
    port = free_udp_port()
    registered = await run(
        edge,
        register_scenario(),
        tmp_path / "reg",
        service=bob.username,
        user=bob.username,
        password=bob.password,
        port=port,
    )
    assert registered.code == 0, registered.output
    phone = Uas(edge, tmp_path / "phone", port, service=bob.username)
    await phone.start()
    pc, sdp = await webrtc_offer()
    try:
        placed = await alice.who.client.request(
            "sip.call", {"to": bob.who.number, "sdp": sdp}, timeout=20
        )
        assert placed["from"] == alice.who.e164 and placed["to"] == bob.who.e164
        await alice.who.client.expect("sip.ringing", timeout=10, call_id=placed["call_id"])
        answered = await alice.who.client.expect("sip.answered", timeout=10)
        assert "a=rtpmap:0 PCMU/8000" in answered["sdp"]  # what the phone speaks, no transcoding
        await alice.who.client.request("sip.hangup", {"call_id": placed["call_id"]})
        done = await phone.wait()
        assert done.code == 0, done.output  # the phone was hung up on (BYE)
    finally:
        await phone.stop()
        await pc.close()

    # a call of the number like any phone's: routed by its rules and recorded
    async def recorded() -> bool:
        rows = await calls_of(server, alice.who.e164)
        return bool(rows) and rows[-1].ended_at is not None

    await wait_for(recorded, timeout=10, interval=0.1)
    row = (await calls_of(server, alice.who.e164))[-1]
    assert (row.called_number, row.direction, row.final_code) == (bob.who.e164, "internal", 200)
    assert row.caller_user_id == alice.who.user_id

    pc, sdp = await webrtc_offer()
    try:  # digits that are no number: the edge's answer ends the call on the page
        spare = "123"
        placed = await alice.who.client.request("sip.call", {"to": spare, "sdp": sdp}, timeout=20)
        ended = await alice.who.client.expect("sip.ended", timeout=10, call_id=placed["call_id"])
        assert ended["code"] in (404, 484)
    finally:
        await pc.close()


async def test_a_user_without_a_sip_account_is_told_the_browser_cannot_call_phones(
    server: InProcessServer, subscriber: Make
) -> None:
    carol = await subscriber()
    with pytest.raises(WsError) as refused:
        await carol.client.request("sip.call", {"to": "13800138000", "sdp": "v=0"})
    assert refused.value.data["code"] == "sip_gateway_no_account"
