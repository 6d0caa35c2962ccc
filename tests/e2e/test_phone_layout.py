"""Every page on a phone (390×844, touch) and on a computer (1366×768), in zh-CN and in en.

On each page, with real data in its tables: nothing scrolls sideways; tables fit (nothing
scrolls inside them, so no amount is cut); no label is squeezed to a character or two per
line; on a phone the menu is one button that opens, by mouse or keyboard, to every link on one
line each; in a call the hang-up button, in a meeting the leave and end-for-all buttons, are on
the screen and not covered, and a notice (toast) keeps clear of their bar. The pages come from
the routes in ``yuntong.web.pages*``, so a new page fails :func:`test_every_page_is_checked`
until it is added here.

A page with a problem is saved as ``var/e2e-screenshots/layout-<size>-<language>-...png``;
with ``YUNTONG_E2E_LAYOUT_SHOTS=1`` every page and control checked is, to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import unique
from tests.e2e.conftest import PASSWORD, SCREENSHOTS, identity, organisation
from tests.e2e.test_billing_pages import priced_package
from tests.e2e.test_meeting_pages import e2e_server  # noqa: F401  (a server with Janus)
from tests.integration.tariffs.conftest import PRICES
from tests.support.meetings import api, create_meeting, participant
from tests.support.server import ServerProcess, wait_for
from yuntong.client.call import run_call
from yuntong.web import pages, pages_meetings, pages_numbers, pages_support, pages_tariffs

pytestmark = pytest.mark.e2e

SIZES = {"phone": {"width": 390, "height": 844}, "computer": {"width": 1366, "height": 768}}
# routes that only redirect
NOT_PAGES = {"/", "/lang/{locale}", "/support/widget.js"}  # (the widget's script)


@dataclass
class World:
    """Who signs in, and the things their pages show."""

    customer: str
    org_admin: str
    staff: str
    bot: str  # the customer's contact, who answers calls (aiortc)
    statement_id: int
    meeting_id: str  # a scheduled meeting of the customer's
    room: str  # the join path of a live meeting the customer hosts, someone else in it


@dataclass(frozen=True)
class Visit:
    route: str  # as pages*.py declare it
    who: str  # visitor | customer | org_admin | staff
    path: Callable[[World], str]
    ready: tuple[str, ...]  # selectors that are there once the page shows its data


def at(path: str) -> Callable[[World], str]:
    return lambda _world: path


PAGES_AT_ONCE = 4  # tabs checked side by side (each has its own viewport)
VISITS = (
    Visit("/login", "visitor", at("/login"), ("#login-form",)),
    Visit("/signup", "visitor", at("/signup"), ("#signup-individual",)),
    Visit("/pending", "visitor", at("/pending"), ("#pending-notice",)),
    Visit("/prices", "visitor", at("/prices"), ("#packages article",)),
    Visit("/contacts", "customer", at("/contacts"), ("#contact-list li",)),
    Visit("/history", "customer", at("/history"), ("#history-rows tr",)),
    Visit("/meetings", "customer", at("/meetings"), ("#meetings-rows tr",)),
    Visit("/meetings/new", "customer", at("/meetings/new"), ("#time-zone option",)),
    Visit(
        "/meetings/{meeting_id}",
        "customer",
        lambda w: f"/meetings/{w.meeting_id}",
        ("#detail-body:not([hidden])",),
    ),
    Visit(
        "/meetings/{meeting_id}/edit",
        "customer",
        lambda w: f"/meetings/{w.meeting_id}/edit",
        ("#time-zone option",),
    ),
    Visit("/m/{number}", "customer", lambda w: w.room, ("#prejoin-form",)),
    Visit("/account", "customer", at("/account"), ("#sessions-rows tr", "#identity dt")),
    Visit("/services", "customer", at("/services"), ("#services-page[data-loaded]",)),
    Visit(
        "/billing",
        "customer",
        at("/billing"),
        ("#to-date-rows tr", "#statement-rows tr", "#payment-rows tr", "#dispute-rows tr"),
    ),
    Visit(
        "/billing/statements/{statement_id:int}",
        "customer",
        lambda w: f"/billing/statements/{w.statement_id}",
        ("#line-rows tr",),
    ),
    Visit("/prices", "customer", at("/prices"), ("#packages article",)),
    Visit("/billing", "org_admin", at("/billing"), ("#account-summary dt", "#statement-rows tr")),
    Visit("/contacts", "org_admin", at("/contacts"), ("#contact-list[aria-busy=false]",)),
    Visit("/operator", "staff", at("/operator"), ("#pending-rows tr", "#users-rows tr")),
    Visit("/operator/billing", "staff", at("/operator/billing"), ("#catalog-rows tr",)),
    Visit(
        "/billing/statements/{statement_id:int}",
        "staff",
        lambda w: f"/billing/statements/{w.statement_id}",
        ("#line-rows tr",),
    ),
    Visit("/numbers", "customer", at("/numbers"), ("#result-rows tr", "#mine-rows tr")),
    Visit("/operator/numbers", "staff", at("/operator/numbers"), ("#inventory-rows tr",)),
    Visit("/completion", "customer", at("/completion"), ("#day-rows tr", "#completion-total dt")),
    Visit(
        "/operator/completion",
        "staff",
        at("/operator/completion"),
        ("#day-rows tr", "#customer-rows tr", "#completion-chart circle"),
    ),
    Visit(
        "/support",
        "org_admin",
        at("/support"),
        ("#support-page[data-loaded]", "#conversation-list li", "#inbox-list li"),
    ),
    Visit("/tariffs", "customer", at("/tariffs"), ("#tariff-rows tr",)),
    Visit("/operator/tariffs", "staff", at("/operator/tariffs"), ("#version-rows tr",)),
)


def test_every_page_is_checked() -> None:
    routes = {
        route.path
        for router in (
            pages.router,
            pages_meetings.router,
            pages_numbers.router,
            pages_support.router,
            pages_tariffs.router,
        )
        for route in router.routes
        if "GET" in getattr(route, "methods", ())
    }
    assert routes - NOT_PAGES == {visit.route for visit in VISITS}


# -- the data on the pages ---------------------------------------------------------------------


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_online(server: ServerProcess, token: str, username: str) -> None:
    """Until ``username`` (a contact of the token's owner) is connected."""

    async def online() -> bool:
        contacts = created(await api(server, token, "GET", "/api/v1/contacts"))
        return any(c["username"] == username and c["status"] == "online" for c in contacts)

    await wait_for(online, timeout=20, interval=0.1)


def answering(server: ServerProcess, bot: str, seconds: float) -> asyncio.Task[Any]:
    """The bot (aiortc) answers the next video call and hangs up ``seconds`` later."""
    return asyncio.create_task(
        run_call(server.url, bot, PASSWORD, answer=True, media="video", duration=seconds, wait_s=30)
    )


async def organisation_admin(server: ServerProcess, staff_token: str, code: str) -> str:
    """An organisation signed up and approved; its admin orders the package."""
    username = unique("org")
    form = organisation(
        username,
        legal_name="云通移动办公测试集团有限责任公司",
        display_name="赵六 Zhao Liu (Admin)",
    )
    user = created(
        await api(server, None, "POST", "/api/v1/accounts/register/organisation", json=form)
    )
    user_id = user["user"]["id"]
    created(await api(server, staff_token, "POST", f"/api/v1/admin/users/{user_id}/approve"))
    token = await server.login(username)
    created(
        await api(server, token, "POST", "/api/v1/billing/orders", json={"product_codes": [code]})
    )
    return username


async def pending_applicant(server: ServerProcess) -> None:
    """Someone waiting for approval: a row in registration review."""
    username = unique("applicant")
    form = {
        "username": username,
        "display_name": "申请人 Applicant with a rather long name",
        "password": PASSWORD,
        "full_name": "钱七",
        **identity(11),
        "employer": "云通测试",
        "address": "北京市朝阳区测试路 1 号",
    }
    created(await api(server, None, "POST", "/api/v1/accounts/register/individual", json=form))


async def numbers_of(server: ServerProcess, staff_token: str, token: str) -> None:
    """A priced tier, a block of numbers to choose from, and one of them the customer's."""
    tier = {"name_zh": "普通号", "name_en": "Standard", "patterns": ["", "AAA"]}
    path = f"/api/v1/admin/numbers/tiers/{unique('std')}"
    created(await api(server, staff_token, "PUT", path, json={**tier, "monthly_rent_fen": 800}))
    head = f"138{random.randrange(1000, 9999)}"
    block = {"carrier": "中国移动", "source_ref": "工信部码号〔2026〕12号"}
    block |= {"start": f"{head}0100", "end": f"{head}0109"}
    created(await api(server, staff_token, "POST", "/api/v1/admin/numbers/blocks", json=block))
    mine = f"/api/v1/numbers/%2B86{head}0103"  # a plain number (…0101 is ABAB)
    created(await api(server, token, "POST", f"{mine}/reserve"))
    created(await api(server, token, "POST", f"{mine}/assign"))


async def support_desk(server: ServerProcess, org_admin: str) -> None:
    """An inbox of the organisation, its administrator answering in it, a visitor waiting."""
    token = await server.login(org_admin)
    inbox = {
        "name": "五年级数学课程客服 Grade 5 maths course support",
        "origins": ["https://www.example-education-platform.edu.cn"],
        "allow_anonymous": True,
    }
    made = created(await api(server, token, "POST", "/api/v1/support/inboxes", json=inbox))
    path = f"/api/v1/support/inboxes/{made['id']}/agents/{org_admin}"
    created(await api(server, token, "PUT", path, json={"capacity": 3}))
    widget = f"/api/v1/support/widget/{made['key']}"
    prechat = {"prechat": {"name": "王小明的家长 Parent of Xiaoming Wang"}}
    session = created(await api(server, None, "POST", f"{widget}/session", json=prechat))
    message = {"body": "孩子的作业提交不了，请帮忙看看 The homework will not submit"}
    visitor = {"X-Visitor-Token": session["token"]}
    created(await api(server, None, "POST", f"{widget}/messages", json=message, headers=visitor))


@pytest.fixture(scope="module")
async def world(e2e_server: ServerProcess) -> AsyncIterator[World]:  # noqa: F811
    server = e2e_server
    code = await priced_package(server, included_s=0)  # every call minute costs
    customer, bot, staff = unique("cust"), unique("bot"), unique("ops")
    for username, role in (
        (customer, "subscriber"),
        (bot, "subscriber"),
        (staff, "operator_admin"),
    ):
        await server.create_user(username, PASSWORD, role)
    token, bot_token, staff_token = [await server.login(u) for u in (customer, bot, staff)]
    for who, name in ((token, "王小明 Xiaoming Wang"), (bot_token, "客服小云 Yun Support")):
        created(await api(server, who, "PATCH", "/api/v1/me", json={"display_name": name}))
    created(await api(server, token, "POST", "/api/v1/contacts", json={"query": bot}))
    order = {"product_codes": [code]}
    created(await api(server, token, "POST", "/api/v1/billing/orders", json=order))

    # a call, in the history and, once rated, in the bill to date
    answer = answering(server, bot, 1.5)
    await wait_online(server, token, bot)
    await run_call(server.url, customer, PASSWORD, to=bot, media="video", duration=1.5, wait_s=20)
    await asyncio.wait_for(answer, 20)

    async def rated() -> bool:
        bill = created(await api(server, token, "GET", "/api/v1/billing/bill-to-date"))
        return any(line["amount_fen"] > 0 and line["duration_s"] for line in bill["lines"])

    await wait_for(rated, timeout=20, interval=0.2)

    # the first statement: one of its lines disputed, part of it paid (an amount still owed)
    (statement,) = created(await api(server, token, "GET", "/api/v1/billing/statements"))
    view = created(await api(server, token, "GET", f"/api/v1/billing/statements/{statement['id']}"))
    line = next(line for line in view["lines"] if line["entry_id"] and line["amount_fen"] > 0)
    dispute = {
        "entry_id": line["entry_id"],
        "reason": "我今天才订购，为什么收整月费用？ Why a whole month?",
    }
    created(await api(server, token, "POST", "/api/v1/billing/disputes", json=dispute))
    account = created(await api(server, token, "GET", "/api/v1/billing/account"))
    payment = {
        "account_id": account["id"],
        "amount": "1.00",
        "method": "bank_transfer",
        "statement_id": statement["id"],
        "idempotency_key": unique("pay"),
    }
    created(await api(server, staff_token, "POST", "/api/v1/billing/payments", json=payment))

    org_admin = await organisation_admin(server, staff_token, code)
    await support_desk(server, org_admin)
    await numbers_of(server, staff_token, token)
    await pending_applicant(server)
    created(await api(server, staff_token, "POST", "/api/v1/tariffs/prices", json={"csv": PRICES}))

    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    scheduled = created(
        await api(
            server,
            token,
            "POST",
            "/api/v1/meetings",
            json={
                "title": "季度业务复盘与下一季度规划 Quarterly business review and planning",
                "kind": "scheduled",
                "start_at": start.isoformat(),
                "recurrence": "weekly",
                "recurrence_count": 4,
            },
        )
    )
    live = await create_meeting(server, token)
    # a guest is in the room the whole time, so it stays open between visits
    guest = {"name": "访客 Guest", "publish_audio": False, "auto_subscribe": False}
    async with participant(server, live, **guest):
        yield World(
            customer=customer,
            org_admin=org_admin,
            staff=staff,
            bot=bot,
            statement_id=statement["id"],
            meeting_id=scheduled["id"],
            room=f"/m/{live['number']}?pwd={live['passcode']}"
            if live["passcode"]
            else f"/m/{live['number']}",
        )


# -- what is checked on every page ---------------------------------------------------------------

# window.ytLayout: problems(width), onScreen(selectors), linkLines(), in every page
LAYOUT_JS = Path(__file__).with_name("layout.js")
# YUNTONG_E2E_LAYOUT_SHOTS=1: a screenshot of every page and control checked, to look at
EVERY_SHOT = os.environ.get("YUNTONG_E2E_LAYOUT_SHOTS") == "1"


async def shot(page: Page, label: str, problems: list[str]) -> str:
    """A screenshot of the whole page when something is wrong (or every one is asked for)."""
    if not problems and not EVERY_SHOT:
        return ""
    path = SCREENSHOTS / f"layout-{label}.png"
    await page.screenshot(path=str(path), full_page=True)
    return str(path)


async def check_layout(page: Page, width: int, label: str) -> None:
    problems = await page.evaluate("(w) => window.ytLayout.problems(w)", width)
    path = await shot(page, label, problems)
    assert not problems, f"{label} ({path}): {problems}"


async def check_on_screen(page: Page, selectors: list[str], label: str) -> None:
    problems = await page.evaluate("(s) => window.ytLayout.onScreen(s)", selectors)
    path = await shot(page, label, problems)
    assert not problems, f"{label} ({path}): {problems}"


async def check_menu(page: Page, phone: bool, label: str) -> None:
    """The main menu: inline links on a computer; on a phone one button that opens (click or
    keyboard) to every link, each on one line, and closes with Escape."""
    links = page.locator(".nav a")
    toggle = page.locator("#nav-toggle")
    count = await links.count()
    assert count >= 5
    if not phone:
        await expect(toggle).to_be_hidden()
    else:
        await expect(toggle).to_be_visible()
        await expect(toggle).to_have_attribute("aria-expanded", "false")
        await expect(links.first).to_be_hidden()
        await toggle.click()
        await expect(toggle).to_have_attribute("aria-expanded", "true")
        await check_on_screen(page, ["#lang-switch", "#logout"], f"{label}-menu")
        await check_layout(page, SIZES["phone"]["width"], f"{label}-menu-open")
        await page.keyboard.press("Escape")
        await expect(toggle).to_have_attribute("aria-expanded", "false")
        await expect(links.first).to_be_hidden()
        await toggle.focus()
        await page.keyboard.press("Enter")
        await expect(toggle).to_have_attribute("aria-expanded", "true")
        await page.keyboard.press("Tab")
        await expect(links.first).to_be_focused()
    for index in range(count):
        await expect(links.nth(index)).to_be_in_viewport()
    lines = await page.evaluate("window.ytLayout.linkLines()")
    assert all(n == 1 for _text, n in lines), (label, lines)
    if phone:
        await page.keyboard.press("Escape")
        await expect(toggle).to_have_attribute("aria-expanded", "false")
        await expect(toggle).to_be_focused()


async def signed_in(
    browser: Browser, server: ServerProcess, who: str | None, size: str, language: str
) -> BrowserContext:
    """A browser context at the size, in the language, signed in as ``who`` (or a visitor)."""
    phone = size == "phone"
    context = await browser.new_context(
        base_url=server.url,
        viewport=SIZES[size],
        is_mobile=phone,
        has_touch=phone,
        locale=language,
    )
    context.set_default_timeout(15_000)
    await context.add_init_script(path=LAYOUT_JS)
    await context.add_cookies([{"name": "yt_locale", "value": language, "url": server.url}])
    if who is not None:
        login = {"username": who, "password": PASSWORD, "kind": "web"}
        response = await context.request.post("/api/v1/auth/login", data=login)
        assert response.ok, await response.text()
    return context


# -- the test ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("size", ["phone", "computer"])
async def test_every_page_fits_the_screen(
    browser: Browser,
    e2e_server: ServerProcess,  # noqa: F811
    world: World,
    size: str,
    language: str,
) -> None:
    phone = size == "phone"
    width = SIZES[size]["width"]
    logins = {
        "visitor": None,
        "customer": world.customer,
        "org_admin": world.org_admin,
        "staff": world.staff,
    }
    contexts: dict[str, BrowserContext] = {}
    try:
        for who, username in logins.items():
            contexts[who] = await signed_in(browser, e2e_server, username, size, language)
        page = await contexts["customer"].new_page()
        await in_a_call(page, e2e_server, world, width, f"{size}-{language}")
        await in_a_meeting(page, world, phone, f"{size}-{language}")

        async def check(visit: Visit, menu: bool) -> None:
            page = await contexts[visit.who].new_page()
            slug = re.sub(r"[^a-z]+", "-", visit.route).strip("-") or "home"
            label = f"{size}-{language}-{visit.who}-{slug}"
            try:
                await page.goto(visit.path(world))
                await expect(page.locator("html")).to_have_attribute("lang", language)
                for selector in visit.ready:
                    await page.wait_for_selector(selector, state="attached")
                if menu:
                    await check_menu(page, phone, label)
                await check_layout(page, width, label)
            finally:
                await page.close()

        # the menu (keyboard and focus) on each signed-in person's first page, one at a time;
        # the other pages a few at once, each in a tab of its own
        with_menu = {v.who: v for v in reversed(VISITS) if v.who != "visitor"}
        for visit in with_menu.values():
            await check(visit, menu=True)
        rest = [v for v in VISITS if v not in with_menu.values()]
        for start in range(0, len(rest), PAGES_AT_ONCE):
            await asyncio.gather(*(check(v, False) for v in rest[start : start + PAGES_AT_ONCE]))
    finally:
        for context in contexts.values():
            await context.close()


async def in_a_call(
    page: Page, server: ServerProcess, world: World, width: int, label: str
) -> None:
    """Call the bot from the contacts page: with the call answered, the controls (hang-up
    first) are on the screen; hang up with the button."""
    await page.goto("/contacts")
    await page.wait_for_selector("#my-presence[data-status=online]", state="attached")
    bot = answering(server, world.bot, 30)
    try:
        row = page.locator(f"#contact-list li[data-username='{world.bot}']")
        await expect(row.locator(".dot")).to_have_attribute("data-status", "online", timeout=20_000)
        await row.locator(".act-video").click()
        await page.wait_for_function(
            "() => ['connecting', 'connected'].includes(window.yuntong.call?.state)",
            timeout=20_000,
        )
        controls = ["#btn-hangup", "#btn-mute", "#btn-camera", "#btn-switch-camera"]
        await check_on_screen(page, controls, f"{label}-call")
        covered = await page.evaluate("window.ytLayout.toastClearOf('.call-controls')")
        assert covered is None, f"{label}: {covered}"
        problems = await page.evaluate("(w) => window.ytLayout.problems(w)", width)
        assert not problems, f"{label}: {problems}"
        await page.click("#btn-hangup")
        await expect(page.locator("#call-outcome")).to_be_visible()
        await asyncio.wait_for(bot, 20)
    finally:
        if not bot.done():
            bot.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await bot


async def in_a_meeting(page: Page, world: World, phone: bool, label: str) -> None:
    """Join the live meeting as its host: leave and end-for-all are on the screen (and, on a
    phone, what "More" opens); leave with the button."""
    await page.goto(world.room)
    await page.wait_for_function("() => window.ytMeeting && window.ytMeeting.media.hasVideo")
    await page.click("#prejoin-join")
    await page.wait_for_function("() => window.ytMeeting.state === 'joined'", timeout=20_000)
    await expect(page.locator("#tiles .tile")).to_have_count(2)
    await expect(page.locator("#btn-end-all")).to_be_visible()
    controls = ["#btn-leave", "#btn-end-all", "#btn-mic", "#btn-cam", "#btn-people"]
    await check_on_screen(page, controls, f"{label}-meeting")
    covered = await page.evaluate("window.ytLayout.toastClearOf('.room-controls')")
    assert covered is None, f"{label}: {covered}"
    if phone:
        await page.click("#btn-more")
        await check_on_screen(page, ["#btn-hand", "#btn-layout", "#btn-devices"], f"{label}-more")
        await page.click("#btn-hand")  # choosing closes the sheet
        await expect(page.locator("#btn-more")).to_have_attribute("aria-expanded", "false")
        await expect(page.locator("#btn-hand")).to_be_hidden()
    await page.click("#btn-people")
    await check_on_screen(page, ["#btn-leave", "#people-list li"], f"{label}-people")
    await page.click("#btn-leave")
    await expect(page.locator("#meeting-end")).to_be_visible()
