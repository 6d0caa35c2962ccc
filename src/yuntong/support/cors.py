"""CORS for the widget's API (``/api/v1/support/widget/<inbox key>/…``): a page on one of the
inbox's origins may call it (preflight answered, ``Access-Control-Allow-Origin`` set on every
answer, errors included, so the widget can read them); a browser page on any other origin is
refused before the route runs (``support_origin_refused``). Requests without an ``Origin``
(servers, scripts) pass. Nothing else of the API is opened to other origins."""

from __future__ import annotations

import json

from sqlalchemy import select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import pick_locale
from yuntong.support.models import Inbox

PREFIX = "/api/v1/support/widget/"
ALLOWED_HEADERS = "content-type, x-visitor-token, accept-language"
MAX_AGE_S = "600"


async def origins_of(ctx: Context, key: str) -> list[str] | None:
    async with ctx.db.session() as s:
        found = (await s.execute(select(Inbox.origins).where(Inbox.key == key))).first()
    return None if found is None else list(found[0])


class WidgetCors:
    """ASGI middleware for the widget's API (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        ctx: Context = scope["app"].state.ctx
        key = path[len(PREFIX) :].split("/", 1)[0]
        allowed = await origins_of(ctx, key)
        if allowed is not None and origin not in allowed:
            await _refuse(send, headers.get("accept-language"))
            return
        cors = [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS":
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        *cors,
                        (b"access-control-allow-methods", b"GET, POST"),
                        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                        (b"access-control-max-age", MAX_AGE_S.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, with_cors)


async def _refuse(send: Send, accept_language: str | None) -> None:
    error = YuntongError("support_origin_refused")
    body = json.dumps({"error": error.to_dict(pick_locale(accept_language))}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
