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

With ``--calls`` it measures instead call set-ups per second by number **with forwarding**
beside calls by username, in the same run (issue 16): the call set-up driver of
``bench/signaling.py`` (open-loop invites over ``/ws``, the callee answering at once, billing
on), one server per way of calling, one after the other. With forwarding every callee dialled
forwards unconditionally (CFU) to another subscriber's number, and that subscriber's socket
answers: each set-up looks up the dialled number, the forwarder's services, barring, account
and credit, the target's number and status, and writes a second record (the forwarded leg,
billed to the forwarder).

Run from the repository root::

    uv run python bench/numbers.py                 # 1,000,000 numbers, both backends
    uv run python bench/numbers.py --quick         # 100,000 numbers, fewer queries
    uv run python bench/numbers.py --calls --backend sqlite --rate 100

Results go to bench/RESULTS.md (the sections between the ``numbers`` and ``numbers-calls``
markers).
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
import signaling  # noqa: E402
from results_file import write_section  # noqa: E402
from signaling import YuntongTarget, machine_info  # noqa: E402
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
TRIGRAM_INDEX = "ix_phone_numbers_national_trgm"  # PostgreSQL, migration 0023
TAIL_INDEX = "ix_phone_numbers_national_tail_trgm"  # PostgreSQL, migration 0029


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
    if kind == "contains_3":  # the fewest digits the trigram index serves (PostgreSQL)
        return NumberQuery(contains=f"{rng.randrange(10**3):03d}")
    if kind == "contains_2":  # too few for a trigram: served otherwise
        return NumberQuery(contains=f"{rng.randrange(10**2):02d}")
    if kind == "ends_with":
        return NumberQuery(ends_with=f"{rng.randrange(10**4):04d}")
    if kind == "pattern":
        return NumberQuery(pattern=rng.choice(["AAAA", "AABB", "ABCD", "ABAB", "AAA"]))
    raise ValueError(kind)


MACHINE = ("nproc", "cpu", "ram", "python")
KINDS = (
    "province",
    "city",
    "prefix",
    "contains",
    "contains_3",
    "contains_2",
    "ends_with",
    "pattern",
)


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
            if url.startswith("postgresql"):
                # COPY, with the trigram index made afterwards (as for any bulk load): a GIN
                # index kept up row by row through a million rows takes minutes
                await conn.execute(text(f"DROP INDEX {TRIGRAM_INDEX}"))
                await conn.execute(text(f"DROP INDEX {TAIL_INDEX}"))
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                columns = list(rows[0])
                await raw.copy_records_to_table(
                    "phone_numbers",
                    records=[tuple(r[c] for c in columns) for r in rows],
                    columns=columns,
                )
                await conn.execute(
                    text(
                        f"CREATE INDEX {TRIGRAM_INDEX} ON phone_numbers"
                        " USING gin (national gin_trgm_ops)"
                    )
                )
                await conn.execute(
                    text(
                        f"CREATE INDEX {TAIL_INDEX} ON phone_numbers"
                        " USING gin ((substr(national, 2)) gin_trgm_ops)"
                    )
                )
            else:
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
                        stmt = search_query(queries(kind, rng, sample), engine.dialect.name)
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


async def measure(count: int, n: int, seed: int, backend: str = "both") -> dict[str, Any]:
    rng = random.Random(seed)
    print(f"generating {count:,} numbers", flush=True)
    rows = inventory(count, rng)
    out: dict[str, Any] = {"count": count, "queries": n, "load": round(os.getloadavg()[0], 2)}
    if backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite", flush=True)
            out["sqlite"] = await measure_backend(
                f"sqlite+aiosqlite:///{tmp}/numbers.db", rows, n, seed
            )
    if backend == "sqlite":
        return out
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


def render_one(r: dict[str, Any], backend: str) -> str:
    """One backend's run (``--backend``), in a section of its own."""
    db = "SQLite" if backend == "sqlite" else "PostgreSQL"
    res = r[backend]
    lines = [
        f"<!-- numbers-{backend}:start -->",
        f"## Number search (issue 16), {db} alone: each search kind over {r['count']:,} numbers",
        "",
        f"`bench/numbers.py --backend {backend}`, {r['queries']} searches of each kind, first"
        " page of 50, random values (contains: 4 digits; contains_3 and contains_2: 3 and 2);"
        " by_key (one number by its E.164 key) is the same run's baseline.",
        "Machine: "
        + ", ".join(f"{k} {v}" for k, v in machine_info().items() if k in MACHINE)
        + f"; load average at the start {r['load']}; {signaling.source_state()}",
        "",
        f"| search | {db} p50 ms | {db} p99 ms | max ms | numbers found (mean) |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("by_key", *KINDS):
        x = res[kind]
        lines.append(f"| {kind} | {x['p50']} | {x['p99']} | {x['max']} | {x['mean_found']} |")
    lines += [
        "",
        f"Inventory written in {res['load_s']} s. Target: p99 ≤ 50 ms for each kind.",
        "",
        f"<!-- numbers-{backend}:end -->",
        "",
    ]
    return "\n".join(lines)


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


# -- call set-ups by number with forwarding, beside calls by username ---------------------------


def calls_markers(backend: str) -> tuple[str, str]:
    """The markers of a ``--calls`` run's section (one per backend, or both)."""
    return f"<!-- numbers-calls-{backend}:start -->", f"<!-- numbers-calls-{backend}:end -->"


class ForwardingTarget(YuntongTarget):
    """Calls by number to subscribers who forward every call (CFU) to another subscriber's
    number; the forward targets' sockets answer."""

    def __init__(self, backend: str, pg_dsn: str, workdir: Path) -> None:
        super().__init__(backend, pg_dsn, workdir, by_number=True)
        db = "SQLite" if backend == "sqlite" else "PostgreSQL"
        self.name = f"{backend}-forwarding"
        self.label = f"Yuntong ({db}, calls by number, forwarded)"
        self.records: dict[str, int] = {}

    async def seed(self, n_hold: int, n_pairs: int, contacts: bool) -> Any:
        """Twice the pairs, each with a number: the first half's callers dial the first half's
        callees, who forward to the second half's callees (who answer). The settings rows are
        written as the services write them once forwarding is ordered and set; the forwarders
        get billing accounts (their legs are charged on the default package)."""
        from sqlalchemy import select

        from yuntong.accounts.models import User
        from yuntong.billing.ledger.accounts import account_ids_for_users
        from yuntong.supplementary.models import SETTINGS_OFF, ServiceSettings

        seeded = await super().seed(n_hold, 2 * n_pairs, contacts)
        ctx = await self.server.context()
        names = [f"be{i:04d}" for i in range(2 * n_pairs)]
        async with ctx.db.session() as s:
            query = select(User.username, User.id).where(User.username.in_(names))
            ids = {name: uid for name, uid in (await s.execute(query)).all()}
        pairs = seeded.pairs
        now = datetime.now(UTC)
        rows = [
            {
                **SETTINGS_OFF,
                "user_id": ids[names[i]],
                "cfu": "+86" + pairs[n_pairs + i][2],  # the target's number
                "updated_at": now,
            }
            for i in range(n_pairs)
        ]
        async with ctx.db.session() as s:
            await s.execute(insert(ServiceSettings), rows)
        await account_ids_for_users(ctx, {ids[names[i]] for i in range(n_pairs)})
        await self.server.aclose()
        seeded.pairs = [(pairs[i][0], pairs[n_pairs + i][1], pairs[i][2]) for i in range(n_pairs)]
        seeded.notes["forwarding"] = n_pairs
        return seeded

    async def stop(self) -> None:
        """Count the records written, and how many are forwarded legs, then stop."""
        from sqlalchemy import func

        from yuntong.calls.models import CallRecord

        if self.server is not None and self.server.proc is not None:
            ctx = await self.server.context()
            count = select(func.count(CallRecord.id))
            async with ctx.db.session() as s:
                total = int(await s.scalar(count) or 0)
                legs = await s.scalar(count.where(CallRecord.parent_call_id.is_not(None)))
            self.records = {"records": total, "legs": int(legs or 0)}
        await super().stop()


async def measure_calls(args: argparse.Namespace) -> dict[str, Any]:
    """Calls by username, (optionally) by number, and by number with forwarding, one server
    after the other, each warmed up and then offered ``args.rate`` set-ups a second."""
    sig = signaling.parse_args(
        [
            "--backend", args.backend, "--sessions", "0", "--no-baseline",
            "--rates", f"{args.rate:g}", "--duration", f"{args.duration:g}",
            "--pairs", str(args.pairs), "--retries", "0",
            "--quiet-threshold", f"{args.quiet_threshold:g}", "--quiet-wait", "2",
        ]
    )  # fmt: skip
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f}s] {msg}", flush=True)

    signaling.raise_nofile()
    workdir = Path(tempfile.mkdtemp(prefix="yuntong-bench-numbers-"))
    load = round(os.getloadavg()[0], 2)
    pool = signaling.Pool(sig.client_procs)
    await pool.all("configure", compression="deflate", talk_s=sig.talk_ms / 1000)
    quiet = signaling.Quiet(sig.quiet_threshold, sig.quiet_wait, log)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    out: dict[str, Any] = {"load": load, "rate": args.rate, "duration": args.duration}
    out["backend"] = args.backend
    out |= {"pairs": args.pairs, "source": signaling.source_state(), "targets": {}}
    try:
        for backend in backends:
            targets: list[YuntongTarget] = [YuntongTarget(backend, sig.pg_dsn, workdir)]
            if args.by_number:
                targets.append(YuntongTarget(backend, sig.pg_dsn, workdir, by_number=True))
            targets.append(ForwardingTarget(backend, sig.pg_dsn, workdir))
            for target in targets:
                result = await signaling.run_target(target, pool, sig, quiet, workdir, log)
                if isinstance(target, ForwardingTarget):
                    result["records"] = target.records
                out["targets"][target.name] = result
    finally:
        await pool.close()
    out["total_s"] = round(time.perf_counter() - started, 1)
    return out


def render_calls(r: dict[str, Any]) -> str:
    start, end = calls_markers(r["backend"])
    lines = [
        start,
        "## Calls by number with forwarding (issue 16), beside calls by username"
        f" ({ {'sqlite': 'SQLite', 'postgres': 'PostgreSQL'}.get(r['backend'], 'both') })",
        "",
        f"`bench/numbers.py --calls`, {r['pairs']} caller/callee pairs, warmed up, then "
        f"{r['rate']:g} set-ups/s offered for {r['duration']:g} s per server (invite → the "
        "callee answering at once → hang-up after 20 ms, over `/ws`, billing on), one server "
        "after the other in the same run. Forwarded: the number dialled forwards always (CFU) "
        "to another subscriber's number, whose socket answers; two records per call (the "
        "forwarded leg billed to the forwarder).",
        "Machine: "
        + ", ".join(f"{k} {v}" for k, v in machine_info().items() if k in MACHINE)
        + f"; load average at the start {r['load']}; {r['source']}; {r['total_s']} s in all",
        "",
        "| server | offered | achieved | p50 ms | p99 ms | errors | time-outs | skipped |"
        " server CPU | worker CPU | db CPU | other CPU | usage records |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in r["targets"].values():
        for st in t["calls"]["steps"]:
            usage = t.get("billing", {}).get("usage_records", "–")
            lines.append(
                f"| {t['label']} | {st['rate']:g}/s | {st['achieved']:.1f}/s |"
                f" {signaling._ms(st['p50'])} | {signaling._ms(st['p99'])} | {st['n_errors']} |"
                f" {st['timeouts']} | {st['skipped']} | {st['server_cpu']:.0f}% |"
                f" {st['worker_cpu']:.0f}% |"
                f" {st['db_cpu']:.0f}% | {st['other_cpu']:.0f}% | {usage} |"
            )
    for t in r["targets"].values():
        for st in t["calls"]["steps"]:
            if st["errors"]:
                codes = ", ".join(f"{code} × {n}" for code, n in sorted(st["errors"].items()))
                lines.append(f"\n{t['label']}, errors at {st['rate']:g}/s: {codes}.")
        if "records" in t:
            lines.append(
                f"\n{t['label']}: {t['records']['records']} call records, of which "
                f"{t['records']['legs']} forwarded legs (warm-up included)."
            )
    lines += ["", end, ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="100,000 numbers, 100 queries")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    parser.add_argument(
        "--calls",
        action="store_true",
        help="call set-ups by number with forwarding beside calls by username (no search)",
    )
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgres", "both"],
        default=None,
        help="search: one backend only, in a section of its own (default both); --calls:"
        " default sqlite",
    )
    parser.add_argument("--rate", type=float, default=100.0, help="--calls: set-ups a second")
    parser.add_argument("--duration", type=float, default=8.0, help="--calls: seconds measured")
    parser.add_argument("--pairs", type=int, default=100, help="--calls: caller/callee pairs")
    parser.add_argument(
        "--by-number", action="store_true", help="--calls: also calls by number, not forwarded"
    )
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=50.0,
        help="--calls: CPU %% of one core other processes may use (reported either way)",
    )
    args = parser.parse_args()
    args.backend_search = args.backend
    if args.calls:
        args.backend = args.backend or "sqlite"
        section = render_calls(asyncio.run(measure_calls(args)))
        print(section)
        if not args.no_write:
            write_section(BENCH / "RESULTS.md", *calls_markers(args.backend), section)
        return
    count, n = (100_000, 100) if args.quick else (args.count, args.queries)
    backend = "both" if args.backend_search is None else args.backend_search
    results = asyncio.run(measure(count, n, args.seed, backend))
    if backend == "both":
        section, start, end = render(results), SECTION_START, SECTION_END
    else:
        section = render_one(results, backend)
        start, end = f"<!-- numbers-{backend}:start -->", f"<!-- numbers-{backend}:end -->"
    print(section)
    if not args.no_write:
        write_section(BENCH / "RESULTS.md", start, end, section)


if __name__ == "__main__":
    main()
