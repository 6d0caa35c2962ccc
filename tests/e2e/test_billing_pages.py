"""The billing pages: the public price list, a customer's bill and statement with a dispute,
and the operator's billing desk that settles it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import unique
from tests.e2e.conftest import log_in, screenshot
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(BUSINESS_TZ).date()


async def staff_client(server: ServerProcess) -> httpx.AsyncClient:
    """A REST client signed in as a new operator admin."""
    username = unique("ops")
    await server.create_user(username, role="operator_admin")
    token = await server.login(username)
    return httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"})


async def priced_package(
    server: ServerProcess, *, next_price: bool = False, included_s: int = 6000
) -> str:
    """A package at 30 yuan a month with video calls at 0.15 yuan a minute (6/6),
    ``included_s`` seconds (100 minutes) included; optionally a price change 40 days ahead.
    Returns its code."""
    code = unique("pkg")
    async with await staff_client(server) as staff:
        product = await staff.post(
            "/api/v1/billing/products",
            json={
                "code": code,
                "kind": "package",
                "name_zh": "畅聊套餐",
                "name_en": "Chat package",
                "description_zh": "适合经常视频通话的用户",
                "description_en": "For frequent video callers",
            },
        )
        assert product.status_code == 201, product.text
        price = {
            "effective_on": today().isoformat(),
            "monthly_fee_fen": 3000,
            "allowances": {"call.video": included_s} if included_s else {},
            "rates": {"call.video": {"per_minute_fen": "15", "increment": "6/6"}},
        }
        url = f"/api/v1/billing/products/{product.json()['id']}/prices"
        assert (await staff.post(url, json=price)).status_code == 201
        if next_price:
            later = {**price, "effective_on": (today() + timedelta(days=40)).isoformat()}
            later["monthly_fee_fen"] = 3500
            assert (await staff.post(url, json=later)).status_code == 201
    return code


async def goto_in(page: Page, language: str, path: str) -> None:
    await page.goto(f"/lang/{language}?next={path}")
    await page.wait_for_url(f"**{path}")


async def test_the_price_list_is_public_in_both_languages(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    code = await priced_package(e2e_server, next_price=True)
    async with httpx.AsyncClient(base_url=e2e_server.url) as client:
        page = await client.get("/prices", headers={"Accept-Language": "zh-CN"})
        assert page.status_code == 200
        assert 'href="/prices"' in page.text  # in the footer, for everyone
        login = await client.get("/login", headers={"Accept-Language": "en"})
        assert 'id="footer-prices"' in login.text
    visitor = await new_person()
    page = visitor.page

    await goto_in(page, "zh-CN", "/prices")
    card = page.locator(f"#packages article[data-code='{code}']")
    await expect(card.locator("h3")).to_have_text("畅聊套餐")
    await expect(card).to_contain_text("30.00 元")
    await expect(card).to_contain_text("视频通话")
    await expect(card).to_contain_text("含 100 分钟；超出后 0.15 元/分钟，6/6 计费")
    later = (today() + timedelta(days=40)).isoformat()
    await expect(card.locator(".next-price")).to_contain_text(f"{later} 起调整为")
    await expect(card.locator(".next-price")).to_contain_text("35.00 元")
    await screenshot(page, "prices-zh")

    await page.click("#lang-switch")
    await page.wait_for_url("**/prices")
    await expect(card.locator("h3")).to_have_text("Chat package")
    await expect(card).to_contain_text("¥30.00")
    await expect(card).to_contain_text("Video call")
    await expect(card).to_contain_text("100 min included; then ¥0.15/min, billed 6/6")
    await expect(card.locator(".next-price")).to_contain_text(f"From {later}:")
    await expect(card.locator(".next-price")).to_contain_text("¥35.00")


async def test_billing_pages_send_visitors_to_log_in_and_staff_to_their_desk(
    e2e_server: ServerProcess,
) -> None:
    subscriber = unique("sub")
    await e2e_server.create_user(subscriber)
    async with httpx.AsyncClient(base_url=e2e_server.url) as client:
        for path in ("/billing", "/billing/statements/1", "/operator/billing"):
            response = await client.get(path)
            assert response.status_code == 303
            assert response.headers["location"] == f"/login?next={path}"
        token = await e2e_server.login(subscriber)
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/operator/billing", headers=headers)).status_code == 303
        page = await client.get("/billing", headers=headers)
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
    async with await staff_client(e2e_server) as staff:
        response = await staff.get("/billing")
        assert response.headers["location"] == "/operator/billing"


async def test_a_member_who_does_not_manage_billing_is_told_who_does(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    person = await new_person()
    await e2e_server.create_user(person.username, person.password)
    page = person.page
    # an organisation member's own account requests come back as not found
    await page.route(
        "**/api/v1/billing/account",
        lambda route: route.fulfill(
            status=404,
            json={"error": {"code": "billing_account_not_found", "message": "No such account"}},
        ),
    )
    await log_in(person, "/billing")
    await expect(page.locator("#billing-unavailable")).to_contain_text(
        "Your organisation's administrator manages billing"
    )
    await expect(page.locator("#billing-main")).to_be_hidden()


async def test_a_disputed_line_is_credited_by_the_billing_desk(
    new_person: Any, e2e_server: ServerProcess, tmp_path: Path
) -> None:
    code = await priced_package(e2e_server)
    customer = await new_person()
    await e2e_server.create_user(customer.username, customer.password)
    token = await e2e_server.login(customer.username)
    async with httpx.AsyncClient(
        base_url=e2e_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as api:
        ordered = await api.post("/api/v1/billing/orders", json={"product_codes": [code]})
        assert ordered.status_code == 201, ordered.text
        (first,) = (await api.get("/api/v1/billing/statements")).json()
    assert first["kind"] == "first"

    # the customer's billing page lists the first statement and the package
    await log_in(customer, "/billing")
    page = customer.page
    await expect(page.locator("#account-state")).to_have_text("Active")
    await expect(page.locator(f"#subscription-list li[data-code='{code}']")).to_contain_text(
        "Chat package"
    )
    order_row = page.locator("#order-rows tr").first
    await expect(order_row).to_contain_text("Subscribe")
    await expect(order_row).to_contain_text(code)
    statement_row = page.locator(f"#statement-rows tr[data-statement-id='{first['id']}']")
    await expect(statement_row).to_contain_text(first["number"])
    await expect(page.locator("#notice-list li").first).to_contain_text(first["number"])
    await screenshot(page, "billing")

    # the statement, its PDF, and a dispute of the monthly fee
    await statement_row.get_by_role("link", name=first["number"]).click()
    await page.wait_for_url(f"**/billing/statements/{first['id']}")
    await expect(page.locator("#statement-number")).to_have_text(first["number"])
    rent = page.locator("#line-rows tr[data-kind=rent]")
    await expect(rent).to_contain_text("Chat package monthly fee")
    async with page.expect_download() as download_info:
        await page.click("#download-pdf")
    download = await download_info.value
    pdf = tmp_path / download.suggested_filename
    await download.save_as(pdf)
    assert download.suggested_filename == f"{first['number']}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")

    await rent.locator(".act-dispute").click()
    await page.fill("#dispute-form [name=reason]", "I ordered it today; why a whole month?")
    await page.click("#dispute-form button[type=submit]")
    dispute = page.locator("#dispute-list li.dispute")
    await expect(dispute).to_have_attribute("data-state", "open")
    await expect(dispute.locator(".steps")).to_contain_text("Opened")
    await expect(rent.locator(".tag")).to_have_text("Received")
    dispute_id = await dispute.get_attribute("data-dispute-id")
    await screenshot(page, "statement-disputed")

    # the billing desk credits it
    clerk = await new_person()
    await e2e_server.create_user(clerk.username, clerk.password, role="operator_admin")
    await log_in(clerk, "/operator/billing")
    desk = clerk.page
    queued = desk.locator(f"#queue-rows tr[data-dispute-id='{dispute_id}']")
    await expect(queued).to_contain_text(first["number"])
    await queued.locator("[name=credit]").fill("0.50")
    await queued.locator(".act-credit").click()
    # the credit waits for a confirmation that carries the explanation (VP 6)
    confirm = desk.locator("#resolve-dialog")
    await expect(confirm).to_be_visible()
    await expect(confirm.locator("#resolve-title")).to_have_text(
        f"Credit ¥0.50 on dispute #{dispute_id}?"
    )
    await confirm.locator("[name=note]").fill("   ")
    await confirm.locator("#resolve-confirm").click()
    await expect(confirm.locator("[data-error-for=note]")).to_have_text(
        "Please write the explanation"
    )
    await expect(queued).to_have_attribute("data-state", "open")  # nothing happened yet
    why = "Prorated fee applies from today; credited."
    await confirm.locator("[name=note]").fill(why)
    await confirm.locator("#resolve-confirm").click()
    await expect(confirm).to_be_hidden()
    await expect(desk.locator(".toast").last).to_have_text("Credited ¥0.50")
    await expect(queued).to_have_count(0)  # the queue shows disputes still to handle
    await screenshot(desk, "operator-billing")

    # the customer sees the credit in the bill to date and the dispute as credited
    await page.goto("/billing")
    credit = page.locator("#to-date-rows tr[data-kind=credit]")
    await expect(credit).to_contain_text("-¥0.50")
    settled = page.locator(f"#dispute-rows tr[data-dispute-id='{dispute_id}']")
    await expect(settled).to_have_attribute("data-state", "credited")
    await expect(settled).to_contain_text("Credited")
    await expect(settled).to_contain_text("¥0.50 credited")
    await expect(settled.locator(".steps li")).to_have_count(2)
    await expect(settled.locator(".explanation")).to_have_text(f"Our explanation: {why}")
    await page.goto(f"/billing/statements/{first['id']}")
    shown = page.locator(f"#dispute-list li[data-dispute-id='{dispute_id}'] .explanation")
    await expect(shown).to_have_text(f"Our explanation: {why}")


async def test_the_desk_creates_a_product_and_schedules_its_price(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    clerk = await new_person()
    await e2e_server.create_user(clerk.username, clerk.password, role="support_agent")
    await log_in(clerk, "/operator/billing")
    page = clerk.page
    code = unique("addon")
    form = page.locator("#product-form")
    await form.locator("[name=code]").fill(code)
    await form.locator("[name=kind]").select_option("addon")
    await form.locator("[name=name_zh]").fill("会议增值包")
    await form.locator("[name=name_en]").fill("Meeting pack")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast").last).to_contain_text(f"Created {code}")

    prices = page.locator("#price-form")
    await expect(prices.locator("[name=product_id] option:checked")).to_contain_text(code)
    await prices.locator("[name=effective_on]").fill(today().isoformat())
    await prices.locator("[name=monthly_fee]").fill("12.50")
    meeting = prices.locator("#rate-rows tr[data-usage-type='meeting.video']")
    await meeting.locator("[name=allowance]").fill("300")
    await meeting.locator("[name=rate]").fill("0.125")
    await meeting.locator("[name=increment]").select_option("60/60")
    await prices.locator("button[type=submit]").click()
    await expect(page.locator(f"#catalog-rows tr[data-code='{code}']")).to_contain_text("¥12.50")

    await page.goto("/prices")
    card = page.locator(f"#addons article[data-code='{code}']")
    await expect(card).to_contain_text(
        re.compile(r"Video meeting\s*300 min included; then ¥0\.125/min, billed 60/60")
    )


async def test_the_desk_corrects_the_price_in_force_from_its_own_figures(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    code = await priced_package(e2e_server)
    clerk = await new_person()
    await e2e_server.create_user(clerk.username, clerk.password, role="operator_admin")
    await log_in(clerk, "/operator/billing")
    page = clerk.page
    form = page.locator("#correct-form")
    option = form.locator("[name=product_id] option", has_text=code)
    await form.locator("[name=product_id]").select_option(await option.get_attribute("value"))
    await expect(page.locator("#correct-in-force")).to_contain_text("¥30.00")
    video = form.locator("#correct-rate-rows tr[data-usage-type='call.video']")
    # the form starts from the version in force: only the wrong figure is retyped
    await expect(video.locator("[name=rate]")).to_have_value("0.15")
    await expect(video.locator("[name=allowance]")).to_have_value("100")
    await expect(video.locator("[name=increment]")).to_have_value("6/6")
    await video.locator("[name=rate]").fill("0.12")
    await form.locator("button[type=submit]").click()
    await expect(form.locator("[data-error-for=note]")).not_to_be_empty()
    await form.locator("[name=note]").fill("Entered 0.15 instead of 0.12")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast").last).to_have_text("Price corrected; 0 adjustments")

    await page.goto("/prices")
    card = page.locator(f"article[data-code='{code}']")
    await expect(card).to_contain_text(re.compile(r"then ¥0\.12/min, billed 6/6"))
    await expect(card).to_contain_text("100 min included")


async def test_the_desk_records_a_payment_and_holds_and_releases_an_account(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    code = await priced_package(e2e_server)
    customer = unique("payer")
    await e2e_server.create_user(customer)
    token = await e2e_server.login(customer)
    async with httpx.AsyncClient(
        base_url=e2e_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as api:
        assert (
            await api.post("/api/v1/billing/orders", json={"product_codes": [code]})
        ).status_code == 201
        account_id = (await api.get("/api/v1/billing/account")).json()["id"]
        (first,) = (await api.get("/api/v1/billing/statements")).json()

    clerk = await new_person()
    await e2e_server.create_user(clerk.username, clerk.password, role="operator_admin")
    await log_in(clerk, "/operator/billing")
    page = clerk.page
    form = page.locator("#payment-form")
    key = await form.locator("[name=idempotency_key]").input_value()
    assert re.fullmatch(r"[0-9a-f-]{32,36}", key)
    await form.locator("[name=account_id]").fill(str(account_id))
    await form.locator("[name=account_id]").dispatch_event("change")
    await expect(form.locator("[name=statement_id] option")).to_have_count(2)
    await form.locator("[name=statement_id]").select_option(str(first["id"]))
    await form.locator("[name=amount]").fill("2.00")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#payment-result")).to_contain_text("Recorded ¥2.00, receipt")
    assert await form.locator("[name=idempotency_key]").input_value() != key

    lookup = page.locator("#lookup-form")
    await lookup.locator("[name=account_id]").fill(str(account_id))
    await lookup.locator("button[type=submit]").click()
    summary = page.locator("#lookup-summary")
    await expect(summary).to_have_attribute("data-state", "active")
    await page.fill("#hold-form [name=reason]", "Order of the court, case 2026-17")
    await page.click("#hold-button")
    await expect(summary).to_have_attribute("data-state", "held")
    await expect(summary).to_contain_text("On hold")

    # the customer sees the hold and why, and the payment with its receipt
    payer = await new_person(customer)
    await log_in(payer, "/billing")
    await expect(payer.page.locator("#account-state")).to_have_text("On hold")
    await expect(payer.page.locator("#state-help")).to_contain_text("Order of the court")
    await expect(payer.page.locator("#state-help")).to_contain_text("competent authority")
    # held: termination waits for the release; the credit limit may still be changed
    await expect(payer.page.locator("#terminate-button")).to_be_disabled()
    await expect(payer.page.locator("#credit-limit")).to_be_visible()
    receipt = payer.page.locator("#payment-rows tr").first
    await expect(receipt).to_contain_text("¥2.00")
    await expect(receipt.get_by_role("link")).to_have_attribute(
        "href", re.compile(r"/api/v1/billing/payments/\d+/receipt$")
    )

    await page.fill("#hold-form [name=reason]", "Court order lifted")
    await page.click("#release-button")
    await expect(summary).to_have_attribute("data-state", "active")

    # staff switch the account to prepaid and back
    await expect(page.locator("#kind-button")).to_have_text("Make prepaid")
    await page.click("#kind-button")
    await expect(summary).to_contain_text("Prepaid")
    await expect(page.locator("#kind-button")).to_have_text("Make postpaid")
