"""Do-not-disturb in Chromium on a phone (390 px): a user adds quiet hours on the services page,
sees them worded, switches do-not-disturb on there and finds the contacts page saying so, with
its link back to the schedules. Nothing scrolls sideways."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import unique
from tests.e2e.conftest import log_in
from tests.support.server import ServerProcess
from yuntong.accounts import directory
from yuntong.accounts.auth import principal_for
from yuntong.billing.orders.orders import do_place_order
from yuntong.supplementary import products

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
BEIJING = ZoneInfo("Asia/Shanghai")  # the server's business time zone (the default)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


async def _fits(page: Page) -> None:
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


async def order_schedules(server: ServerProcess, user_id: int) -> None:
    """Scheduled do-not-disturb added to the catalogue and ordered by the user; once the
    server sees the order (its catalogue copy catches up through the change feed)."""
    ctx = await server.context()
    staff_id = await server.create_user(unique("staff"), role="operator_admin")
    staff = principal_for(await directory.get_user(ctx, staff_id), "", "cli")
    await products.do_add_products(ctx, staff)
    user = principal_for(await directory.get_user(ctx, user_id), "", "web")
    await do_place_order(ctx, user, None, [products.BY_SERVICE["dnd_schedule"].code])
    token = await server.login(user.username)
    for _ in range(50):
        async with httpx.AsyncClient(base_url=server.url) as http:
            resp = await http.get(
                "/api/v1/presence/dnd", headers={"Authorization": f"Bearer {token}"}
            )
        if resp.json()["ordered"]:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the server never saw the order")


async def test_quiet_hours_are_added_and_do_not_disturb_switched_on_a_phone(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    person = await new_person()
    user_id = await e2e_server.create_user(person.username)
    page = person.page
    await page.set_viewport_size(PHONE)
    await log_in(person, "/services")
    await page.goto("/services#dnd")
    await page.wait_for_selector("#dnd[data-loaded=true]")
    # schedules are a paid service: not ordered, the form is locked and says why
    await expect(page.locator("#dnd-not-ordered")).to_contain_text("paid service")
    await expect(page.locator("#dnd-form button[type=submit]")).to_be_disabled()
    await order_schedules(e2e_server, user_id)
    await page.reload()
    await page.wait_for_selector("#dnd[data-loaded=true]")
    await expect(page.locator("#dnd-not-ordered")).to_be_hidden()
    await expect(page.locator("#dnd-empty")).to_be_visible()
    await expect(page.locator("#dnd-hint")).to_contain_text("make-up working days")

    form = page.locator("#dnd-form")
    await form.locator("[name=name]").fill("Night")
    await form.locator("[name=days]").select_option("workdays")
    await expect(page.locator("#dnd-weekdays")).to_be_hidden()
    await form.locator("[name=start]").fill("22:00")
    await form.locator("[name=end]").fill("07:30")
    # kept, not applied: whatever the time of the run, do-not-disturb stays off
    await form.locator("[name=enabled]").uncheck()
    await form.locator("button[type=submit]").click()
    item = page.locator("#dnd-schedules li").first
    await expect(item).to_contain_text("Night")
    await expect(item).to_contain_text(
        "Workdays (make-up workdays included) · 22:00–07:30 (next day)"
    )
    await expect(item.locator("input[type=checkbox]")).not_to_be_checked()

    # chosen weekdays: the weekday boxes appear; none chosen is refused in words
    await form.locator("[name=days]").select_option("weekdays")
    await expect(page.locator("#dnd-weekdays")).to_be_visible()
    await form.locator("[name=start]").fill("12:00")
    await form.locator("[name=end]").fill("13:00")
    await form.locator("button[type=submit]").click()
    await expect(form.locator("[data-error-for=_form]")).to_contain_text("Choose at least one")
    await expect(form.locator("[data-error-for=weekdays]")).to_have_text(
        "Choose at least one day, Monday to Sunday"
    )
    # the day after tomorrow (Beijing time): not a window of now, whenever the test runs
    later = (datetime.now(BEIJING) + timedelta(days=2)).isoweekday()
    await form.locator(f"input[name=weekday][value='{later}']").check()
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#dnd-schedules li")).to_have_count(2)
    line = f"{WEEKDAYS[later - 1]} · 12:00–13:00"
    await expect(page.locator("#dnd-schedules li").nth(1)).to_contain_text(line)
    await expect(page.locator("#dnd-state")).to_contain_text("Off")
    await _fits(page)

    await page.locator("#dnd-now").check()
    await expect(page.locator("#dnd-state")).to_have_text("On until you switch it off")
    await page.goto("/contacts")
    await expect(page.locator("#dnd-toggle")).to_be_checked()
    await expect(page.locator("#dnd-why")).to_have_text("On until you switch it off")
    link = page.locator("#dnd-schedules-link")
    await expect(link).to_have_attribute("href", "/services#dnd")
    await _fits(page)
    await page.locator("#dnd-toggle").uncheck()
    await expect(page.locator("#dnd-why")).not_to_have_text("On until you switch it off")
