"""Joining a meeting in real Chromium, as it happens in a hurry (issue 12).

* Join pressed before the camera and microphone are open: the devices open after the page is
  in the room, and the others still see and hear the person (the page used to skip publishing
  a stream with no tracks and never try again).
* One ``meeting.join`` per join: the socket client ran its ``hello`` handlers twice, so every
  page joined twice (and ``/ws`` pages ran their ``hello`` handlers twice).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, WebSocket, expect

from tests.conftest import unique
from tests.e2e.conftest import Person, log_in, screenshot
from tests.e2e.test_meeting_pages import assert_decoding, join, my_id
from tests.support.meetings import janus_env, janus_ready
from tests.support.server import ServerProcess, private_server, wait_for

pytestmark = pytest.mark.e2e

# getUserMedia waits until the test calls window.releaseDevices(): the devices open only then
HOLD_DEVICES = """(() => {
  const devices = navigator.mediaDevices;
  const original = devices.getUserMedia.bind(devices);
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  window.releaseDevices = () => release();
  devices.getUserMedia = (constraints) => released.then(() => original(constraints));
})();"""

# the host's view of a participant's tile: its video's size and clock
TILE_VIDEO = """(id) => {
  const video = document.querySelector(`#tiles .tile[data-participant-id="${id}"] video`);
  if (!video) return null;
  return { width: video.videoWidth, height: video.videoHeight, time: video.currentTime };
}"""


@pytest.fixture(scope="module")
async def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    """Instead of conftest.py's: a server with a supervised Janus of its own (and no coturn)."""
    if not shutil.which("janus"):
        pytest.skip("Janus is not installed")
    async with private_server(tmp_path_factory.mktemp("e2e-join"), **janus_env()) as server:
        await janus_ready(server)
        yield server


def count_joins(page: Page) -> list[dict[str, Any]]:
    """The ``meeting.join`` messages this page sends on its meeting sockets, as they go."""
    sent: list[dict[str, Any]] = []

    def frame(payload: str | bytes) -> None:
        msg = json.loads(payload)
        if msg.get("type") == "meeting.join":
            sent.append(msg)

    def socket(ws: WebSocket) -> None:
        if "/ws/meeting" in ws.url:
            ws.on("framesent", frame)

    page.on("websocket", socket)
    return sent


async def start_meeting(host: Person, server: ServerProcess) -> str:
    """The host starts an instant meeting and joins it; returns the join link (path)."""
    await server.create_user(host.username, host.password)
    await log_in(host, "/meetings")
    await host.page.click("#new-instant")
    await host.page.wait_for_url(re.compile(r"/m/\d{9}\?pwd=\d+$"))
    await join(host.page)
    return host.page.url.removeprefix(server.url)


async def audio_bytes(page: Page, participant_id: str) -> int:
    stats: dict[str, Any] = await page.evaluate("window.ytMeeting.stats()")
    return sum(
        feed.get("audioBytesReceived") or 0
        for feed in stats["feeds"]
        if feed["participant_id"] == participant_id and feed["kind"] == "camera"
    )


async def test_join_before_the_devices_open_is_seen_and_heard(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    host: Person = await new_person(unique("host"))
    guest: Person = await new_person(unique("guest"))
    link = await start_meeting(host, e2e_server)

    await guest.context.add_init_script(HOLD_DEVICES)
    await guest.page.goto(link)
    await guest.page.fill("#prejoin-form [name=display_name]", "Early 早")
    await guest.page.click("#prejoin-join")  # at once: the camera and microphone are not open
    await guest.page.wait_for_function("() => window.ytMeeting.state === 'joined'")
    await expect(guest.page.locator("#room")).to_be_visible()
    assert await guest.page.evaluate("window.ytMeeting.media.stream.getTracks().length") == 0
    guest_id = await my_id(guest.page)

    await guest.page.evaluate("window.releaseDevices()")  # now they open
    await guest.page.wait_for_function("() => window.ytMeeting.media.hasVideo")

    # the host decodes the guest's camera and hears their microphone
    await assert_decoding(host.page, "host", {guest_id})
    tile = host.page.locator(f"#tiles .tile[data-participant-id='{guest_id}']")
    await expect(tile).not_to_have_class(re.compile(r"\bno-video\b"))
    first = await host.page.evaluate(TILE_VIDEO, guest_id)
    assert first is not None and first["width"] > 0 and first["height"] > 0, first
    heard = await audio_bytes(host.page, guest_id)

    async def advanced() -> bool:
        now = await host.page.evaluate(TILE_VIDEO, guest_id)
        louder = await audio_bytes(host.page, guest_id)
        return bool(now and now["time"] > first["time"] + 0.5 and louder > heard > 0)

    await wait_for(advanced, timeout=10, interval=0.25)
    await expect(guest.page.locator("#publish-failed")).to_be_hidden()
    await screenshot(host.page, "meeting-late-devices")


async def test_one_meeting_join_per_join(new_person: Any, e2e_server: ServerProcess) -> None:
    host: Person = await new_person(unique("host"))
    guest: Person = await new_person(unique("guest"))
    host_joins = count_joins(host.page)
    guest_joins = count_joins(guest.page)
    link = await start_meeting(host, e2e_server)

    await guest.page.goto(link)
    await guest.page.fill("#prejoin-form [name=display_name]", "Guest")
    await join(guest.page)
    await host.page.wait_for_function("() => window.ytMeeting.participants().length === 2")
    await asyncio.sleep(1.0)  # a second join would follow the first at once
    assert [m["data"] for m in host_joins] == [{"resume": False}], host_joins
    assert [m["data"] for m in guest_joins] == [{"resume": False}], guest_joins

    # the /ws client of the signed-in host runs its hello handlers once per hello, too
    await host.page.evaluate(
        """() => {
          window.helloCount = 0;
          window.yuntong.rt.on('hello', () => { window.helloCount += 1; });
          window.yuntong.rt.ws.close();  // the client reconnects, and gets a new hello
        }"""
    )
    await host.page.wait_for_function("() => window.helloCount > 0")
    await asyncio.sleep(0.5)
    assert await host.page.evaluate("window.helloCount") == 1


# while window.breakPublish is set, the page's meeting.publish carries an SDP no one accepts
BREAK_PUBLISH = """(() => {
  window.breakPublish = true;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function patched(data) {
    if (window.breakPublish && typeof data === 'string' && data.includes('"meeting.publish"')) {
      const msg = JSON.parse(data);
      msg.data.sdp = 'not an offer';
      data = JSON.stringify(msg);
    }
    return send.call(this, data);
  };
})();"""


@pytest.mark.parametrize(
    ("locale", "text", "retry", "other_language"),
    [
        ("en-US", "Others cannot see or hear you", "Try again", r"[\u4e00-\u9fff]"),
        ("zh-CN", "其他人看不到也听不到你", "重试", r"[A-Za-z]{4}"),
    ],
)
async def test_a_failed_publish_is_shown_and_can_be_retried(
    browser: Any,
    e2e_server: ServerProcess,
    new_person: Any,
    locale: str,
    text: str,
    retry: str,
    other_language: str,
) -> None:
    """The server refuses the guest's publish: a message says so, in the page's language
    (the server's reason too), fits a 390-px screen, and Try again publishes."""
    host: Person = await new_person(unique("host"))
    link = await start_meeting(host, e2e_server)
    # a phone-sized guest page, in the language of the case
    context = await browser.new_context(
        base_url=e2e_server.url, locale=locale, viewport={"width": 390, "height": 844}
    )
    try:
        await context.add_init_script(BREAK_PUBLISH)
        page = await context.new_page()
        await page.goto(link)
        await page.fill("#prejoin-form [name=display_name]", "Guest")
        await join(page)
        alert = page.locator("#publish-failed")
        await expect(alert).to_be_visible()
        await expect(alert).to_contain_text(text)
        detail = page.locator("#publish-failed-detail")
        await expect(detail).not_to_be_empty()
        await expect(detail).not_to_have_text(re.compile(other_language))
        box = await alert.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        await screenshot(page, f"meeting-publish-failed-{locale}")

        await page.evaluate("window.breakPublish = false")
        await page.get_by_role("button", name=retry).click()
        await expect(alert).to_be_hidden()
        await assert_decoding(host.page, "host", {await my_id(page)})
    finally:
        await context.close()
