"""A signed webhook body nested too deeply to parse is malformed, not a 500 (issue 14, item 6's
neighbour: every JSON parser of untrusted input)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.billing.test_payments import SECRET, ledger_rows, signed
from yuntong.core.context import Context


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"payment_webhook_secret": SECRET}


async def test_a_deeply_nested_webhook_body_is_malformed(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    raw = b"[" * 60_000
    resp = await app_client.post(
        "/api/v1/billing/webhooks/payments/alipay", content=raw, headers=signed(ctx, raw)
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "malformed_message"
    assert await ledger_rows(ctx) == 0
