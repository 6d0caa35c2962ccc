"""Login throttles: per account and client, per account, per client; each with Retry-After.

One abuser behind a carrier NAT guessing one account must not lock out the other users behind
the same address, nor the account's owner elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from tests.integration.accounts.conftest import PASSWORD, active_user, individual, phone
from tests.support.clients import ClientFrom, clients_by_address
from yuntong.accounts import sessions
from yuntong.accounts.auth import Principal
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError

LOGIN = "/api/v1/auth/login"
PAIR, ACCOUNT, CLIENT = 3, 7, 12  # failures: one account from one client, one account, one client
TAKEN = 4  # registrations refused as taken, per client
NAT = "100.64.0.9"  # a carrier-grade NAT address


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "login_max_failures": PAIR,
        "login_account_max_failures": ACCOUNT,
        "login_client_max_failures": CLIENT,
        "registration_max_taken": TAKEN,
    }


@pytest.fixture
async def client_from(ctx: Context) -> AsyncIterator[ClientFrom]:
    async with clients_by_address(ctx) as factory:
        yield factory


async def attempt(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        LOGIN,
        json={"username": username, "password": password, "kind": "api"},
        headers={"Accept-Language": "en"},
    )


def code(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


def retry_after(resp: httpx.Response) -> int:
    """The Retry-After header in seconds; the body says the same."""
    seconds = int(resp.headers["Retry-After"])
    assert seconds > 0
    assert resp.json()["error"]["retry_after"] == seconds
    return seconds


async def test_an_abuser_behind_a_nat_locks_only_his_guesses_not_the_others(
    ctx: Context, staff: Principal, client_from: ClientFrom
) -> None:
    await active_user(ctx, staff, 1)  # person1: the account guessed at
    await active_user(ctx, staff, 2)  # person2: another user behind the same NAT
    nat = client_from(NAT)
    answers = [await attempt(nat, "person1", f"guess {n}") for n in range(30)]
    assert [code(r) for r in answers[:PAIR]] == ["invalid_credentials"] * PAIR
    for resp in answers[PAIR:]:
        assert resp.status_code == 429 and code(resp) == "rate_limited"
    wait = retry_after(answers[-1])
    assert wait <= ctx.settings.login_lockout_minutes * 60
    assert answers[-1].json()["error"]["message"] == "Too many attempts; try again later"

    # the other user behind the NAT logs in; so does the owner from elsewhere
    assert (await attempt(nat, "person2", PASSWORD)).status_code == 200
    assert (await attempt(client_from("198.51.100.20"), "person1", PASSWORD)).status_code == 200
    # from the abuser's address the right password is held off too (else guessing goes on)
    held = await attempt(nat, "person1", PASSWORD)
    assert held.status_code == 429 and retry_after(held) <= wait
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(seconds=wait)
    assert (await attempt(nat, "person1", PASSWORD)).status_code == 200


async def test_guesses_from_many_addresses_lock_the_account_with_retry_after(
    ctx: Context, staff: Principal, client_from: ClientFrom
) -> None:
    await active_user(ctx, staff, 1)
    await active_user(ctx, staff, 2)
    for n in range(ACCOUNT):  # a botnet: few guesses per address, under the pair limit
        resp = await attempt(client_from(f"203.0.113.{n // (PAIR - 1)}"), "person1", "guess")
        expected = "account_locked" if n + 1 == ACCOUNT else "invalid_credentials"
        assert code(resp) == expected
    # now even the owner, from an address that never failed, waits; the header says how long
    locked = await attempt(client_from("198.51.100.30"), "person1", PASSWORD)
    assert locked.status_code == 423 and code(locked) == "account_locked"
    minutes = ctx.settings.login_lockout_minutes
    assert locked.json()["error"]["message"] == (
        f"Too many failed logins; the account is locked for {minutes} minutes"
    )
    assert 0 < retry_after(locked) <= minutes * 60
    assert (await attempt(client_from("198.51.100.30"), "person2", PASSWORD)).status_code == 200
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(seconds=retry_after(locked))
    assert (await attempt(client_from("198.51.100.30"), "person1", PASSWORD)).status_code == 200


async def test_one_address_spraying_many_accounts_is_held_off(ctx: Context) -> None:
    ctx.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast guesses
    for n in range(CLIENT):
        with pytest.raises(YuntongError) as wrong:
            await sessions.do_login(ctx, f"nobody{n}", "guess", ip="203.0.113.9")
        assert wrong.value.code == "invalid_credentials"
    with pytest.raises(YuntongError) as held:
        await sessions.do_login(ctx, "nobody", "guess", ip="203.0.113.9")
    assert held.value.code == "rate_limited"
    assert held.value.retry_after is not None and held.value.retry_after > 0
    with pytest.raises(YuntongError) as other:
        await sessions.do_login(ctx, "nobody", "guess", ip="203.0.113.10")
    assert other.value.code == "invalid_credentials"


async def test_ipv6_clients_are_counted_by_their_64_bit_prefix(ctx: Context) -> None:
    """A host owns a whole /64: changing its address must not buy new guesses."""
    ctx.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    for n in range(PAIR):
        with pytest.raises(YuntongError):
            await sessions.do_login(ctx, "nobody", "guess", ip=f"2001:db8:1:2::{n + 1:x}")
    with pytest.raises(YuntongError) as held:
        await sessions.do_login(ctx, "nobody", "guess", ip="2001:db8:1:2:ffff::1")
    assert held.value.code == "rate_limited"
    with pytest.raises(YuntongError) as elsewhere:
        await sessions.do_login(ctx, "nobody", "guess", ip="2001:db8:1:3::1")
    assert elsewhere.value.code == "invalid_credentials"


async def test_wrong_current_passwords_are_throttled_per_user(
    ctx: Context, staff: Principal
) -> None:
    """A stolen session must not become a password oracle."""
    user = await active_user(ctx, staff, 1)
    for _ in range(PAIR):
        with pytest.raises(YuntongError) as wrong:
            await sessions.do_change_password(ctx, user.id, "s", "guess", "a new password 1")
        assert wrong.value.code == "wrong_password"
    with pytest.raises(YuntongError) as held:
        await sessions.do_change_password(ctx, user.id, "s", PASSWORD, "a new password 1")
    assert held.value.code == "rate_limited" and held.value.retry_after
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(seconds=held.value.retry_after)
    await sessions.do_change_password(ctx, user.id, "s", PASSWORD, "a new password 1")


async def test_registration_stops_telling_one_address_what_is_taken(
    ctx: Context, staff: Principal, client_from: ClientFrom
) -> None:
    """``phone_taken`` says a phone number has an account: an oracle to throttle."""
    await active_user(ctx, staff, 1)
    probe = client_from("203.0.113.50")
    url = "/api/v1/accounts/register/individual"
    for n in range(TAKEN):
        resp = await probe.post(url, json=individual(100 + n, phone=phone(1)))
        assert code(resp) == "phone_taken"
    held = await probe.post(url, json=individual(200, phone=phone(1)))
    assert held.status_code == 429 and code(held) == "rate_limited"
    assert retry_after(held) <= 3600
    elsewhere = await client_from("198.51.100.51").post(url, json=individual(201, phone=phone(1)))
    assert code(elsewhere) == "phone_taken"
    # a new registration from the held address waits too (the check comes first)
    assert (await probe.post(url, json=individual(202))).status_code == 429
