"""The "contains" number search and its trigram indexes (migrations 0023, 0027): on PostgreSQL
the search's own statement is served by a pg_trgm GIN index (EXPLAIN) when the digits make
trigrams — four digits or more: the numbers beginning with them from the national-number index
in order, the others through the index of the number past its first digit; on SQLite the
migrations add nothing. Both find the same numbers."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import own_database
from yuntong.core.migrate import upgrade
from yuntong.numbers.models import NumberBlock, PhoneNumber
from yuntong.numbers.selection import NumberQuery, search_query

INDEX = "ix_phone_numbers_national_trgm"
TAIL_INDEX = "ix_phone_numbers_national_tail_trgm"
COUNT = 20_000


def rows(now: datetime) -> list[dict[str, object]]:
    """``COUNT`` distinct mobile numbers, random digits (the same each run)."""
    rng = random.Random(23)
    nationals = sorted({f"139{rng.randrange(10**8):08d}" for _ in range(COUNT)})
    return [
        {
            "e164": "+86" + national,
            "national": national,
            "national_reversed": national[::-1],
            "kind": "mobile",
            "block_id": 1,
            "carrier": "中国移动",
            "current_carrier": "中国移动",
            "state": "available",
            "state_changed_at": now,
            "created_at": now,
        }
        for national in nationals
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_contains_is_served_by_the_trigram_index_on_postgresql(
    backend: str, tmp_path: Path
) -> None:
    async with own_database(backend, tmp_path) as url:
        upgrade(url)
        engine = create_async_engine(url)
        try:
            now = datetime.now(UTC)
            async with engine.begin() as conn:
                block = {"id": 1, "carrier": "中国移动", "source_ref": "test", "created_at": now}
                await conn.execute(insert(NumberBlock), [block])
                await conn.execute(insert(PhoneNumber), rows(now))
            # 1394: at the start of many numbers (all begin 139) and further on in some
            for digits in ("4999", "1394", "499", "49"):
                stmt = search_query(NumberQuery(contains=digits), engine.dialect.name)
                async with engine.connect() as conn:
                    found = [r.national for r in (await conn.execute(stmt)).all()]
                expected = [r["national"] for r in rows(now) if digits in str(r["national"])]
                assert found == expected[:50] and found, digits
                if len(expected) > 50:  # the next page, from the last number shown
                    query = NumberQuery(contains=digits, after=found[-1])
                    stmt = search_query(query, engine.dialect.name)
                    async with engine.connect() as conn:
                        more = [r.national for r in (await conn.execute(stmt)).all()]
                    assert more == expected[50:100], digits

            if backend == "sqlite":
                async with engine.connect() as conn:
                    names = (await conn.execute(text("SELECT name FROM sqlite_master"))).all()
                assert not {INDEX, TAIL_INDEX} & {n for (n,) in names}
                return
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE phone_numbers"))
            # the statement as the search sends it, planned as a cached prepared statement
            # would be (generic): the digits are in it, so the trigram index still serves
            # four; three: the planner chooses between the index and reading the numbers in
            # order until the page is full (bench/RESULTS.md); two make no trigram
            sent: list[tuple[str, Any]] = []

            def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
                sent.append((statement, parameters))

            event.listen(engine.sync_engine, "before_cursor_execute", grab)
            for digits, index in (("4999", TAIL_INDEX), ("1394", TAIL_INDEX), ("49", None)):
                async with engine.connect() as conn:
                    await conn.execute(text("SET plan_cache_mode = force_generic_plan"))
                    await conn.execute(search_query(NumberQuery(contains=digits), "postgresql"))
                    statement, parameters = sent[-1]
                    assert digits in statement
                    explained = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
                    plan = "\n".join(r[0] for r in explained.all())
                if index is None:
                    assert "trgm" not in plan, (digits, plan)
                else:
                    assert index in plan, (digits, plan)
                    # the numbers beginning with them: read in order, never all of them
                    assert "Index Scan using ix_phone_numbers_national " in plan, plan
        finally:
            await engine.dispose()
