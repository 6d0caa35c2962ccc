"""Call waiting in three real Chromium contexts: Bob switches call waiting on on the services
page; in a video call with Alice, Carol's call waits on his screen; he answers it holding
Alice's call, swaps back, and resumes Carol after Alice hangs up. The media of the held call is
measured paused (the audio energy Alice receives stops growing) and flowing again once resumed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import unique
from tests.e2e.conftest import Person, log_in
from tests.e2e.test_video_call import assert_media_flows, wait_connected
from tests.support.server import ServerProcess
from yuntong.accounts import directory
from yuntong.accounts.auth import principal_for
from yuntong.billing.orders.orders import do_place_order
from yuntong.supplementary import products

pytestmark = pytest.mark.e2e


async def order_call_waiting(server: ServerProcess, person: Person, user_id: int) -> None:
    """Call waiting added to the catalogue and ordered by ``person``; once the server sees the
    order (its catalogue copy catches up through the change feed)."""
    ctx = await server.context()
    staff_id = await server.create_user(unique("staff"), role="operator_admin")
    staff = principal_for(await directory.get_user(ctx, staff_id), "", "cli")
    await products.do_add_products(ctx, staff)
    user = principal_for(await directory.get_user(ctx, user_id), "", "web")
    await do_place_order(ctx, user, None, [products.BY_SERVICE["waiting"].code])
    token = await server.login(person.username, person.password)

    async def ordered() -> bool:
        async with httpx.AsyncClient(base_url=server.url) as http:
            resp = await http.get("/api/v1/services", headers={"Authorization": f"Bearer {token}"})
        return "waiting" in resp.json()["ordered"]

    for _ in range(50):
        if await ordered():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the server never saw the order")


async def dial(page: Page, username: str) -> None:
    await page.goto("/contacts")
    await page.fill("#dial-to", username)
    await page.click("#dial-video")


async def audio_energy(page: Page, which: str = "call") -> float:
    s: dict[str, Any] = await page.evaluate(f"window.yuntong.{which}.stats()")
    return float(s["audioEnergy"])


async def energy_grows(page: Page, which: str = "call") -> float:
    first = await audio_energy(page, which)
    await asyncio.sleep(1.5)
    return await audio_energy(page, which) - first


async def fits_a_phone(page: Page) -> None:
    """On a 390 px phone the card's buttons are on the screen and the hang-up button of the call
    under it is not covered."""
    await page.set_viewport_size({"width": 390, "height": 844})
    try:
        for button in ("#second-reject", "#second-answer-end", "#second-answer-hold"):
            box = await page.locator(button).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
            assert box["y"] + box["height"] <= 844, box
        on_top = await page.evaluate(
            """() => {
              const r = document.querySelector('#btn-hangup').getBoundingClientRect();
              const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
              return Boolean(hit && hit.closest('#btn-hangup'));
            }"""
        )
        assert on_top, "the hang-up button is covered"
    finally:
        await page.set_viewport_size({"width": 1280, "height": 800})


async def test_answer_a_waiting_call_holding_the_first_then_swap_and_resume(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    alice, bob, carol = await new_person(), await new_person(), await new_person()
    for person in (alice, carol):
        await e2e_server.create_user(person.username, person.password)
    bob_id = await e2e_server.create_user(bob.username, bob.password)
    await order_call_waiting(e2e_server, bob, bob_id)

    # Bob switches call waiting on on his services page
    await log_in(bob, "/services")
    form = bob.page.locator("#waiting-form")
    await expect(form.locator(".not-ordered")).to_be_hidden()
    await form.locator("[name=waiting]").check()
    await form.locator("button[type=submit]").click()
    await expect(bob.page.locator(".toast")).to_contain_text("Saved")
    await log_in(alice)
    await log_in(carol)

    await dial(alice.page, bob.username)
    await expect(bob.page.locator("#incoming")).to_be_visible()
    await bob.page.click("#incoming-accept")
    await asyncio.gather(wait_connected(alice.page), wait_connected(bob.page))
    await asyncio.sleep(1.0)
    await assert_media_flows(alice.page, "alice with bob")

    # Carol's call waits: a card over Bob's call, a waiting tone, the answers the server offers
    await dial(carol.page, bob.username)
    card = bob.page.locator("#second-call")
    await expect(card).to_be_visible()
    await expect(bob.page.locator("#second-title")).to_contain_text("Call waiting")
    await expect(bob.page.locator("#second-answer-hold")).to_be_visible()
    await expect(bob.page.locator("#second-answer-end")).to_be_visible()
    await expect(bob.page.locator("#second-answer")).to_be_hidden()
    assert await bob.page.evaluate("window.yuntong.second.tone.playing") == "waiting"
    await fits_a_phone(bob.page)
    await expect(carol.page.locator("#call-state")).to_contain_text("in another call")

    await bob.page.click("#second-answer-hold")
    await asyncio.gather(wait_connected(bob.page), wait_connected(carol.page))
    await expect(alice.page.locator("#call-state")).to_have_text("The other side put you on hold")
    await expect(bob.page.locator("#second-state")).to_have_text("On hold")
    await expect(bob.page.locator("#second-swap")).to_be_visible()
    await asyncio.sleep(1.0)
    await assert_media_flows(carol.page, "carol with bob")
    await assert_media_flows(bob.page, "bob with carol")
    # the held call runs on, its media paused on both sides: Alice hears nothing from Bob
    assert await energy_grows(alice.page) == pytest.approx(0, abs=1e-6)
    assert await bob.page.evaluate(
        "window.yuntong.second.localStream.getTracks().every((t) => !t.enabled)"
    )

    # swap: Alice back, Carol held
    await bob.page.click("#second-swap")
    await expect(carol.page.locator("#call-state")).to_have_text("The other side put you on hold")
    await expect(alice.page.locator("#call-state")).not_to_have_text(
        "The other side put you on hold"
    )
    await asyncio.sleep(1.0)
    assert await energy_grows(alice.page) > 0
    assert await energy_grows(carol.page) == pytest.approx(0, abs=1e-6)

    # Alice hangs up: Carol's held call is on Bob's screen, with Resume
    await alice.page.click("#btn-hangup")
    await expect(card).to_be_hidden()
    await expect(bob.page.locator("#btn-resume")).to_be_visible()
    await expect(bob.page.locator("#call-state")).to_have_text("On hold")
    await bob.page.click("#btn-resume")
    await expect(bob.page.locator("#btn-resume")).to_be_hidden()
    await asyncio.sleep(1.0)
    assert await energy_grows(carol.page) > 0
    await bob.page.click("#btn-hangup")
    await expect(carol.page.locator("#call-outcome")).to_have_attribute("data-outcome", "answered")
