"""The desk in Chromium: the widget, loaded with one script tag on an education platform's page
served from another origin (a small http.server on its own port), with the visitor signed by
the platform, chats with an agent in the workspace (/support) on a phone-sized screen; both
see the other's messages live. A page on an origin the inbox does not list gets no widget."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import unique
from tests.e2e.conftest import log_in
from tests.support.desk import call, ok, organisation, platform_signs
from tests.support.server import ServerProcess, free_port, wait_for

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def platform_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The platform's web site: a folder served on 127.0.0.1 at a port of its own."""
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", tmp_path
    httpd.shutdown()
    httpd.server_close()


def course_page(yuntong: str, key: str, identity: dict[str, Any]) -> str:
    """A course page of the platform, with the visitor signed server-side and the widget."""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>五年级数学 · 示例教育平台</title></head>
<body><h1>五年级数学</h1><p>第三单元：分数的加减法</p>
<script>window.YuntongSupport = {{ identity: {json.dumps(identity, ensure_ascii=False)} }};</script>
<script src="{yuntong}/support/widget.js" data-inbox="{key}" async></script>
</body></html>"""


async def test_a_signed_visitor_on_another_origin_chats_with_an_agent(
    browser_person: Any, live_server: ServerProcess, platform_site: tuple[str, Path]
) -> None:
    site, folder = platform_site
    agent_name = unique("agent")
    _org, admin, _ids = await organisation(live_server, agent_name)
    admin_token = await live_server.login(admin)
    inbox = ok(
        await call(
            live_server,
            admin_token,
            "POST",
            "/api/v1/support/inboxes",
            {"name": "数学课程客服", "origins": [site]},
        )
    )
    path = f"/api/v1/support/inboxes/{inbox['id']}/agents/{agent_name}"
    ok(await call(live_server, admin_token, "PUT", path, {"capacity": 2}))

    agent = await browser_person(live_server.url, agent_name)
    await agent.page.set_viewport_size(PHONE)
    await log_in(agent, "/support")
    await agent.page.wait_for_selector("#support-page[data-loaded]")
    await agent.page.select_option("#my-status", "online")
    await expect(agent.page.locator("#toasts")).to_contain_text("Status changed")

    attributes = {"name": "王小明", "role": "student", "grade": 5, "course": "五年级数学"}
    ts = int(time.time())
    visitor_id = unique("stu")
    identity = {
        "visitor_id": visitor_id,
        "attributes": attributes,
        "timestamp": ts,
        "signature": platform_signs(inbox["secret"], visitor_id, attributes, ts),
    }
    (folder / "course.html").write_text(
        course_page(live_server.url, inbox["key"], identity), encoding="utf-8"
    )
    visitor = await browser_person(site, unique("visitor"))
    await visitor.page.set_viewport_size(PHONE)
    page = visitor.page
    await page.goto(f"{site}/course.html")
    bubble = page.locator("#yuntong-support button.bubble")
    await expect(bubble).to_have_attribute("aria-label", "在线客服")
    await page.wait_for_selector("#yuntong-support[data-connected=true]", state="attached")
    await bubble.focus()
    await page.keyboard.press("Enter")  # keyboard opens it, the message box has the focus
    await expect(page.locator("#yuntong-support .panel")).to_be_visible()
    await page.keyboard.type("老师好，分数作业提交不了")
    await page.keyboard.press("Enter")
    await expect(page.locator("#yuntong-support li.mine")).to_contain_text("分数作业提交不了")
    await expect(page.locator("#yuntong-support .status")).to_contain_text("正在为您服务")

    # the agent sees it in their conversations, live, and answers
    item = agent.page.locator(".conversation-item", has_text="王小明")
    await item.click()
    await expect(agent.page.locator("#messages")).to_contain_text("分数作业提交不了")
    await expect(agent.page.locator("#thread-visitor")).to_contain_text("grade: 5")
    await agent.page.fill("#reply-form textarea", "请把作业截图发给我看看")
    await agent.page.click("#send")
    await expect(page.locator("#yuntong-support li.theirs")).to_contain_text(
        "请把作业截图发给我看看"
    )
    await page.keyboard.type("好的，马上发")
    await page.keyboard.press("Enter")
    await expect(agent.page.locator("#messages")).to_contain_text("好的，马上发")
    for p in (page, agent.page):
        assert await p.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )

    # the agent resolves it; the visitor is told
    await agent.page.click("#resolve")
    await expect(page.locator("#yuntong-support .status")).to_contain_text("会话已结束")


async def test_a_page_on_an_origin_the_inbox_does_not_list_gets_no_chat(
    browser_person: Any, live_server: ServerProcess, platform_site: tuple[str, Path]
) -> None:
    site, folder = platform_site
    _org, admin, _ids = await organisation(live_server)
    token = await live_server.login(admin)
    body = {"name": "其他站点", "origins": ["https://elsewhere.example"], "allow_anonymous": True}
    inbox = ok(await call(live_server, token, "POST", "/api/v1/support/inboxes", body))
    (folder / "other.html").write_text(
        course_page(live_server.url, inbox["key"], {}).replace(
            "window.YuntongSupport = { identity: {} };", ""
        ),
        encoding="utf-8",
    )
    visitor = await browser_person(site, unique("visitor"))
    errors: list[str] = []
    visitor.page.on("console", lambda msg: errors.append(msg.text))
    await visitor.page.goto(f"{site}/other.html")
    await wait_for(lambda: any("yuntong support widget" in e for e in errors))
    assert await visitor.page.locator("#yuntong-support").count() == 0


async def test_an_organisation_administrator_sets_up_an_inbox_on_a_phone(
    browser_person: Any, live_server: ServerProcess
) -> None:
    member = unique("member")
    _org, admin, _ids = await organisation(live_server, member)
    person = await browser_person(live_server.url, admin)
    page = person.page
    await page.set_viewport_size(PHONE)
    await log_in(person, "/support")
    await page.wait_for_selector("#support-page[data-loaded]")
    await expect(page.locator("#not-agent")).to_be_visible()  # answers in no inbox yet

    await page.fill("#inbox-form [name=name]", "五年级数学课程客服 Grade 5 maths support")
    await page.fill("#inbox-form [name=origins]", "https://www.example-school.edu.cn")
    await page.check("#inbox-form [name=allow_anonymous]")
    await page.click("#inbox-form button[type=submit]")
    await expect(page.locator("#inbox-secret")).to_be_visible()
    await expect(page.locator("#inbox-secret")).to_contain_text("shown this once")
    await expect(page.locator("#inbox-list .embed-code")).to_contain_text("/support/widget.js")

    await page.fill("#agent-form [name=username]", admin)
    await page.fill("#agent-form [name=capacity]", "4")
    await page.click("#agent-form button[type=submit]")
    await expect(page.locator("#toasts")).to_contain_text("Agent added")
    await expect(page.locator("#not-agent")).to_be_hidden()
    await page.fill("#agent-form [name=username]", "nobody-such-user")
    await page.click("#agent-form button[type=submit]")
    await expect(page.locator("#agent-form .form-error")).to_have_text("No such user")
    wide = await page.evaluate(
        """() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .map((e) => e.tagName + '#' + e.id + '.' + e.className)"""
    )
    assert not wide, wide
