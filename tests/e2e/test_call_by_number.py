"""A call by number in two real Chromium contexts: the caller dials the callee's number in the
dial panel, choosing which of her two numbers it comes from; the callee sees which number rang;
media flows both ways; both histories show the numbers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import log_in
from tests.e2e.test_video_call import assert_media_flows, wait_connected
from tests.support.numbers import number_for
from tests.support.server import ServerProcess
from yuntong.numbers.models import NumberState

pytestmark = pytest.mark.e2e


async def test_dial_a_number_from_a_chosen_number_and_talk(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    alice, bob = await new_person(), await new_person()
    alice_id = await e2e_server.create_user(alice.username, alice.password)
    bob_id = await e2e_server.create_user(bob.username, bob.password)
    await number_for(e2e_server, alice_id)
    alice_second = await number_for(e2e_server, alice_id)
    bob_number = await number_for(e2e_server, bob_id)
    await log_in(alice)
    await log_in(bob)

    page = alice.page
    # two numbers: the panel offers both, the first (oldest) chosen
    await expect(page.locator("#dial-from-field")).to_be_visible()
    await expect(page.locator("#dial-from option")).to_have_count(2)
    await page.select_option("#dial-from", f"+86{alice_second}")
    await page.fill("#dial-to", f"{bob_number[:3]} {bob_number[3:7]} {bob_number[7:]}")
    await page.click("#dial-video")

    await expect(bob.page.locator("#incoming")).to_be_visible()
    await expect(bob.page.locator("#incoming-username")).to_contain_text(f"to +86{bob_number}")
    await bob.page.click("#incoming-accept")
    await asyncio.gather(wait_connected(alice.page), wait_connected(bob.page))
    await asyncio.sleep(1.0)
    await asyncio.gather(
        assert_media_flows(alice.page, "alice"), assert_media_flows(bob.page, "bob")
    )
    await page.click("#btn-hangup")
    await expect(bob.page.locator("#call-outcome")).to_have_attribute("data-outcome", "answered")

    for person, shown in ((alice, f"+86{bob_number}"), (bob, f"+86{alice_second}")):
        await person.page.goto("/history")
        row = person.page.locator("#history-rows tr").first
        await expect(row).to_have_attribute("data-outcome", "answered")
        await expect(row.locator(".peer-username")).to_contain_text(shown)


async def test_a_number_not_in_service_is_told_to_the_caller(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    alice = await new_person()
    await e2e_server.create_user(alice.username, alice.password)
    spare = await number_for(e2e_server, None, NumberState.AVAILABLE)
    await log_in(alice)
    page = alice.page
    await expect(page.locator("#dial-from-field")).to_be_hidden()  # no number of her own
    await page.fill("#dial-to", spare)
    await page.click("#dial-audio")
    # in the page's language (English here), not the account's (zh-CN, the default)
    await expect(page.locator("#call-outcome")).to_contain_text(
        "The number you dialled is not in service"
    )
