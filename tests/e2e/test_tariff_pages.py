"""The tariffs pages in Chromium: staff import the price table from the page (a faulty file
shows its lines, nothing imported); a customer on a phone (390 px) reads the price list and
looks up what a call costs. Nothing scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.conftest import unique
from tests.e2e.conftest import log_in
from tests.integration.tariffs.conftest import PRICES
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
COMPUTER = {"width": 1366, "height": 768}


async def _fits(page: Page) -> None:
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def _csv(text: str) -> dict[str, Any]:
    return {"name": "prices.csv", "mimeType": "text/csv", "buffer": text.encode()}


async def test_staff_import_prices_and_a_customer_quotes_on_a_phone(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    staff = await new_person(unique("ops"))
    await e2e_server.create_user(staff.username, staff.password, role="operator_admin")
    await staff.page.set_viewport_size(PHONE)
    await log_in(staff, "/operator/tariffs")
    form = staff.page.locator("#import-prices")
    await form.locator("[name=file]").set_input_files(_csv(PRICES + "86x,mobile,M,M,1,60\n"))
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".row-errors li")).to_have_text(
        ["Line 8: The prefix must be 1 to 16 digits (E.164 without '+', not starting with 0)"]
    )
    await form.locator("[name=file]").set_input_files(_csv(PRICES))
    await form.locator("button[type=submit]").click()
    await expect(staff.page.locator("#version-rows tr").first).to_contain_text("In force")
    await _fits(staff.page)
    await staff.page.set_viewport_size(COMPUTER)
    await _fits(staff.page)

    customer = await new_person()
    await e2e_server.create_user(customer.username, customer.password)
    page = customer.page
    await page.set_viewport_size(PHONE)
    await log_in(customer)
    await page.click("#footer-tariffs")  # every signed-in page links to the prices
    row = page.locator("#tariff-rows tr").filter(has_text="USA and Canada")
    await expect(row).to_contain_text("0.80")
    await page.fill("#quote-form [name=to]", "+1 415 555 0100")
    await page.click("#quote-form button[type=submit]")
    await expect(page.locator("#quote-result")).to_contain_text("International")
    await page.fill("#quote-form [name=to]", "+49 30 1234567")
    await page.click("#quote-form button[type=submit]")
    await expect(page.locator("#quote-form [data-error-for=_form]")).to_have_text(
        "No tariff covers this number: it cannot be called"
    )
    await _fits(page)
