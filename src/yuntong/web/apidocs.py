"""The API reference: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, both served from the
package (``static/vendor``, see its README), so they work without Internet access; and what
the OpenAPI document (``/openapi.json``) says beyond what FastAPI derives from the routes
(:func:`install`, with :mod:`yuntong.core.openapi`).

The pages carry the web app's Content-Security-Policy: no inline script (each page's start-up
is a file in ``static/js/apidocs``), nothing from another host. ReDoc inserts its styles as
``<style>`` elements and builds its search index in a worker made from a ``blob:``: its page
allows styles carrying the nonce it is given (one per response) or the hashes of the two it
inserts before that, and such workers, nothing more.
"""

from __future__ import annotations

import secrets
from html import escape
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from yuntong import __version__
from yuntong.accounts.auth import CSRF_HEADER, SESSION_COOKIE, optional_user, require_user
from yuntong.core import openapi
from yuntong.web.pages import SECURITY_HEADERS

router = APIRouter(include_in_schema=False)

SWAGGER_UI_VERSION: Final = "5.36.0"
REDOC_VERSION: Final = "2.5.4"
VENDOR: Final = "/static/vendor"
OPENAPI_URL: Final = "/openapi.json"


# The <style> elements ReDoc's bundle inserts as it loads, before it is given the nonce: the
# scroll bars' rules (perfect-scrollbar) and an empty one. Their hashes, for this version.
REDOC_STYLE_HASHES: Final = (
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc=' "
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
)


def _page(title: str, head: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
        '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"  <title>{escape(title)}</title>\n"
        f'  <link rel="icon" type="image/png" href="{VENDOR}/swagger-ui/favicon-32x32.png">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the OpenAPI document; "Try it out" sends the browser's session."""
    head = (
        f'  <link rel="stylesheet" href="{VENDOR}/swagger-ui/swagger-ui.css'
        f'?v={SWAGGER_UI_VERSION}">\n'
        f'  <script defer src="{VENDOR}/swagger-ui/swagger-ui-bundle.js'
        f'?v={SWAGGER_UI_VERSION}"></script>\n'
        f'  <script type="module" src="/static/js/apidocs/swagger.js?v={__version__}"></script>\n'
    )
    body = f'  <div id="swagger-ui" data-openapi-url="{OPENAPI_URL}"></div>\n'
    title = f"{request.app.title} – API (Swagger UI)"
    return HTMLResponse(_page(title, head, body), headers=SECURITY_HEADERS)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the OpenAPI document (reading, no requests sent)."""
    nonce = secrets.token_urlsafe(16)
    head = (
        f'  <script defer src="{VENDOR}/redoc/redoc.standalone.js?v={REDOC_VERSION}"></script>\n'
        f'  <script type="module" src="/static/js/apidocs/redoc.js?v={__version__}"></script>\n'
    )
    body = f'  <div id="redoc" data-openapi-url="{OPENAPI_URL}" data-nonce="{nonce}"></div>\n'
    title = f"{request.app.title} – API (ReDoc)"
    csp = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "style-src 'self'", f"style-src 'self' 'nonce-{nonce}' {REDOC_STYLE_HASHES}"
    )
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": f"{csp}; worker-src 'self' blob:"}
    return HTMLResponse(_page(title, head, body), headers=headers)


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` the complete document (:func:`yuntong.core.openapi.complete`)."""
    auth = openapi.Auth(
        required=require_user,
        optional=optional_user,
        session_cookie=SESSION_COOKIE,
        csrf_header=CSRF_HEADER,
        optional_in_handler=OPTIONAL_AUTH_IN_HANDLER,
    )
    errors = openapi.Errors(by_operation=ERRORS, by_path_parameter=NOT_FOUND)
    openapi.install(app, auth, EXAMPLES, errors, TAGS)


# what each group of operations is about, in the order the references show them
TAGS: Final[dict[str, str]] = {
    "auth": "Logging in and out: a bearer token for programs, a session cookie for browsers.",
    "accounts": "Signing up (real-name registration); the operator reviews each account.",
    "me": "The signed-in user: profile, identity, password, sessions.",
    "contacts": "The address book, blocking, finding users.",
    "calls": "Call history (calls themselves run over the `/ws` socket).",
    "media": "ICE servers (STUN, TURN credentials) for WebRTC.",
    "meetings": "Meetings: scheduling, invitations, host controls, join tickets, records.",
    "numbers": "Phone numbers: search, hold, assign, members, porting (携号转网).",
    "supplementary services": "Caller ID, forwarding, barring, screening, keypad codes (MMI).",
    "billing": "Prices, orders, the account, statements, payments, disputes, terminals.",
    "completion": "Call completion rates (ASR, NER) against the contract.",
    "org": "Organisation administrators: their members.",
    "admin": "Operator staff: accounts, numbers and porting.",
    "porting": "Other carriers' signed callbacks for number porting.",
    "ops": "Health, readiness and metrics for operators' monitoring.",
}

# operations that look the caller up themselves (signed in or a guest), not by a dependency
OPTIONAL_AUTH_IN_HANDLER: Final = frozenset(
    {("POST", "/api/v1/meetings/by-number/{number}/tickets")}
)

# request bodies of the main operations: (method, path) -> example name -> (summary, value)
EXAMPLES: Final[dict[tuple[str, str], dict[str, tuple[str, Any]]]] = {
    ("POST", "/api/v1/auth/login"): {
        "api": (
            "A program: answers a bearer token",
            {"username": "zhang.san", "password": "correct horse battery", "kind": "api"},
        ),
        "web": (
            "A browser: sets the session cookie, answers the CSRF token",
            {"username": "zhang.san@example.com", "password": "correct horse battery"},
        ),
    },
    ("POST", "/api/v1/accounts/register/individual"): {
        "individual": (
            "A person with a resident ID",
            {
                "username": "zhang.san",
                "password": "correct horse battery",
                "display_name": "张三",
                "email": "zhang.san@example.com",
                "full_name": "张三",
                "id_type": "resident_id",
                "id_number": "11010519491231002X",
                "birth_date": "1949-12-31",
                "address": "北京市东城区示例路 1 号",
                "employer": "北京云通科技有限公司",
                "phone": "13812345678",
            },
        )
    },
    ("POST", "/api/v1/meetings"): {
        "instant": ("A meeting that starts now", {"title": "Weekly sync"}),
        "scheduled": (
            "Every week, ten times, with a waiting room",
            {
                "title": "项目周会",
                "kind": "scheduled",
                "start_at": "2026-03-02T10:00:00+08:00",
                "duration_min": 45,
                "time_zone": "Asia/Shanghai",
                "recurrence": "weekly",
                "recurrence_count": 10,
                "passcode": "482913",
                "settings": {"waiting_room": True, "mute_on_entry": True},
            },
        ),
    },
    ("POST", "/api/v1/meetings/by-number/{number}/tickets"): {
        "guest": (
            "A guest with the passcode",
            {"passcode": "482913", "display_name": "Li Si", "guest_key": "b3f1c9d2e7a4"},
        ),
        "member": ("A signed-in user (no name needed)", {"passcode": "482913"}),
    },
    ("POST", "/api/v1/contacts"): {
        "by_phone": (
            "Add someone by phone number",
            {"query": "13812345678", "name": "Zhang San", "favourite": True},
        ),
    },
    ("POST", "/api/v1/billing/orders"): {
        "package": (
            "Order a package and a value-added service, once",
            {"product_codes": ["basic-100", "clip"], "idempotency_key": "7f9c2b6e-order-1"},
        ),
    },
    ("POST", "/api/v1/billing/disputes"): {
        "part": (
            "Dispute part of a statement line",
            {"entry_id": 1234, "reason": "I did not make this call", "amount_fen": 150},
        ),
    },
    ("PUT", "/api/v1/services"): {
        "forward_on_busy": ("Forward calls to a mobile when busy", {"cfb": "+8613912345678"}),
        "bar_international": (
            "Bar international calls (needs the PIN)",
            {"bar_international": True, "barring_pin": "1234"},
        ),
    },
    ("POST", "/api/v1/services/mmi"): {
        "cfu": ("Forward all calls (*21*number#)", {"code": "*21*13912345678#"}),
    },
}

# what an operation answers when the thing its path parameter names does not exist
NOT_FOUND: Final = {
    "account_id": "billing_account_not_found",
    "call_id": "call_not_found",
    "claim_id": "claim_not_found",
    "device_id": "device_not_found",
    "dispute_id": "dispute_not_found",
    "incident_id": "incident_not_found",
    "meeting_id": "meeting_not_found",
    "number": "number_not_found",
    "pid": "meeting_participant_not_found",
    "product_id": "product_not_found",
    "request_id": "port_request_not_found",
    "statement_id": "statement_not_found",
    "user_id": "user_not_found",
    "conference_id": "conference_not_found",
    "leg_id": "conference_leg_not_found",
}

# error codes an operation is known to answer, besides the generic ones: (method, path) -> codes
ERRORS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("POST", "/api/v1/auth/login"): (
        "invalid_credentials",
        "account_pending",
        "account_rejected",
        "account_terminated",
        "account_locked",
        "rate_limited",
    ),
    ("POST", "/api/v1/accounts/register/individual"): (
        "username_taken",
        "email_taken",
        "phone_taken",
        "rate_limited",
    ),
    ("POST", "/api/v1/accounts/register/organisation"): (
        "username_taken",
        "email_taken",
        "uscc_taken",
        "rate_limited",
    ),
    ("POST", "/api/v1/me/password"): ("wrong_password",),
    ("POST", "/api/v1/contacts"): ("user_not_found", "contact_exists", "contact_self"),
    ("GET", "/api/v1/users/lookup"): ("user_not_found", "rate_limited"),
    ("POST", "/api/v1/meetings/by-number/{number}/tickets"): (
        "meeting_not_found",
        "meeting_ended",
        "meeting_not_started",
        "meeting_passcode_wrong",
        "meeting_guests_not_allowed",
        "meeting_removed",
        "meeting_locked",
        "meeting_passcode_locked",
        "rate_limited",
    ),
    ("PATCH", "/api/v1/meetings/{meeting_id}"): ("meeting_forbidden", "meeting_ended"),
    ("POST", "/api/v1/billing/orders"): (
        "product_not_found",
        "idempotency_conflict",
        "billing_suspended",
        "billing_held",
    ),
    ("POST", "/api/v1/conferences"): (
        "conference_number_not_yours",
        "conference_pin_invalid",
        "conference_pin_taken",
    ),
    ("POST", "/api/v1/conferences/{conference_id}/legs"): (
        "conference_pin_wrong",
        "conference_ended",
        "conference_locked",
        "rate_limited",
        "janus_unavailable",
        "credit_exhausted",
        "billing_suspended",
    ),
    ("DELETE", "/api/v1/conferences/{conference_id}/legs/{leg_id}"): ("conference_forbidden",),
    ("POST", "/api/v1/conferences/{conference_id}/legs/{leg_id}/mute"): ("conference_forbidden",),
    ("POST", "/api/v1/conferences/{conference_id}/mute-all"): ("conference_forbidden",),
    ("POST", "/api/v1/conferences/{conference_id}/lock"): (
        "conference_forbidden",
        "conference_ended",
    ),
    ("POST", "/api/v1/conferences/{conference_id}/end"): ("conference_forbidden",),
    ("POST", "/api/v1/conferences/{conference_id}/dial-outs"): (
        "conference_forbidden",
        "conference_callee_unreachable",
        "conference_ended",
        "janus_unavailable",
        "credit_exhausted",
        "billing_suspended",
    ),
}
