"""Issue 16, end to end in Chromium: a customer selects a number, orders forwarding, a second
user calls the number, it forwards after the no-reply timer to a third user who sees the
original caller's number, media measured, three linked records and the right charges.

Bo (a customer with a billing account) chooses a number on /numbers, orders call forwarding on
/billing and forwards his calls to Cui's number on no reply after 5 s on /services. An dials
Bo's number from the dial panel; Bo's page rings and nobody answers; after Bo's 5 s the call
rings Cui, whose page shows An's number (Cui has caller ID) and that Bo's number forwarded it.
Cui answers, media flows both ways, An hangs up. Then:

- the records: An's call to Bo's number (An's history: outgoing, answered — where Bo forwards
  his calls is not shown to An); the same record in Bo's history, tagged as forwarded on no
  reply to Cui's number; and the forwarded leg, linked to An's record (``parent_call_id``,
  ``forwarding = cfnry``), Bo's own call to Cui for An's number (Bo's history: a forwarded
  call) and Cui's incoming call from An's number, forwarded by Bo's;
- the charges: the number's rent on Bo's first statement, the forwarding fee and the forwarded
  leg on Bo's bill to date, An's call on An's — computed here from the prices set here.

A wall-clock server cannot close the cycle under way (a cycle closes once it has ended), so
the charges after the first statement are read from the bill to date: the lines the cycle's
statement will carry, from the same statement view (``/billing``, ``GET /bill-to-date``).
"""

from __future__ import annotations

import asyncio
import math
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from tests.conftest import unique
from tests.e2e.conftest import Person, log_in
from tests.e2e.test_billing_pages import staff_client, today
from tests.e2e.test_video_call import assert_media_flows, stats, wait_connected
from tests.support.numbers import number_for
from tests.support.server import ServerProcess, wait_for
from yuntong.accounts import directory
from yuntong.accounts.auth import principal_for
from yuntong.accounts.identity import mask_leading
from yuntong.calls.models import CallRecord
from yuntong.supplementary import products

pytestmark = pytest.mark.e2e

CLOSE_DAY = 25  # YUNTONG_BILLING_CLOSE_DAY's default: the e2e server does not change it
NUMBER_RENT_FEN = 1200  # the tier of Bo's number (its class: ABBA)
CALL_FEN_PER_MINUTE = 30  # the package An and Bo are on: video calls 0.30 a minute, 60/60
RING = 15_000  # ms: what a page is given to show a call (Bo's timer is 5 s of it)


def rest_of_cycle(monthly_fen: int, day: date) -> int:
    """A month's fee from ``day`` to the end of its billing cycle (cycles run from the close
    day to the day before the next one), prorated by day, rounded once, half-up."""
    first = day.replace(day=CLOSE_DAY)
    if day.day < CLOSE_DAY:
        first = (day.replace(day=1) - timedelta(days=1)).replace(day=CLOSE_DAY)
    following = (first.replace(day=1) + timedelta(days=32)).replace(day=CLOSE_DAY)
    days_left, days = (following - day).days, (following - first).days
    amount = Decimal(monthly_fen) * days_left / days
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def call_charge(billable_s: int) -> int:
    return math.ceil(billable_s / 60) * CALL_FEN_PER_MINUTE


async def api(server: ServerProcess, who: Person) -> httpx.AsyncClient:
    token = await server.login(who.username, who.password)
    return httpx.AsyncClient(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )


async def ok(response: Any) -> Any:
    response = await response
    assert response.status_code in (200, 201), response.text
    return response.json() if response.content else None


async def set_up_prices(server: ServerProcess) -> tuple[str, str, int]:
    """A package with priced video calls, a tier for numbers of class ABBA and a block of
    numbers with one of them, the value-added services in the catalogue. Returns (package
    code, Bo's number to be, the forwarding fee in force)."""
    package = unique("pkg")
    head = f"138{random.randrange(1000, 9999)}"
    async with await staff_client(server) as staff:
        product = await ok(
            staff.post(
                "/api/v1/billing/products",
                json={"code": package, "kind": "package", "name_zh": "通话", "name_en": "Calls"},
            )
        )
        price = {
            "effective_on": today().isoformat(),
            "monthly_fee_fen": 0,
            "allowances": {},
            "rates": {
                "call.video": {"per_minute_fen": str(CALL_FEN_PER_MINUTE), "increment": "60/60"}
            },
        }
        await ok(staff.post(f"/api/v1/billing/products/{product['id']}/prices", json=price))
        # the same tier each time: a pattern class is in one tier only
        tier = {"name_zh": "对称号", "name_en": "Mirror", "patterns": ["ABBA"]}
        await ok(
            staff.put(
                "/api/v1/admin/numbers/tiers/e2e_mirror",
                json={**tier, "monthly_rent_fen": NUMBER_RENT_FEN},
            )
        )
        block = {"carrier": "中国移动", "source_ref": "e2e 批文", "start": f"{head}1220"}
        # the server's first import loads the geocoder (seconds)
        imported = await ok(
            staff.post(
                "/api/v1/admin/numbers/blocks", json={**block, "end": f"{head}1229"}, timeout=60
            )
        )
        assert imported["imported"] == 10, imported
        # the services' products, as `yuntong services products` adds them
        ctx = await server.context()
        clerk = unique("ops")
        clerk_id = await server.create_user(clerk, role="operator_admin")
        await products.do_add_products(
            ctx, principal_for(await directory.get_user(ctx, clerk_id), "", "cli")
        )

        async def forwarding_fee() -> int | None:
            listed = (await staff.get("/api/v1/billing/price-list")).json()
            for item in listed:
                if item["code"] == products.BY_SERVICE["forwarding"].code and item["current"]:
                    fee: int = item["current"]["monthly_fee_fen"]
                    return fee
            return None

        fee = await wait_for(forwarding_fee, timeout=10)  # the server sees the catalogue change
    return package, f"{head}1221", fee


async def incoming(page: Page) -> None:
    await expect(page.locator("#incoming")).to_be_visible(timeout=RING)


async def test_a_call_to_a_number_forwarded_on_no_reply(
    new_person: Any, e2e_server: ServerProcess
) -> None:
    server = e2e_server
    an, bo, cui = (
        await new_person(unique("an")),
        await new_person(unique("bo")),
        await new_person(unique("cui")),
    )
    ids = {p.username: await server.create_user(p.username, p.password) for p in (an, bo, cui)}
    package, bo_number, forwarding_fee = await set_up_prices(server)
    an_number = await number_for(server, ids[an.username])
    cui_number = await number_for(server, ids[cui.username])
    clip_code = products.BY_SERVICE["clip"].code
    async with await api(server, an) as an_api, await api(server, cui) as cui_api:
        await ok(an_api.post("/billing/orders", json={"product_codes": [package]}))
        # Cui has caller ID, so she is shown the caller's number
        await ok(cui_api.post("/billing/orders", json={"product_codes": [clip_code]}))
        await ok(cui_api.put("/services", json={"clip": True}))
    bill_day = today()
    await asyncio.gather(log_in(an), log_in(cui), log_in(bo, "/numbers"))

    # Bo chooses his number
    page = bo.page
    await page.wait_for_selector("#result-rows tr")
    await page.fill("#search-form [name=ends_with]", bo_number[-4:])
    await page.fill("#search-form [name=prefix]", bo_number[:7])
    await page.click("#search-form button[type=submit]")
    found = page.locator(f'#result-rows tr[data-number="{bo_number}"]')
    await expect(page.locator("#result-rows tr")).to_have_count(1)
    await expect(found).to_contain_text(f"{NUMBER_RENT_FEN / 100:.2f}")
    await found.locator(".act-reserve").click()
    mine = page.locator(f'#mine-rows tr[data-number="{bo_number}"]')
    await mine.locator(".act-confirm").click()
    await page.click("#confirm-ok")
    await expect(mine).to_contain_text("In use")

    # ... orders call forwarding (and the calls package) ...
    await page.goto("/billing")
    form = page.locator("#order-form")
    await form.locator(f"input[name=package][value='{package}']").check()
    await form.locator(f"input[value='{products.BY_SERVICE['forwarding'].code}']").check()
    await form.locator("button[type=submit]").click()
    forwarding = page.locator("#subscription-list li[data-code=vas_forwarding]")
    await expect(forwarding).to_contain_text("Call forwarding")

    # ... and forwards unanswered calls to Cui's number after 5 s
    await page.goto("/services")
    await expect(page.locator("#services-page")).to_have_attribute("data-loaded", "true")
    await expect(page.locator("[data-needs=forwarding]")).to_be_hidden()
    fwd = page.locator("#forwarding-form")
    await fwd.locator("[name=cfnry]").fill(cui_number)
    await fwd.locator("[name=cfnry_timer_s]").fill("5")
    await fwd.locator("button[type=submit]").click()
    await expect(page.locator(".toast").last).to_have_text("Saved")
    await expect(fwd.locator("[name=cfnry_timer_s]")).to_have_value("5")

    # Bo's page is connected (the call rings there)
    await page.wait_for_selector("#my-presence[data-status=online]", state="attached")

    # An dials Bo's number; Bo's page rings, nobody answers; after 5 s Cui's page rings
    await an.page.fill("#dial-to", bo_number)
    await an.page.click("#dial-video")
    await incoming(bo.page)
    await expect(bo.page.locator("#incoming-username")).to_contain_text(f"to +86{bo_number}")
    await incoming(cui.page)
    await expect(bo.page.locator("#incoming")).to_be_hidden()
    await expect(cui.page.locator("#incoming-username")).to_contain_text(f"@{an.username}")
    await expect(cui.page.locator("#incoming-number")).to_have_text(f"+86{an_number}")
    await expect(cui.page.locator("#incoming-forwarded")).to_have_text(
        f"Forwarded by +86{bo_number}"
    )
    await expect(cui.page.locator("#incoming-username")).to_contain_text(f"to +86{cui_number}")

    # Cui answers: media both ways, measured; An hangs up
    await cui.page.click("#incoming-accept")
    await asyncio.gather(wait_connected(an.page), wait_connected(cui.page))

    async def decoding(page: Page) -> bool:
        return bool((await stats(page))["framesDecoded"] > 0)

    await asyncio.gather(*(wait_for(lambda p=p: decoding(p)) for p in (an.page, cui.page)))
    await asyncio.gather(assert_media_flows(an.page, "an"), assert_media_flows(cui.page, "cui"))
    await an.page.click("#btn-hangup")
    await expect(cui.page.locator("#call-outcome")).to_have_attribute("data-outcome", "answered")

    # the three linked records: An's call, the forwarded leg linked to it
    async with (await server.context()).db.session() as s:
        (first,) = (
            await s.execute(
                select(CallRecord).where(
                    CallRecord.caller_id == ids[an.username],
                    CallRecord.called_number == f"+86{bo_number}",
                )
            )
        ).scalars()
        (leg,) = (
            await s.execute(select(CallRecord).where(CallRecord.parent_call_id == first.id))
        ).scalars()
    assert (first.callee_id, first.calling_number) == (ids[bo.username], f"+86{an_number}")
    assert (leg.caller_id, leg.callee_id) == (ids[bo.username], ids[cui.username])
    assert (leg.calling_number, leg.called_number) == (f"+86{an_number}", f"+86{cui_number}")
    assert leg.forwarding == "cfnry"
    assert first.outcome == leg.outcome == "answered"
    billable = first.billable_seconds
    assert leg.billable_seconds == billable and 1 <= billable <= 60, (billable, leg)

    # ... as each of them sees them
    await an.page.goto("/history")
    row = an.page.locator("#history-rows tr").first
    await expect(row).to_have_attribute("data-call-id", first.id)
    await expect(row).to_have_attribute("data-outcome", "answered")
    await expect(row.locator(".peer-username")).to_have_text(f"@{bo.username} · +86{bo_number}")
    assert await row.get_attribute("data-forwarded-to") is None  # Bo's forwarding is his

    await bo.page.goto("/history")
    rang = bo.page.locator(f"#history-rows tr[data-call-id='{first.id}']")
    await expect(rang).to_have_attribute("data-direction", "incoming")
    await expect(rang).to_have_attribute("data-forwarded-to", f"+86{cui_number}")
    await expect(rang.locator(".c-result")).to_have_text(f"No reply: forwarded to +86{cui_number}")
    await expect(rang.locator(".peer-username")).to_have_text(f"@{an.username} · +86{an_number}")
    sent = bo.page.locator(f"#history-rows tr[data-call-id='{leg.id}']")
    await expect(sent).to_have_attribute("data-forwarding", "cfnry")
    await expect(sent.locator(".c-type-label")).to_have_text("Forwarded")
    await expect(sent.locator(".peer-username")).to_have_text(
        f"@{cui.username} · +86{cui_number} · forwarded for +86{an_number}"
    )

    await cui.page.goto("/history")
    got = cui.page.locator("#history-rows tr").first
    await expect(got).to_have_attribute("data-call-id", leg.id)
    await expect(got).to_have_attribute("data-direction", "incoming")
    await expect(got).to_have_attribute("data-outcome", "answered")
    await expect(got.locator(".peer-username")).to_have_text(
        f"@{bo.username} · +86{an_number} · forwarded by +86{bo_number}"
    )

    # the charges: the number's rent on Bo's first statement ...
    rent = rest_of_cycle(NUMBER_RENT_FEN, bill_day)
    fee = rest_of_cycle(forwarding_fee, bill_day)
    charge = call_charge(billable)
    async with await api(server, bo) as bo_api, await api(server, an) as an_api:
        (statement,) = await ok(bo_api.get("/billing/statements"))
        assert statement["kind"] == "first"
        issued = await ok(bo_api.get(f"/billing/statements/{statement['id']}"))
        lines = [(x["kind"], x["amount_fen"]) for x in issued["lines"]]
        assert lines == [("previous_balance", 0), ("rent", rent)], issued["lines"]

        # ... the forwarding fee and the forwarded leg (Bo's, not An's) on Bo's bill to date,
        # An's call to Bo's number on An's, once rated
        async def rated(client: httpx.AsyncClient) -> list[dict[str, Any]] | None:
            lines: list[dict[str, Any]] = (await ok(client.get("/billing/bill-to-date")))["lines"]
            return lines if any(x["kind"] == "usage" for x in lines) else None

        bo_lines = await wait_for(lambda: rated(bo_api), timeout=30, interval=0.5)
        an_lines = await wait_for(lambda: rated(an_api), timeout=30, interval=0.5)
    assert [(x["kind"], x["amount_fen"], x["other_party"]) for x in bo_lines] == [
        ("previous_balance", rent, ""),
        ("rent", fee, ""),
        ("usage", charge, mask_leading(cui.username, 2)),
    ], bo_lines
    assert bo_lines[2]["duration_s"] == billable
    assert [(x["kind"], x["amount_fen"], x["other_party"]) for x in an_lines] == [
        ("previous_balance", 0, ""),
        ("usage", charge, mask_leading(bo.username, 2)),
    ], an_lines

    # what Bo reads on /billing
    await bo.page.goto("/billing")
    usage = bo.page.locator("#to-date-rows tr[data-kind=usage]")
    await expect(usage).to_have_count(1)
    await expect(usage.locator(".amount")).to_have_text(f"¥{charge / 100:.2f}")
    fee_row = bo.page.locator("#to-date-rows tr[data-kind=rent]")
    await expect(fee_row).to_contain_text("Call forwarding")
    await expect(fee_row.locator(".amount")).to_have_text(f"¥{fee / 100:.2f}")
    await expect(bo.page.locator("#to-date-total")).to_have_text(
        f"¥{(rent + fee + charge) / 100:.2f}"
    )
