"""The numbers pages in Chromium on a phone (390 px): a customer finds a number ending in what
they like, holds it, confirms it and sees it among their numbers; staff see the inventory.
Nothing scrolls sideways."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import unique
from tests.e2e.conftest import log_in
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


async def _fits(page: Page) -> None:
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


async def test_a_customer_chooses_a_number_on_a_phone(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    head = f"138{random.randrange(1000, 9999)}"
    staff_name = unique("ops")
    await e2e_server.create_user(staff_name, role="operator_admin")
    token = await e2e_server.login(staff_name)
    auth = {"Authorization": f"Bearer {token}"}
    # the first import loads the geocoder in the server (seconds)
    async with httpx.AsyncClient(base_url=e2e_server.url, headers=auth, timeout=60) as staff:
        tier = {"name_zh": "普通号", "name_en": "Standard", "patterns": ["", "AAA"]}
        resp = await staff.put(
            f"/api/v1/admin/numbers/tiers/{unique('std')}",
            json={**tier, "monthly_rent_fen": 800},
        )
        assert resp.status_code == 200, resp.text
        block = {"carrier": "中国移动", "source_ref": "e2e 批文", "start": f"{head}0100"}
        resp = await staff.post(
            "/api/v1/admin/numbers/blocks", json={**block, "end": f"{head}0119"}
        )
        assert resp.json()["imported"] == 20, resp.text

    customer = await new_person()
    await e2e_server.create_user(customer.username)
    page = customer.page
    await page.set_viewport_size(PHONE)
    await log_in(customer, "/numbers")
    await page.wait_for_selector("#result-rows tr")
    await _fits(page)
    await page.fill("#search-form [name=prefix]", head)
    await page.fill("#search-form [name=ends_with]", "0107")
    await page.click("#search-form button[type=submit]")
    row = page.locator(f'#result-rows tr[data-number="{head}0107"]')
    await expect(page.locator("#result-rows tr")).to_have_count(1)
    await expect(row).to_contain_text("8.00")
    await row.locator(".act-reserve").click()
    mine = page.locator(f'#mine-rows tr[data-number="{head}0107"]')
    await mine.locator(".act-confirm").click()
    await page.click("#confirm-ok")
    await expect(mine).to_contain_text("In use")
    await expect(mine.locator(".act-release")).to_be_visible()
    await _fits(page)

    desk = await new_person(staff_name)
    await desk.page.set_viewport_size(PHONE)
    await log_in(desk, "/operator/numbers")
    await desk.page.wait_for_selector("#inventory-rows tr")
    await _fits(desk.page)
