"""The last line of HTTP error handling: no request ends in a ``text/plain`` 500 and a reset
connection.

Starlette answers an exception that no handler took with ``Internal Server Error`` in plain
text and then re-raises it, and uvicorn closes the kept-alive connection, so the client's
next request on it fails too. This middleware sits inside Starlette's and answers instead,
in JSON like every other error: a database outage is 503 ``database_unavailable`` with
``Retry-After`` (:mod:`yuntong.core.dbhealth`), a value the database cannot store (an input
no model bounded) a 422 ``validation_failed``, anything else a logged 500 ``internal_error``.
The connection stays usable.
"""

from __future__ import annotations

import time

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yuntong.core.dbhealth import refused_value, unavailable_error, unavailable_reason
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import request_locale
from yuntong.core.logging import get_logger

log = get_logger(__name__)
OUTAGE_LOG_INTERVAL_S = 10.0


class ErrorResponses:
    """ASGI middleware: an exception escaping a route becomes a JSON error response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._outage_logged_at = -OUTAGE_LOG_INTERVAL_S
        self._outage_unlogged = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise  # half a response is out: nothing better than closing is possible
            error = self._error_for(exc, scope)
            body = {"error": error.to_dict(request_locale(HTTPConnection(scope)))}
            response = JSONResponse(body, status_code=error.status, headers=error.headers)
            await response(scope, receive, send)

    def _error_for(self, exc: Exception, scope: Scope) -> YuntongError:
        where = {"method": scope.get("method"), "path": scope.get("path")}
        error = unavailable_error(exc)
        if error is None:
            refused = refused_value(exc)
            if refused is not None:
                # an input the API models should have bounded: the client's mistake, our gap
                log.warning("database_refused_value", reason=refused, **where)
                return YuntongError("validation_failed")
            log.error("http_unhandled_error", exc_info=exc, **where)
            return YuntongError("internal_error")
        # an outage fails every request: log it once in a while, not once per request
        now = time.monotonic()
        if now - self._outage_logged_at >= OUTAGE_LOG_INTERVAL_S:
            log.warning(
                "database_unavailable",
                reason=unavailable_reason(exc),
                requests_since_last_report=self._outage_unlogged,
            )
            self._outage_logged_at = now
            self._outage_unlogged = 0
        else:
            self._outage_unlogged += 1
        return error
