"""Meetings in real Chromium: a host starts an instant meeting, a member and a guest join by link.

Media assertions are measurements read from each page's subscriber RTCPeerConnections through
``window.ytMeeting.stats()``: for both other participants' camera feeds, frames decoded grow.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import unique
from tests.e2e.conftest import PASSWORD, Person, log_in, screenshot
from tests.support.meetings import janus_env, janus_ready
from tests.support.server import ServerProcess, private_server, wait_for
from yuntong.client.meeting import MeetingClient, MeetingFeed, get_ticket

pytestmark = pytest.mark.e2e
GUEST_NAME = "访客 Guest"


@pytest.fixture(scope="module")
async def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    """Instead of conftest.py's: a server with a supervised Janus of its own (and no coturn)."""
    if not shutil.which("janus"):
        pytest.skip("Janus is not installed")
    async with private_server(
        tmp_path_factory.mktemp("e2e-meetings"), **janus_env(YUNTONG_MEETING_LAYER_RECOVER_S="12")
    ) as server:
        await janus_ready(server)
        yield server


async def join(page: Page, shot: str | None = None) -> None:
    """Press Join on the pre-join screen once the camera preview runs; wait to be in the room."""
    await page.wait_for_function("() => window.ytMeeting && window.ytMeeting.media.hasVideo")
    if shot:
        await screenshot(page, shot)
    await page.click("#prejoin-join")
    await page.wait_for_function("() => window.ytMeeting.state === 'joined'", timeout=20_000)
    await expect(page.locator("#room")).to_be_visible()


async def my_id(page: Page) -> str:
    participant_id: str = await page.evaluate("window.ytMeeting.me.id")
    return participant_id


async def camera_frames(page: Page) -> dict[str, int]:
    """participant id → frames decoded of their camera feed, as this page receives it."""
    stats: dict[str, Any] = await page.evaluate("window.ytMeeting.stats()")
    return {
        feed["participant_id"]: feed.get("framesDecoded") or 0
        for feed in stats["feeds"]
        if feed["kind"] == "camera"
    }


async def assert_decoding(page: Page, label: str, others: set[str]) -> None:
    """Frames decoded grow, over a second, for the camera feed of each of ``others``."""
    deadline = asyncio.get_running_loop().time() + 25
    first = await camera_frames(page)
    while set(first) != others or not all(first.values()):
        assert asyncio.get_running_loop().time() < deadline, (label, first, others)
        await asyncio.sleep(0.5)
        first = await camera_frames(page)
    await asyncio.sleep(1.0)
    second = await camera_frames(page)
    print(f"{label}: framesDecoded {first} -> {second}")
    for participant_id in others:
        assert second[participant_id] > first[participant_id] > 0, (label, first, second)


async def test_instant_meeting_with_a_member_and_a_guest(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    host: Person = await new_person(unique("host"))
    member: Person = await new_person(unique("member"))
    guest: Person = await new_person(unique("guest"))  # never signs in
    for person in (host, member):
        await e2e_server.create_user(person.username, person.password)

    await log_in(host, "/meetings")
    await host.page.click("#new-instant")
    await host.page.wait_for_url(re.compile(r"/m/\d{9}\?pwd=\d+$"))
    link = host.page.url.removeprefix(e2e_server.url)
    number = link.split("/m/")[1].split("?")[0]
    await join(host.page, shot="meeting-prejoin")

    await log_in(member)
    await member.page.goto(link)
    await expect(member.page.locator("#prejoin-as")).to_contain_text(member.username)
    await join(member.page)

    await guest.page.goto(link)
    await guest.page.fill("#prejoin-form [name=display_name]", GUEST_NAME)
    await join(guest.page)

    people = {host.username: host.page, member.username: member.page, "guest": guest.page}
    ids = {name: await my_id(page) for name, page in people.items()}
    for page in people.values():
        await page.wait_for_function("() => window.ytMeeting.participants().length === 3")
    assert await guest.page.evaluate("window.ytMeeting.me.role") == "guest"
    assert await host.page.evaluate("window.ytMeeting.me.role") == "host"

    await asyncio.gather(
        *(
            assert_decoding(page, name, {ids[other] for other in people if other != name})
            for name, page in people.items()
        )
    )
    await expect(host.page.locator("#tiles .tile")).to_have_count(3)
    await screenshot(host.page, "meeting-room")

    # the host mutes everyone: every list shows it, the others' microphones are off
    await host.page.click("#btn-people")
    await expect(host.page.locator("#host-tools")).to_be_visible()
    await expect(member.page.locator("#btn-mute-all")).to_be_hidden()
    await host.page.click("#btn-mute-all")
    for name in (member.username, "guest"):
        row = host.page.locator(f"#people-list li[data-participant-id='{ids[name]}']")
        await expect(row).to_have_attribute("data-audio-muted", "true")
        await expect(people[name].locator("#btn-mic")).to_have_attribute("aria-pressed", "true")
        muted = "window.ytMeeting.media.stream.getAudioTracks()[0].enabled"
        assert await people[name].evaluate(muted) is False
    host_row = host.page.locator(f"#people-list li[data-participant-id='{ids[host.username]}']")
    await expect(host_row).to_have_attribute("data-audio-muted", "false")
    await member.page.click("#btn-people")
    guest_row = member.page.locator(f"#people-list li[data-participant-id='{ids['guest']}']")
    await expect(guest_row).to_have_attribute("data-audio-muted", "true")
    await screenshot(host.page, "meeting-muted-all")

    # the host ends the meeting for all: everyone sees the end screen
    await host.page.click("#btn-end-all")
    await host.page.click("#confirm-ok")
    for page in (member.page, guest.page, host.page):
        end = page.locator("#meeting-end")
        await expect(end).to_be_visible()
        await expect(end).to_have_attribute("data-reason", "host")
    await expect(guest.page.locator("#end-title")).to_have_text("The meeting has ended")
    await screenshot(guest.page, "meeting-ended")

    # the host finds it among past meetings, with who attended
    await host.page.goto("/meetings?scope=past")
    row = host.page.locator(f"#meetings-rows tr[data-number='{number}']")
    await expect(row).to_have_attribute("data-status", "ended")
    await row.locator(".act-details").click()
    await expect(host.page.locator("#attendance-rows tr")).to_have_count(3)
    await expect(host.page.locator("#attendance-rows")).to_contain_text(GUEST_NAME)
    # an ended meeting: its history, nothing more to do with it (the API's can_* flags)
    await expect(host.page.locator("#history")).to_be_visible()
    for done in ("#join-meeting", "#edit-meeting", "#end-meeting", "#invite-card"):
        await expect(host.page.locator(done)).to_be_hidden()


async def test_only_the_join_link_is_open_to_visitors(e2e_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=e2e_server.url) as client:
        for path in ("/meetings", "/meetings/new", f"/meetings/{'a' * 32}"):
            response = await client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=/meetings")
        page = await client.get("/m/123456789?pwd=123456", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        assert 'id="prejoin-form"' in page.text
        assert 'name="display_name"' in page.text  # a visitor joins as a guest, with a name
        assert "script-src 'self'" in page.headers["content-security-policy"]
        unknown = await client.get("/m/12345", headers={"Accept-Language": "en"})
        assert 'id="meeting-unknown"' in unknown.text


async def test_meeting_list_in_chinese(browser: Browser, e2e_server: ServerProcess) -> None:
    username = unique("zh")
    await e2e_server.create_user(username, PASSWORD)
    context = await browser.new_context(base_url=e2e_server.url, locale="zh-CN")
    try:
        person = Person(username, context, await context.new_page())
        await log_in(person, "/meetings")
        page = person.page
        await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        await expect(page.locator("h1")).to_have_text("会议")
        await expect(page.locator("#new-instant")).to_have_text("新会议")
        await expect(page.locator("#schedule-link")).to_have_text("预约会议")
        await expect(page.locator("#scope-upcoming")).to_have_text("即将开始")
        await expect(page.locator("#meetings-empty")).to_have_text("没有会议")
        await screenshot(page, "meetings-zh")
    finally:
        await context.close()


OUTBOUND_LAYERS = """async () => {
  const pc = window.ytMeeting.room.publishers.camera.pc;
  const layers = {};
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid) {
      layers[r.rid] = { width: r.frameWidth || 0, frames: r.framesEncoded || 0 };
    }
  });
  return layers;
}"""


@dataclass
class Simulcast:
    widths: dict[str, int]  # rid → the width Chromium encodes it at
    viewer: MeetingClient
    feed: MeetingFeed  # the viewer's subscription to the host's camera
    page: Page  # the host's

    async def publisher_layers(self) -> dict[str, dict[str, int]]:
        layers: dict[str, dict[str, int]] = await self.page.evaluate(OUTBOUND_LAYERS)
        return layers


@asynccontextmanager
async def simulcast_viewer(new_person: Any, server: ServerProcess) -> AsyncIterator[Simulcast]:
    """A Chromium host publishing its camera in three layers (rid h, m, l), all being encoded,
    and an aiortc viewer decoding it."""
    host: Person = await new_person(unique("host"))
    await server.create_user(host.username, host.password)
    await log_in(host, "/meetings")
    await host.page.click("#new-instant")
    await host.page.wait_for_url(re.compile(r"/m/\d{9}\?pwd=\d+$"))
    number, passcode = re.findall(r"/m/(\d{9})\?pwd=(\d+)$", host.page.url)[0]
    await join(host.page)

    # Chromium turns the upper layers on as its bandwidth estimate grows
    async def three_layers() -> dict[str, dict[str, int]] | None:
        layers: dict[str, dict[str, int]] = await host.page.evaluate(OUTBOUND_LAYERS)
        sending = {rid: v for rid, v in layers.items() if v["frames"] > 0 and v["width"]}
        return sending if len(sending) == 3 else None

    layers = await wait_for(three_layers, timeout=30, interval=0.5)
    widths = {rid: v["width"] for rid, v in layers.items()}
    assert widths["l"] < widths["m"] < widths["h"], widths

    ticket = await get_ticket(server.url, number, passcode=passcode, display_name="Viewer")
    viewer = MeetingClient(server.url, ticket["ticket"], publish_audio=False, publish_video=False)
    await viewer.connect()
    try:
        await viewer.join()
        host_id = await my_id(host.page)
        await viewer.wait_until(lambda: viewer.frames_from(host_id) >= 5, 20)
        feed = next(f for f in viewer.feeds.values() if f.participant_id == host_id)
        yield Simulcast(widths, viewer, feed, host.page)
    finally:
        await viewer.leave()


async def decodes_width(
    viewer: MeetingClient, feed: MeetingFeed, width: int, timeout: float
) -> None:
    """Frames of ``width`` arrive: the size changes to it, and 10 more frames come."""
    try:
        await viewer.wait_until(
            lambda: feed.stats.video_size is not None and feed.stats.video_size[0] == width,
            timeout,
        )
    except TimeoutError:
        layers = [e.data for e in viewer.events if e.type == "meeting.layer"]
        state = f"{feed.stats.video_size}, {feed.stats.video_frames} frames, layers {layers}"
        raise AssertionError(f"no frames {width} wide in {timeout} s: {state}") from None
    frames = feed.stats.video_frames
    await viewer.wait_until(lambda: feed.stats.video_frames >= frames + 10, 10)
    assert feed.stats.video_size is not None and feed.stats.video_size[0] == width


async def test_simulcast_subscriber_gets_the_layer_it_asks_for(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    """An aiortc subscriber asks for substream 0, 2, 1 in turn and decodes frames of that
    layer's size each time."""
    async with simulcast_viewer(new_person, e2e_server) as sim:
        for substream, rid in ((0, "l"), (2, "h"), (1, "m")):
            await sim.viewer.request(
                "meeting.layer", {"sub_id": sim.feed.sub_id, "substream": substream}
            )
            try:
                await decodes_width(sim.viewer, sim.feed, sim.widths[rid], 15)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; publisher {await sim.publisher_layers()}") from None
        print(f"simulcast: publisher widths {sim.widths}")


async def test_simulcast_layer_steps_down_on_a_lossy_link_and_back_up(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    """The viewer's link loses 10 % of the video packets: Janus reports a slow link and the
    server lowers the viewer's layer; once the loss stops, the layer comes back after
    ``meeting_layer_recover_s`` (12 s here) to the full size.

    aiortc's receiver holds every frame for about 7 s after such losses (measured: no frame
    decoded, then the held ones at once), so the smaller frames show up late; the waits allow
    for it, and the recovery time is longer than that hold (with 5 s, a loaded machine
    sometimes went back to the top layer before a smaller frame was decoded)."""
    async with simulcast_viewer(new_person, e2e_server) as sim:
        viewer, feed = sim.viewer, sim.feed
        await decodes_width(viewer, feed, sim.widths["h"], 15)  # the top layer by default
        assert feed.pc is not None
        receiver = next(r for r in feed.pc.getReceivers() if r.track.kind == "video")

        def steps() -> list[dict[str, Any]]:
            return [e.data for e in viewer.events if e.type == "meeting.layer"]

        before = len(steps())
        lossy = LossyLink(receiver, 0.1)
        await viewer.wait_until(lambda: len(steps()) > before, 20)
        lowered = steps()[before]
        assert lowered["sub_id"] == feed.sub_id and lowered["substream"] < 2, lowered
        lossy.rate = 0.0
        print(f"lossy link: {len(lossy.dropped)} packets dropped, then {lowered}")
        # no more slow links: frames of a lower layer, then of the top one again
        lower = {sim.widths["m"], sim.widths["l"]}
        await viewer.wait_until(
            lambda: feed.stats.video_size is not None and feed.stats.video_size[0] in lower, 25
        )
        await decodes_width(viewer, feed, sim.widths["h"], 30)
        assert [s["substream"] for s in steps()[before:]][-1] == 2, steps()


class LossyLink:
    """Drops a share of the RTP packets an aiortc receiver gets, before its jitter buffer: it
    asks Janus to resend them (NACK), as a receiver behind a lossy link does. A resent packet
    gets through (aiortc's jitter buffer would otherwise hold every later frame for seconds)."""

    def __init__(self, receiver: Any, rate: float) -> None:
        self.rate = rate
        self.dropped: set[tuple[int, int]] = set()
        original = receiver._handle_rtp_packet

        async def handle(packet: Any, arrival_time_ms: int) -> None:
            key = (packet.ssrc, packet.sequence_number)
            if key not in self.dropped and random.random() < self.rate:
                self.dropped.add(key)
                return
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle
