"""A conference call in Chromium (one browser test): the organiser finds the conference from
the meetings page, opens it and joins from the browser (WebRTC, Opus) while a SIP phone dials
in (number*PIN) and sends a tone; the browser receives the bridge's mix with audio energy, the
page lists both legs (1280 px and 390 px), and closing the page ends the browser's leg. Real
Kamailio, Janus AudioBridge, SIPp and Chromium (SQLite)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Person, log_in, screenshot
from tests.integration.conferences.conftest import (
    ConferenceWorld,
    Make,
    api,
    sip_account,
)
from tests.integration.conferences.conftest import conference_world as conference_world
from tests.integration.conferences.conftest import server as server
from tests.integration.conferences.conftest import subscriber as subscriber
from tests.integration.conferences.test_dial_in import PIN, dial
from tests.support.server import wait_for

RECEIVED_ENERGY = """async () => {
  let energy = 0;
  (await window.yuntongConference.pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio') energy = r.totalAudioEnergy || 0;
  });
  return energy;
}"""


@pytest.mark.parametrize("conference_world", ["sqlite"], indirect=True)
async def test_a_browser_joins_and_hears_a_phone_that_dialled_in(
    conference_world: ConferenceWorld,
    subscriber: Make,
    browser_person: Any,
    tmp_path: Path,
) -> None:
    world = conference_world
    organiser = await subscriber(online=False)
    made = await api(
        world.server,
        organiser,
        "POST",
        "/conferences",
        {"title": "Launch call", "dial_in": organiser.e164, "pin": PIN},
    )
    conference = made.json()
    phone = await sip_account(world.server, await subscriber(online=False))
    person: Person = await browser_person(world.server.url, organiser.username)
    page = person.page
    await log_in(person, "/meetings")  # conference calls are reached from the meetings page
    await page.click("#conferences-link")
    await page.click(f"#conference-rows tr[data-conference-id='{conference['id']}'] a")
    await page.wait_for_selector("#c-title:has-text('Launch call')")
    await page.click("#join")
    await page.wait_for_selector("#in-call", state="visible")
    call = asyncio.create_task(
        dial(world, phone, f"{organiser.number}*{PIN}", tmp_path, hold_ms=12000)
    )
    try:

        async def heard() -> float:
            await asyncio.sleep(0.5)
            energy: float = await page.evaluate(RECEIVED_ENERGY)
            return energy if energy > 0.001 else 0.0

        energy = 0.0
        for _ in range(30):
            energy = await heard()
            if energy:
                break
        assert energy > 0.001, "the browser received no audio from the phone"
        await page.wait_for_selector("#leg-rows tr[data-kind=phone]")
        await page.wait_for_selector("#leg-rows tr[data-kind=browser]")
        assert await page.is_visible("#dial-form")
        await page.click("#self-mute")  # the microphone off, then on again
        assert await page.get_attribute("#self-mute", "aria-pressed") == "true"
        await page.click("#self-mute")
        await screenshot(page, "conference-desktop")
        await page.set_viewport_size({"width": 390, "height": 844})
        await screenshot(page, "conference-phone")
        assert await page.evaluate("document.documentElement.scrollWidth <= 390")
        await page.close()  # the browser leaves: its leg is closed

        async def browser_left() -> bool:
            found = await api(world.server, organiser, "GET", f"/conferences/{conference['id']}")
            return any(leg["kind"] == "browser" and leg["left_at"] for leg in found.json()["legs"])

        assert await wait_for(browser_left, timeout=15, interval=0.2)
    finally:
        done = await call
    assert done.code == 0, done.output
