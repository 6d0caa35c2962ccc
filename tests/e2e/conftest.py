"""End-to-end fixtures: a live Yuntong with its own coturn, real Chromium driven by Playwright."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import unique
from tests.support.server import ServerProcess, free_port
from yuntong.accounts.validation import resident_id_check_digit, uscc_check_character

CHROMIUM = os.environ.get("YUNTONG_CHROMIUM", "/usr/bin/chromium")
# DESIGN.md (Tests): loopback only, fake camera and microphone, nothing phoning home
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
PASSWORD = "correct horse battery"
SCREENSHOTS = Path(os.environ.get("YUNTONG_E2E_SCREENSHOTS", "var/e2e-screenshots"))


@pytest.fixture(scope="session")
async def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    """A real Yuntong that also runs its own coturn (relay tests), on private ports."""
    if not shutil.which("turnserver"):
        pytest.skip("coturn (turnserver) is not installed")
    var = tmp_path_factory.mktemp("e2e") / "var"
    relay_base = random.randrange(50_000, 59_000, 200)
    server = ServerProcess(
        var,
        f"sqlite+aiosqlite:///{var.parent / 'yuntong.db'}",
        YUNTONG_START_COTURN="true",
        YUNTONG_COTURN_PORT=str(free_port()),
        YUNTONG_COTURN_MIN_PORT=str(relay_base),
        YUNTONG_COTURN_MAX_PORT=str(relay_base + 199),
        # the browsers' relays are on 127.0.0.1, which coturn refuses unless allowed
        YUNTONG_TURN_ALLOWED_PEER_IPS='["127.0.0.1"]',
        YUNTONG_RING_TIMEOUT_S="30",
    )
    server.start()
    yield server
    server.stop()
    await server.aclose()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    async with async_playwright() as p:
        # launch() gives every run a new, empty profile (--user-data-dir) of its own
        instance = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()


@dataclass
class Person:
    """A user with their own browser context (cookies, localStorage) and page."""

    username: str
    context: BrowserContext
    page: Page
    password: str = PASSWORD


@pytest.fixture
async def browser_person(browser: Browser) -> AsyncIterator[object]:
    """Factory: ``await browser_person(base_url, username)`` → a Person with a fresh English
    browser context on the server (or balancer) at ``base_url``; every context is closed after."""
    contexts: list[BrowserContext] = []

    async def make(base_url: str, username: str | None = None) -> Person:
        context = await browser.new_context(
            base_url=base_url, locale="en-US", viewport={"width": 1280, "height": 800}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = await context.new_page()
        person = Person(username or unique("e2e"), context, page)
        page.on(
            "console",
            lambda msg: (
                msg.type in ("error", "warning")
                and print(f"[{person.username}] {msg.type}: {msg.text}")
            ),
        )
        page.on("pageerror", lambda err: print(f"[{person.username}] pageerror: {err}"))
        return person

    yield make
    for context in contexts:
        await context.close()


@pytest.fixture
def new_person(browser_person: Any, e2e_server: ServerProcess) -> object:
    """Factory: ``await new_person(username)`` → a Person with a fresh English browser context
    on ``e2e_server``."""

    async def make(username: str | None = None) -> Person:
        person: Person = await browser_person(e2e_server.url, username)
        return person

    return make


def identity(seed: int) -> dict[str, str]:
    """A valid, unique-enough individual identity: resident ID with its check digit, phone."""
    first17 = f"11010519900101{seed % 1000:03d}"
    return {
        "id_number": first17 + resident_id_check_digit(first17),
        "birth_date": "1990-01-01",
        "phone": f"139{random.randrange(10**8):08d}",
    }


def organisation(username: str, **fields: str) -> dict[str, str]:
    """A valid organisation sign-up form (a credit code of its own, with its check character)
    whose administrator is ``username``; ``fields`` replace the defaults."""
    first17 = f"91350100{random.randrange(10**9):09d}"  # credit codes must be unique
    return {
        "legal_name": "云通测试有限公司",
        "uscc": first17 + uscc_check_character(first17),
        "legal_representative": "王五",
        "contact_name": "赵六",
        "contact_phone": identity(3)["phone"],
        "address": "上海市浦东新区测试路 2 号",
        "username": username,
        "display_name": "Test Org Admin",
        "password": PASSWORD,
        "email": f"{username}@example.com",
        **fields,
    }


async def log_in(person: Person, path: str = "/contacts") -> None:
    page = person.page
    await page.goto(f"/login?next={path}")
    await page.fill("#login-form [name=username]", person.username)
    await page.fill("#login-form [name=password]", person.password)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"**{path.split('?')[0]}*")
    # the realtime connection is up once our own presence dot turns online
    await page.wait_for_selector("#my-presence[data-status=online]", state="attached")


async def screenshot(page: Page, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"  # Playwright makes the folder
    await page.screenshot(path=str(path), full_page=False)
    return path
