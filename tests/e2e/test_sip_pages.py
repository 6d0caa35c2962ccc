"""A number's SIP phone in Chromium, on a computer in Chinese and on a phone (390 px) in
English, against a Yuntong running its SIP edge (Kamailio) with SIPp as the desk phone: the
customer makes the password (shown once, copied), a phone registers with it and is listed,
a new password is made after a warning, the phone's calls (one not reached, one answered)
are on the call history page, and the account is removed. Nothing scrolls sideways."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import unique
from tests.e2e.conftest import screenshot
from tests.e2e.test_phone_layout import SIZES, signed_in
from tests.support.numbers import number_for
from tests.support.server import ServerProcess, free_port, wait_for
from tests.support.sipp import (
    Edge,
    Uas,
    free_udp_port,
    invite_scenario,
    register_scenario,
    run,
)

pytestmark = pytest.mark.e2e
DOMAIN = "yuntong.test"
# what the page says, in each language
SAYS = {
    "zh-CN": {
        "none": "还没有 SIP 账号",
        "shown_once": "密码只显示这一次",
        "copied": "已复制",
        "no_phone": "现在没有话机注册",
        "one_phone": "现在有 1 部话机注册",
        "rotate": "旧密码立即失效",
        "remove": "将无法再注册或拨打电话",
        "internal": "网内",
        "unreachable": "无法接通",
        "answered": "已接通",
        "pdd": r"\d+ 毫秒",
    },
    "en": {
        "none": "No SIP account yet",
        "shown_once": "shown only this once",
        "copied": "Copied",
        "no_phone": "No phone registered now",
        "one_phone": "Phones registered now: 1",
        "rotate": "The old one stops working at once",
        "remove": "can no longer register or call",
        "internal": "Internal",
        "unreachable": "Unreachable",
        "answered": "Answered",
        "pdd": r"\d+ ms",
    },
}


@pytest.fixture(scope="session")
async def sip_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    """A Yuntong running its own Kamailio on free ports."""
    if not (shutil.which("kamailio") and shutil.which("sipp")):
        pytest.skip("Kamailio and SIPp are not installed")
    var = tmp_path_factory.mktemp("e2e-sip") / "var"
    server = ServerProcess(
        var,
        f"sqlite+aiosqlite:///{var.parent / 'yuntong.db'}",
        YUNTONG_START_SIP="true",
        YUNTONG_SIP_PORT=str(free_udp_port()),
        YUNTONG_SIP_TLS_PORT=str(free_port()),
        YUNTONG_SIP_DOMAIN=DOMAIN,
        YUNTONG_SIP_CHILDREN="1",
    )
    server.start()
    fifo = var / "sip" / "kamailio_rpc.fifo"
    await wait_for(fifo.exists, timeout=20, interval=0.05)
    yield server
    server.stop()
    await server.aclose()


async def answered_call(
    server: ServerProcess,
    edge: Edge,
    caller: str,
    number: str,
    callee: str,
    phone_port: int,
    folder: Path,
) -> None:
    """``caller`` (user name; their number) calls ``callee``'s phone registered at
    ``phone_port``, which answers; returns once the call's end is recorded."""
    auth = {"Authorization": f"Bearer {await server.login(caller)}"}
    async with httpx.AsyncClient(base_url=server.url, headers=auth) as http:
        made = await http.post(f"/api/v1/numbers/{number}/sip-credentials")
        assert made.status_code == 201, made.text
        phone = Uas(edge, folder / "callee", phone_port, service=callee)
        await phone.start()
        try:
            done = await run(
                edge,
                invite_scenario(callee),
                folder / "caller",
                service=f"86{number}",
                user=f"86{number}",
                password=made.json()["password"],
            )
            assert done.code == 0, done.output
            assert (await phone.wait()).code == 0
        finally:
            await phone.stop()

        async def ended() -> bool:
            calls = (await http.get("/api/v1/sip/calls")).json()
            return bool(calls) and calls[0]["ended_at"] is not None

        await wait_for(ended, timeout=10)


async def _fits(page: Page, width: int) -> None:
    assert await page.evaluate("(w) => window.ytLayout.problems(w)", width) == []


@pytest.mark.parametrize(("language", "size"), [("zh-CN", "computer"), ("en", "phone")])
async def test_a_customer_sets_up_a_sip_phone_on_their_number(
    browser: Browser, sip_server: ServerProcess, tmp_path: Path, language: str, size: str
) -> None:
    says, width = SAYS[language], SIZES[size]["width"]
    sip_port = int(sip_server.env["YUNTONG_SIP_PORT"])
    edge = Edge("127.0.0.1", sip_port, DOMAIN)
    customer = unique("sipweb")
    national = await number_for(sip_server, await sip_server.create_user(customer))
    caller = unique("sipcallee")
    callee = await number_for(sip_server, await sip_server.create_user(caller))
    username = f"86{national}"

    context = await signed_in(browser, sip_server, customer, size, language)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=sip_server.url)
    page = await context.new_page()
    await page.goto("/numbers")
    section = page.locator(f'#mine-rows tr.sip-row[data-sip-for="{national}"] .sip-box')
    await expect(section).to_have_attribute("data-sip", "none")
    await expect(section).to_contain_text(says["none"])
    await _fits(page, width)

    # the password is shown once, with what the phone needs, and copied
    await section.locator(".act-sip-make").click()
    dialog = page.locator("#sip-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text(says["shown_once"])
    await expect(page.locator("#sip-username")).to_have_text(username)
    await expect(page.locator("#sip-domain")).to_have_text(DOMAIN)
    await expect(page.locator("#sip-registrar")).to_have_text(f"{DOMAIN}:{sip_port}")
    await expect(page.locator("#sip-transports")).to_have_text("udp, tcp, tls")
    password = await page.locator("#sip-password").text_content() or ""
    assert len(password) == 20
    copy = dialog.locator('[data-copy="sip-password"]')
    await copy.click()
    await expect(copy).to_have_text(says["copied"])
    assert await page.evaluate("navigator.clipboard.readText()") == password
    await _fits(page, width)
    await screenshot(page, f"sip-password-{language}-{size}")
    await page.click("#sip-dialog-done")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#sip-password")).to_have_text("")  # not left in the page
    await expect(section).to_have_attribute("data-sip", "account")
    await expect(section).to_contain_text(says["no_phone"])

    # a desk phone registers with it: the section lists its contact
    phone_port = free_udp_port()
    registered = await run(
        edge,
        register_scenario(),
        tmp_path / "register",
        service=username,
        user=username,
        password=password,
        port=phone_port,
    )
    assert registered.code == 0, registered.output
    await page.reload()
    await expect(section).to_contain_text(says["one_phone"])
    await expect(section.locator(".sip-contacts li")).to_contain_text(
        f"sip:{username}@127.0.0.1:{phone_port}"
    )
    await _fits(page, width)
    await screenshot(page, f"sip-section-{language}-{size}")

    # a new password, after the warning that the old one stops working
    await section.locator(".act-sip-rotate").click()
    await expect(page.locator("#confirm-text")).to_contain_text(says["rotate"])
    await page.click("#confirm-ok")
    await expect(dialog).to_be_visible()
    rotated = await page.locator("#sip-password").text_content() or ""
    assert len(rotated) == 20 and rotated != password
    await page.click("#sip-dialog-done")

    # the phone calls a number whose phone is not registered: on the call history page
    dialled = await run(
        edge,
        invite_scenario(f"86{callee}", 480),
        tmp_path / "call",
        service=username,
        user=username,
        password=rotated,
    )
    assert dialled.code == 0, dialled.output
    # and answers a call from another customer's phone (its duration and post-dial delay)
    await answered_call(sip_server, edge, caller, callee, username, phone_port, tmp_path)
    await page.goto("/history")
    answered = page.locator('#sip-call-rows tr[data-outcome="answered"]')
    await expect(answered).to_contain_text(f"+86{callee}")
    await expect(answered).to_contain_text(says["answered"])
    await expect(answered).to_contain_text(re.compile(r"0:0[1-9]"))
    await expect(answered).to_contain_text(re.compile(says["pdd"]))
    row = page.locator('#sip-call-rows tr[data-outcome="unreachable"]')
    await expect(row).to_have_attribute("data-outcome", "unreachable")
    await expect(row).to_contain_text(f"+{username}")
    await expect(row).to_contain_text(f"+86{callee}")
    await expect(row).to_contain_text(says["internal"])
    await expect(row).to_contain_text(says["unreachable"])
    await _fits(page, width)
    await row.scroll_into_view_if_needed()
    await screenshot(page, f"sip-calls-{language}-{size}")

    # removed, after a warning
    await page.goto("/numbers")
    await section.locator(".act-sip-remove").click()
    await expect(page.locator("#confirm-text")).to_contain_text(says["remove"])
    await page.click("#confirm-ok")
    await expect(section).to_have_attribute("data-sip", "none")
    await context.close()
