"""What an exception escaping a route becomes: JSON, never a text 500 (issue 14, item 5)."""

from __future__ import annotations

import sqlite3

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from yuntong.core.dbhealth import refused_value, unavailable_reason
from yuntong.core.http_errors import ErrorResponses


def _wrapped(driver_error: Exception, **kwargs: bool) -> sa_exc.DBAPIError:
    """What SQLAlchemy raises for a driver error: its own error, caused by the driver's."""
    error = sa_exc.DBAPIError("SELECT 1", {}, Exception(str(driver_error)), **kwargs)
    error.__cause__ = driver_error
    return error


LOST = _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"))
INVALIDATED = _wrapped(Exception("closed"), connection_invalidated=True)
LOCKED = sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
NO_COLUMN = sa_exc.OperationalError("SELECT x", {}, sqlite3.OperationalError("no such column: x"))
# asyncpg refuses an integer beyond an INTEGER column with a client-side DataError, which is an
# InterfaceError like a lost connection's: a bad value, not an outage
OUT_OF_RANGE = sa_exc.InterfaceError(
    "SELECT 1",
    {},
    asyncpg.exceptions._base.DataError("invalid input for query argument $1 (out of int32 range)"),
)

OVERFLOW = sa_exc.StatementError(
    "(builtins.OverflowError) Python int too large to convert to SQLite INTEGER",
    "SELECT 1",
    {},
    OverflowError("Python int too large to convert to SQLite INTEGER"),
)


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(ErrorResponses)
    raising = {
        "bug": RuntimeError("a bug"),
        "lost": LOST,
        "invalidated": INVALIDATED,
        "locked": LOCKED,
        "no-column": NO_COLUMN,
        "out-of-range": OUT_OF_RANGE,
        "overflow": OVERFLOW,
    }

    @app.get("/{name}")
    async def fail(name: str) -> None:
        raise raising[name]

    return app


async def _get(path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


async def test_a_bug_is_a_json_internal_error() -> None:
    for path in ("/bug", "/no-column"):
        resp = await _get(path, **{"Accept-Language": "en"})
        assert resp.status_code == 500, path
        assert resp.json() == {
            "error": {"code": "internal_error", "message": "Internal server error"}
        }


async def test_a_value_the_database_cannot_store_is_a_422() -> None:
    for path in ("/out-of-range", "/overflow"):
        resp = await _get(path)
        assert resp.status_code == 422, path
        assert resp.json()["error"]["code"] == "validation_failed"


async def test_an_unreachable_database_is_a_503_with_retry_after() -> None:
    for path in ("/lost", "/invalidated", "/locked"):
        resp = await _get(path)
        assert resp.status_code == 503, path
        assert resp.json()["error"]["code"] == "database_unavailable"
        assert resp.json()["error"]["message"] == "数据库暂时不可用，请稍后再试"
        assert int(resp.headers["retry-after"]) > 0


def test_only_driver_errors_count_as_an_outage() -> None:
    assert unavailable_reason(RuntimeError("x")) is None
    assert unavailable_reason(ConnectionRefusedError(111, "refused")) is None  # not the driver
    assert unavailable_reason(FileNotFoundError("recording.mjr")) is None
    assert unavailable_reason(OUT_OF_RANGE) is None
    assert refused_value(OUT_OF_RANGE) is not None
    assert refused_value(OVERFLOW) is not None
    assert refused_value(LOST) is None
    assert unavailable_reason(LOST) == "ConnectionDoesNotExistError: connection was closed"
    assert unavailable_reason(INVALIDATED) == "Exception: closed"
    assert unavailable_reason(sa_exc.TimeoutError("QueuePool limit reached")) is not None
