"""Login, lock-out, cookie sessions with CSRF, session lists, logout and password changes."""

from __future__ import annotations

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from tests.integration.accounts.conftest import (
    PASSWORD,
    active_user,
    bearer,
    error_code,
    web_login,
)
from tests.support.fast_hash import PRODUCT as PRODUCT_HASH_COSTS
from yuntong.accounts import sessions as accounts_sessions
from yuntong.accounts.auth import Principal, principal_from_token
from yuntong.accounts.models import LoginSession, User
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError

LOGIN = "/api/v1/auth/login"


async def attempt(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        LOGIN,
        json={"username": username, "password": password, "kind": "api"},
        headers={"Accept-Language": "en"},
    )


def clock(ctx: Context) -> FrozenClock:
    assert isinstance(ctx.clock, FrozenClock)
    return ctx.clock


async def test_api_login_returns_a_bearer_token_that_authenticates(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    user = await active_user(ctx, staff)
    resp = await attempt(app_client, "PERSON1", PASSWORD)  # usernames are case-insensitive
    assert resp.status_code == 200
    body = resp.json()
    assert body["user"]["id"] == user.id
    assert "csrf_token" not in body
    me = await app_client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["user"]["username"] == "person1"
    assert me.json()["csrf_token"] is None


async def test_login_by_email_works_too(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    assert (await attempt(app_client, "Person1@Example.com", PASSWORD)).status_code == 200


async def test_wrong_password_and_unknown_user_look_the_same(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    wrong = await attempt(app_client, "person1", "not the password")
    unknown = await attempt(app_client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert error_code(wrong) == "invalid_credentials"


async def test_account_locks_after_too_many_failures_and_unlocks_later(
    ctx: Context, staff: Principal
) -> None:
    """Counted over every client (here none is given: the per-client throttles stay out);
    tests/integration/accounts/test_login_throttle.py has the per-client side."""
    await active_user(ctx, staff)
    limit = ctx.settings.login_account_max_failures
    for _ in range(limit - 1):
        with pytest.raises(YuntongError) as wrong:
            await accounts_sessions.do_login(ctx, "person1", "guess")
        assert wrong.value.code == "invalid_credentials"
    with pytest.raises(YuntongError) as locked:
        await accounts_sessions.do_login(ctx, "person1", "guess")
    assert (locked.value.code, locked.value.status) == ("account_locked", 423)
    assert locked.value.message("en") == (
        "Too many failed logins; the account is locked for 15 minutes"
    )
    assert locked.value.retry_after == 15 * 60
    # even the right password is refused while locked
    with pytest.raises(YuntongError) as still:
        await accounts_sessions.do_login(ctx, "person1", PASSWORD)
    assert still.value.code == "account_locked"
    clock(ctx).advance(minutes=ctx.settings.login_lockout_minutes + 1)
    await accounts_sessions.do_login(ctx, "person1", PASSWORD)


async def test_a_successful_login_clears_the_failure_count(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    limit = ctx.settings.login_max_failures
    for _ in range(limit - 1):
        await attempt(app_client, "person1", "guess")
    assert (await attempt(app_client, "person1", PASSWORD)).status_code == 200
    assert error_code(await attempt(app_client, "person1", "guess")) == "invalid_credentials"


async def test_one_address_guessing_many_accounts_is_rate_limited(ctx: Context) -> None:
    ctx.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast guesses
    limit = ctx.settings.login_client_max_failures
    for n in range(limit):
        with pytest.raises(YuntongError):
            await accounts_sessions.do_login(ctx, f"nobody{n}", "guess", ip="203.0.113.9")
    with pytest.raises(YuntongError) as info:
        await accounts_sessions.do_login(ctx, "nobody", "guess", ip="203.0.113.9")
    assert info.value.code == "rate_limited"
    with pytest.raises(YuntongError) as other:
        await accounts_sessions.do_login(ctx, "nobody", "guess", ip="203.0.113.10")
    assert other.value.code == "invalid_credentials"


async def test_outdated_password_hash_is_upgraded_at_login(ctx: Context, staff: Principal) -> None:
    ctx.hasher = PasswordHasher(*PRODUCT_HASH_COSTS)  # to the product's costs, not the tests'
    user = await active_user(ctx, staff)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with ctx.db.session() as s:
        await s.execute(update(User).where(User.id == user.id).values(password_hash=weak))
    await accounts_sessions.do_login(ctx, "person1", PASSWORD, "api")
    async with ctx.db.session() as s:
        stored = (await s.execute(select(User.password_hash).where(User.id == user.id))).scalar()
    assert stored != weak
    assert stored is not None and not ctx.hasher.check_needs_rehash(stored)
    await accounts_sessions.do_login(ctx, "person1", PASSWORD, "api")


async def test_web_login_sets_a_protected_cookie(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    resp = await app_client.post(
        LOGIN, json={"username": "person1", "password": PASSWORD, "kind": "web"}
    )
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("yt_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "token" not in resp.json()
    assert resp.json()["csrf_token"]


async def test_cookie_session_writes_need_the_csrf_token(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    csrf = await web_login(app_client, "person1")
    me = await app_client.get("/api/v1/me")  # reads need no token
    assert me.json()["csrf_token"] == csrf
    body = {"display_name": "New Name"}
    missing = await app_client.patch("/api/v1/me", json=body)
    assert missing.status_code == 403 and error_code(missing) == "csrf_failed"
    forged = await app_client.patch("/api/v1/me", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert error_code(forged) == "csrf_failed"
    ok = await app_client.patch("/api/v1/me", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.json()["user"]["display_name"] == "New Name"


async def test_bearer_requests_need_no_csrf_token(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    headers = await bearer(app_client, "person1")
    resp = await app_client.patch("/api/v1/me", json={"locale": "en"}, headers=headers)
    assert resp.json()["user"]["locale"] == "en"


async def test_logout_ends_the_session_and_clears_the_cookie(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    csrf = await web_login(app_client, "person1")
    token = app_client.cookies["yt_session"]
    resp = await app_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 204
    assert (
        'yt_session=""' in resp.headers["set-cookie"] or "Max-Age=0" in resp.headers["set-cookie"]
    )
    assert await principal_from_token(ctx, token) is None
    again = await app_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401


async def test_sessions_are_listed_and_one_can_be_revoked(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    phone = await bearer(app_client, "person1")
    laptop = await bearer(app_client, "person1")
    listed = (await app_client.get("/api/v1/me/sessions", headers=laptop)).json()
    assert len(listed) == 2
    (current,) = [s for s in listed if s["current"]]
    (other,) = [s for s in listed if not s["current"]]
    assert current["kind"] == other["kind"] == "api"
    resp = await app_client.delete(f"/api/v1/me/sessions/{other['id']}", headers=laptop)
    assert resp.status_code == 204
    assert (await app_client.get("/api/v1/me", headers=phone)).status_code == 401
    assert (await app_client.get("/api/v1/me", headers=laptop)).status_code == 200


async def test_another_users_session_cannot_be_revoked(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff, 1)
    await active_user(ctx, staff, 2)
    mine = await bearer(app_client, "person1")
    theirs = await bearer(app_client, "person2")
    (their_session,) = (await app_client.get("/api/v1/me/sessions", headers=theirs)).json()
    resp = await app_client.delete(f"/api/v1/me/sessions/{their_session['id']}", headers=mine)
    assert resp.status_code == 404
    assert (await app_client.get("/api/v1/me", headers=theirs)).status_code == 200


async def test_password_change_ends_every_other_session(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    other = await bearer(app_client, "person1")
    csrf = await web_login(app_client, "person1")
    resp = await app_client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a much better passphrase"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.json() == {"sessions_revoked": 1}
    assert (await app_client.get("/api/v1/me")).status_code == 200  # this session stays
    assert (await app_client.get("/api/v1/me", headers=other)).status_code == 401
    assert error_code(await attempt(app_client, "person1", PASSWORD)) == "invalid_credentials"
    assert (await attempt(app_client, "person1", "a much better passphrase")).status_code == 200


async def test_password_change_checks_the_current_and_the_new_password(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    headers = await bearer(app_client, "person1")
    wrong = await app_client.post(
        "/api/v1/me/password",
        json={"current_password": "not it", "new_password": "a much better passphrase"},
        headers=headers,
    )
    assert error_code(wrong) == "wrong_password"
    weak = await app_client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=headers,
    )
    assert weak.status_code == 422
    assert weak.json()["error"]["fields"]["new_password"]["code"] == "weak_password"


async def test_sessions_expire_after_their_lifetime(
    ctx: Context, app_client: httpx.AsyncClient, staff: Principal
) -> None:
    await active_user(ctx, staff)
    headers = await bearer(app_client, "person1")
    clock(ctx).advance(hours=ctx.settings.session_ttl_hours - 1)
    assert (await app_client.get("/api/v1/me", headers=headers)).status_code == 200
    clock(ctx).advance(hours=2)
    assert (await app_client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_last_seen_is_written_at_most_once_a_minute(ctx: Context, staff: Principal) -> None:
    await active_user(ctx, staff)
    result = await accounts_sessions.do_login(ctx, "person1", PASSWORD, "api")
    started = result.session.last_seen_at

    async def last_seen() -> object:
        async with ctx.db.session() as s:
            stmt = select(LoginSession.last_seen_at).where(LoginSession.id == result.session.id)
            return (await s.execute(stmt)).scalar()

    clock(ctx).advance(seconds=30)
    assert await principal_from_token(ctx, result.token) is not None
    assert await last_seen() == started
    clock(ctx).advance(seconds=31)
    await principal_from_token(ctx, result.token)
    assert await last_seen() == clock(ctx).now()


async def test_garbage_tokens_are_simply_unauthenticated(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    for header in ("Bearer nope", "Bearer " + "x" * 5000, "Basic abc", "Bearer"):
        resp = await app_client.get("/api/v1/me", headers={"Authorization": header})
        assert resp.status_code == 401
    assert await principal_from_token(ctx, "") is None
