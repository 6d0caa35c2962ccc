"""``HEAD`` on every ``GET`` route: link checkers, monitors and ``curl -I`` ask for the headers
only. FastAPI routes answer ``GET`` alone (``HEAD`` would be a 405), so this middleware serves a
``HEAD`` as the ``GET`` it stands for and sends its status and headers without the body
(RFC 9110 §9.3.2), ``Content-Length`` included."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: a ``HEAD`` request runs as ``GET``; the body is not sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
