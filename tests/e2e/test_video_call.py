"""Two people in two real Chromium contexts: sign up, get approved, call each other.

Media assertions are measurements read from each side's RTCPeerConnection.getStats()
through ``window.yuntong.stats()``: frames decoded and audio bytes received must grow.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.conftest import unique
from tests.e2e.conftest import Person, identity, log_in, screenshot
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


async def sign_up(person: Person, seed: int) -> None:
    page = person.page
    await page.goto("/signup")
    form = page.locator("#signup-individual")
    ident = identity(seed)
    values = {
        "username": person.username,
        "display_name": f"User {person.username}",
        "password": person.password,
        "full_name": "张三",
        "phone": ident["phone"],
        "id_number": ident["id_number"],
        "birth_date": ident["birth_date"],
        "employer": "云通测试",
        "address": "北京市朝阳区测试路 1 号",
    }
    for name, value in values.items():
        await form.locator(f"[name={name}]").fill(value)
    await form.locator("button[type=submit]").click()
    await page.wait_for_url("**/pending")
    await expect(page.locator("#pending-notice h1")).to_have_text("Awaiting approval")


async def approve(operator: Person, username: str) -> None:
    page = operator.page
    row = page.locator(f"#pending-rows tr[data-username='{username}']")
    await row.locator(".act-approve").click()
    await expect(row).to_have_count(0)


async def add_contact(person: Person, username: str) -> None:
    page = person.page
    await page.fill("#add-contact-form [name=query]", username)
    await page.click("#add-contact-form button[type=submit]")
    await expect(page.locator(f"#contact-list li[data-username='{username}']")).to_have_count(1)


async def call_state(page: Page) -> str | None:
    state: str | None = await page.evaluate("window.yuntong.call && window.yuntong.call.state")
    return state


async def wait_connected(page: Page) -> None:
    await page.wait_for_function(
        "() => window.yuntong.call && window.yuntong.call.state === 'connected'", timeout=20_000
    )


async def stats(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.yuntong.stats()")
    return result


async def assert_media_flows(page: Page, label: str) -> dict[str, Any]:
    """Two getStats() samples a second apart: decoded frames and received audio both grow."""
    first = await stats(page)
    await asyncio.sleep(1.0)
    second = await stats(page)
    print(
        f"{label}: framesDecoded {first['framesDecoded']} -> {second['framesDecoded']}, "
        f"audioBytesReceived {first['audioBytesReceived']} -> {second['audioBytesReceived']}, "
        f"rtt {second['rttMs']} ms, pair {second['localCandidateType']}/"
        f"{second['remoteCandidateType']}"
    )
    assert second["framesDecoded"] > first["framesDecoded"] > 0, (label, first, second)
    assert second["audioBytesReceived"] > first["audioBytesReceived"] > 0, (label, first, second)
    return second


def parse_duration(text: str) -> int:
    parts = [int(p) for p in text.strip().split(":")]
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


async def history_duration(person: Person) -> tuple[float, float]:
    """(duration shown, duration_ms/1000) of the newest call on the history page."""
    page = person.page
    await page.goto("/history")
    row = page.locator("#history-rows tr").first
    await expect(row).to_have_attribute("data-outcome", "answered")
    shown = parse_duration(await row.locator(".c-duration").inner_text())
    exact = int(await row.get_attribute("data-duration-ms") or 0) / 1000
    return shown, exact


async def test_sign_up_approve_video_call_and_history(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    operator = await new_person(unique("op"))
    await e2e_server.create_user(operator.username, operator.password, role="operator_admin")
    alice = await new_person(unique("alice"))
    bob = await new_person(unique("bob"))

    await sign_up(alice, 1)
    await screenshot(alice.page, "pending")
    await sign_up(bob, 2)

    await log_in(operator, "/operator")
    await expect(
        operator.page.locator(f"#pending-rows tr[data-username='{alice.username}']")
    ).to_be_visible()
    await screenshot(operator.page, "operator")
    await approve(operator, alice.username)
    await approve(operator, bob.username)
    # the users list offers the moves the API says: for alice the ladder, warning first; for
    # the operator itself nothing
    users = operator.page.locator("#users-rows")
    moves = users.locator(f"tr[data-username='{alice.username}'] select[name=status]")
    await expect(moves.locator("option")).to_have_count(4)
    await expect(moves).to_have_value("warned")
    own = users.locator(f"tr[data-username='{operator.username}']")
    await expect(own).to_have_count(1)
    await expect(own.locator("select, .act-status")).to_have_count(0)

    await log_in(alice)
    await add_contact(alice, bob.username)
    bob_row = alice.page.locator(f"#contact-list li[data-username='{bob.username}']")
    await expect(bob_row.locator(".dot")).to_have_attribute("data-status", "offline")
    await log_in(bob)
    # presence is live: Bob comes online in Alice's list without a reload
    await expect(bob_row.locator(".dot")).to_have_attribute("data-status", "online")
    await add_contact(bob, alice.username)
    await screenshot(alice.page, "contacts")

    await bob_row.locator(".act-video").click()
    incoming = bob.page.locator("#incoming")
    await expect(incoming).to_be_visible()
    await expect(bob.page.locator("#incoming-title")).to_contain_text("video calling you")
    assert await bob.page.evaluate("window.yuntong.call.tone.playing") == "ring"
    await screenshot(bob.page, "incoming")
    await bob.page.click("#incoming-accept")
    answered = time.monotonic()

    await asyncio.gather(wait_connected(alice.page), wait_connected(bob.page))
    await asyncio.sleep(1.0)
    a_stats, b_stats = await asyncio.gather(
        assert_media_flows(alice.page, "alice"), assert_media_flows(bob.page, "bob")
    )
    assert a_stats["frameWidth"] and b_stats["frameWidth"]
    await expect(alice.page.locator("#call-timer")).to_be_visible()
    await asyncio.sleep(1.0)  # let the quality indicator take its first measurement
    await screenshot(alice.page, "in-call")

    for button, kind in (("#btn-mute", "Audio"), ("#btn-camera", "Video")):
        await alice.page.click(button)
        await expect(alice.page.locator(button)).to_have_attribute("aria-pressed", "true")
        track = f"window.yuntong.call.localStream.get{kind}Tracks()[0].enabled"
        assert await alice.page.evaluate(track) is False
        await alice.page.click(button)
        assert await alice.page.evaluate(track) is True

    # another microphone mid-call (replaceTrack, no renegotiation): Bob keeps hearing Alice
    mic = "window.yuntong.call.localStream.getAudioTracks()[0].label"
    before = await alice.page.evaluate(mic)
    choices = await alice.page.eval_on_selector_all(
        "#pick-microphone option", "options => options.map(o => [o.value, o.textContent])"
    )
    other = next(choice for choice in choices if choice[1] != before)
    await alice.page.select_option("#pick-microphone", other[0])
    await alice.page.wait_for_function(f"() => {mic} !== {before!r}")
    await assert_media_flows(bob.page, "bob after Alice switched microphone")

    await alice.page.click("#btn-hangup")
    measured = time.monotonic() - answered
    await expect(bob.page.locator("#call-outcome")).to_have_attribute("data-outcome", "answered")
    assert await call_state(bob.page) in ("ended", None)

    alice_shown, alice_exact = await history_duration(alice)
    bob_shown, bob_exact = await history_duration(bob)
    print(
        f"measured {measured:.2f} s; history alice {alice_shown} s ({alice_exact:.3f}), "
        f"bob {bob_shown} s ({bob_exact:.3f})"
    )
    for shown, exact in ((alice_shown, alice_exact), (bob_shown, bob_exact)):
        assert abs(shown - measured) <= 1.0
        assert abs(exact - measured) <= 1.0
    await screenshot(alice.page, "history")


async def test_declined_call_shows_rejected_to_the_caller(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    caller = await new_person()
    callee = await new_person()
    for person in (caller, callee):
        await e2e_server.create_user(person.username, person.password)
        await log_in(person)

    await caller.page.fill("#dial-to", callee.username)
    await caller.page.click("#dial-audio")
    await expect(callee.page.locator("#incoming")).to_be_visible()
    await expect(caller.page.locator("#call-state")).to_have_attribute("data-state", "ringing")
    await callee.page.click("#incoming-decline")

    outcome = caller.page.locator("#call-outcome")
    await expect(outcome).to_have_attribute("data-outcome", "rejected")
    await expect(outcome).to_have_text("Rejected")
    await expect(callee.page.locator("#incoming")).to_be_hidden()

    await caller.page.goto("/history")
    first = caller.page.locator("#history-rows tr").first
    await expect(first).to_have_attribute("data-outcome", "rejected")
    await expect(first.locator(".c-duration")).to_have_text("—")


async def test_relay_only_call_flows_through_turn(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    caller = await new_person()
    callee = await new_person()
    for person in (caller, callee):
        await e2e_server.create_user(person.username, person.password)
        await log_in(person, "/contacts?relay=1")

    await caller.page.fill("#dial-to", callee.username)
    await caller.page.click("#dial-video")
    await expect(callee.page.locator("#incoming")).to_be_visible()
    await callee.page.click("#incoming-accept")
    await asyncio.gather(wait_connected(caller.page), wait_connected(callee.page))
    await asyncio.sleep(1.0)

    for person in (caller, callee):
        measured = await assert_media_flows(person.page, f"relay {person.username}")
        assert measured["localCandidateType"] == "relay", measured
    await caller.page.click("#btn-hangup")
    await expect(callee.page.locator("#call-outcome")).to_have_attribute("data-outcome", "answered")


async def test_a_call_given_up_on_is_missed_for_the_callee_until_seen(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    caller = await new_person()
    callee = await new_person()
    for person in (caller, callee):
        await e2e_server.create_user(person.username, person.password)
        await log_in(person)

    await caller.page.fill("#dial-to", callee.username)
    await caller.page.click("#dial-video")
    await expect(callee.page.locator("#incoming")).to_be_visible()
    await caller.page.click("#btn-hangup")  # gives up while it rings
    await expect(caller.page.locator("#call-outcome")).to_have_attribute("data-outcome", "canceled")
    await expect(callee.page.locator("#incoming")).to_be_hidden()
    badge = callee.page.locator("#missed-badge")
    await expect(badge).to_have_text("1")

    await callee.page.click("#nav-history")
    first = callee.page.locator("#history-rows tr").first
    await expect(first).to_have_attribute("data-direction", "missed")
    await expect(badge).to_be_hidden()
    await callee.page.select_option("#history-filters [name=direction]", "outgoing")
    await callee.page.click("#history-filters button[type=submit]")
    await expect(callee.page.locator("#history-empty")).to_be_visible()
