"""Chromium ↔ `yuntong call` (aiortc): the browser and the headless client both receive media.

The browser side is measured with getStats() (frames decoded, audio bytes received growing);
the aiortc side with its own decoded frame counter and the received audio's RMS level.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import unique
from tests.e2e.conftest import PASSWORD, Person, log_in
from tests.e2e.test_video_call import add_contact, assert_media_flows, wait_connected
from tests.support.server import ServerProcess
from yuntong.client.call import run_call
from yuntong.client.quality import CallResult

pytestmark = pytest.mark.e2e


def assert_aiortc_received(result: CallResult) -> None:
    print(
        f"aiortc {result.role}: frames {result.frames_decoded}, "
        f"audio {result.audio_rms_dbfs:.1f} dBFS, outcome {result.outcome}"
    )
    assert result.answered, result
    assert result.frames_decoded > 10, result
    assert result.media_received, result  # the browser's fake microphone was heard
    assert result.media_delivered, result  # the browser's RTCP confirms our audio and video


async def _wait_online(person: Person, username: str) -> None:
    await add_contact(person, username)
    dot = person.page.locator(f"#contact-list li[data-username='{username}'] .dot")
    await expect(dot).to_have_attribute("data-status", "online", timeout=20_000)


async def test_browser_calls_the_headless_client_and_media_flows_both_ways(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    browser_user: Person = await new_person()
    bot = unique("bot")
    await e2e_server.create_user(browser_user.username, PASSWORD)
    await e2e_server.create_user(bot, PASSWORD)
    await log_in(browser_user)
    answering = asyncio.create_task(
        run_call(e2e_server.url, bot, PASSWORD, answer=True, media="video", duration=5, wait_s=30)
    )
    await _wait_online(browser_user, bot)

    await browser_user.page.fill("#dial-to", bot)
    await browser_user.page.click("#dial-video")
    await wait_connected(browser_user.page)
    await asyncio.sleep(1.0)
    await assert_media_flows(browser_user.page, "chromium caller")

    result = await asyncio.wait_for(answering, 40)  # the bot hangs up after 5 s
    assert_aiortc_received(result)
    assert result.outcome == "answered"
    await expect(browser_user.page.locator("#call-outcome")).to_have_attribute(
        "data-outcome", "answered"
    )


async def test_headless_client_calls_the_browser_and_media_flows_both_ways(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    browser_user: Person = await new_person()
    bot = unique("bot")
    await e2e_server.create_user(browser_user.username, PASSWORD)
    await e2e_server.create_user(bot, PASSWORD)
    await log_in(browser_user)

    calling = asyncio.create_task(
        run_call(e2e_server.url, bot, PASSWORD, to=browser_user.username, media="video", duration=5)
    )
    await expect(browser_user.page.locator("#incoming")).to_be_visible(timeout=20_000)
    await browser_user.page.click("#incoming-accept")
    await wait_connected(browser_user.page)
    await asyncio.sleep(1.0)
    await assert_media_flows(browser_user.page, "chromium callee")

    result = await asyncio.wait_for(calling, 40)
    assert_aiortc_received(result)
