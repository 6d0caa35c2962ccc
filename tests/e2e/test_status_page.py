"""The status page in Chromium: staff add a component and open an incident on their page (a
computer, 1366 px), a visitor with no account reads it on a phone (390 px) in English and
Chinese, with the 90 days' bars, and subscribes by e-mail. Nothing scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.conftest import unique
from tests.e2e.conftest import log_in
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
COMPUTER = {"width": 1366, "height": 768}  # as test_phone_layout.py


async def _fits(page: Page) -> None:
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


async def test_staff_open_an_incident_and_a_visitor_reads_it_on_a_phone(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    staff = await new_person(unique("ops"))
    await e2e_server.create_user(staff.username, role="operator_admin")
    page = staff.page
    await page.set_viewport_size(COMPUTER)
    await log_in(staff, "/operator/status")
    key = unique("c")
    name = f"Video calls {key}"
    form = page.locator("#component-form")
    await form.locator("[name=key]").fill(key)
    await form.locator("[name=name_zh]").fill(f"视频通话 {key}")
    await form.locator("[name=name_en]").fill(name)
    await form.locator("button[type=submit]").click()
    row = page.locator("#staff-components li", has_text=name)
    await expect(row).to_contain_text("Operational")

    incident = page.locator("#incident-form")
    await incident.locator("[name=title_zh]").fill("视频通话失败")
    await incident.locator("[name=title_en]").fill(f"Video calls failing {key}")
    await incident.locator("label", has_text=name).locator("select").select_option("major_outage")
    await incident.locator("[name=message_zh]").fill("正在调查。")
    await incident.locator("[name=message_en]").fill("We are investigating.")
    await incident.locator("button[type=submit]").click()
    await expect(page.locator("#staff-components li", has_text=name)).to_contain_text(
        "Major outage"
    )
    await _fits(page)

    visitor = await new_person()
    phone = visitor.page
    await phone.set_viewport_size(PHONE)
    await phone.goto("/status")
    await expect(phone.locator("#status-overall h1")).to_have_text("Major system outage")
    await expect(phone.locator(".status-incident h2").first).to_contain_text(key)
    component = phone.locator(".status-component", has_text=name)
    await expect(component.locator(".status-state")).to_have_text("Major outage")
    await expect(component.locator(".bar")).to_have_count(90)
    assert await component.locator(".bar").last.get_attribute("data-state") == "major_outage"
    box = await component.locator(".status-bars").bounding_box()
    assert box is not None and box["width"] <= 390
    await _fits(phone)

    await phone.locator("#subscribe-form [name=email]").fill(f"{key}@example.com")
    await phone.locator("#subscribe-form button[type=submit]").click()
    await expect(phone.locator("#subscribe-sent")).to_be_visible()

    await phone.click("#lang-switch")
    await expect(phone.locator("#status-overall h1")).to_have_text("重大系统中断")
    await expect(phone.locator(".status-component", has_text=key).first).to_contain_text(
        f"视频通话 {key}"
    )
    await _fits(phone)
