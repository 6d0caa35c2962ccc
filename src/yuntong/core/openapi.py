"""The OpenAPI document as integrators read it: FastAPI's, completed with what it cannot derive.

- **Errors.** Every error any operation answers has one body, the envelope
  ``{"error": {"code", "message", "fields"?, "retry_after"?}}`` of :class:`YuntongError`
  (schema ``Error``). Each operation documents the statuses it can answer with that body: the
  generic ones its shape implies (401 and 403 when it needs a session, 404 when it names a
  thing in its path, 409 when it changes something, 422 when it takes input, 500 and 503
  always) and the codes it is known to answer (``errors``), each with an example body made by
  :class:`YuntongError` itself. FastAPI's own 422 body (``HTTPValidationError``), which no
  response of Yuntong's has, is gone.
- **Security.** The two ways to send a session (``Authorization: Bearer`` and the session
  cookie, which also needs the CSRF header on writes), and on each operation whether it needs
  one (``security``), found from its dependencies (:class:`Auth`).
- **Examples** of the main requests (``examples``).

Nothing here knows a route: the caller (``yuntong.web.apidocs``) gives the dependencies that
mean "signed in" and the per-operation tables.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from yuntong.core.errors import ERRORS, YuntongError

BEARER: Final = "bearerToken"
COOKIE: Final = "sessionCookie"
WRITES: Final = frozenset({"post", "put", "patch", "delete"})
JSON: Final = "application/json"
# FastAPI's schemas of its default 422 body, which Yuntong never sends
FASTAPI_422: Final = ("HTTPValidationError", "ValidationError")

# values for the placeholders of error messages in examples ("{minutes}" → 15)
SAMPLE_PARAMS: Final[dict[str, Any]] = {
    "minutes": 15,
    "seconds": 30,
    "state": "suspended",
    "reason": "…",
    "feature": "chat",
    "type": "call.unknown",
    "date": "2026-01-31",
    "days": 7,
    "amount": "128.00",
    "currency": "USD",
    "max": 10,
    "max_mb": 10,
}
RESERVED_PARAMS: Final = frozenset({"code", "fields", "status", "retry_after"})
SAMPLE_FIELDS: Final = {"username": "required", "email": "invalid_email"}
# errors that carry ``retry_after`` (and ``Retry-After``): by status, and a few codes elsewhere
SAMPLE_RETRY_AFTER: Final = {429: 60, 503: 5}
RETRY_CODES: Final = {"account_locked": 900}

# the generic error responses (components/responses): name, status, the codes they show
GENERIC: Final[dict[int, tuple[str, tuple[str, ...], str]]] = {
    401: (
        "Unauthenticated",
        ("unauthenticated",),
        "No valid session: log in (`POST /api/v1/auth/login`) and send the session as the "
        "security schemes say.",
    ),
    403: (
        "Forbidden",
        ("forbidden", "csrf_failed"),
        "Not allowed: the caller's role or account state does not permit it (`forbidden` or "
        "a more precise code), or a cookie session wrote without `X-CSRF-Token` "
        "(`csrf_failed`).",
    ),
    404: (
        "NotFound",
        ("not_found",),
        "What the path names does not exist or is not the caller's to see (`not_found` or a "
        "more precise code such as `meeting_not_found`).",
    ),
    409: (
        "Conflict",
        ("invalid_transition",),
        "The request conflicts with the current state of what it changes (e.g. "
        "`invalid_transition`, a name already taken).",
    ),
    422: (
        "ValidationFailed",
        ("validation_failed",),
        "The input is invalid: `fields` maps each offending field (dotted path in the body, "
        "or the parameter's name) to what is wrong with it.",
    ),
    429: (
        "RateLimited",
        ("rate_limited",),
        "Too many attempts: try again after `retry_after` seconds (also the `Retry-After` header).",
    ),
    500: ("InternalError", ("internal_error",), "An unexpected failure (logged by the server)."),
    503: (
        "Unavailable",
        ("database_unavailable",),
        "The service is temporarily unavailable (e.g. its database): retry after "
        "`retry_after` seconds (also the `Retry-After` header).",
    ),
}
RETRY_AFTER_HEADER: Final = {
    "description": "Seconds before a retry is worth it (the body's `retry_after`).",
    "schema": {"type": "integer", "minimum": 0},
}

FIELD_ERROR_SCHEMA: Final = {
    "type": "object",
    "title": "FieldError",
    "description": "What is wrong with one field of the request.",
    "required": ["code", "message"],
    "additionalProperties": False,
    "properties": {
        "code": {
            "type": "string",
            "description": "Stable machine code: `required`, `too_long`, `invalid`, "
            "`invalid_phone`, `invalid_email`, `weak_password`, `taken`, … (docs/api.md).",
        },
        "message": {
            "type": "string",
            "description": "The same for a person, in the request's language (zh-CN or en).",
        },
    },
}
ERROR_DETAIL_SCHEMA: Final = {
    "type": "object",
    "title": "ErrorDetail",
    "description": "One failure: a stable code to act on and a message to show.",
    "required": ["code", "message"],
    "additionalProperties": False,
    "properties": {
        "code": {
            "type": "string",
            "pattern": "^[a-z0-9_]+$",
            "description": "Stable machine code; never changes once published (docs/api.md "
            "lists them with their HTTP status).",
        },
        "message": {
            "type": "string",
            "description": "A message for a person, in the language the request asked for "
            "(`Accept-Language`, or the `yt_locale` cookie): zh-CN (default) or en.",
        },
        "fields": {
            "type": "object",
            "description": "Only when fields of the input are wrong: the field's name (a dotted "
            "path in the body, or a parameter's name) → what is wrong with it.",
            "additionalProperties": {"$ref": "#/components/schemas/FieldError"},
        },
        "retry_after": {
            "type": "integer",
            "minimum": 0,
            "description": "Only when retrying later can succeed (429, 503, some 423): "
            "seconds to wait, as in the `Retry-After` header.",
        },
    },
}
ERROR_SCHEMA: Final = {
    "type": "object",
    "title": "Error",
    "description": "The body of every error response (any 4xx or 5xx) of the API.",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "$ref": "#/components/schemas/ErrorDetail",
            "description": "What went wrong.",
        }
    },
}

INFO_DESCRIPTION: Final = """\
The REST API of Yuntong (云通). Interactive references: `/docs` (Swagger UI) and `/redoc` \
(ReDoc), served by the server itself (they work offline); the document: `/openapi.json`. The \
realtime WebSocket protocol (`/ws`) and the meeting socket (`/ws/meeting`) are described in \
`docs/protocol.md` and `docs/meetings.md`.

# Signing in

`POST /api/v1/auth/login` with `"kind": "api"` answers a `token`: send it as \
`Authorization: Bearer <token>` (scheme `bearerToken`). With `"kind": "web"` it sets the \
`{cookie}` cookie instead (scheme `sessionCookie`) and answers a `csrf_token`, which every \
request other than GET/HEAD/OPTIONS must send as `{csrf}`. In Swagger UI's "Try it out", a \
browser signed in to Yuntong is sent as itself. Each operation that needs a session says so.

<!-- ReDoc-Inject: <security-definitions> -->

# Errors

Every error has the same body, `{{"error": {{"code", "message", "fields"?, \
"retry_after"?}}}}` (schema `Error`): `code` is stable, `message` follows `Accept-Language` \
(zh-CN or en), `fields` says which inputs are wrong, `retry_after` how long to wait. Each \
operation lists the statuses and codes it answers; `docs/api.md` lists every code.

# Calls

Calls are placed over the realtime socket, not REST: `{{"v": 1, "type": "call.invite", \
"id": "m1", "data": {{"to": "139 1234 5678", "media": "audio", "sdp": "…", "from_number": \
"+8613900000001"}}}}` calls a number (any dialling form) or a username \
(`docs/calls-by-number.md`); `GET /api/v1/calls/calling-numbers` gives the numbers one may \
call from.
"""


@dataclass(frozen=True)
class Auth:
    """How the API tells who calls: the dependencies that mean it."""

    required: Callable[..., Any]  # refuses a visitor (401): the operation needs a session
    optional: Callable[..., Any]  # the caller if any: a session is used when sent
    session_cookie: str
    csrf_header: str
    # operations that look the caller up themselves, not through a dependency: (METHOD, path)
    optional_in_handler: frozenset[tuple[str, str]] = field(default_factory=frozenset)


Examples = Mapping[tuple[str, str], Mapping[str, tuple[str, Any]]]


@dataclass(frozen=True)
class Errors:
    """The error codes operations are known to answer, besides the generic ones."""

    # (METHOD, path) -> codes
    by_operation: Mapping[tuple[str, str], tuple[str, ...]]
    # a path parameter's name -> the code when what it names does not exist ("call_id" ->
    # "call_not_found"), unless the operation's own codes say what its 404 is
    by_path_parameter: Mapping[str, str]

    def of(self, key: tuple[str, str], operation: dict[str, Any]) -> tuple[str, ...]:
        own = self.by_operation.get(key, ())
        own_statuses = {ERRORS[code][0] for code in own}
        named = [
            self.by_path_parameter[p["name"]]
            for p in operation.get("parameters", [])
            if p.get("in") == "path" and p["name"] in self.by_path_parameter
        ]
        named = [code for code in named if ERRORS[code][0] not in own_statuses]
        return tuple(dict.fromkeys([*named, *own]))


def install(
    app: FastAPI, auth: Auth, examples: Examples, errors: Errors, tags: Mapping[str, str]
) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) answer the completed document."""
    completed: list[dict[str, Any]] = []  # the last document completed

    def document() -> dict[str, Any]:
        doc = FastAPI.openapi(app)  # cached by FastAPI until the routes change
        if not completed or completed[0] is not doc:
            complete(doc, app.routes, auth, examples, errors)
            completed[:] = [_describe_tags(doc, tags)]
        return doc

    app.openapi = document  # type: ignore[method-assign]


def complete(
    doc: dict[str, Any],
    routes: list[Any],
    auth: Auth,
    examples: Examples,
    errors: Errors,
) -> dict[str, Any]:
    """``doc`` (FastAPI's document for ``routes``) with errors, security and examples added."""
    doc["info"]["description"] = INFO_DESCRIPTION.format(
        cookie=auth.session_cookie, csrf=auth.csrf_header
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_422:
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    schemas["ErrorDetail"] = ERROR_DETAIL_SCHEMA
    schemas["FieldError"] = FIELD_ERROR_SCHEMA
    components["responses"] = {
        name: _error_response(status, codes, text)
        for status, (name, codes, text) in GENERIC.items()
    }
    components["securitySchemes"] = _security_schemes(auth)
    access = _access(routes, auth)
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            key = (method.upper(), path)
            if "tags" in operation:  # a router included with its own tag repeats it
                operation["tags"] = list(dict.fromkeys(operation["tags"]))
            needs = access.get(key, "none")
            if needs == "required":
                operation["security"] = [{BEARER: []}, {COOKIE: []}]
            elif needs == "optional":
                operation["security"] = [{BEARER: []}, {COOKIE: []}, {}]
            _document_errors(operation, method, needs, errors.of(key, operation))
            for name, (summary, value) in examples.get(key, {}).items():
                body = operation["requestBody"]["content"][JSON]
                body.setdefault("examples", {})[name] = {"summary": summary, "value": value}
    return doc


def _describe_tags(doc: dict[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    """The document's tags with their descriptions: those of ``tags`` first, in its order,
    then any other an operation uses."""
    used = {
        tag
        for item in doc.get("paths", {}).values()
        for op in item.values()
        for tag in op.get("tags", [])
    }
    ordered = [name for name in tags if name in used] + sorted(used - set(tags))
    doc["tags"] = [
        {"name": name, **({"description": tags[name]} if name in tags else {})} for name in ordered
    ]
    return doc


def _security_schemes(auth: Auth) -> dict[str, Any]:
    return {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": 'The `token` that `POST /api/v1/auth/login` with `"kind": "api"` '
            "answers, sent as `Authorization: Bearer <token>`. No CSRF header is needed.",
        },
        COOKIE: {
            "type": "apiKey",
            "in": "cookie",
            "name": auth.session_cookie,
            "description": 'The cookie `POST /api/v1/auth/login` with `"kind": "web"` sets '
            f"(HttpOnly, SameSite=Lax). A request other than GET/HEAD/OPTIONS must also send "
            f"the `csrf_token` of the login (or of `GET /api/v1/me`) as `{auth.csrf_header}`, "
            "else it is refused with 403 `csrf_failed`.",
        },
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _access(routes: list[Any], auth: Auth) -> dict[tuple[str, str], str]:
    """(METHOD, path) → ``required``, ``optional`` or ``none``: whether it needs a session."""
    found: dict[tuple[str, str], str] = {}
    for route in iter_route_contexts(routes):  # the routes of included routers too
        if not isinstance(route.original_route, APIRoute):
            continue
        calls = set(_calls(route.dependant))
        for method in route.methods or ():
            key = (method.upper(), str(route.path_format))
            if auth.required in calls:
                found[key] = "required"
            elif auth.optional in calls or key in auth.optional_in_handler:
                found[key] = "optional"
            else:
                found[key] = "none"
    return found


def _document_errors(
    operation: dict[str, Any], method: str, access: str, known: tuple[str, ...]
) -> None:
    """The error responses of one operation: the generic ones its shape implies, and the
    statuses of the codes it is known to answer."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's own shape: replaced below
    statuses = {500, 503}
    if access == "required":
        statuses |= {401, 403}
    elif access == "optional" and method in WRITES:
        statuses.add(403)  # a cookie session without the CSRF header
    params = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)
    if method in WRITES and access != "none":
        statuses.add(409)
    if params or "requestBody" in operation:
        statuses.add(422)
    by_status: dict[int, list[str]] = {}
    for code in known:
        by_status.setdefault(ERRORS[code][0], []).append(code)
    for status in sorted(statuses | set(by_status)):
        generic = GENERIC.get(status)
        base = generic[1] if generic is not None and status in statuses else ()
        if status == 403 and status in statuses and method not in WRITES:
            base = ("forbidden",)  # no CSRF check on reads
        codes = (*base, *(c for c in by_status.get(status, []) if c not in base))
        if generic is not None and codes == generic[1]:
            responses[str(status)] = {"$ref": f"#/components/responses/{generic[0]}"}
            continue
        shared = generic is not None and bool(set(codes) & set(generic[1]))
        text = generic[2] if generic is not None and shared else f"{HTTPStatus(status).phrase}."
        responses[str(status)] = _error_response(status, codes, text)


def _error_response(status: int, codes: tuple[str, ...], text: str) -> dict[str, Any]:
    listed = ", ".join(f"`{code}`" for code in codes)
    response: dict[str, Any] = {
        "description": f"{text} Codes: {listed}.",
        "content": {
            JSON: {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {code: _error_example(code, status) for code in codes},
            }
        },
    }
    if status in SAMPLE_RETRY_AFTER or any(code in RETRY_CODES for code in codes):
        response["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
    return response


def error_body(code: str, status: int | None = None) -> dict[str, Any]:
    """An example body of error ``code``, made as the server makes it (English message)."""
    status = status or ERRORS[code][0]
    english = ERRORS[code][2]
    names = {name for _text, name, _spec, _conv in string.Formatter().parse(english) if name}
    params = {name: SAMPLE_PARAMS.get(name, "…") for name in names - RESERVED_PARAMS}
    error = YuntongError(
        code,
        fields=dict(SAMPLE_FIELDS) if code == "validation_failed" else None,
        retry_after=RETRY_CODES.get(code, SAMPLE_RETRY_AFTER.get(status)),
        **params,
    )
    return {"error": error.to_dict("en")}


def _error_example(code: str, status: int) -> dict[str, Any]:
    body = error_body(code, status)
    return {"summary": body["error"]["message"], "value": body}
