"""Billing benchmark: rate a month of call records and close the cycle, on PostgreSQL.

What it measures (see bench/README.md for the method):

* ``do_rate_pending``: every usage record of one month rated into the ledger, end to end
  (reading the pending records, tariffs and allowances, writing the entries, credit alerts):
  records per second, with the CPU of this process and of PostgreSQL;
* ``do_close_cycle`` for that month: every account's statement (with next month's rent in
  advance), then a second close that must issue nothing and change nothing;
* both checked in the same run against a straightforward computation of its own: every
  record's charge, every statement's total and the sum over all statements.

Run from the repository root::

    uv run python bench/billing.py                  # 1,000,000 records, 100,000 accounts
    uv run python bench/billing.py --quick          # 10x smaller smoke run
    uv run python bench/billing.py --nice -5 --analyze-before-close --py-spy /tmp/pyspy/bin/py-spy

Results are written to bench/RESULTS.md (the section between the ``billing`` markers is
replaced; the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _path in (BENCH, ROOT, ROOT / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from results_file import write_section  # noqa: E402  (bench/, beside this script)
from signaling import machine_info, profile_summary, set_priority, source_state  # noqa: E402

SECTION_START = "<!-- billing:start -->"
SECTION_END = "<!-- billing:end -->"
DEFAULT_PG = os.environ.get("YUNTONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_RATE = 20_000  # records/s
TARGET_CLOSE_S = 120.0

TZ = ZoneInfo("Asia/Shanghai")  # Settings.business_timezone
MONTH = "2026-10"
MONTH_START = datetime(2026, 10, 1, tzinfo=TZ)
MONTH_END = datetime(2026, 11, 1, tzinfo=TZ)
CATALOG_AT = datetime(2026, 9, 1, 10, 0, tzinfo=TZ)  # the first prices start that day
RUN_AT = datetime(2026, 11, 1, 3, 0, tzinfo=TZ)  # rating and the close run then
AUDIO, VIDEO = "call.audio", "call.video"


# =============================================================================================
# The catalog and the population
# =============================================================================================


def _rate(per_minute: str, increment: str, connect_fee_fen: int = 0) -> dict[str, Any]:
    return {
        "per_minute_fen": per_minute,
        "increment": increment,
        "connect_fee_fen": connect_fee_fen,
    }


@dataclass(frozen=True)
class PriceSpec:
    effective_on: date
    monthly_fee_fen: int
    allowances: dict[str, int]
    rates: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class PackageSpec:
    code: str
    name_zh: str
    name_en: str
    share: float  # of the accounts on it at the start of the month
    prices: tuple[PriceSpec, ...]
    is_default: bool = False


FIRST_DAY = CATALOG_AT.date()
PACKAGES = (
    PackageSpec(
        "bench-payg",
        "随用随付",
        "Pay as you go",
        0.20,
        (
            PriceSpec(
                FIRST_DAY, 0, {}, {AUDIO: _rate("15", "60/60"), VIDEO: _rate("30", "6/6", 10)}
            ),
        ),
        is_default=True,
    ),
    PackageSpec(
        "bench-basic",
        "基础套餐",
        "Basic",
        0.40,
        (
            PriceSpec(
                FIRST_DAY,
                1900,
                {AUDIO: 30 * 60},
                {AUDIO: _rate("10", "60/60"), VIDEO: _rate("20", "6/6")},
            ),
            # a price change in the middle of the month: each call takes the version in force
            # when it started; November's rent in advance takes the new monthly fee
            PriceSpec(
                date(2026, 10, 16),
                2100,
                {AUDIO: 30 * 60},
                {AUDIO: _rate("9.5", "60/60", 3), VIDEO: _rate("18.75", "6/6")},
            ),
        ),
    ),
    PackageSpec(
        "bench-plus",
        "畅聊套餐",
        "Plus",
        0.25,
        (
            PriceSpec(
                FIRST_DAY,
                3900,
                {AUDIO: 120 * 60, VIDEO: 30 * 60},
                {AUDIO: _rate("8", "60/60", 5), VIDEO: _rate("12.5", "6/6", 10)},
            ),
        ),
    ),
    PackageSpec(
        "bench-pro",
        "专业套餐",
        "Pro",
        0.15,
        (
            PriceSpec(
                FIRST_DAY,
                8800,
                {AUDIO: 500 * 60, VIDEO: 100 * 60},
                {AUDIO: _rate("5.55", "60/60"), VIDEO: _rate("9.99", "6/6")},
            ),
        ),
    ),
)
PAYG = PACKAGES[0]
SUBSCRIBABLE = PACKAGES[1:]


@dataclass(frozen=True)
class SubPlan:
    """A package on an account for ``[starts_at, ends_at)``."""

    package: str
    starts_at: datetime
    ends_at: datetime | None
    order_kind: str


@dataclass
class Population:
    """Accounts (``account_id = index + 1``), their subscriptions, and the month's records."""

    accounts: int
    subs: dict[int, list[SubPlan]]
    low_limit: set[int]
    # (id, account_id, usage_type, quantity_s, started_at, other_party), in id order
    records: list[tuple[int, int, str, int, datetime, str]]
    notes: dict[str, Any] = field(default_factory=dict)


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = int((end - start).total_seconds())
    return (start + timedelta(seconds=rng.randrange(seconds))).astimezone(UTC)


def call_seconds(rng: random.Random) -> int:
    """Many short calls, a long tail up to two hours, some of 0–1 s (dropped at once)."""
    r = rng.random()
    if r < 0.04:
        return rng.randint(0, 1)
    if r < 0.975:
        return min(7200, max(2, int(rng.lognormvariate(4.0, 1.1))))  # median ≈ 55 s
    return rng.randint(1800, 7200)


def plan_population(n_accounts: int, n_records: int, seed: int) -> Population:
    rng = random.Random(seed)
    subs: dict[int, list[SubPlan]] = {}
    kinds: Counter[str] = Counter()
    shares = [p.share for p in SUBSCRIBABLE]
    for account_id in range(1, n_accounts + 1):
        if rng.random() < PAYG.share:
            if rng.random() < 0.10:  # subscribes in the middle of the month
                at = _moment(rng, MONTH_START + timedelta(days=2), MONTH_END - timedelta(days=2))
                subs[account_id] = [SubPlan("bench-basic", at, None, "subscribe")]
                kinds["payg, then basic from mid-month"] += 1
            else:
                kinds["pay as you go (no subscription)"] += 1
            continue
        package = rng.choices(SUBSCRIBABLE, weights=shares)[0].code
        since = _moment(rng, datetime(2026, 1, 1, tzinfo=TZ), MONTH_START)
        r = rng.random()
        if r < 0.05:  # changes package in the middle of the month
            at = _moment(rng, MONTH_START + timedelta(days=2), MONTH_END - timedelta(days=2))
            other = rng.choice([p.code for p in SUBSCRIBABLE if p.code != package])
            subs[account_id] = [
                SubPlan(package, since, at, "subscribe"),
                SubPlan(other, at, None, "change"),
            ]
            kinds["package changed mid-month"] += 1
        elif r < 0.08:  # cancelled at the end of the month: no rent for the next one
            subs[account_id] = [SubPlan(package, since, MONTH_END.astimezone(UTC), "subscribe")]
            kinds["package cancelled at the month's end"] += 1
        else:
            subs[account_id] = [SubPlan(package, since, None, "subscribe")]
            kinds[package] += 1
    low_limit = {a for a in range(1, n_accounts + 1) if rng.random() < 0.03}
    # how much each account calls: 5% never, the rest log-normal (a few heavy users)
    weights = [
        0.0 if rng.random() < 0.05 else rng.lognormvariate(0.0, 1.0) for _ in range(n_accounts)
    ]
    callers = rng.choices(
        range(1, n_accounts + 1), cum_weights=list(accumulate(weights)), k=n_records
    )
    start, end = MONTH_START.astimezone(UTC), MONTH_END.astimezone(UTC)
    span = int((end - start).total_seconds())
    drafts = []
    for account_id in callers:
        usage_type = VIDEO if rng.random() < 0.2 else AUDIO
        started = start + timedelta(seconds=rng.randrange(span))
        masked = f"1{rng.randint(30, 99)}****{rng.randint(0, 9999):04d}"
        drafts.append((started, account_id, usage_type, call_seconds(rng), masked))
    drafts.sort(key=lambda d: d[0])  # records arrive roughly as the calls happen
    records = [(i, a, t, q, s, o) for i, (s, a, t, q, o) in enumerate(drafts, start=1)]
    quantities = sorted(r[3] for r in records)
    notes = {
        "plans": dict(kinds),
        "accounts_with_records": len(set(callers)),
        "video_share": sum(r[2] == VIDEO for r in records) / max(1, len(records)),
        "quantity_s": _quantiles(quantities),
        "low_limit_accounts": len(low_limit),
    }
    return Population(n_accounts, subs, low_limit, records, notes)


def _quantiles(sorted_values: list[int]) -> dict[str, float]:
    if not sorted_values:
        return {}
    n = len(sorted_values)
    return {
        "mean": sum(sorted_values) / n,
        "p50": sorted_values[n // 2],
        "p90": sorted_values[int(n * 0.9)],
        "p99": sorted_values[int(n * 0.99)],
        "max": sorted_values[-1],
        "share_0_1s": sum(v <= 1 for v in sorted_values) / n,
    }


# =============================================================================================
# Database, context and seeding
# =============================================================================================


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _async(url: str) -> str:
    return _plain(url).replace("postgresql://", "postgresql+asyncpg://")


async def create_database(pg_dsn: str) -> str:
    import asyncpg

    name = f"yt_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{_async(pg_dsn).rsplit('/', 1)[0]}/{name}"


async def drop_database(pg_dsn: str, url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


async def database_info(url: str) -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(_plain(url))
    try:
        settings = (
            "server_version",
            "shared_buffers",
            "work_mem",
            "synchronous_commit",
            "fsync",
            "max_wal_size",
            "autovacuum",
        )
        return {s: str(await conn.fetchval(f"SHOW {s}")) for s in settings}
    finally:
        await conn.close()


def build_bench_context(url: str, var_dir: Path) -> Any:
    from yuntong.config import Settings
    from yuntong.core.clock import FrozenClock
    from yuntong.services import build_context

    settings = Settings(
        var_dir=var_dir,
        database_url=url,
        billing_close_day=1,
        start_coturn=False,
        start_sip=False,
        gc_freeze_interval_s=0,
        billing_rating_interval_s=0,
    ).with_generated_secrets()
    return build_context(settings, clock=FrozenClock(CATALOG_AT.astimezone(UTC)))


@dataclass(frozen=True)
class Version:
    """A price version as created, for the independent computation."""

    price_id: int
    package: str
    effective_on: date
    monthly_fee_fen: int
    allowances: dict[str, int]
    rates: dict[str, dict[str, Any]]


async def create_catalog(ctx: Any) -> dict[str, list[Version]]:
    """Through the catalog service, as staff would (the mid-month change is announced)."""
    from yuntong.accounts.auth import principal_for
    from yuntong.accounts.models import Role
    from yuntong.accounts.registration import do_create_admin
    from yuntong.billing.catalog import catalog

    admin = await do_create_admin(ctx, "benchstaff", "bench-staff-Passw0rd!", Role.OPERATOR_ADMIN)
    actor = principal_for(admin, "bench", "bench")
    versions: dict[str, list[Version]] = {}
    for spec in PACKAGES:
        product = await catalog.do_create_product(
            ctx,
            actor,
            code=spec.code,
            kind="package",
            name_zh=spec.name_zh,
            name_en=spec.name_en,
            is_default=spec.is_default,
        )
        for p in spec.prices:
            price = await catalog.do_set_price(
                ctx,
                actor,
                product.id,
                effective_on=p.effective_on,
                monthly_fee_fen=p.monthly_fee_fen,
                allowances=p.allowances,
                rates=p.rates,
                note="bench",
            )
            versions.setdefault(spec.code, []).append(
                Version(
                    price.id, spec.code, p.effective_on, p.monthly_fee_fen, p.allowances, p.rates
                )
            )
    return versions


async def seed(ctx: Any, url: str, pop: Population, log: Callable[[str], None]) -> dict[str, float]:
    """Users, accounts, orders, subscriptions and usage records by COPY (asyncpg)."""
    import asyncpg

    from yuntong.billing.catalog.catalog import load_catalog

    catalog = await load_catalog(ctx)
    product_id = {p.code: p.id for p in catalog.products.values()}
    timings: dict[str, float] = {}
    conn = await asyncpg.connect(_plain(url))
    try:
        user_base = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM users")) + 1
        created = CATALOG_AT.astimezone(UTC) - timedelta(days=30)
        t = time.perf_counter()
        await conn.copy_records_to_table(
            "users",
            columns=[
                "id",
                "username",
                "display_name",
                "password_hash",
                "role",
                "status",
                "locale",
                "full_name_enc",
                "failed_logins",
                "dnd",
                "created_at",
            ],
            records=(
                (
                    user_base + i,
                    f"bu{i:07d}",
                    f"bu{i:07d}",
                    "bench-not-a-hash",
                    "subscriber",
                    "active",
                    "zh-CN",
                    "bench-not-encrypted",
                    0,
                    False,
                    created,
                )
                for i in range(pop.accounts)
            ),
        )
        await conn.copy_records_to_table(
            "billing_accounts",
            columns=[
                "id",
                "user_id",
                "kind",
                "credit_limit_fen",
                "state",
                "in_collections",
                "close_day",
                "locale",
                "alert_level",
                "created_at",
            ],
            records=(
                (
                    a,
                    user_base + a - 1,
                    "postpaid",
                    10_000 if a in pop.low_limit else ctx.settings.billing_default_credit_limit_fen,
                    "active",
                    False,
                    1,
                    "zh-CN",
                    0,
                    created,
                )
                for a in range(1, pop.accounts + 1)
            ),
        )
        timings["users and accounts"] = time.perf_counter() - t
        t = time.perf_counter()
        orders, subscriptions = [], []
        for account_id, plans in pop.subs.items():
            for plan in plans:
                order_id = len(orders) + 1
                document = json.dumps({"kind": plan.order_kind, "products": [plan.package]})
                orders.append(
                    (
                        order_id,
                        account_id,
                        plan.order_kind,
                        user_base + account_id - 1,
                        plan.starts_at,
                        document,
                    )
                )
                subscriptions.append(
                    (
                        order_id,
                        account_id,
                        product_id[plan.package],
                        order_id,
                        plan.starts_at,
                        plan.ends_at,
                    )
                )
        await conn.copy_records_to_table(
            "billing_orders",
            columns=["id", "account_id", "kind", "placed_by", "placed_at", "document"],
            records=orders,
        )
        await conn.copy_records_to_table(
            "subscriptions",
            columns=["id", "account_id", "product_id", "order_id", "starts_at", "ends_at"],
            records=subscriptions,
        )
        timings["orders and subscriptions"] = time.perf_counter() - t
        t = time.perf_counter()
        await conn.copy_records_to_table(
            "usage_records",
            columns=[
                "id",
                "source",
                "source_id",
                "account_id",
                "user_id",
                "usage_type",
                "quantity_s",
                "started_at",
                "other_party",
                "created_at",
            ],
            records=(
                (
                    rid,
                    "bench",
                    str(rid),
                    account_id,
                    user_base + account_id - 1,
                    usage_type,
                    quantity,
                    started,
                    masked,
                    started + timedelta(seconds=quantity),
                )
                for rid, account_id, usage_type, quantity, started, masked in pop.records
            ),
        )
        timings["usage records"] = time.perf_counter() - t
        t = time.perf_counter()
        for table in (
            "users",
            "billing_accounts",
            "billing_orders",
            "subscriptions",
            "usage_records",
        ):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        # this server runs with autovacuum off: give the planner the statistics it would have
        await conn.execute("VACUUM ANALYZE")
        timings["setval, VACUUM ANALYZE"] = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute("CHECKPOINT")  # the seeding's writes are not the rating's to flush
        timings["CHECKPOINT"] = time.perf_counter() - t
    finally:
        await conn.close()
    log(
        "  seeded "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        + f" ({len(orders):,} subscriptions, {len(pop.records):,} records)"
    )
    return timings


# =============================================================================================
# Measurement
# =============================================================================================


_LABELS: dict[str, str] = {}


def statement_label(sql: str) -> str:
    """A short name for a SQL statement: verb, table, first condition (IN lists folded)."""
    found = _LABELS.get(sql)
    if found is not None:
        return found
    text = " ".join(sql.split())
    verb = text.split(" ", 1)[0].upper()
    if verb == "INSERT":
        match = re.search(r"INTO (\w+)", text)
    elif verb == "UPDATE":
        match = re.match(r"UPDATE (\w+)", text)
    else:
        match = re.search(r" FROM (\w+)", text)
    label = f"{verb} {match[1] if match else '?'}"
    where = re.search(r" WHERE ([\w.]+) (=|IN|IS|>=|<=|<|>)", text)
    if where:
        label += f" WHERE {where[1].split('.')[-1]} {where[2]}"
    if "sum(" in text.lower():
        label += " (sum)"
    if "FOR UPDATE" in text:
        label += " FOR UPDATE"
    if len(_LABELS) < 20_000:
        _LABELS[sql] = label
    return label


class Probe:
    """SQL round trips by statement kind and their wall time, and transactions (engine events)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.commits = 0
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)
        event.listen(sync, "commit", self._commit)

    def _before(self, conn: Any, *_args: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        label = statement_label(statement)
        self.count[label] += 1
        self.seconds[label] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    def _commit(self, _conn: Any) -> None:
        self.commits += 1

    def snapshot(self) -> tuple[Counter[str], Counter[str], int]:
        return Counter(self.count), Counter(self.seconds), self.commits

    def since(self, before: tuple[Counter[str], Counter[str], int]) -> dict[str, Any]:
        count, seconds, commits = before
        kinds = [
            (label, self.count[label] - count[label], self.seconds[label] - seconds[label])
            for label in self.count
            if self.count[label] > count[label]
        ]
        kinds.sort(key=lambda k: -k[2])
        return {
            "transactions": self.commits - commits,
            "statements": sum(n for _, n, _ in kinds),
            "statement_s": sum(s for _, _, s in kinds),
            "kinds": kinds,
        }


def _cpu_of(proc: Any) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def postgres_cpu() -> dict[int, tuple[float, float]]:
    """Every PostgreSQL process on the machine: pid → (created, CPU seconds)."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] != "postgres":
            continue
        with contextlib.suppress(psutil.Error):
            found[proc.pid] = (proc.create_time(), _cpu_of(proc))
    return found


def machine_busy() -> float:
    import psutil

    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


class Meters:
    """CPU over a phase: this process, this database's PostgreSQL backends (and the WAL writer,
    checkpointer and background writer), and everything else on the machine."""

    def __init__(self, admin_dsn: str, db_name: str, nice: int) -> None:
        self.admin_dsn = admin_dsn
        self.db_name = db_name
        self.nice = nice

    async def _our_pg_pids(self) -> set[int]:
        import asyncpg

        conn = await asyncpg.connect(self.admin_dsn)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 OR backend_type IN "
                "('walwriter', 'checkpointer', 'background writer')",
                self.db_name,
            )
        finally:
            await conn.close()
        return {int(r["pid"]) for r in rows}

    async def renice(self) -> None:
        """Give this database's backends (the pool opens them lazily) the bench's priority."""
        if self.nice:
            set_priority(sorted(await self._our_pg_pids()), self.nice)

    def start(self) -> None:
        self.wall0 = time.perf_counter()
        self.epoch0 = time.time()
        self.own0 = time.process_time()
        self.pg0 = postgres_cpu()
        self.busy0 = machine_busy()

    async def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall0
        own = time.process_time() - self.own0
        busy = machine_busy() - self.busy0
        ours = await self._our_pg_pids()
        pg = 0.0
        for pid, (created, cpu) in postgres_cpu().items():
            if pid not in ours:
                continue
            if pid in self.pg0:
                pg += cpu - self.pg0[pid][1]
            elif created >= self.epoch0 - 1:  # opened during the phase
                pg += cpu
        return {
            "wall_s": wall,
            "own_cpu_s": own,
            "pg_cpu_s": pg,
            "other_cpu_s": max(0.0, busy - own - pg),
        }


async def wait_for_quiet(threshold: float, max_wait: float, log: Callable[[str], None]) -> float:
    """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` % of one core."""
    started = time.perf_counter()
    other = 0.0
    while True:
        b0, c0 = machine_busy(), time.process_time()
        await asyncio.sleep(2.0)
        other = 100 * max(0.0, machine_busy() - b0 - (time.process_time() - c0)) / 2.0
        spent = time.perf_counter() - started
        if other < threshold or spent >= max_wait:
            break
    if spent > 3:
        log(f"  waited {spent:.0f} s for other load to drop (now {other:.0f}% of a core)")
    return other


class Profiler:
    """``py-spy record`` of this process during one phase (samples on CPU only)."""

    def __init__(self, py_spy: str | None, path: Path) -> None:
        self.py_spy = py_spy
        self.path = path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not self.py_spy:
            return
        cmd = [self.py_spy, "record", "--pid", str(os.getpid()), "--rate", "100", "--format"]
        cmd += ["raw", "--output", str(self.path), "--nonblocking"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)

    def stop(self) -> dict[str, Any] | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if not self.path.exists():
            return None
        summary = profile_summary(self.path)
        summary["self_functions"] = self_functions(self.path)
        summary["raw"] = str(self.path)
        return summary


def self_functions(raw: Path, top: int = 15) -> list[tuple[str, float]]:
    """Hottest leaf frames (function and file) of a ``py-spy -f raw`` profile, in %."""
    total = 0
    leaves: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not stack or not n_text.isdigit():
            continue
        total += int(n_text)
        leaf = stack.split(";")[-1]
        leaves[re.sub(r":\d+\)$", ")", leaf)] += int(n_text)
    return [(k, 100.0 * v / total) for k, v in leaves.most_common(top)] if total else []


async def measure(
    name: str,
    body: Callable[[], Any],
    probe: Probe,
    meters: Meters,
    profiler: Profiler,
    progress: Callable[[], Awaitable[str]] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Any, dict[str, Any]]:
    """Run ``body()`` as one phase: CPU, SQL round trips, transactions, optional profile."""
    before = probe.snapshot()
    watcher = asyncio.create_task(_watch(meters, progress, log))
    profiler.start()
    meters.start()
    try:
        result = await body()
    finally:
        watcher.cancel()
    cpu = await meters.stop()
    profile = profiler.stop()
    return result, {"phase": name, **cpu, **probe.since(before), "profile": profile}


async def _watch(
    meters: Meters, progress: Callable[[], Awaitable[str]] | None, log: Callable[[str], None]
) -> None:
    """During a phase: renice the backends the pool opens; report progress every 30 s."""
    ticks = 0
    while True:
        await meters.renice()
        await asyncio.sleep(5)
        ticks += 1
        if progress is not None and ticks % 6 == 0:
            log(await progress())


def rating_progress(url: str, total: int) -> Callable[[], Awaitable[str]]:
    started = time.perf_counter()

    async def progress() -> str:
        import asyncpg

        conn = await asyncpg.connect(_plain(url))
        try:
            done = await conn.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = 'usage'")
        finally:
            await conn.close()
        spent = time.perf_counter() - started
        return f"  … {done:,} of {total:,} rated after {spent:.0f} s ({done / spent:,.0f}/s)"

    return progress


# =============================================================================================
# The independent computation
# =============================================================================================


def billed_seconds(duration_s: int, increment: str) -> int:
    first, following = (int(x) for x in increment.split("/"))
    if duration_s <= 0:
        return 0
    if duration_s <= first:
        return first
    increments = (duration_s - first + following - 1) // following
    return first + increments * following


def half_up(amount: Fraction) -> int:
    return int((2 * amount.numerator + amount.denominator) // (2 * amount.denominator))


def package_in_force(plans: list[SubPlan], moment: datetime) -> str:
    for plan in plans:
        if plan.starts_at <= moment and (plan.ends_at is None or moment < plan.ends_at):
            return plan.package
    return PAYG.code


def version_on(versions: list[Version], day: date) -> Version:
    return [v for v in versions if v.effective_on <= day][-1]


@dataclass(frozen=True)
class Charge:
    amount_fen: int
    billed_s: int
    allowance_s: int
    price_id: int


def expected_charges(pop: Population, versions: dict[str, list[Version]]) -> dict[int, Charge]:
    """Every record's charge: the package in force when it started, that day's price version,
    the cycle's allowance used in record order (billed seconds), the rest charged with the
    connect fee, rounded half-up once."""
    used: defaultdict[tuple[int, str, str], int] = defaultdict(int)
    per_minute = {
        (v.price_id, t): Fraction(r["per_minute_fen"])
        for vs in versions.values()
        for v in vs
        for t, r in v.rates.items()
    }
    charges = {}
    for rid, account_id, usage_type, quantity, started, _ in pop.records:
        package = package_in_force(pop.subs.get(account_id, []), started)
        local_day = started.astimezone(TZ).date()
        version = version_on(versions[package], local_day)
        rate = version.rates[usage_type]
        billed = billed_seconds(quantity, rate["increment"])
        key = (account_id, f"{local_day:%Y-%m}", usage_type)
        covered = min(billed, max(0, version.allowances.get(usage_type, 0) - used[key]))
        used[key] += covered
        charged = billed - covered
        amount = 0
        if charged:
            exact = (
                rate["connect_fee_fen"] + per_minute[version.price_id, usage_type] * charged / 60
            )
            amount = half_up(exact)
        charges[rid] = Charge(amount, billed, covered, version.price_id)
    return charges


def expected_rent(pop: Population, versions: dict[str, list[Version]]) -> dict[int, int]:
    """November in advance: the full monthly fee of every package still on at October's end."""
    end = MONTH_END.astimezone(UTC)
    rent: dict[int, int] = {}
    for account_id, plans in pop.subs.items():
        for plan in plans:
            if plan.starts_at <= end and (plan.ends_at is None or plan.ends_at > end):
                fee = version_on(versions[plan.package], MONTH_END.date()).monthly_fee_fen
                if fee:
                    rent[account_id] = rent.get(account_id, 0) + fee
    return rent


async def check_rating(url: str, charges: dict[int, Charge]) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(_plain(url))
    try:
        rows = await conn.fetch(
            "SELECT usage_id, amount_fen, billed_s, allowance_s, price_id FROM ledger_entries "
            "WHERE kind = 'usage'"
        )
        # a record is rated when its usage entry exists (whether or not it has a rated flag)
        unrated = await conn.fetchval(
            "SELECT count(*) FROM usage_records u WHERE NOT EXISTS "
            "(SELECT 1 FROM ledger_entries le WHERE le.usage_id = u.id AND le.kind = 'usage')"
        )
    finally:
        await conn.close()
    seen: set[int] = set()
    differing = []
    ledger_total = 0
    for usage_id, amount, billed, allowance, price_id in rows:
        ledger_total += amount
        seen.add(usage_id)
        want = charges.get(usage_id)
        got = Charge(amount, billed, allowance, price_id)
        if want != got:
            differing.append((usage_id, want, got))
    expected_total = sum(c.amount_fen for c in charges.values())
    return {
        "records": len(charges),
        "entries": len(rows),
        "unrated": int(unrated),
        "missing": len(set(charges) - seen),
        "duplicates": len(rows) - len(seen),
        "differing": len(differing),
        "examples": [f"usage {u}: expected {w}, ledger {g}" for u, w, g in differing[:5]],
        "ledger_total_fen": ledger_total,
        "expected_total_fen": expected_total,
        "difference_fen": ledger_total - expected_total,
        "charged_records": sum(c.amount_fen > 0 for c in charges.values()),
        "allowance_records": sum(c.allowance_s > 0 for c in charges.values()),
    }


async def timed_sql(url: str, sql: str) -> float:
    import asyncpg

    conn = await asyncpg.connect(_plain(url))
    try:
        t = time.perf_counter()
        await conn.execute(sql)
        return time.perf_counter() - t
    finally:
        await conn.close()


async def table_counts(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(_plain(url))
    try:
        tables = ("ledger_entries", "statements", "statement_lines", "billing_notices")
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in tables}
    finally:
        await conn.close()


async def check_statements(
    url: str, charges: dict[int, Charge], rent: dict[int, int], pop: Population
) -> dict[str, Any]:
    """Each statement = previous balance + its lines; the sum over all statements = the ledger
    (SQL) = the independent usage charges plus rent (Python), account by account."""
    import asyncpg

    conn = await asyncpg.connect(_plain(url))
    try:
        rows = await conn.fetch(
            "SELECT st.account_id, st.previous_balance_fen, st.payments_fen, st.charges_fen, "
            "st.total_due_fen, count(sl.id) AS lines, coalesce(sum(le.amount_fen), 0) AS line_sum "
            "FROM statements st LEFT JOIN statement_lines sl ON sl.statement_id = st.id "
            "LEFT JOIN ledger_entries le ON le.id = sl.entry_id "
            "WHERE st.kind = 'cycle' AND st.cycle = $1 GROUP BY st.id",
            MONTH,
        )
        ledger_sum, ledger_count = await conn.fetchrow(
            "SELECT coalesce(sum(amount_fen), 0), count(*) FROM ledger_entries"
        )
        rent_sum, rent_count = await conn.fetchrow(
            "SELECT coalesce(sum(amount_fen), 0), count(*) FROM ledger_entries WHERE kind = 'rent'"
        )
        unbilled = await conn.fetchval(
            "SELECT count(*) FROM ledger_entries le WHERE NOT EXISTS "
            "(SELECT 1 FROM statement_lines sl WHERE sl.entry_id = le.id)"
        )
    finally:
        await conn.close()
    expected: dict[int, int] = defaultdict(int)
    for rid, account_id, *_ in pop.records:
        expected[account_id] += charges[rid].amount_fen
    for account_id, fee in rent.items():
        expected[account_id] += fee
    inconsistent = [
        r["account_id"]
        for r in rows
        if r["total_due_fen"] != r["previous_balance_fen"] + r["line_sum"]
        or r["payments_fen"] + r["charges_fen"] != r["line_sum"]
    ]
    got = {r["account_id"]: r["total_due_fen"] for r in rows}
    differing = [a for a in set(expected) | set(got) if got.get(a) != expected.get(a)]
    total_due = sum(got.values())
    return {
        "statements": len(rows),
        "expected_statements": len(expected),
        "lines": sum(r["lines"] for r in rows),
        "inconsistent": len(inconsistent),
        "accounts_differing": len(differing),
        "examples": [
            f"account {a}: statement {got.get(a)}, expected {expected.get(a)}"
            for a in sorted(differing)[:5]
        ],
        "total_due_fen": total_due,
        "ledger_sum_fen": int(ledger_sum),
        "expected_sum_fen": sum(expected.values()),
        "difference_ledger_fen": total_due - int(ledger_sum),
        "difference_expected_fen": total_due - sum(expected.values()),
        "ledger_entries": int(ledger_count),
        "entries_on_no_statement": int(unbilled),
        "rent_entries": int(rent_count),
        "rent_fen": int(rent_sum),
        "expected_rent_entries": len(rent),
        "expected_rent_fen": sum(rent.values()),
    }


# =============================================================================================
# The run
# =============================================================================================


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from yuntong.billing.ledger.rating import BATCH, do_rate_pending
    from yuntong.billing.statements.statements import CHUNK, do_close_cycle
    from yuntong.core.logging import configure_logging
    from yuntong.core.migrate import upgrade

    configure_logging("WARNING", json=False)
    set_priority([os.getpid()], args.nice)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f}s] {msg}", flush=True)

    source = source_state()
    workdir = Path(tempfile.mkdtemp(prefix="yuntong-billing-bench-"))
    created = not args.database_url
    url = await create_database(args.pg_dsn) if created else _async(args.database_url)
    db_name = url.rsplit("/", 1)[1].split("?")[0]
    log(f"database {db_name} ({'created' if created else 'given'}); work files in {workdir}")
    out: dict[str, Any] = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": " ".join(shlex.quote(a) for a in ["python", "bench/billing.py", *sys.argv[1:]]),
        "source": source,
        "machine": machine_info(),
        "args": {
            "records": args.records,
            "accounts": args.accounts,
            "seed": args.seed,
            "nice": args.nice,
            "analyze_before_close": args.analyze_before_close,
        },
        "batch": BATCH,
        "chunk": CHUNK,
    }
    ctx = None
    try:
        out["database"] = await database_info(url)
        t = time.perf_counter()
        await asyncio.to_thread(upgrade, url)
        out["migrate_s"] = time.perf_counter() - t
        ctx = build_bench_context(url, workdir / "var")
        out["rating_parallel"] = ctx.settings.billing_rating_parallel
        t = time.perf_counter()
        versions = await create_catalog(ctx)
        out["catalog_s"] = time.perf_counter() - t
        t = time.perf_counter()
        pop = plan_population(args.accounts, args.records, args.seed)
        out["plan_s"] = time.perf_counter() - t
        out["population"] = pop.notes
        log(
            f"planned {args.accounts:,} accounts and {args.records:,} records "
            f"in {out['plan_s']:.1f} s"
        )
        out["seed"] = await seed(ctx, url, pop, log)
        ctx.clock.set(RUN_AT.astimezone(UTC))
        t = time.perf_counter()
        charges = expected_charges(pop, versions)
        rent = expected_rent(pop, versions)
        out["expected_s"] = time.perf_counter() - t
        log(f"independent computation of every charge: {out['expected_s']:.1f} s")

        probe = Probe(ctx.db.engine)
        meters = Meters(args.pg_dsn, db_name, args.nice)
        spy = args.py_spy

        log("rating …")
        out["quiet_before_rating"] = await wait_for_quiet(
            args.quiet_threshold, args.quiet_wait, log
        )
        rated, out["rating"] = await measure(
            "rating",
            lambda: do_rate_pending(ctx),
            probe,
            meters,
            Profiler(spy, workdir / "rating.pyspy.txt"),
            rating_progress(url, args.records),
            log,
        )
        out["rating"]["rated"] = rated
        r = out["rating"]
        log(
            f"  rated {rated:,} in {r['wall_s']:.1f} s = {rated / r['wall_s']:,.0f} records/s "
            f"(python {r['own_cpu_s']:.0f} s CPU, postgres {r['pg_cpu_s']:.0f} s CPU)"
        )
        out["rating_check"] = await check_rating(url, charges)
        c = out["rating_check"]
        log(f"  check: {c['differing']} records differ, total difference {c['difference_fen']} fen")

        # a month passes between rating and the close: the rating's dirty pages would long
        # have been flushed, so the close does not pay for a checkpoint of the rating's writes
        out["checkpoint_s"] = await timed_sql(url, "CHECKPOINT")
        log(
            "  CHECKPOINT (the rating's writes flushed, as during the month): "
            f"{out['checkpoint_s']:.1f} s"
        )
        if args.analyze_before_close:
            out["analyze_s"] = await timed_sql(url, "VACUUM ANALYZE")
            log(
                "  VACUUM ANALYZE (as autovacuum would have during the month): "
                f"{out['analyze_s']:.1f} s"
            )
        log("closing the cycle …")
        out["quiet_before_close"] = await wait_for_quiet(args.quiet_threshold, args.quiet_wait, log)
        marks = max(1, args.accounts // 10)

        def progress_close(done: int, total: int) -> None:
            if done % marks < CHUNK or done == total:
                log(f"  … {done:,} of {total:,} accounts")

        result, out["close"] = await measure(
            "close",
            lambda: do_close_cycle(ctx, MONTH, on_progress=progress_close),
            probe,
            meters,
            Profiler(spy, workdir / "close.pyspy.txt"),
            log=log,
        )
        out["close"]["result"] = vars(result)
        log(f"  closed in {out['close']['wall_s']:.1f} s: {vars(result)}")
        out["close_check"] = await check_statements(url, charges, rent, pop)
        c = out["close_check"]
        log(
            f"  check: {c['inconsistent']} inconsistent statements, {c['accounts_differing']} "
            f"accounts differ, Σ statements − Σ ledger = {c['difference_ledger_fen']} fen"
        )
        before = await table_counts(url)
        result2, out["close_again"] = await measure(
            "close again",
            lambda: do_close_cycle(ctx, MONTH),
            probe,
            meters,
            Profiler(None, workdir / "unused"),
            log=log,
        )
        after = await table_counts(url)
        out["close_again"]["result"] = vars(result2)
        out["close_again"]["counts_before"] = before
        out["close_again"]["counts_after"] = after
        log(f"  second close in {out['close_again']['wall_s']:.1f} s: {vars(result2)}")
    finally:
        if ctx is not None:
            await ctx.db.dispose()
        if created and not args.keep_database:
            await drop_database(args.pg_dsn, url)
        elif created:
            log(f"database kept: {url}")
    out["total_s"] = time.perf_counter() - started
    return out


# =============================================================================================
# Report
# =============================================================================================


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _pct(seconds: float, wall: float) -> str:
    return f"{100 * seconds / wall:.0f}%" if wall > 0 else "–"


def _phase_table(phases: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| phase | wall | Python CPU (this process) | PostgreSQL CPU | other processes | "
        "transactions | SQL round trips | time in SQL round trips |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        w = p["wall_s"]
        lines.append(
            f"| {p['phase']} | {w:,.1f} s | {p['own_cpu_s']:,.1f} s ({_pct(p['own_cpu_s'], w)}) | "
            f"{p['pg_cpu_s']:,.1f} s ({_pct(p['pg_cpu_s'], w)}) | "
            f"{p['other_cpu_s']:,.1f} s ({_pct(p['other_cpu_s'], w)}) | {p['transactions']:,} | "
            f"{p['statements']:,} | {p['statement_s']:,.1f} s ({_pct(p['statement_s'], w)}) |"
        )
    return lines


def _statement_table(phase: dict[str, Any], per: int, noun: str) -> list[str]:
    lines = [
        f"| statement ({phase['phase']}) | round trips | per 1,000 {noun} | time "
        "| per round trip |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, n, seconds in phase["kinds"][:12]:
        lines.append(
            f"| `{label}` | {n:,} | {1000 * n / max(1, per):,.1f} | {seconds:,.1f} s | "
            f"{1000 * seconds / n:.2f} ms |"
        )
    return lines


def _profile_lines(phase: dict[str, Any]) -> list[str]:
    prof = phase.get("profile")
    if not prof or not prof.get("samples"):
        return []
    return [
        f"Profile of this process during {phase['phase']} (py-spy, samples on CPU only, "
        f"{prof['samples']:,} samples). Self time by package: "
        + ", ".join(f"{k} {v:.0f}%" for k, v in prof["self_by_package"][:10])
        + ". Hottest functions (self):",
        "",
        *(f"- {v:4.1f}% `{k}`" for k, v in prof["self_functions"][:12]),
        "",
        "Yuntong functions, inclusive (code running inside SQLAlchemy's greenlet is not "
        "attributed to its Yuntong caller):",
        "",
        *(f"- {v:4.1f}% `{k}`" for k, v in prof["yuntong_inclusive"][:12]),
        "",
    ]


def render(run: dict[str, Any]) -> str:
    m, db, a = run["machine"], run["database"], run["args"]
    rating, rc = run["rating"], run["rating_check"]
    close, cc, again = run["close"], run["close_check"], run["close_again"]
    rate = rating["rated"] / rating["wall_s"]
    close_ok = cc["inconsistent"] == 0 and cc["accounts_differing"] == 0
    sums_ok = cc["difference_ledger_fen"] == 0 and cc["difference_expected_fen"] == 0
    rating_ok = rc["differing"] == 0 and rc["difference_fen"] == 0 and not rc["missing"]
    unchanged = again["counts_before"] == again["counts_after"] and again["result"]["issued"] == 0
    pop = run["population"]
    q = pop["quantity_s"]
    lines = [
        SECTION_START,
        "## Billing (rating and cycle close, PostgreSQL)",
        "",
        f"Run {run['date']} — `{run['command']}` — {run['total_s'] / 60:.1f} min.",
        "",
        f"Code at the start of the run: {run['source']}.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, Python {m['python']}, "
        f"Linux {m['kernel']}. PostgreSQL {db['server_version']} on the same machine "
        f"(shared_buffers {db['shared_buffers']}, work_mem {db['work_mem']}, synchronous_commit "
        f"{db['synchronous_commit']}, fsync {db['fsync']}, max_wal_size {db['max_wal_size']}, "
        f"autovacuum {db['autovacuum']}); this process and PostgreSQL share the CPUs. "
        f"Rating in {run.get('rating_parallel', 1)} account shares at once "
        "(`YUNTONG_BILLING_RATING_PARALLEL`).",
        "",
        "### Against the targets",
        "",
        "| | measured | target | |",
        "|---|---:|---:|---|",
        f"| rating {rating['rated']:,} records, end to end | {rate:,.0f} records/s "
        f"({rating['wall_s']:,.1f} s) | ≥ {TARGET_RATE:,} records/s | "
        f"{_verdict(rate >= TARGET_RATE)} |",
        f"| closing {MONTH} for {a['accounts']:,} accounts | {close['wall_s']:,.1f} s | "
        f"≤ {TARGET_CLOSE_S:.0f} s | {_verdict(close['wall_s'] <= TARGET_CLOSE_S)} |",
        f"| rated records differing from the independent computation | {rc['differing']:,} "
        f"(total {rc['difference_fen']:+,} fen) | 0 | {_verdict(rating_ok)} |",
        f"| statements differing (per account; total due ≠ previous + lines) | "
        f"{cc['accounts_differing']:,}; {cc['inconsistent']:,} | 0 | {_verdict(close_ok)} |",
        f"| Σ statements − Σ ledger; − independent Σ | {cc['difference_ledger_fen']:+,} fen; "
        f"{cc['difference_expected_fen']:+,} fen | 0 | {_verdict(sums_ok)} |",
        f"| second close: statements issued, rows changed | {again['result']['issued']}, "
        f"{'none' if unchanged else 'some'} ({again['wall_s']:.1f} s) | 0, none | "
        f"{_verdict(unchanged)} |",
        "",
        "### Data",
        "",
        f"{a['accounts']:,} subscriber accounts (postpaid, close day 1, so cycle {MONTH} is the "
        f"calendar month in Asia/Shanghai), each with its user; "
        + ", ".join(f"{v:,} {k}" for k, v in sorted(pop["plans"].items()))
        + f"; {pop['low_limit_accounts']:,} with a 100-yuan credit limit (the rest 500). "
        "Catalog made through `catalog.do_create_product` / `do_set_price` by a staff user: "
        "pay as you go (default package; audio 0.15 yuan/min 60/60, video 0.30 yuan/min 6/6 "
        "+ 0.10 connect fee), basic (19 yuan, 30 audio min; from 16 October a new version: "
        "21 yuan, audio 0.095/min + 0.03 connect fee, video 0.1875/min), plus (39 yuan, 120 audio "
        "and 30 video min; connect fees 0.05 and 0.10), pro (88 yuan, 500 and 100 min, 0.0555 "
        "and 0.0999 yuan/min).",
        "",
        f"{a['records']:,} call records (`usage_records`, source `bench`) over "
        f"{pop['accounts_with_records']:,} accounts (log-normal calls per account, 5% of the "
        f"accounts silent), {100 * pop['video_share']:.0f}% video, started uniformly over the "
        f"month, ids in start order. Duration: mean {q['mean']:.0f} s, median {q['p50']} s, p90 "
        f"{q['p90']} s, p99 {q['p99']} s, max {q['max']} s, {100 * q['share_0_1s']:.1f}% of "
        "0–1 s.",
        "",
        "Seeding (not measured): catalog through the services "
        f"{run['catalog_s']:.1f} s (one argon2id staff user); "
        + ", ".join(f"{k} {v:.1f} s" for k, v in run["seed"].items())
        + " (COPY through asyncpg). The server runs with autovacuum off, so the bench runs "
        "`VACUUM ANALYZE` after seeding (every record unrated, ledger and statements empty), "
        "then `CHECKPOINT`"
        + (
            f"; `CHECKPOINT` again after rating ({run['checkpoint_s']:.1f} s, not measured), as "
            "the month would have flushed the rating's writes before the close"
            if "checkpoint_s" in run
            else ""
        )
        + "; "
        + (
            f"`VACUUM ANALYZE` again after rating ({run['analyze_s']:.1f} s, not measured), as "
            "autovacuum would have during the month (PostgreSQL vacuums insert-only tables "
            "too); nothing during the measured phases."
            if a.get("analyze_before_close")
            else "no statistics are taken after that: the rating and the close run with the "
            "planner statistics of the seeded database."
        ),
        "",
        "### Where the time goes",
        "",
        *_phase_table([rating, close, again]),
        "",
        "CPU columns are CPU seconds over the phase and % of one core (200% = both cores). "
        "“PostgreSQL” is this database's backends plus the WAL writer, checkpointer and background "
        "writer; “other” is everything else on the machine. “Time in SQL round trips” is the wall "
        "time between SQLAlchemy's before/after cursor-execute events (the statement's trip to "
        "PostgreSQL and back, waiting included; COPY through the raw driver is not seen).",
        "",
        *_statement_table(rating, rating["rated"], "records"),
        "",
        *_statement_table(close, a["accounts"], "accounts"),
        "",
        *_profile_lines(rating),
        *_profile_lines(close),
        "### Checks",
        "",
        f"Rating: {rc['entries']:,} usage entries for {rc['records']:,} records ({rc['missing']} "
        f"missing, {rc['duplicates']} doubled, {rc['unrated']} records left unrated); "
        f"{rc['charged_records']:,} records charged, {rc['allowance_records']:,} used an "
        f"allowance. Amount, billed seconds, allowance seconds and price version compared record "
        f"by record: {rc['differing']} differ. Ledger total {rc['ledger_total_fen']:,} fen, "
        f"independent total {rc['expected_total_fen']:,} fen.",
        "",
        f"Close: {close['result']['issued']:,} statements issued, {close['result']['empty']:,} "
        f"accounts with nothing to bill ({cc['expected_statements']:,} expected); "
        f"{cc['lines']:,} statement lines; {cc['entries_on_no_statement']} ledger entries on no "
        f"statement; rent in advance for November: {cc['rent_entries']:,} entries, "
        f"{cc['rent_fen']:,} fen (expected {cc['expected_rent_entries']:,}, "
        f"{cc['expected_rent_fen']:,} fen). Σ total due {cc['total_due_fen']:,} fen; Σ ledger "
        f"(SQL) {cc['ledger_sum_fen']:,} fen; independent Σ {cc['expected_sum_fen']:,} fen.",
        "",
        f"Second close: {again['result']}; rows before {again['counts_before']}, after "
        f"{again['counts_after']}.",
        "",
    ]
    for title, examples in (("rating", rc["examples"]), ("statements", cc["examples"])):
        if examples:
            lines += [f"Differences ({title}), first ones:", "", *(f"- {e}" for e in examples), ""]
    if run.get("findings"):
        lines += ["### Findings", "", run["findings"].strip(), ""]
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


def write_results(path: Path, section: str) -> None:
    write_section(path, SECTION_START, SECTION_END, section)


# =============================================================================================
# Main
# =============================================================================================


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Yuntong billing benchmark: rating and cycle close on PostgreSQL, checked."
    )
    parser.add_argument("--records", type=int, default=1_000_000, help="call records to rate")
    parser.add_argument("--accounts", type=int, default=100_000, help="accounts (one user each)")
    parser.add_argument("--quick", action="store_true", help="10x smaller, for a smoke run")
    parser.add_argument(
        "--database-url",
        default=None,
        help="an empty PostgreSQL database to use (default: create yt_bench_<random>, drop it)",
    )
    parser.add_argument(
        "--pg-dsn", default=DEFAULT_PG, help="server where the fresh database is created"
    )
    parser.add_argument(
        "--analyze-before-close",
        action="store_true",
        help="ANALYZE after rating, as autovacuum would have during the month (this server "
        "runs with autovacuum off); default: statistics as of the seeding",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    parser.add_argument("--seed", type=int, default=20261101, help="random seed of the data")
    parser.add_argument(
        "--py-spy", default=None, help="path to py-spy: profile this process during each phase"
    )
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=25.0,
        help="CPU %% (of one core) other processes may use before a phase starts",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="longest wait for a quiet machine, s"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="priority for this process and its PostgreSQL backends (e.g. -5; root)",
    )
    parser.add_argument("--out", default=str(BENCH / "RESULTS.md"), help="results file ('' = none)")
    parser.add_argument("--json", default=None, help="also dump raw results as JSON here")
    parser.add_argument(
        "--from-json", default=None, help="do not measure: render a --json dump into --out"
    )
    parser.add_argument(
        "--findings", default=None, help="a Markdown file to include as the Findings section"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.records //= 10
        args.accounts //= 10
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
    else:
        result = asyncio.run(run(args))
    if args.findings:
        result["findings"] = Path(args.findings).read_text()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    section = render(result)
    if args.out:
        write_results(Path(args.out), section)
    print(section)
    if args.out:
        print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
