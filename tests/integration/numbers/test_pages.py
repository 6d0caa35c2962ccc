"""The numbers pages are served to whom they are for: customers /numbers, staff
/operator/numbers, in both languages."""

from __future__ import annotations

import httpx

from tests.integration.accounts.conftest import web_login
from yuntong.accounts.auth import Principal


async def test_customers_and_staff_get_their_numbers_pages(
    app_client: httpx.AsyncClient, staff: Principal, customer: Principal
) -> None:
    await web_login(app_client, customer.username)
    page = await app_client.get("/numbers")
    assert page.status_code == 200 and 'id="search-form"' in page.text
    assert "选号" in page.text and 'href="/numbers"' in page.text
    english = await app_client.get("/numbers", headers={"Accept-Language": "en"})
    assert "Choose a number" in english.text
    refused = await app_client.get("/operator/numbers", follow_redirects=False)
    assert refused.status_code in (303, 403)
    await web_login(app_client, staff.username)
    desk = await app_client.get("/operator/numbers")
    assert desk.status_code == 200 and 'id="import-form"' in desk.text
    assert 'href="/operator/numbers"' in desk.text
