"""Database engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Insert, MetaData, event, make_url, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from yuntong.files import create_private_file, private_file

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Database:
    """Owns the async engine and hands out sessions."""

    def __init__(self, url: str, pool_size: int = 20) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # no pre-ping: it would cost a round trip on every checkout of the hot path;
            # connections are recycled instead, and a dead one fails one transaction only
            # pool_size connections are kept open; as many more are opened in a burst and
            # closed when given back
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        private_sqlite_files(url)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection inside one transaction, for hot paths that need no ORM."""
        async with self.engine.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()


def private_sqlite_files(url: str) -> None:
    """Make the SQLite database of ``url`` owner-only (0600) before anything opens it.

    The file is created empty (a valid empty database) with mode 0600 unless it exists, and an
    existing one, with its ``-wal``, ``-shm`` and ``-journal`` files, loses group and other
    access. SQLite creates those side files with the database file's own mode, so they stay
    private from then on. Other databases, and SQLite in memory, are left alone.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return
    if database.startswith("file:") or parsed.query.get("mode") == "memory":
        return  # a URI filename (memory, shared cache): not a plain file path
    path = Path(database)
    create_private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        private_file(path.with_name(path.name + suffix))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


async def lock_rows(s: AsyncSession, model: Any, ids: Sequence[int]) -> None:
    """Hold the rows of ``model`` with primary keys ``ids`` until the transaction ends, so that
    what is read after this sees every competing transaction on them committed: a write that
    changes nothing takes the row locks on PostgreSQL and the database's write lock on SQLite
    (where a plain ``SELECT … FOR UPDATE`` locks nothing and reads run before the transaction
    takes its lock)."""
    if ids:
        key = model.__table__.c.id
        await s.execute(update(model.__table__).where(key.in_(sorted(ids))).values(id=key))


def insert_ignoring_duplicates(s: AsyncSession, model: Any) -> Insert:
    """A Core insert (no ORM bookkeeping) that skips rows whose unique keys exist."""
    table = model.__table__
    if s.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
