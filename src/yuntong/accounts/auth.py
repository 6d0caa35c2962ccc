"""Who is calling: session tokens from a Bearer header or the ``yt_session`` cookie, CSRF, roles.

Cookie-authenticated unsafe requests must carry ``X-CSRF-Token`` =
HMAC-SHA256(secret_key, session id), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from yuntong.accounts import store
from yuntong.accounts.models import AccountStatus, User
from yuntong.accounts.sessions import SESSION_TOUCH_INTERVAL
from yuntong.core.context import Context, get_context
from yuntong.core.errors import YuntongError
from yuntong.core.ids import token_hash

SESSION_COOKIE = "yt_session"
LOCALE_COOKIE = "yt_locale"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TOKEN_LENGTH = 256
# A session stays valid only while its account may be logged in to.
_SIGNED_IN_STATUSES = frozenset(
    {
        AccountStatus.ACTIVE,
        AccountStatus.WARNED,
        AccountStatus.LIMITED,
        AccountStatus.SUSPENDED,
    }
)


@dataclass(frozen=True)
class Principal:
    """The authenticated user of one request or WebSocket, as of the session check."""

    user_id: int
    username: str
    display_name: str
    role: str
    status: str
    organisation_id: int | None
    session_id: str
    locale: str
    via: str  # "cookie" | "bearer" (| "cli" for operator commands)


def principal_for(user: User | store.PrincipalRow, session_id: str, via: str) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        status=user.status,
        organisation_id=user.organisation_id,
        session_id=session_id,
        locale=user.locale,
        via=via,
    )


async def principal_from_token(ctx: Context, token: str, via: str = "bearer") -> Principal | None:
    """The principal of a valid, unexpired, unrevoked session token; otherwise None.

    Checked in the database every time (a session revoked on any node is refused at once on
    every node), with one plain-column query: it runs for every request and every WebSocket
    connect (a reconnect storm). ``last_seen_at`` is written at most once a minute per session,
    through the group commit, so that a burst of connects shares its transactions.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = ctx.clock.now()
    async with ctx.db.connection() as conn:
        row = await store.get_live_principal(conn, token_hash(token), now)
    if row is None or row.status not in _SIGNED_IN_STATUSES:
        return None
    if now - row.last_seen_at >= SESSION_TOUCH_INTERVAL:
        await ctx.writer.execute(store.TOUCH_SESSION, {"sid": row.session_id, "seen_at": now})
    return principal_for(row, row.session_id, via)


def token_from_request(connection: HTTPConnection) -> tuple[str, str] | None:
    """``(token, via)`` from a Bearer header or the session cookie; Request or WebSocket."""
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), "bearer"
    cookie = connection.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, "cookie"
    return None


def csrf_token_for(ctx: Context, session_id: str) -> str:
    key = ctx.settings.secret_key.get_secret_value().encode()
    return hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()


def check_csrf(ctx: Context, request: Request, principal: Principal) -> None:
    if principal.via != "cookie" or request.method.upper() in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    expected = csrf_token_for(ctx, principal.session_id)
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise YuntongError("csrf_failed")


async def optional_user(request: Request) -> Principal | None:
    """The signed-in principal if any (no CSRF check: for safe, read-only routes and pages)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    found = token_from_request(request)
    if found is None:
        return None
    return await principal_from_token(get_context(request), found[0], via=found[1])


async def require_user(request: Request) -> Principal:
    """FastAPI dependency: the signed-in principal, or ``unauthenticated`` / ``csrf_failed``."""
    principal = await optional_user(request)
    if principal is None:
        raise YuntongError("unauthenticated")
    check_csrf(get_context(request), request, principal)
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(require_user)]


def require_role(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only principals with one of ``roles`` (else ``forbidden``)."""
    allowed = frozenset(roles)

    async def dependency(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            raise YuntongError("forbidden")
        return principal

    return dependency
