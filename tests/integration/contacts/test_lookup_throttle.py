"""Phone numbers and e-mail addresses must not map to usernames in bulk: look-ups per user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.clients import clients_by_address
from yuntong.accounts import directory, registration
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError

PASSWORD = "correct horse battery"
LOOKUP = "/api/v1/users/lookup"


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    async with clients_by_address(ctx) as client_from:
        yield client_from("192.0.2.1")


async def signed_in(ctx: Context, client: httpx.AsyncClient, name: str) -> dict[str, str]:
    await registration.do_create_admin(ctx, name, PASSWORD, "subscriber")
    resp = await client.post(
        "/api/v1/auth/login", json={"username": name, "password": PASSWORD, "kind": "api"}
    )
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def test_lookups_are_throttled_per_user_with_retry_after(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    me, other = await signed_in(ctx, client, "prober"), await signed_in(ctx, client, "other")
    await registration.do_create_admin(ctx, "target", PASSWORD, "subscriber")
    limit = ctx.settings.lookup_per_minute
    for n in range(limit):
        resp = await client.get(LOOKUP, params={"q": f"+86138{n:08d}"}, headers=me)
        assert resp.status_code == 404  # nobody has these numbers
    held = await client.get(LOOKUP, params={"q": "target"}, headers=me)
    assert held.status_code == 429 and held.json()["error"]["code"] == "rate_limited"
    wait = int(held.headers["Retry-After"])
    assert 0 < wait <= 60
    # adding a contact or blocking by phone / e-mail is the same look-up
    contact = await client.post("/api/v1/contacts", json={"query": "target"}, headers=me)
    assert contact.status_code == 429
    block = await client.post("/api/v1/blocks", json={"query": "target"}, headers=me)
    assert block.status_code == 429
    # another user is not affected
    assert (await client.get(LOOKUP, params={"q": "target"}, headers=other)).status_code == 200
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(seconds=wait)
    assert (await client.get(LOOKUP, params={"q": "target"}, headers=me)).status_code == 200


async def test_calls_by_phone_or_email_count_as_lookups(ctx: Context) -> None:
    caller = await registration.do_create_admin(ctx, "caller", PASSWORD, "subscriber")
    for n in range(ctx.settings.lookup_per_minute):
        with pytest.raises(YuntongError) as unknown:
            await directory.resolve_call_parties(ctx, caller.id, "audio", f"+86139{n:08d}")
        assert unknown.value.code == "user_not_found"
    with pytest.raises(YuntongError) as held:
        await directory.resolve_call_parties(ctx, caller.id, "audio", "+8613900099999")
    assert held.value.code == "rate_limited" and held.value.retry_after
