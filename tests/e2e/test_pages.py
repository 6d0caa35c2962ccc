"""The server-rendered pages: who may see them, in which language, and what the forms show."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.conftest import unique
from tests.e2e.conftest import PASSWORD, identity, log_in, organisation, screenshot
from tests.support.server import ServerProcess
from yuntong.core.i18n import MESSAGES
from yuntong.numbers.models import NumberKind, NumberState, PortState
from yuntong.sla import completion

pytestmark = pytest.mark.e2e
WEB = Path(__file__).resolve().parents[2] / "src" / "yuntong" / "web"
# keys the scripts build at run time from a value: ui.<prefix>.<value>
DYNAMIC = {
    "ui.call.state.": [
        "incoming",
        "calling",
        "ringing",
        "connecting",
        "connected",
        "reconnecting",
        "ended",
    ],
    "ui.call.quality.": ["unknown", "good", "fair", "poor"],
    "ui.presence.": ["online", "busy", "dnd", "offline"],
    "ui.outcome.": [
        "answered",
        "rejected",
        "busy",
        "no_answer",
        "canceled",
        "unreachable",
        "failed",
        "interrupted",
    ],
    "ui.status.": ["pending", "rejected", "active", "warned", "limited", "suspended", "terminated"],
    "ui.role.": ["subscriber", "org_admin", "support_agent", "operator_admin"],
    "ui.media.": ["audio", "video"],
    "ui.history.": ["incoming", "outgoing", "missed", "forwarded_leg"],
    "ui.history.forwarded_to.": ["cfu", "cfb", "cfnry", "cfnrc"],
    "ui.account.kind.": ["web", "api"],
    "ui.operator.kind.": ["individual", "organisation"],
    "ui.field.id_type.": ["resident_id", "passport", "other"],
    "ui.field.": ["full_name", "email", "phone", "birth_date", "id_type", "id_number", "address"],
    "ui.numbers.state.": [state.value for state in NumberState],
    "ui.numbers.kind.": [kind.value for kind in NumberKind],
    "ui.porting.state.": [state.value for state in PortState],
    "ui.opnumbers.": ["block", "unblock"],
    # completion.js: the network failures' causes (an unknown one is shown by its number)
    "ui.completion.cause.": list(completion.NETWORK_CAUSES.values()),
    # callui.js: the reasons it words (others fall back to the outcome)
    "ui.call.reason.": [
        *("barred_outgoing", "barred_international", "barred_incoming"),
        *("anonymous_rejected", "forwarding_loop"),
    ],
    # services.html: the forwarding kinds and the barring options it loops over
    "ui.services.": [
        *("cfu", "cfb", "cfnry", "cfnrc"),
        *("bar_outgoing", "bar_international", "bar_incoming", "bar_anonymous"),
    ],
    # services.html and dnd.js: do-not-disturb schedules' days and weekdays
    "ui.dnd.days.": ["every_day", "workdays", "rest_days", "weekdays"],
    "ui.dnd.weekday.": [str(day) for day in range(1, 8)],
    # support.html and pages/support.js: statuses, listings, states, trail events, routings
    "ui.support.status.": ["online", "busy", "away", "offline"],
    "ui.support.listing.": ["mine", "queue", "open", "resolved"],
    "ui.support.state.": ["open", "assigned", "resolved"],
    "ui.support.event.": ["assign", "transfer", "requeue", "resolve", "reopen"],
    "ui.support.routing.": ["round_robin", "least_busy"],
    # pages/history.js: who held a call
    "ui.history.hold_period.": ["self", "other"],
    # numbers.html: the SIP password dialog's fields; sip.js: a SIP call's direction
    "ui.sip.": ["username", "password", "domain", "registrar", "transports"],
    "ui.sipcalls.direction.": ["internal", "outbound", "inbound"],
    # tariffs.js and operator_tariffs.js: categories and table kinds
    "ui.tariffs.category.": ["local", "domestic", "mobile", "international", "premium"],
    "ui.optariffs.kind.": ["prices", "costs"],
    # conferences.js and conference.js: a conference's state
    "ui.conferences.state.": ["open", "ended"],
    "ui.conferences.kind.": ["browser", "phone", "outside"],
}


def test_every_string_the_pages_use_exists_in_both_languages() -> None:
    used: set[str] = set()
    for path in [*WEB.rglob("*.html"), *WEB.rglob("*.js"), WEB / "pages.py"]:
        for key in re.findall(r"""['"`](ui\.[a-z0-9_.]+)""", path.read_text()):
            if key.endswith("."):
                used.update(key + value for value in DYNAMIC[key])
            else:
                used.add(key)
    missing = sorted(k for k in used if k not in MESSAGES)
    assert not missing
    for key in used:
        zh, en = MESSAGES[key]
        assert zh and en, key


async def test_signed_in_pages_send_visitors_to_log_in(e2e_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=e2e_server.url) as client:
        for path in ("/contacts", "/history", "/account", "/operator"):
            response = await client.get(path)
            assert response.status_code == 303
            assert response.headers["location"] == f"/login?next={path}"
        assert (await client.get("/")).headers["location"] == "/login"


async def test_language_follows_accept_language_then_the_cookie(e2e_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=e2e_server.url) as client:
        page = await client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert '<html lang="en">' in page.text
        assert "<h1>Log in</h1>" in page.text
        switch = await client.get("/lang/zh-CN?next=/login", headers={"Accept-Language": "en"})
        assert switch.status_code == 303
        assert switch.headers["location"] == "/login"
        assert "yt_locale=zh-CN" in switch.headers["set-cookie"]
        page = await client.get("/login", headers={"Accept-Language": "en"})
        assert '<html lang="zh-CN">' in page.text
        assert "<h1>登录</h1>" in page.text
        # never a redirect off-site
        away = await client.get("/lang/en?next=//evil.example/")
        assert away.headers["location"] == "/"


async def test_pages_carry_the_csrf_token_and_escape_user_text(e2e_server: ServerProcess) -> None:
    username = unique("esc")
    await e2e_server.create_user(username, PASSWORD)
    async with httpx.AsyncClient(base_url=e2e_server.url) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD, "kind": "web"}
        )
        csrf = login.json()["csrf_token"]
        renamed = await client.patch(
            "/api/v1/me",
            json={"display_name": "<script>alert(1)</script>"},
            headers={"X-CSRF-Token": csrf},
        )
        assert renamed.status_code == 200
        page = await client.get("/contacts", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert f'<meta name="csrf-token" content="{csrf}">' in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_sign_up_shows_the_api_field_errors_under_their_fields(new_person: Any) -> None:
    person = await new_person()
    page = person.page
    await page.goto("/signup")
    form = page.locator("#signup-individual")
    ident = identity(7)
    bad_id = ident["id_number"][:-1] + ("0" if ident["id_number"][-1] != "0" else "1")
    for name, value in {
        "username": person.username,
        "display_name": "Field Errors",
        "password": "short",
        "full_name": "李四",
        "phone": "12345",
        "id_number": bad_id,
        "birth_date": ident["birth_date"],
        "employer": "x",
        "address": "y",
    }.items():
        await form.locator(f"[name={name}]").fill(value)
    await form.locator("button[type=submit]").click()
    await expect(form.locator("[data-error-for=id_number]")).to_contain_text("check digit")
    await expect(form.locator("[data-error-for=password]")).to_contain_text("at least 10")
    await expect(form.locator("[data-error-for=phone]")).to_have_text("Invalid phone number")
    await expect(form.locator("[data-error-for=username]")).to_be_empty()
    await expect(form.locator("[data-error-for=_form]")).to_be_visible()
    await screenshot(page, "signup-errors")

    await page.click("#tab-organisation")
    await expect(page.locator("#signup-organisation")).to_be_visible()
    await expect(page.locator("#signup-individual")).to_be_hidden()


async def test_an_organisation_signs_up_and_waits_for_approval(new_person: Any) -> None:
    person = await new_person()
    page = person.page
    await page.goto("/signup?kind=organisation")
    form = page.locator("#signup-organisation")
    await expect(form).to_be_visible()
    for name, value in organisation(person.username).items():
        await form.locator(f"[name={name}]").fill(value)
    await screenshot(page, "signup-organisation")
    await form.locator("button[type=submit]").click()
    await page.wait_for_url("**/pending")
    await screenshot(page, "pending")

    # not approved yet: logging in leads back to the notice
    await page.goto("/login")
    await page.fill("#login-form [name=username]", person.username)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url("**/pending")


async def test_contacts_edit_favourite_block_and_delete(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    owner = await new_person()
    other = await new_person()
    for person in (owner, other):
        await e2e_server.create_user(person.username, person.password)
    await log_in(owner)
    page = owner.page

    await page.fill("#add-contact-form [name=query]", "no-such-user-anywhere")
    await page.click("#add-contact-form button[type=submit]")
    await expect(page.locator("#add-contact-form [data-error-for=query]")).to_have_text(
        "No such user"
    )
    await page.fill("#add-contact-form [name=query]", other.username)
    await page.click("#add-contact-form button[type=submit]")
    row = page.locator(f"#contact-list li[data-username='{other.username}']")
    await expect(row).to_have_count(1)

    await row.locator(".menu summary").click()
    await row.locator(".act-edit").click()
    await page.fill("#edit-form [name=name]", "Colleague")
    await page.fill("#edit-form [name=notes]", "met at the fair")
    await page.click("#edit-form button[type=submit]")
    await expect(row.locator(".name")).to_have_text("Colleague")
    await expect(row.locator(".contact-notes")).to_have_text("met at the fair")

    await row.locator(".menu summary").click()
    await row.locator(".act-fav").click()
    await expect(row).to_have_class(re.compile(r"\bfavourite\b"))
    await page.click("#filter-fav")
    await expect(page.locator("#contact-list li")).to_have_count(1)
    await page.fill("#contact-search", "nobody-matches-this")
    await expect(page.locator("#contacts-nomatch")).to_be_visible()

    # each of these reloads the list from the server (the search after a 200 ms pause); wait
    # for both answers, or a late one re-renders the list and closes the menu opened below
    def contacts_loaded(response: Any) -> bool:
        return bool(response.url.split("?")[0].endswith("/api/v1/contacts"))

    async with page.expect_response(contacts_loaded):
        await page.fill("#contact-search", "")
    async with page.expect_response(contacts_loaded):
        await page.click("#filter-all")

    await row.locator(".menu summary").click()
    await row.locator(".act-block").click()
    await page.click("#confirm-ok")
    await expect(row.locator(".blocked-tag")).to_be_visible()
    await expect(page.locator("#blocked-list li")).to_have_count(1)
    await page.locator("#blocked-list button").click()
    await expect(page.locator("#blocked-list li")).to_have_count(0)

    await row.locator(".menu summary").click()
    await row.locator(".act-delete").click()
    await page.click("#confirm-ok")
    await expect(row).to_have_count(0)
    await expect(page.locator("#contacts-empty")).to_be_visible()


async def test_account_page_shows_identity_on_request_and_lists_sessions(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    person = await new_person()
    await e2e_server.create_user(person.username, person.password)
    await log_in(person, "/account")
    page = person.page
    identity_list = page.locator("#identity")
    await expect(identity_list).to_have_attribute("data-masked", "true")
    await page.click("#identity-toggle")
    await expect(identity_list).to_have_attribute("data-masked", "false")
    current = page.locator("#sessions-rows tr").filter(has_text="This session")
    await expect(current).to_have_count(1)
    await screenshot(page, "account")

    await page.fill("#password-form [name=current_password]", "wrong password here")
    await page.fill("#password-form [name=new_password]", "a brand new password")
    await page.click("#password-form button[type=submit]")
    await expect(page.locator("#password-form [data-error-for=_form]")).to_have_text(
        "The current password is wrong"
    )

    await page.click("#account-logout")
    await page.wait_for_url("**/login?notice=logged_out")
    await page.goto("/account")
    await page.wait_for_url("**/login?next=/account")
