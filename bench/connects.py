"""Reconnect storms (issue 13): how fast one node takes authenticated ``/ws`` sessions, what a
connect costs it, and whether the calls already running notice.

Client processes open authenticated ``/ws`` sessions (``Authorization: Bearer``, a device id,
each session its own user, never seen by the node before: what the survivors of a dead node
see) as fast as they can (``--rates max``: ``--concurrency`` connects in flight per process) or
at offered rates (open loop), for ``--duration`` seconds, and keep them open. A connect is
done when its ``hello`` arrives; one answered ``node_busy`` (admission control) waits out the
hint and tries again, as the real clients do, and is counted as a shed. With ``--resume`` the
sessions of each step are then dropped (no close frame, as when a network path dies) and
reconnected with ``resume`` + ``last_seq`` within the reconnect grace (``hello.resumed``).

Against, side by side in the same run (the order alternating over ``--rounds``):

* ``relay`` — bench/baseline_relay.py, the bare ``websockets`` relay (no authentication);
* ``sqlite`` — one ``yuntong serve`` node, embedded SQLite, in-process bus (the default);
* ``pg`` — one node on PostgreSQL and Redis (tests/support/cluster.py).

``--variant NAME=SRC`` (repeatable) runs every Yuntong target once per source tree (the server
started with ``PYTHONPATH=SRC``), to compare a change with the code before it in one run.

Per step: connects/s achieved, p50/p99 connect → ``hello`` (of the attempt that got in, and
from the first attempt including the waits after ``node_busy``), sheds, errors, CPU of the
server process (utime + stime from /proc) per connect, of PostgreSQL and Redis, and the ratio
to the relay. Meanwhile a few call set-ups per second (``--call-rate``) run on sessions opened
before the storm: their p50/p99 during the storm against a step of the same calls without it.

Run from the repository root (PostgreSQL as for bench/signaling.py, ``--pg-dsn``)::

    python bench/connects.py                              # relay, SQLite, PG+Redis (~5 min)
    python bench/connects.py --targets relay,sqlite --rounds 1 --duration 5
    python bench/connects.py --help

Results are printed and, with ``--out``, written into bench/RESULTS.md between the
``connects`` markers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cluster import (
    ClusterConfig,
    ProcCpu,
    SqliteConfig,
    dump,
    loadavg,
    node_env,
    start_run,
)
from results_file import report  # bench/, beside this script
from signaling import (
    ROOT,
    BaselineTarget,
    Pool,
    SystemMeter,
    merge_step,
    percentile,
    profile_summary,
    raise_nofile,
    serve_commands,
    split,
    wait_idle,
)

SECTION_START = "<!-- connects:start -->"
SECTION_END = "<!-- connects:end -->"
TARGETS = {
    "relay": "bare websockets relay (bench/baseline_relay.py)",
    "sqlite": "1 node, SQLite, in-process bus (embedded default)",
    "pg": "1 node, PostgreSQL + Redis",
}
SHED_RETRIES = 20


# =============================================================================================
# Client side: the storm, in worker processes (spawned)
# =============================================================================================


class StormWorker:
    """Opens sessions as ordered, keeps them (reading what they are sent), drops them."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.held: dict[str, Any] = {}  # token → socket
        self.readers: list[asyncio.Task[None]] = []
        self.resume: dict[str, tuple[str, int]] = {}  # token → (resume token, last seq)

    async def _open(self, url: str, token: str, resume: bool, timeout: float) -> dict[str, Any]:
        """One session until its ``hello``; retried after ``node_busy`` as clients do."""
        from websockets.asyncio.client import connect

        query = "device=bench"
        if resume and token in self.resume:
            resume_token, last_seq = self.resume[token]
            query += f"&resume={resume_token}&last_seq={last_seq}"
        first_try = time.perf_counter()
        sheds = 0
        for _ in range(SHED_RETRIES):
            t0 = time.perf_counter()
            ws = await connect(
                f"{url}?{query}",
                additional_headers={"Authorization": f"Bearer {token}"},
                ping_interval=None,
                open_timeout=timeout,
                close_timeout=2,
                compression="deflate",  # offered, as browsers do; each server decides
            )
            first = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            now = time.perf_counter()
            data = first.get("data") or {}
            if first.get("type") == "hello":
                self.held[token] = ws
                self.resume[token] = (str(data.get("resume_token", "")), int(data["last_seq"]))
                self.readers.append(asyncio.create_task(self._read(token, ws)))
                return {
                    "ms": (now - t0) * 1000,
                    "total_ms": (now - first_try) * 1000,
                    "sheds": sheds,
                    "resumed": bool(data.get("resumed")),
                    "wall": time.time(),
                }
            await ws.close()
            if first.get("type") == "error" and data.get("code") == "node_busy":
                sheds += 1
                await asyncio.sleep(float(data.get("retry_after") or 1))
                continue
            raise RuntimeError(f"no_hello:{first.get('type')}:{data.get('code')}")
        raise RuntimeError("no_hello:node_busy")

    async def _read(self, token: str, ws: Any) -> None:
        """Read what the session is sent, keeping its last seq for a resume."""
        with contextlib.suppress(Exception):
            async for raw in ws:
                seq = json.loads(raw).get("seq")
                if seq is not None:
                    resume_token, _ = self.resume[token]
                    self.resume[token] = (resume_token, int(seq))

    async def cmd_storm(
        self,
        url: str,
        tokens: list[str],
        rate: float,
        concurrency: int,
        duration: float,
        start_wall: float,
        resume: bool,
        timeout: float,
    ) -> dict[str, Any]:
        """Connect ``tokens`` from ``start_wall`` for ``duration`` s: at ``rate``/s (open loop),
        or as fast as ``concurrency`` connects in flight allow (``rate`` 0)."""
        loop = asyncio.get_running_loop()
        start = loop.time() + (start_wall - time.time())
        end = start + duration
        if resume:  # the sessions this worker opened before
            tokens = [t for t in tokens if t in self.resume]
        done: list[dict[str, Any]] = []
        errors: Counter[str] = Counter()
        started: list[float] = []

        async def one(token: str) -> None:
            started.append(time.time())
            try:
                done.append(await self._open(url, token, resume, timeout))
            except Exception as exc:
                errors[str(exc)[:60] or type(exc).__name__] += 1

        await asyncio.sleep(max(0.0, start - loop.time()))
        if rate > 0:
            tasks = []
            for k, token in enumerate(tokens):
                due = start + k / rate
                if due >= end:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                tasks.append(asyncio.create_task(one(token)))
            if tasks:
                await asyncio.wait(tasks)
        else:
            queue = iter(tokens)

            async def lane() -> None:
                for token in queue:
                    if loop.time() >= end:
                        return
                    await one(token)

            await asyncio.gather(*(lane() for _ in range(concurrency)))
        return {
            "connects": done,
            "errors": dict(errors),
            "attempted": len(started),
            "first_start": min(started) if started else 0.0,
        }

    async def cmd_drop(self) -> dict[str, Any]:
        """Every session's connection dies without a close frame (the server's grace starts)."""
        for ws in self.held.values():
            with contextlib.suppress(Exception):
                ws.transport.abort()
        return await self._forget()

    async def cmd_close_all(self) -> dict[str, Any]:
        """Close every session (1000: the server drops the devices at once)."""
        sem = asyncio.Semaphore(200)

        async def close(ws: Any) -> None:
            async with sem:
                with contextlib.suppress(Exception):
                    await ws.close()

        await asyncio.gather(*(close(ws) for ws in self.held.values()))
        self.resume.clear()
        return await self._forget()

    async def _forget(self) -> dict[str, Any]:
        for task in self.readers:
            task.cancel()
        n = len(self.held)
        self.held.clear()
        self.readers.clear()
        return {"sessions": n}


def storm_worker_main(conn: Any, index: int) -> None:
    raise_nofile()
    worker = StormWorker(conn)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_commands(worker, conn))
    else:
        uvloop.run(serve_commands(worker, conn))


# =============================================================================================
# Targets
# =============================================================================================


class Relay(BaselineTarget):
    config = "relay"
    variant = ""

    async def start_async(self) -> None:
        await asyncio.to_thread(self.start)

    def server_pids(self) -> list[int]:
        return [self.pid]

    def redis_pid(self) -> int | None:
        return None

    def log_problems(self) -> list[str]:
        return []


def make_target(name: str, variant: str, src: str, args: argparse.Namespace, work: Path) -> Any:
    if name == "relay":
        return Relay()
    env = {"YUNTONG_RECONNECT_GRACE_S": str(args.grace), **node_env(args)}
    if src:
        env["PYTHONPATH"] = f"{Path(src).resolve()}{os.pathsep}{ROOT}"
    target: Any
    if name == "sqlite":
        target = SqliteConfig(args.pg_dsn, work)
        target.env = env
    else:
        target = ClusterConfig("pg", 1, args.pg_dsn, work, **env)
    target.config = name
    target.variant = variant
    target.billing = False  # the calls during the storm are a probe: credit control unneeded
    return target


async def last_seen_long_ago(target: Any) -> None:
    """Every login session was last seen an hour ago, as a dead node's sessions were (their
    sockets stayed open): each connect writes ``last_seen_at`` (at most once a minute), as in
    a real storm, not only the sessions the seeding happened to touch."""
    from datetime import timedelta

    from sqlalchemy import update

    from yuntong.accounts.models import LoginSession

    ctx = await target.server.context()
    try:
        async with ctx.db.session() as s:
            hour_ago = ctx.clock.now() - timedelta(hours=1)
            await s.execute(update(LoginSession).values(last_seen_at=hour_ago))
    finally:
        await target.server.aclose()


def pids_of(target: Any, pool: Pool, storm: Pool) -> dict[str, list[int]]:
    redis = target.redis_pid()
    return {
        "server": target.server_pids(),
        "redis": [redis] if redis else [],
        "storm_clients": storm.pids,
        "call_clients": pool.pids,
    }


# =============================================================================================
# Steps
# =============================================================================================


class Meter:
    """CPU seconds of the benchmark's processes over a step, and the whole machine's."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.meters = {name: ProcCpu(p) for name, p in pids.items()}
        self.system = SystemMeter()
        self.t0 = 0.0

    def start(self) -> None:
        for meter in self.meters.values():
            meter.start()
        self.system.start()
        self.t0 = time.perf_counter()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        out = {f"{name}_cpu_s": meter.stop() for name, meter in self.meters.items()}
        ours = sum(out.values())
        out["wall_s"] = wall
        out["other_cpu_pct"] = max(0.0, self.system.stop() - 100 * ours / wall)
        return out


async def calls_alone(
    target: Any, pool: Pool, storm: Pool, args: argparse.Namespace
) -> dict[str, Any]:
    """The probe calls without a storm: their latency, and the server CPU they use per s."""
    pids = {**pids_of(target, pool, storm), "db": await target.db_pids()}
    meter = Meter(pids)
    meter.start()
    parts = await pool.run("run_step", _call_plan(pool, args))
    cpu = meter.stop()
    result = merge_step(args.call_rate, args.duration, parts)
    result["server_cpu_per_s"] = cpu["server_cpu_s"] / cpu["wall_s"]
    result["db_cpu_per_s"] = cpu["db_cpu_s"] / cpu["wall_s"]
    result["redis_cpu_per_s"] = cpu["redis_cpu_s"] / cpu["wall_s"]
    await pool.all("reset_pairs", timeout=args.timeout)
    return result


def _call_plan(pool: Pool, args: argparse.Namespace, delay: float = 0.3) -> list[dict[str, Any]]:
    start = time.time() + delay
    rate = args.call_rate
    return [
        {
            "rate": rate / pool.size,
            "duration": args.duration,
            "start_wall": start + i / rate,
            "timeout": args.timeout,
        }
        for i in range(pool.size)
    ]


async def storm_step(
    target: Any,
    pool: Pool,
    storm: Pool,
    tokens: list[str],
    rate: float,
    resume: bool,
    quiet_calls: dict[str, Any],
    args: argparse.Namespace,
    profile: Path | None,
) -> dict[str, Any]:
    """One storm of connects, with the probe calls running through it."""
    pids = {**pids_of(target, pool, storm), "db": await target.db_pids()}
    meter = Meter(pids)
    spy = None
    if profile is not None and args.py_spy:
        spy = await asyncio.create_subprocess_exec(
            args.py_spy,
            *("record", "--gil", "--nonblocking", "-r", "100", "-f", "raw"),
            *("-d", str(int(args.duration)), "-o", str(profile)),
            *("-p", str(target.server_pids()[0])),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    meter.start()
    start = time.time() + 0.5
    storm_plan = [
        {
            "url": target.ws_url,
            "tokens": part,
            "rate": rate / storm.size,
            "concurrency": args.concurrency,
            "duration": args.duration,
            "start_wall": start + (i / rate if rate else 0.0),
            "resume": resume,
            "timeout": args.timeout * 6,
        }
        for i, part in enumerate(split(tokens, storm.size))
    ]
    parts, calls = await asyncio.gather(
        storm.run("storm", storm_plan),
        pool.run("run_step", _call_plan(pool, args, delay=0.5)) if args.call_rate else _none(),
    )
    cpu = meter.stop()
    connects = [c for p in parts for c in p["connects"]]
    errors: Counter[str] = Counter()
    for p in parts:
        errors.update(p["errors"])
    n = len(connects)
    first = min((p["first_start"] for p in parts if p["first_start"]), default=start)
    span = max((c["wall"] for c in connects), default=first) - first
    wall = cpu["wall_s"]
    # the probe calls' own server CPU (measured without the storm) is not the connects'
    server_s = cpu["server_cpu_s"] - quiet_calls.get("server_cpu_per_s", 0.0) * wall
    db_s = cpu["db_cpu_s"] - quiet_calls.get("db_cpu_per_s", 0.0) * wall
    redis_s = cpu["redis_cpu_s"] - quiet_calls.get("redis_cpu_per_s", 0.0) * wall
    out: dict[str, Any] = {
        "mode": "resume" if resume else "new",
        "offered": rate,
        "connects": n,
        "attempted": sum(p["attempted"] for p in parts),
        "achieved": n / max(span, 1e-9) if n else 0.0,
        "span_s": span,
        "p50": percentile([c["ms"] for c in connects], 50),
        "p99": percentile([c["ms"] for c in connects], 99),
        "p99_total": percentile([c["total_ms"] for c in connects], 99),
        "max_total": max((c["total_ms"] for c in connects), default=None),
        "sheds": sum(c["sheds"] for c in connects),
        "resumed": sum(1 for c in connects if c["resumed"]),
        "errors": dict(errors),
        "server_ms_per_connect": 1000 * max(0.0, server_s) / max(1, n),
        "db_ms_per_connect": 1000 * max(0.0, db_s) / max(1, n),
        "redis_ms_per_connect": 1000 * max(0.0, redis_s) / max(1, n),
        "server_cpu_pct": 100 * cpu["server_cpu_s"] / wall,
        "clients_cpu_pct": 100 * cpu["storm_clients_cpu_s"] / wall,
        "other_cpu_pct": cpu["other_cpu_pct"],
        "wall_s": wall,
    }
    if calls is not None:
        out["calls"] = merge_step(args.call_rate, args.duration, calls)
        await pool.all("reset_pairs", timeout=args.timeout)
    if spy is not None and profile is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(spy.wait(), 30)
        out["profile"] = await asyncio.to_thread(_profile, profile)
    return out


def _profile(raw: Path) -> dict[str, Any]:
    return profile_summary(raw) if raw.exists() else {}


async def _none() -> None:
    return None


async def run_target(
    target: Any, pool: Pool, storm: Pool, args: argparse.Namespace, work: Path, log: Any
) -> dict[str, Any]:
    label = target.config + (f" [{target.variant}]" if target.variant else "")
    log(f"== {label}: {TARGETS[target.config]}")
    out: dict[str, Any] = {"config": target.config, "variant": target.variant, "steps": []}
    per_step = args.sessions
    try:
        await target.start_async()
        seeded = await target.seed(per_step * len(args.rate_list), args.pairs, True)
        tokens = seeded.hold_tokens
        if target.config != "relay":
            await last_seen_long_ago(target)
        if args.call_rate:
            await pool.run(
                "open_pairs",
                [
                    {"url": target.ws_url, "pairs": p, "device": "bench"}
                    for p in split(seeded.pairs, pool.size)
                ],
            )
            # every pair calls once first (per-user caches), not reported
            warm = args.pairs / min(20.0, args.call_rate * 2)
            await pool.run(
                "run_step",
                [
                    {
                        "rate": min(20.0, args.call_rate * 2) / pool.size,
                        "duration": warm,
                        "start_wall": time.time() + 0.3,
                        "timeout": args.timeout,
                    }
                ]
                * pool.size,
            )
            await pool.all("reset_pairs", timeout=args.timeout)
            out["calls_alone"] = quiet = await calls_alone(target, pool, storm, args)
            log(
                f"  calls alone at {args.call_rate:g}/s: p50 {quiet['p50'] or 0:.1f} ms, "
                f"p99 {quiet['p99'] or 0:.1f} ms, errors {quiet['n_errors']}"
            )
        else:
            quiet = {}
        for k, rate in enumerate(args.rate_list):
            mine = tokens[k * per_step : (k + 1) * per_step]
            modes = [False, True] if args.resume else [False]
            for resume in modes:
                if resume:
                    await storm.all("drop")
                    await asyncio.sleep(0.5)
                profile = None
                if target.config != "relay":
                    profile = work / f"profile-{label.replace(' ', '')}-{rate:g}-{resume}.txt"
                r = await storm_step(target, pool, storm, mine, rate, resume, quiet, args, profile)
                out["steps"].append(r)
                calls = r.get("calls") or {}
                log(
                    f"  {r['mode']:>6} {_rate(rate):>5}: {r['connects']} connects, "
                    f"{r['achieved']:.0f}/s, p50 {r['p50'] or 0:.1f} p99 {r['p99'] or 0:.1f} ms "
                    f"(with waits {r['p99_total'] or 0:.0f}), sheds {r['sheds']}, errors "
                    f"{sum(r['errors'].values())}, server {r['server_ms_per_connect']:.2f} "
                    f"ms/connect ({r['server_cpu_pct']:.0f}%), db "
                    f"{r['db_ms_per_connect']:.2f}, redis {r['redis_ms_per_connect']:.2f}, "
                    f"clients {r['clients_cpu_pct']:.0f}%, other {r['other_cpu_pct']:.0f}%; "
                    f"calls p99 {calls.get('p99') or 0:.1f} ms, errors {calls.get('n_errors', 0)}"
                    + (f"; errors {r['errors']}" if r["errors"] else "")
                )
            await storm.all("close_all")
            if target.config != "relay":
                await wait_idle(target.server_pids()[0], 2.0, 60.0)
    finally:
        with contextlib.suppress(Exception):
            await storm.all("close_all")
        with contextlib.suppress(Exception):
            await pool.all("close_all")
        with contextlib.suppress(Exception):
            out["log_problems"] = target.log_problems()
        await target.stop()
    return out


# =============================================================================================
# Report
# =============================================================================================


def _rate(rate: float) -> str:
    return "max" if not rate else f"{rate:g}/s"


def render(run: dict[str, Any]) -> str:
    m = run["machine"]
    a = run["args"]
    lines = [
        SECTION_START,
        "## Reconnect storms (issue 13)",
        "",
        f"Run {run['date']}, `{run['command']}`, {run['source']}. Machine: {m['nproc']} CPUs "
        f"({m['cpu']}), {m['ram']}, Python {m['python']}, websockets {m['websockets']}, uvicorn "
        f"{m['uvicorn']}; load average {run['loadavg_before']} before the run, "
        f"{run.get('loadavg_after', '?')} after. **The machine is shared and noisy**: the "
        "*other* column is the CPU the rest of the machine used during the step (% of one "
        "core); compare targets within a round.",
        "",
        f"Each step: {a['storm_procs']} client processes open sessions for {a['duration']:g} s "
        f"(at most {a['sessions']:,}), every one a user the node has not seen (a failover's "
        f"sessions), at the offered rate or (*max*) as fast as {a['concurrency']} connects "
        "in flight per process allow; *resume*: the same sessions dropped without a close "
        "frame and reconnected with "
        f"`resume` + `last_seq` (reconnect grace {a['grace']:g} s). Meanwhile "
        f"{a['call_rate']:g} call set-ups/s run on {a['pairs']} caller/callee pairs opened "
        "before. Latency: connect → `hello` of the attempt that got in (*with waits*: from the "
        "first attempt, `node_busy` waits included). CPU: utime + stime (/proc/<pid>/stat) "
        "over the step ÷ connects, less the probe calls' own CPU (measured without the storm)."
        + (
            " Server settings: " + ", ".join(f"`{k}={v}`" for k, v in a["node_env"].items()) + "."
            if a.get("node_env")
            else ""
        ),
        "",
        "| round | target | mode | offered | connects | achieved | p50 | p99 | p99 with waits "
        "| sheds | errors | server CPU | server ms/connect | × relay | PG ms | Redis ms | "
        "calls p99 alone → in storm | calls errors | other |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for rnd, targets in enumerate(run["rounds"], 1):
        relay = {
            (s["mode"], s["offered"]): s
            for t in targets
            if t["config"] == "relay"
            for s in t["steps"]
        }
        for t in targets:
            name = t["config"] + (f" [{t['variant']}]" if t.get("variant") else "")
            if t.get("error"):
                lines.append(f"| {rnd} | {name} | failed: `{t['error'][:150]}` |" + "|" * 16)
                continue
            alone = (t.get("calls_alone") or {}).get("p99")
            for s in t["steps"]:
                base = relay.get((s["mode"], s["offered"]))
                ratio = (
                    f"{s['server_ms_per_connect'] / base['server_ms_per_connect']:.1f}×"
                    if base and base["server_ms_per_connect"] and t["config"] != "relay"
                    else "–"
                )
                calls = s.get("calls") or {}
                lines.append(
                    f"| {rnd} | {name} | {s['mode']} | {_rate(s['offered'])} | "
                    f"{s['connects']:,} | {s['achieved']:,.0f}/s | {_ms(s['p50'])} | "
                    f"{_ms(s['p99'])} | {_ms(s['p99_total'])} | {s['sheds']} | "
                    f"{sum(s['errors'].values())} | {s['server_cpu_pct']:.0f}% | "
                    f"{s['server_ms_per_connect']:.2f} | {ratio} | "
                    f"{s['db_ms_per_connect']:.2f} | {s['redis_ms_per_connect']:.2f} | "
                    f"{_ms(alone)} → {_ms(calls.get('p99'))} | {calls.get('n_errors', '–')} "
                    f"| {s['other_cpu_pct']:.0f}% |"
                )
    profiles = [
        (t["config"] + (f" [{t['variant']}]" if t.get("variant") else ""), s)
        for targets in run["rounds"][-1:]
        for t in targets
        for s in t["steps"]
        if s.get("profile")
    ]
    for name, s in profiles:
        p = s["profile"]
        top = ", ".join(f"{k} {v:.0f}%" for k, v in p["self_by_package"][:6])
        hot = "; ".join(f"`{k}` {v:.0f}%" for k, v in p["yuntong_inclusive"][:8])
        lines += [
            "",
            f"Profile of {name}, {s['mode']} {_rate(s['offered'])} (py-spy, GIL samples, "
            f"{p['samples']:,}): self time by package: {top}. Yuntong, inclusive: {hot}.",
        ]
    problems = [p for rnd in run["rounds"] for t in rnd for p in t.get("log_problems", [])]
    if problems:
        lines += [
            "",
            f"Server log lines with errors: {len(problems)} (first: `{problems[0][:200]}`)",
        ]
    if run.get("findings"):
        lines += ["", run["findings"].rstrip()]
    lines += ["", SECTION_END, ""]
    return "\n".join(lines)


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.1f} ms" if v < 100 else f"{v:,.0f} ms"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="relay,sqlite,pg", help=f"among {', '.join(TARGETS)}")
    parser.add_argument(
        "--rates", default="max", help="connects/s per step, comma-separated; max: closed loop"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    parser.add_argument("--sessions", type=int, default=10_000, help="most sessions per step")
    parser.add_argument("--concurrency", type=int, default=32, help="max: in flight per process")
    parser.add_argument("--storm-procs", type=int, default=2, help="storm client processes")
    parser.add_argument("--resume", action="store_true", help="also a resume storm per step")
    parser.add_argument("--grace", type=float, default=120.0, help="servers' reconnect grace, s")
    parser.add_argument("--call-rate", type=float, default=5.0, help="probe set-ups/s (0: none)")
    parser.add_argument("--pairs", type=int, default=20, help="probe caller/callee pairs")
    parser.add_argument("--timeout", type=float, default=5.0, help="call set-up time-out, s")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, order reversed each time")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SRC",
        help="run the Yuntong targets on this src/ tree too (PYTHONPATH), e.g. before=/tmp/b/src",
    )
    parser.add_argument(
        "--pg-dsn",
        default=os.environ.get("YUNTONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--node-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every Yuntong server, e.g. YUNTONG_WS_MAX_OPENING=16",
    )
    parser.add_argument("--py-spy", default=None, help="path to py-spy: profile each storm")
    parser.add_argument("--out", default=None, help="write the section into this file")
    parser.add_argument("--json", default=None, help="dump the raw results here")
    parser.add_argument("--from-json", default=None, help="render a previous --json dump")
    parser.add_argument("--findings", default=None, help="a hand-written findings file")
    args = parser.parse_args(argv)
    args.rate_list = [0.0 if r == "max" else float(r) for r in args.rates.split(",") if r]
    return args


def plan(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(target, variant, src) for one round."""
    variants = [tuple(v.split("=", 1)) for v in args.variant] or [("", "")]
    out: list[tuple[str, str, str]] = []
    for name in (n for n in args.targets.split(",") if n):
        if name == "relay":
            out.append((name, "", ""))
        else:
            out += [(name, variant, src) for variant, src in variants]
    return out


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    run, log = start_run(
        "bench/connects.py",
        {
            "rates": args.rate_list,
            "duration": args.duration,
            "sessions": args.sessions,
            "concurrency": args.concurrency,
            "storm_procs": args.storm_procs,
            "grace": args.grace,
            "call_rate": args.call_rate,
            "pairs": args.pairs,
            "variants": args.variant,
            "node_env": node_env(args),
        },
    )
    work = Path(tempfile.mkdtemp(prefix="yuntong-connects-bench-"))
    order = plan(args)
    try:
        for rnd in range(args.rounds):
            targets: list[dict[str, Any]] = []
            run["rounds"].append(targets)
            for name, variant, src in order if rnd % 2 == 0 else order[::-1]:
                pool = Pool(1)
                storm = Pool(args.storm_procs, storm_worker_main)
                try:
                    await pool.all("configure", compression="deflate", talk_s=0.0)
                    target = make_target(name, variant, src, args, work)
                    targets.append(await run_target(target, pool, storm, args, work, log))
                except Exception as exc:  # reported; the other targets still run
                    log(f"  {name} failed: {exc!r}")
                    targets.append({"config": name, "variant": variant, "error": repr(exc)})
                finally:
                    await pool.close()
                    await storm.close()
                dump(args, run)
    finally:
        if args.py_spy:
            log(f"raw py-spy profiles kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    run["loadavg_after"] = loadavg()
    run["total_s"] = time.perf_counter() - started
    return run


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report(args, lambda: asyncio.run(amain(args)), render, SECTION_START, SECTION_END)


if __name__ == "__main__":
    assert ROOT.exists()
    main()
