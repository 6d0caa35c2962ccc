"""Browser <-> SIP phone through the Janus SIP plugin, with every part real: Chromium (fake
microphone), Yuntong, its Janus (SIP plugin) and its Kamailio, and SIPp as the phone.

Out: the browser user dials a number whose phone (SIPp) is registered; the phone answers and
echoes the RTP it receives (``-rtp_echo``), so audio the browser *receives* (bytes and energy
in getStats) went browser -> Janus -> phone -> Janus -> browser, G.711 both ways.
In: the phone calls the browser user's number; Kamailio forks it to the browser's SIP line,
the incoming-call screen shows which number rang, the user answers and hears the echo, and
the phone's hang-up ends the call on the screen."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import log_in
from tests.e2e.test_video_call import stats, wait_connected
from tests.support.meetings import api, janus_env, janus_ready
from tests.support.numbers import number_for
from tests.support.server import ServerProcess, private_server, wait_for
from tests.support.sipp import Edge, Uas, free_udp_port, invite_scenario, register_scenario, run

pytestmark = pytest.mark.e2e
DOMAIN = "yuntong.test"


@pytest.fixture(scope="module")
async def sip_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    for binary in ("janus", "kamailio", "sipp"):
        if not shutil.which(binary):
            pytest.skip(f"{binary} is not installed")
    env = janus_env(
        YUNTONG_START_SIP="true",
        YUNTONG_SIP_PORT=str(free_udp_port()),
        YUNTONG_SIP_TLS_PORT=str(free_udp_port()),
        YUNTONG_SIP_DOMAIN=DOMAIN,
        YUNTONG_SIP_CHILDREN="2",
    )
    async with private_server(tmp_path_factory.mktemp("e2e-sip"), **env) as server:
        await janus_ready(server)
        fifo = server.var_dir / "sip" / "kamailio_rpc.fifo"
        await wait_for(fifo.exists, timeout=30, interval=0.1)
        yield server


def edge_of(server: ServerProcess) -> Edge:
    return Edge("127.0.0.1", int(server.env["YUNTONG_SIP_PORT"]), DOMAIN)


async def subscriber_with_sip(
    server: ServerProcess, username: str, password: str
) -> dict[str, str]:
    """A user with a number and its SIP account: number (national), username, password."""
    user_id = await server.create_user(username, password)
    number = await number_for(server, user_id)
    token = await server.login(username, password)
    resp = await api(server, token, "POST", f"/api/v1/numbers/{number}/sip-credentials")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return {"number": number, "username": body["username"], "password": body["password"]}


async def log_in_with_line(person: Any) -> None:
    """Sign in; the browser's SIP line is registered once the phone-call button shows."""
    await log_in(person)
    await expect(person.page.locator("#dial-sip")).to_be_visible(timeout=20_000)


async def assert_hears_audio(page: Page) -> None:
    """Once audio arrives, two getStats() samples a second apart: received audio bytes and
    energy both grow."""

    async def arriving() -> bool:
        return bool((await stats(page) or {}).get("audioBytesReceived"))

    await wait_for(arriving, timeout=10, interval=0.2)
    first = await stats(page)
    await asyncio.sleep(1.0)
    second = await stats(page)
    print(
        f"audio bytes {first['audioBytesReceived']} -> {second['audioBytesReceived']}, "
        f"energy {first['audioEnergy']} -> {second['audioEnergy']}"
    )
    assert second["audioBytesReceived"] > first["audioBytesReceived"] > 0, (first, second)
    assert second["audioEnergy"] > first["audioEnergy"], (first, second)  # sound, not silence


async def test_a_browser_calls_a_sip_phone_and_hears_it_echo(
    browser_person: Any, sip_server: ServerProcess, tmp_path: Path
) -> None:
    alice = await browser_person(sip_server.url)
    await subscriber_with_sip(sip_server, alice.username, alice.password)
    bob = await subscriber_with_sip(sip_server, f"{alice.username}b", alice.password)
    edge = edge_of(sip_server)
    port = free_udp_port()
    registered = await run(
        edge,
        register_scenario(),
        tmp_path / "reg",
        service=bob["username"],
        user=bob["username"],
        password=bob["password"],
        port=port,
    )
    assert registered.code == 0, registered.output
    phone = Uas(edge, tmp_path / "phone", port, service=bob["username"], rtp_echo=True)
    await phone.start()
    try:
        await log_in_with_line(alice)
        page = alice.page
        await page.fill("#dial-to", bob["number"])
        await page.click("#dial-sip")
        await wait_connected(page)
        sdp = await page.evaluate("window.yuntong.call.pc.remoteDescription.sdp")
        assert "PCMU/8000" in sdp or "PCMA/8000" in sdp  # G.711: no transcoding in Janus
        await assert_hears_audio(page)
        await page.click("#btn-hangup")
        await expect(page.locator("#call-outcome")).to_have_attribute("data-outcome", "answered")
        done = await phone.wait()
        assert done.code == 0, done.output  # the phone got the BYE
    finally:
        await phone.stop()


async def test_a_sip_phone_calls_the_browser_and_the_user_answers(
    browser_person: Any, sip_server: ServerProcess, tmp_path: Path
) -> None:
    alice = await browser_person(sip_server.url)
    mine = await subscriber_with_sip(sip_server, alice.username, alice.password)
    bob = await subscriber_with_sip(sip_server, f"{alice.username}c", alice.password)
    await log_in_with_line(alice)
    calling = asyncio.ensure_future(
        run(
            edge_of(sip_server),
            invite_scenario(mine["username"], hold_ms=4000),
            tmp_path / "bob-calls",
            service=bob["username"],
            user=bob["username"],
            password=bob["password"],
            rtp_echo=True,
        )
    )
    page = alice.page
    await expect(page.locator("#incoming")).to_be_visible(timeout=15_000)
    # the number that rang (the caller's own is shown with caller ID, CLIP, a paid service)
    await expect(page.locator("#incoming-username")).to_contain_text(f"+86{mine['number']}")
    await page.click("#incoming-accept")
    await wait_connected(page)
    await assert_hears_audio(page)
    done = await calling
    assert done.code == 0, done.output  # answered with 200, then the phone hung up
    await expect(page.locator("#call-outcome")).to_have_attribute("data-outcome", "answered")
