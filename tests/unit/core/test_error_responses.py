"""What an exception escaping a route becomes: JSON, never a text 500 (issue 14, item 5)."""

from __future__ import annotations

import sqlite3

import httpx
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from yuntong.core.dbhealth import unavailable_reason
from yuntong.core.http_errors import ErrorResponses


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(ErrorResponses)

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/refused")
    async def refused() -> None:
        raise sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused"))

    @app.get("/locked")
    async def locked() -> None:
        raise sa_exc.OperationalError(
            "SELECT 1", {}, sqlite3.OperationalError("database is locked")
        )

    @app.get("/no-such-column")
    async def no_such_column() -> None:
        raise sa_exc.OperationalError("SELECT x", {}, sqlite3.OperationalError("no such column: x"))

    return app


async def _get(path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


async def test_a_bug_is_a_json_internal_error() -> None:
    for path in ("/bug", "/no-such-column"):
        resp = await _get(path, **{"Accept-Language": "en"})
        assert resp.status_code == 500
        assert resp.json() == {
            "error": {"code": "internal_error", "message": "Internal server error"}
        }


async def test_an_unreachable_database_is_a_503_with_retry_after() -> None:
    for path in ("/refused", "/locked"):
        resp = await _get(path)
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "database_unavailable"
        assert resp.json()["error"]["message"] == "数据库暂时不可用，请稍后再试"
        assert int(resp.headers["retry-after"]) > 0


def test_only_driver_errors_count_as_an_outage() -> None:
    assert unavailable_reason(RuntimeError("x")) is None
    assert unavailable_reason(ConnectionRefusedError(111, "refused")) is None  # not the driver
    assert unavailable_reason(FileNotFoundError("recording.mjr")) is None
    dead = sa_exc.DBAPIError("SELECT 1", {}, Exception("closed"), connection_invalidated=True)
    assert unavailable_reason(dead) == "Exception: closed"
    assert unavailable_reason(sa_exc.TimeoutError("QueuePool limit reached")) is not None
