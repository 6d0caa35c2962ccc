"""Server-rendered pages of the web app (zh-CN and en); the browser does the rest over REST and /ws.

Pages only decide who may see them and in which language; every action goes through the
public REST API and WebSocket, exactly as other clients use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from yuntong import __version__
from yuntong.accounts.auth import (
    Principal,
    csrf_token_for,
    principal_from_token,
    token_from_request,
)
from yuntong.accounts.roles import STAFF_ROLES
from yuntong.backup import service as backup_service
from yuntong.billing.catalog.tariff import PACKAGE_USAGE_TYPES
from yuntong.billing.orders.orders import terms_text
from yuntong.core.context import get_context
from yuntong.core.i18n import LOCALES, catalog, pick_locale, translate
from yuntong.core.workdays import WorkCalendar
from yuntong.presence import service as presence

router = APIRouter(include_in_schema=False)

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
LOCALE_COOKIE: Final = "yt_locale"
LOCALE_COOKIE_MAX_AGE: Final = 365 * 24 * 3600
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(self), microphone=(self)",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_locale(request: Request) -> str:
    """The ``yt_locale`` cookie when set, else the browser's Accept-Language."""
    return pick_locale(request.cookies.get(LOCALE_COOKIE) or request.headers.get("accept-language"))


def safe_next(value: str | None, default: str = "/contacts") -> str:
    """A same-site path to go to after a redirect; anything else falls back to ``default``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ch in value for ch in "\r\n\t"):
        return default
    return value


def render_page(
    request: Request,
    template: str,
    *,
    title_key: str,
    principal: Principal | None = None,
    csrf_token: str = "",
    active: str = "",
    **extra: Any,
) -> HTMLResponse:
    locale = page_locale(request)

    def t(key: str, **params: object) -> str:
        return translate(key, locale, **params)

    other = next(code for code in LOCALES if code != locale)
    me = None
    if principal is not None:
        me = {
            "user_id": principal.user_id,
            "username": principal.username,
            "display_name": principal.display_name,
            "role": principal.role,
            "status": principal.status,
        }
    body = _env.get_template(template).render(
        t=t,
        locale=locale,
        other_locale=other,
        catalog=catalog(locale, "ui."),
        title=t(title_key),
        principal=principal,
        me=me,
        is_staff=principal is not None and principal.role in STAFF_ROLES,
        csrf_token=csrf_token,
        active=active,
        here=_path_and_query(request),
        version=__version__,
        business_tz=get_context(request).settings.business_timezone,
        **extra,
    )
    return HTMLResponse(body, headers=SECURITY_HEADERS)


ERROR_PAGES: Final = {
    404: ("ui.error.not_found.title", "ui.error.not_found.body"),
    405: ("ui.error.method.title", "ui.error.method.body"),
}


def error_page(request: Request, status: int) -> HTMLResponse:
    """A page for an address that is no page (404) or a request a page does not take (405), in
    the visitor's language."""
    heading, body = ERROR_PAGES.get(status, ERROR_PAGES[404])
    page = render_page(
        request, "error.html", title_key=heading, heading_key=heading, body_key=body, status=status
    )
    page.status_code = status
    return page


async def signed_in(request: Request) -> Principal | None:
    found = token_from_request(request)
    if found is None:
        return None
    return await principal_from_token(get_context(request), found[0], via=found[1])


def _path_and_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _to_login(request: Request) -> RedirectResponse:
    target = quote(_path_and_query(request), safe="/")
    return RedirectResponse(f"/login?next={target}", status_code=303)


async def require_member(
    request: Request, roles: frozenset[str] | None = None
) -> Principal | Response:
    """The signed-in principal, or the redirect for a visitor who may not see the page."""
    principal = await signed_in(request)
    if principal is None:
        return _to_login(request)
    if roles is not None and principal.role not in roles:
        return RedirectResponse("/contacts", status_code=303)
    return principal


def member_page(
    request: Request,
    principal: Principal,
    template: str,
    title_key: str,
    active: str | None = None,
    **extra: Any,
) -> HTMLResponse:
    return render_page(
        request,
        template,
        title_key=title_key,
        principal=principal,
        csrf_token=csrf_token_for(get_context(request), principal.session_id),
        active=template.removesuffix(".html") if active is None else active,
        **extra,
    )


# -- public pages --------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    target = "/contacts" if await signed_in(request) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def login_page(request: Request) -> Response:
    after = safe_next(request.query_params.get("next"))
    if await signed_in(request):
        return RedirectResponse(after, status_code=303)
    notice = {"registered": "ui.login.registered", "logged_out": "ui.login.logged_out"}.get(
        request.query_params.get("notice", "")
    )
    return render_page(
        request, "login.html", title_key="ui.login.title", after=after, notice=notice
    )


@router.get("/signup")
async def signup_page(request: Request) -> Response:
    if await signed_in(request):
        return RedirectResponse("/contacts", status_code=303)
    kind = "organisation" if request.query_params.get("kind") == "organisation" else "individual"
    return render_page(request, "signup.html", title_key="ui.signup.title", kind=kind)


@router.get("/pending")
async def pending_page(request: Request) -> Response:
    return render_page(request, "pending.html", title_key="ui.pending.title")


@router.get("/prices")
async def prices_page(request: Request) -> Response:
    """The published price list: for everyone, signed in or not."""
    principal = await signed_in(request)
    # the billing terms in force (settings), part of what the customer agrees to
    terms = terms_text(get_context(request).settings, page_locale(request))
    if principal is None:
        return render_page(
            request, "prices.html", title_key="ui.prices.title", active="prices", terms=terms
        )
    return member_page(request, principal, "prices.html", "ui.prices.title", terms=terms)


@router.get("/lang/{locale}")
async def switch_language(request: Request, locale: str) -> Response:
    """Remember the chosen language in the ``yt_locale`` cookie and go back."""
    chosen = pick_locale(locale)
    response = RedirectResponse(safe_next(request.query_params.get("next"), "/"), status_code=303)
    response.set_cookie(
        LOCALE_COOKIE,
        chosen,
        max_age=LOCALE_COOKIE_MAX_AGE,
        samesite="lax",
        secure=get_context(request).settings.cookie_secure,
    )
    return response


# -- signed-in pages -----------------------------------------------------------------------


@router.get("/contacts")
async def contacts_page(request: Request) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    dnd = await presence.get_dnd(get_context(request), member.user_id)
    return member_page(request, member, "contacts.html", "ui.contacts.title", dnd=dnd)


@router.get("/history")
async def history_page(request: Request) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    return member_page(request, member, "history.html", "ui.history.title")


@router.get("/account")
async def account_page(request: Request) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    return member_page(request, member, "account.html", "ui.account.title")


@router.get("/services")
async def services_page(request: Request) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    return member_page(request, member, "services.html", "ui.services.title")


@router.get("/operator")
async def operator_page(request: Request) -> Response:
    member = await require_member(request, roles=STAFF_ROLES)
    if isinstance(member, Response):
        return member
    backups = await backup_service.recent_backups(get_context(request), member)
    return member_page(
        request,
        member,
        "operator.html",
        "ui.operator.title",
        backups=backups,
        backups_on=get_context(request).settings.backup_dir is not None,
    )


# -- billing -------------------------------------------------------------------------------


@router.get("/billing")
async def billing_page(request: Request) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    if member.role in STAFF_ROLES:  # staff have no account of their own: the desk is theirs
        return RedirectResponse("/operator/billing", status_code=303)
    return member_page(request, member, "billing.html", "ui.billing.title")


@router.get("/billing/statements/{statement_id:int}")
async def statement_page(request: Request, statement_id: int) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    return member_page(
        request,
        member,
        "statement.html",
        "ui.statement.title",
        active="operator_billing" if member.role in STAFF_ROLES else "billing",
        statement_id=statement_id,
    )


@router.get("/operator/billing")
async def operator_billing_page(request: Request) -> Response:
    member = await require_member(request, roles=STAFF_ROLES)
    if isinstance(member, Response):
        return member
    ctx = get_context(request)
    today = ctx.clock.now().astimezone(ZoneInfo(ctx.settings.business_timezone)).date()
    return member_page(
        request,
        member,
        "operator_billing.html",
        "ui.opbilling.title",
        usage_types=list(PACKAGE_USAGE_TYPES),
        # a holiday schedule missing or provisional (due dates are counted in working days)
        holiday_warnings=WorkCalendar.from_settings(ctx.settings).warnings(
            today, page_locale(request)
        ),
    )


# -- the completion rate (CP 2.1) ----------------------------------------------------------


@router.get("/completion")
async def completion_page(request: Request) -> Response:
    """A customer's own completion rate (an organisation's administrator: the organisation's)."""
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    if member.role in STAFF_ROLES:
        return RedirectResponse("/operator/completion", status_code=303)
    return member_page(request, member, "completion.html", "ui.completion.title")


@router.get("/operator/completion")
async def operator_completion_page(request: Request) -> Response:
    member = await require_member(request, roles=STAFF_ROLES)
    if isinstance(member, Response):
        return member
    return member_page(
        request, member, "completion.html", "ui.completion.title", active="operator_completion"
    )
