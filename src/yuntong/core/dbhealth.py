"""Telling a database outage from a bug, and the readiness check of the database.

When the database cannot be reached (stopped, restarting, the network cut), requests fail
with driver errors that say so: refused or reset connections, pooled connections found
closed, a full pool. Those are a 503 ``database_unavailable`` (with ``Retry-After``), not a
500: nothing is wrong with the request, and the pool reconnects by itself once the
database is back (a dead pooled connection is invalidated when it fails).
"""

from __future__ import annotations

import asyncio
import sqlite3
import traceback
from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from yuntong.core.db import Database
from yuntong.core.errors import YuntongError

RETRY_AFTER_S = 5
CHECK_TIMEOUT_S = 3.0
_DRIVER_MODULES = ("asyncpg", "sqlalchemy", "aiosqlite", "sqlite3")
# SQLite reports an unusable database file with these (everything else is a bug)
_SQLITE_OUTAGE = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    "database disk image is malformed",
    "readonly database",
)
_OUTAGE = (
    sa_exc.TimeoutError,  # no pooled connection came free in time
    asyncpg.exceptions.PostgresConnectionError,  # the connection failed or was lost
    asyncpg.exceptions.AdminShutdownError,  # the server is shutting down
    asyncpg.exceptions.CannotConnectNowError,  # … or starting up
    asyncpg.exceptions.TooManyConnectionsError,
)


_BAD_VALUE = (
    OverflowError,  # sqlite3: an integer beyond 64 bits
    asyncpg.exceptions._base.DataError,  # asyncpg: a value the column type cannot take
    asyncpg.exceptions.DataError,  # PostgreSQL: class 22, data exception
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error SQLAlchemy wraps in it, and their causes."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = current.orig if isinstance(current, sa_exc.StatementError) else None
        todo.extend(
            e
            for e in (orig, current.__cause__, current.__context__)
            if isinstance(e, BaseException)
        )


def _raised_by_driver(exc: BaseException) -> bool:
    """A socket error counts only if it came out of the database driver or pool."""
    for frame, _line in traceback.walk_tb(exc.__traceback__):
        if str(frame.f_globals.get("__name__", "")).startswith(_DRIVER_MODULES):
            return True
    return False


def _describe(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


def unavailable_reason(exc: BaseException) -> str | None:
    """Why the database is unreachable, if ``exc`` says it is; None for any other error.

    Walks the chain of causes: SQLAlchemy's error wraps the driver's (a lost connection,
    a refused one). Not an outage: a value the driver refuses (asyncpg's client-side
    ``DataError`` for an integer out of range is an ``InterfaceError`` too), any SQL error.
    """
    for e in _chain(exc):
        if isinstance(e, sa_exc.DBAPIError):
            if isinstance(e.orig, sqlite3.Error):
                message = str(e.orig).lower()
                return _describe(e.orig) if any(m in message for m in _SQLITE_OUTAGE) else None
            if e.connection_invalidated:  # the pool found the connection dead
                return _describe(e.orig if e.orig is not None else e)
        elif _outage_outside_sqlalchemy(e):
            return _describe(e)
    return None


def _outage_outside_sqlalchemy(e: BaseException) -> bool:
    if isinstance(e, _OUTAGE):
        return True
    return isinstance(e, OSError) and _raised_by_driver(e)  # refused, reset, timed out


def refused_value(exc: BaseException) -> str | None:
    """What the database refused, if ``exc`` is a value it cannot store (an integer beyond its
    column, a malformed date or text): bad input that validation should have stopped."""
    for e in _chain(exc):
        if isinstance(e, _BAD_VALUE):
            return _describe(e)
    return None


def unavailable_error(exc: BaseException) -> YuntongError | None:
    """The ``database_unavailable`` error for an outage, None for any other exception."""
    if unavailable_reason(exc) is None:
        return None
    return YuntongError("database_unavailable", retry_after=RETRY_AFTER_S)


async def check(db: Database, timeout: float = CHECK_TIMEOUT_S) -> str:
    """``ok``, or ``unavailable: <why>`` (for ``/readyz``)."""
    try:
        async with asyncio.timeout(timeout):
            async with db.session() as session:
                await session.execute(text("SELECT 1"))
    except TimeoutError:
        return f"unavailable: no answer within {timeout:g} s"
    except Exception as exc:
        return f"unavailable: {unavailable_reason(exc) or _describe(exc)}"
    return "ok"
