"""Number search benchmark: each search kind over an inventory of 1,000,000 numbers.

What it measures: the statement the API runs for a customer's search
(:func:`yuntong.numbers.selection.search_query`, first page of 50), for each search kind —
province, city, prefix, contains, ends with, pattern class — with random values a customer
would type, on SQLite and on PostgreSQL, after the migrations and ``ANALYZE``. Each kind runs
``--queries`` times per backend; p50/p99/max in milliseconds, beside the same database's
look-up of one number by its E.164 key (the cheapest query there is: the baseline of the same
run, since these machines are noisy). Target (issue 16): p99 ≤ 50 ms for each kind.

The inventory is written with plain bulk inserts (what ``yuntong numbers import`` would leave:
attribution of a few dozen cities, the pattern class of every number), not through the
import itself, which is timed by its own tests.

Run from the repository root::

    uv run python bench/numbers.py                 # 1,000,000 numbers, both backends
    uv run python bench/numbers.py --quick         # 100,000 numbers, fewer queries

Results go to bench/RESULTS.md (the section between the ``numbers`` markers).
"""

from __future__ import annotations

import sys
from pathlib import Path

# this file is named as the issue names it, like the standard library's ``numbers``: keep
# bench/ after the standard library on the path, or ``import statistics`` finds this file
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
sys.path.append(str(BENCH))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
from results_file import write_section  # noqa: E402
from signaling import machine_info  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from yuntong.core.migrate import upgrade  # noqa: E402
from yuntong.numbers.models import NumberBlock, PhoneNumber  # noqa: E402
from yuntong.numbers.patterns import pattern_class  # noqa: E402
from yuntong.numbers.selection import NumberQuery, search_query  # noqa: E402

SECTION_START = "<!-- numbers:start -->"
SECTION_END = "<!-- numbers:end -->"
PG_DSN = os.environ.get("YUNTONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CITIES = [
    ("北京市", "北京市", "Beijing", "Beijing"),
    ("上海市", "上海市", "Shanghai", "Shanghai"),
    ("广东省", "广州市", "Guangdong", "Guangzhou"),
    ("广东省", "深圳市", "Guangdong", "Shenzhen"),
    ("浙江省", "杭州市", "Zhejiang", "Hangzhou"),
    ("江苏省", "南京市", "Jiangsu", "Nanjing"),
    ("四川省", "成都市", "Sichuan", "Chengdu"),
    ("湖北省", "武汉市", "Hubei", "Wuhan"),
    ("陕西省", "西安市", "Shaanxi", "Xi'an"),
    ("山东省", "济南市", "Shandong", "Jinan"),
    (None, None, None, None),  # segments the geocoder knows only as China
]
SEGMENTS = ["130", "131", "135", "138", "139", "150", "158", "166", "177", "186", "188", "199"]
BATCH = 5_000


def inventory(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` distinct mobile numbers spread over segments and cities."""
    now = datetime.now(UTC)
    seen: set[str] = set()
    rows = []
    while len(rows) < count:
        national = rng.choice(SEGMENTS) + f"{rng.randrange(10**8):08d}"
        if national in seen:
            continue
        seen.add(national)
        province, city, province_en, city_en = CITIES[int(national[3:7]) % len(CITIES)]
        rows.append(
            {
                "e164": "+86" + national,
                "national": national,
                "national_reversed": national[::-1],
                "kind": "mobile",
                "block_id": 1,
                "province": province,
                "city": city,
                "province_en": province_en,
                "city_en": city_en,
                "carrier": "中国移动",
                "current_carrier": "中国移动",
                "ported": False,
                "pattern": pattern_class(national),
                "tier": "",
                "state": "available" if rng.random() < 0.8 else "assigned",
                "state_changed_at": now,
                "created_at": now,
            }
        )
    return rows


def queries(kind: str, rng: random.Random, sample: list[str]) -> NumberQuery:
    """A search a customer would make, of ``kind``."""
    if kind == "province":
        return NumberQuery(province=rng.choice([c[0] for c in CITIES if c[0]]))
    if kind == "city":
        return NumberQuery(city=rng.choice([c[1] for c in CITIES if c[1]]))
    if kind == "prefix":
        return NumberQuery(prefix=rng.choice(sample)[: rng.choice([4, 5, 7])])
    if kind == "contains":
        return NumberQuery(contains=f"{rng.randrange(10**4):04d}")
    if kind == "ends_with":
        return NumberQuery(ends_with=f"{rng.randrange(10**4):04d}")
    if kind == "pattern":
        return NumberQuery(pattern=rng.choice(["AAAA", "AABB", "ABCD", "ABAB", "AAA"]))
    raise ValueError(kind)


MACHINE = ("nproc", "cpu", "ram", "python")
KINDS = ("province", "city", "prefix", "contains", "ends_with", "pattern")


async def measure_backend(
    url: str, rows: list[dict[str, Any]], n: int, seed: int
) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url)
    try:
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(
                insert(NumberBlock),
                [
                    {
                        "id": 1,
                        "carrier": "中国移动",
                        "source_ref": "bench",
                        "note": "",
                        "imported": len(rows),
                        "created_at": datetime.now(UTC),
                    }
                ],
            )
            for i in range(0, len(rows), BATCH):
                await conn.execute(insert(PhoneNumber), rows[i : i + BATCH])
        loaded_s = time.perf_counter() - started
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        rng = random.Random(seed)
        sample = [r["national"] for r in rng.sample(rows, 1000)]
        results: dict[str, Any] = {"load_s": round(loaded_s, 1)}
        kinds = ("by_key", *KINDS)
        for kind in kinds:
            times, found = [], []
            async with engine.connect() as conn:
                for _ in range(n):
                    if kind == "by_key":
                        stmt = select(PhoneNumber).where(
                            PhoneNumber.e164 == "+86" + rng.choice(sample)
                        )
                    else:
                        stmt = search_query(queries(kind, rng, sample))
                    t0 = time.perf_counter()
                    got = (await conn.execute(stmt)).all()
                    times.append((time.perf_counter() - t0) * 1000)
                    found.append(len(got))
            times.sort()
            results[kind] = {
                "p50": round(statistics.median(times), 2),
                "p99": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
                "max": round(times[-1], 2),
                "mean_found": round(statistics.mean(found), 1),
            }
            print(f"  {kind:10s} {results[kind]}", flush=True)
        return results
    finally:
        await engine.dispose()


async def measure(count: int, n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    print(f"generating {count:,} numbers", flush=True)
    rows = inventory(count, rng)
    out: dict[str, Any] = {"count": count, "queries": n, "load": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite", flush=True)
        out["sqlite"] = await measure_backend(
            f"sqlite+aiosqlite:///{tmp}/numbers.db", rows, n, seed
        )
    name = f"yt_bench_numbers_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        print("PostgreSQL", flush=True)
        out["postgres"] = await measure_backend(f"{base}/{name}", rows, n, seed)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
    return out


def render(r: dict[str, Any]) -> str:
    lines = [
        SECTION_START,
        f"## Number search (issue 16): each search kind over {r['count']:,} numbers",
        "",
        f"`bench/numbers.py`, {r['queries']} searches of each kind per backend, first page of 50,"
        " random values; by_key (one number by its E.164 key) is the same run's baseline.",
        "Machine: "
        + ", ".join(f"{k} {v}" for k, v in machine_info().items() if k in MACHINE)
        + f"; load average at the start {r['load']}",
        "",
        "| search | SQLite p50 ms | SQLite p99 ms | PostgreSQL p50 ms | PostgreSQL p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("by_key", *KINDS):
        s, p = r["sqlite"][kind], r["postgres"][kind]
        lines.append(f"| {kind} | {s['p50']} | {s['p99']} | {p['p50']} | {p['p99']} |")
    lines += [
        "",
        f"Inventory written in {r['sqlite']['load_s']} s (SQLite) and "
        f"{r['postgres']['load_s']} s (PostgreSQL). Target: p99 ≤ 50 ms for each kind.",
        "",
        SECTION_END,
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="100,000 numbers, 100 queries")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()
    count, n = (100_000, 100) if args.quick else (args.count, args.queries)
    results = asyncio.run(measure(count, n, args.seed))
    section = render(results)
    print(section)
    if not args.no_write:
        write_section(BENCH / "RESULTS.md", SECTION_START, SECTION_END, section)


if __name__ == "__main__":
    main()
