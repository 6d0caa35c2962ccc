"""Several nodes (issue 13): what a call costs when its parties sit on different nodes, and how
long a session takes to come back when its node is killed.

1. **Call set-ups** with the load generator of bench/signaling.py (same clients, same open-loop
   schedule, same warm-up), against three configurations started one after the other, in
   alternating order over ``--rounds`` rounds:

   * ``sqlite`` — the embedded default: one node, SQLite, the in-process bus (the reference);
   * ``pg-1`` — one node on PostgreSQL and Redis (callers and callees on it);
   * ``pg-2x`` — two nodes on PostgreSQL and Redis, every caller on node 1 and its callee on
     node 2: node 1 takes the invite and owns the call, so every one of the callee's commands
     (ringing, answer) is forwarded to it over Redis, and the caller's events cross back.

   Per step: achieved rate, p50/p99 set-up latency (``call.invite`` sent → ``call.answered``
   received by the caller), CPU of the server processes per call set-up (utime + stime from
   ``/proc/<pid>/stat``, every node's server process, billing workers apart), and Redis
   commands per call set-up (``INFO commandstats`` calls, delta over the step, ``info``
   itself left out, less the idle rate measured before the steps, ÷ calls completed).

2. **Failover**: ``--sessions`` sessions of the Python client (``yuntong.client.signaling.
   Signaling``, which reopens a dropped socket with a jittered back-off and resumes it) through
   HAProxy on three nodes; one node is killed with SIGKILL; per session that lost its socket,
   the time from the kill to a ``hello`` with ``resumed: true`` (on a surviving node).

Run from the repository root (PostgreSQL as for bench/signaling.py, ``--pg-dsn``)::

    python bench/cluster.py                      # both parts, 2 rounds (~15 min)
    python bench/cluster.py --no-failover --rates 100 --rounds 1
    python bench/cluster.py --help

Results are printed and, with ``--out``, written into bench/RESULTS.md between the ``cluster``
markers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from results_file import report  # bench/, beside this script
from signaling import (
    ROOT,
    Pool,
    Seeded,
    SystemMeter,
    YuntongTarget,
    machine_info,
    merge_step,
    percentile,
    raise_nofile,
    source_state,
    split,
)

SECTION_START = "<!-- cluster:start -->"
SECTION_END = "<!-- cluster:end -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CONFIGS = {
    "sqlite": "1 node, SQLite, in-process bus (embedded default)",
    "pg-1": "1 node, PostgreSQL + Redis",
    "pg-2x": "2 nodes, PostgreSQL + Redis, caller on node 1, callee on node 2",
}


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a process, in seconds, from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


class ProcCpu:
    """CPU seconds used by some processes between start() and stop()."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = list(pids)
        self.c0: dict[int, float] = {}

    def start(self) -> None:
        self.c0 = {pid: c for pid in self.pids if (c := proc_cpu_s(pid)) is not None}

    def stop(self) -> float:
        used = 0.0
        for pid, c0 in self.c0.items():
            c1 = proc_cpu_s(pid)
            if c1 is not None:
                used += c1 - c0
        return used


def busy_marks_left(url: str | None) -> int | None:
    """Busy marks in Redis (``yuntong:busy:*``): with every pair idle, each one is a mark that
    outlived its call (the user is refused ``already_in_call`` until it expires)."""
    if url is None:
        return None
    import redis

    client = redis.Redis.from_url(url)
    try:
        return sum(1 for _ in client.scan_iter("yuntong:busy:*", count=1000))
    finally:
        client.close()


def redis_commands(url: str | None) -> Counter[str]:
    """Calls per command so far (``INFO commandstats``), ``info`` itself left out."""
    if url is None:
        return Counter()
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return Counter(
        {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if name != "cmdstat_info"
        }
    )


# =============================================================================================
# Configurations
# =============================================================================================


class SqliteConfig(YuntongTarget):
    """The embedded default (bench/signaling.py's SQLite target)."""

    def __init__(self, pg_dsn: str, workdir: Path) -> None:
        super().__init__("sqlite", pg_dsn, workdir)
        self.workdir = workdir / f"sqlite-{time.monotonic_ns()}"  # a fresh database each time
        self.config = "sqlite"

    @property
    def caller_url(self) -> str:
        return self.ws_url

    @property
    def callee_url(self) -> str:
        return self.ws_url

    def server_pids(self) -> list[int]:
        return [self.pid]

    def redis_pid(self) -> int | None:
        return None

    @property
    def redis_url(self) -> str | None:
        return None


class ClusterConfig(YuntongTarget):
    """``count`` nodes on a fresh PostgreSQL database and a private Redis
    (tests.support.cluster.Cluster; its HAProxy idles, the clients go to the nodes)."""

    def __init__(self, config: str, count: int, pg_dsn: str, workdir: Path, **env: str) -> None:
        super().__init__("postgres", pg_dsn, workdir)
        self.workdir = workdir / f"{config}-{time.monotonic_ns()}"
        self.config = config
        self.count = count
        self.env = env
        self.cluster: Any = None

    async def start_async(self) -> None:
        from tests.support.cluster import Cluster

        self.workdir.mkdir(parents=True, exist_ok=True)
        url = await self._database_url()
        self.cluster = Cluster(self.workdir, url, self.count, **self.env)
        try:
            await asyncio.to_thread(self.cluster.start)
        finally:  # a failed start still leaves pieces for stop()
            if self.cluster.nodes:
                self.server = self.cluster.nodes[0]

    @property
    def caller_url(self) -> str:
        return str(self.cluster.nodes[0].ws_url)

    @property
    def callee_url(self) -> str:
        return str(self.cluster.nodes[-1].ws_url)

    def server_pids(self) -> list[int]:
        return [n.proc.pid for n in self.cluster.nodes if n.proc is not None]

    def worker_pids(self) -> list[int]:
        return [pid for n in self.cluster.nodes for pid in n.children()]

    def redis_pid(self) -> int | None:
        proc = self.cluster.redis.proc
        return None if proc is None else int(proc.pid)

    @property
    def redis_url(self) -> str | None:
        return str(self.cluster.redis.url)

    def log_problems(self) -> list[str]:
        out: list[str] = []
        for node in self.cluster.nodes if self.cluster else []:
            self.server = node
            out += [f"{node.var_dir.name}: {ln}" for ln in super().log_problems()]
        return out[:20]

    async def stop(self) -> None:
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)
            for node in self.cluster.nodes:
                await node.aclose()
        self.server = None
        await super().stop()  # drops the database


# =============================================================================================
# Call set-ups
# =============================================================================================


async def measure_step(
    target: Any, pool: Pool, rate: float, seconds: float, timeout: float, bg_redis: float
) -> dict[str, Any]:
    db_pids = await target.db_pids()
    redis_pid = target.redis_pid()
    meters = {
        "server": ProcCpu(target.server_pids()),
        "worker": ProcCpu(target.worker_pids()),
        "db": ProcCpu(db_pids),
        "redis": ProcCpu([redis_pid] if redis_pid else []),
        "clients": ProcCpu(pool.pids),
    }
    system = SystemMeter()
    cmds0 = await asyncio.to_thread(redis_commands, target.redis_url)
    for meter in meters.values():
        meter.start()
    system.start()
    t0 = time.perf_counter()
    start = time.time() + 0.3
    per_worker = [
        {
            "rate": rate / pool.size,
            "duration": seconds,
            "start_wall": start + i / rate,
            "timeout": timeout,
        }
        for i in range(pool.size)
    ]
    parts = await pool.run("run_step", per_worker)
    wall = time.perf_counter() - t0
    cpu = {name: meter.stop() for name, meter in meters.items()}
    system_pct = system.stop()
    cmds1 = await asyncio.to_thread(redis_commands, target.redis_url)
    result = merge_step(rate, seconds, parts)
    calls = max(1, result["completed"])
    delta = cmds1 - cmds0
    result.update(
        {
            "wall_s": wall,
            **{f"{name}_cpu_pct": 100 * used / wall for name, used in cpu.items()},
            **{f"{name}_cpu_ms_per_call": 1000 * used / calls for name, used in cpu.items()},
            "system_cpu_pct": system_pct,
            "other_cpu_pct": max(0.0, system_pct - 100 * sum(cpu.values()) / wall),
            "redis_calls": sum(delta.values()),
            "redis_per_call": sum(delta.values()) / calls,
            "redis_per_call_net": (sum(delta.values()) - bg_redis * wall) / calls,
            "redis_by_command": {k: v / calls for k, v in delta.most_common(8)},
        }
    )
    return result


async def run_config(target: Any, pool: Pool, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    log(f"== {target.config}: {CONFIGS[target.config]}")
    out: dict[str, Any] = {"config": target.config, "steps": []}
    try:
        await target.start_async()
        seeded: Seeded = await target.seed(0, args.pairs, True)
        res = await pool.run(
            "open_pairs",
            [
                {
                    "url": target.caller_url,
                    "callee_url": target.callee_url,
                    "pairs": p,
                    "device": "bench",
                }
                for p in split(seeded.pairs, pool.size)
            ],
        )
        log(f"  {sum(r['pairs'] for r in res)} pairs connected")
        warm = await measure_step(target, pool, 50.0, max(2.0, 1.2 * args.pairs / 50), 5.0, 0.0)
        log(
            f"  warm-up: {warm['ok']} set-ups, p99 {warm['p99'] or 0:.0f} ms, errors "
            f"{warm['errors']}, time-outs {warm['timeouts']}"
        )
        await pool.all("reset_pairs", timeout=args.timeout)
        await asyncio.sleep(2.0)
        # Redis commands nobody's calls cause (keepalives, leases, sweeps), per second
        c0 = await asyncio.to_thread(redis_commands, target.redis_url)
        t0 = time.perf_counter()
        await asyncio.sleep(5.0)
        c1 = await asyncio.to_thread(redis_commands, target.redis_url)
        out["redis_idle_per_s"] = bg = sum((c1 - c0).values()) / (time.perf_counter() - t0)
        for rate in args.rate_list:
            r = await measure_step(target, pool, rate, args.duration, args.timeout, bg)
            out["steps"].append(r)
            log(
                f"  {rate:>4.0f}/s → {r['achieved']:6.1f}/s, p50 {r['p50'] or 0:.1f} p99 "
                f"{r['p99'] or 0:.1f} ms, err {r['n_errors']} to {r['timeouts']} skip "
                f"{r['skipped']}, server {r['server_cpu_pct']:.0f}% "
                f"({r['server_cpu_ms_per_call']:.2f} ms/call), db {r['db_cpu_pct']:.0f}%, "
                f"redis {r['redis_cpu_pct']:.0f}%, clients {r['clients_cpu_pct']:.0f}%, "
                f"other {r['other_cpu_pct']:.0f}%, redis cmds/call {r['redis_per_call_net']:.1f}"
                + (f", errors {r['errors']}" if r["errors"] else "")
            )
            await pool.all("reset_pairs", timeout=args.timeout)
            await asyncio.sleep(1.0)
            r["busy_marks_left"] = left = await asyncio.to_thread(busy_marks_left, target.redis_url)
            if left:
                log(f"  {left} busy marks left in Redis with every pair idle")
    finally:
        with contextlib.suppress(Exception):
            await pool.all("close_all")
        with contextlib.suppress(Exception):
            out["log_problems"] = target.log_problems()
        await target.stop()
    return out


# =============================================================================================
# Failover
# =============================================================================================


class FailoverWorker:
    """Holds Signaling sessions in one process and reports, per session, what came after the
    kill: a ``hello`` (resumed or not, when) or the session's end."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.sessions: list[Any] = []
        self.seen: list[list[tuple[float, str, bool]]] = []
        self.watchers: list[asyncio.Task[None]] = []

    async def cmd_connect(self, url: str, tokens: list[str]) -> dict[str, Any]:
        from yuntong.client.signaling import Signaling

        sem = asyncio.Semaphore(10)
        failed: Counter[str] = Counter()
        retried: Counter[str] = Counter()

        async def one(token: str) -> None:
            # HAProxy answers 503 while its health checks have every node out (a node slow to
            # answer /readyz under the burst of sockets): try again, and count it
            for attempt in range(20):
                sig = Signaling(url, token, "bench")
                try:
                    async with sem:
                        await sig.connect(timeout=30)
                    break
                except Exception as exc:
                    why = f"{type(exc).__name__}: {str(exc)[-60:]}"
                    if attempt == 19:
                        failed[why] += 1
                        return
                    retried[why] += 1
                    await asyncio.sleep(0.5)
            index = len(self.sessions)
            self.sessions.append(sig)
            self.seen.append([])
            self.watchers.append(asyncio.create_task(self._watch(sig, index)))

        await asyncio.gather(*(one(t) for t in tokens))
        return {"connected": len(self.sessions), "failed": dict(failed), "retried": dict(retried)}

    async def _watch(self, sig: Any, index: int) -> None:
        from yuntong.client.signaling import CLOSED

        while True:
            event = await sig.next_event()
            now = time.time()
            if event.type == "hello":
                self.seen[index].append((now, "hello", bool(event.data.get("resumed"))))
            elif event.type == CLOSED:
                self.seen[index].append((now, "closed", False))
                return

    async def cmd_collect(self, kill_wall: float, wait_s: float) -> dict[str, Any]:
        """Wait until every dropped session resumed or ended (or ``wait_s``); per affected
        session: seconds from the kill to the resumed hello, or why not."""
        deadline = time.monotonic() + wait_s
        started = time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            busy = any(s._resuming for s in self.sessions)
            if time.monotonic() - started > 8 and not busy:
                break
        out = []
        for sig, seen in zip(self.sessions, self.seen, strict=True):
            after = [e for e in seen if e[0] >= kill_wall]
            dropped = bool(after) or sig.resumes > 0 or sig._resuming
            if not dropped:
                continue
            resumed = next((e for e in after if e[1] == "hello" and e[2]), None)
            if resumed is not None:
                out.append({"resumed": True, "s": resumed[0] - kill_wall})
            elif any(e[1] == "hello" for e in after):
                out.append({"resumed": False, "why": "hello without resumed"})
            elif any(e[1] == "closed" for e in after):
                out.append({"resumed": False, "why": "session ended"})
            else:
                out.append({"resumed": False, "why": f"not back within {wait_s:.0f} s"})
        return {"sessions": out, "total": len(self.sessions)}

    async def cmd_close_all(self) -> dict[str, Any]:
        for task in self.watchers:
            task.cancel()
        await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)
        self.sessions.clear()
        return {}


def failover_worker_main(conn: Any, index: int) -> None:
    from signaling import serve_commands

    raise_nofile()
    worker = FailoverWorker(conn)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_commands(worker, conn))
    else:
        uvloop.run(serve_commands(worker, conn))


async def run_failover(args: argparse.Namespace, workdir: Path, log: Any) -> dict[str, Any]:
    log(f"== failover: {args.sessions} sessions through HAProxy on 3 nodes, one killed")
    target = ClusterConfig("failover", 3, args.pg_dsn, workdir, **node_env(args))
    target.billing = False
    pool = Pool(args.client_procs, failover_worker_main)
    out: dict[str, Any] = {}
    try:
        await target.start_async()
        seeded = await target.seed(args.sessions, 0, False)
        balancer = target.cluster.url
        res = await pool.run(
            "connect",
            [{"url": balancer, "tokens": t} for t in split(seeded.hold_tokens, pool.size)],
        )
        connected = sum(r["connected"] for r in res)
        refused: Counter[str] = Counter()
        retried: Counter[str] = Counter()
        for r in res:
            refused.update(r["failed"])
            retried.update(r["retried"])
        out["connect_failed"] = dict(refused)
        out["connect_retried"] = dict(retried)
        log(f"  {connected} sessions connected; failed: {dict(refused)}, retried {dict(retried)}")
        await asyncio.sleep(3.0)
        victim = target.cluster.nodes[1]
        system = SystemMeter()
        system.start()
        kill_wall = time.time()
        assert victim.proc is not None
        os.kill(victim.proc.pid, signal.SIGKILL)
        res = await pool.all("collect", kill_wall=kill_wall, wait_s=args.failover_wait)
        out["system_cpu_pct"] = system.stop()
        victim.stop(signal.SIGKILL)  # reap it
        sessions = [s for r in res for s in r["sessions"]]
        times = [s["s"] * 1000 for s in sessions if s["resumed"]]
        out.update(
            {
                "connected": connected,
                "affected": len(sessions),
                "resumed": len(times),
                "failed": Counter(s["why"] for s in sessions if not s["resumed"]),
                "times_ms": sorted(times),
                "p50": percentile(times, 50),
                "p99": percentile(times, 99),
                "min": min(times) if times else None,
                "max": max(times) if times else None,
            }
        )
        log(
            f"  {out['affected']} sessions lost their node: {out['resumed']} resumed "
            f"(p50 {out['p50'] or 0:.0f} ms, p99 {out['p99'] or 0:.0f} ms, max "
            f"{out['max'] or 0:.0f} ms), failed {dict(out['failed'])}"
        )
    finally:
        with contextlib.suppress(Exception):
            await pool.all("close_all")
        await pool.close()
        with contextlib.suppress(Exception):
            out["log_problems"] = target.log_problems()
        await target.stop()
    return out


# =============================================================================================
# Report
# =============================================================================================


def render(run: dict[str, Any]) -> str:
    m = run["machine"]
    lines = [
        SECTION_START,
        "## Several nodes (issue 13)",
        "",
        f"Run {run['date']}, `{run['command']}`, {run['source']}. Machine: {m['nproc']} CPUs "
        f"({m['cpu']}), {m['ram']}, Python {m['python']}; load average before the run "
        f"{run['loadavg_before']}. {run['args']['pairs']} caller/callee pairs, "
        f"{run['args']['duration']:g}-s steps, {run['args']['client_procs']} client processes, "
        "billing on (as bench/signaling.py).",
        "",
        "Set-up latency: `call.invite` sent → `call.answered` received by the caller (the "
        "callee rings and answers at once). CPU per call: utime + stime (/proc/<pid>/stat) over "
        "the step ÷ calls completed; *server* is every node's server process, *PG* this "
        "database's backends and PostgreSQL's writer processes, *other* is the rest of the "
        "machine (% of one core). Redis commands per call: `INFO commandstats` calls over the "
        "step, less the idle rate measured before the steps, ÷ calls.",
        "",
        "| round | configuration | offered | achieved | p50 | p99 | max | err / t-o / skip | "
        "server CPU | server ms/call | PG ms/call | Redis ms/call | Redis cmds/call | busy marks "
        "left | clients | other |",
        "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rnd, configs in enumerate(run["rounds"], 1):
        for c in configs:
            for s in c["steps"]:
                redis_cmds = "–" if c["config"] == "sqlite" else f"{s['redis_per_call_net']:.1f}"
                lines.append(
                    f"| {rnd} | {c['config']} | {s['rate']:g}/s | {s['achieved']:.1f}/s"
                    f"{'' if s['sustained'] else ' ✗'} | "
                    f"{s['p50'] or 0:.1f} ms | {s['p99'] or 0:.1f} ms | {s['max'] or 0:.0f} ms | "
                    f"{s['n_errors']} / {s['timeouts']} / {s['skipped']} | "
                    f"{s['server_cpu_pct']:.0f}% | {s['server_cpu_ms_per_call']:.2f} | "
                    f"{s['db_cpu_ms_per_call']:.2f} | {s['redis_cpu_ms_per_call']:.2f} | "
                    f"{redis_cmds} | {_num(s.get('busy_marks_left'))} | "
                    f"{s['clients_cpu_pct']:.0f}% | {s['other_cpu_pct']:.0f}% |"
                )
    for rnd, configs in enumerate(run["rounds"], 1):
        for c in configs:
            if c.get("error"):
                lines.append(
                    f"| {rnd} | {c['config']} | failed: `{c['error'][:150]}` |||||||||||||"
                )
    lines += [
        "",
        "✗: not sustained (achieved < 95% of offered, or an error, time-out or skipped invite).",
        "",
        "Ratio of p99s per round and rate (in parentheses: a step in it was not sustained):",
        "",
    ]
    lines += ["| round | rate | pg-2x / pg-1 | pg-2x / sqlite | pg-1 / sqlite |"]
    lines += ["|---:|---:|---:|---:|---:|"]
    for rnd, configs in enumerate(run["rounds"], 1):
        by = {c["config"]: {s["rate"]: s for s in c["steps"]} for c in configs}
        for rate in run["args"]["rates"]:
            at = {name: by.get(name, {}).get(rate) or {} for name in CONFIGS}

            lines.append(
                f"| {rnd} | {rate:g}/s | {p99_ratio(at, 'pg-2x', 'pg-1')} | "
                f"{p99_ratio(at, 'pg-2x', 'sqlite')} | {p99_ratio(at, 'pg-1', 'sqlite')} |"
            )
    lines += ["", "Redis commands per call set-up by command (last round, highest rate):", ""]
    for c in run["rounds"][-1] if run["rounds"] else []:  # none with --no-calls
        if c["config"] == "sqlite" or not c["steps"]:
            continue
        s = c["steps"][-1]
        top = ", ".join(f"`{k}` {v:.1f}" for k, v in s["redis_by_command"].items())
        lines.append(
            f"- {c['config']} at {s['rate']:g}/s: {top} (idle: {c.get('redis_idle_per_s', 0):.1f} "
            "commands/s)"
        )
    if run.get("failover"):
        lines += [
            "",
            f"Failover: {run['args']['sessions']} sessions of `yuntong.client.signaling."
            f"Signaling` ({run['args']['client_procs']} client processes) through HAProxy "
            "(round robin, `/readyz` checked every 300 ms, down after 2 failures, "
            "`option redispatch`) on 3 nodes; node 2 killed with SIGKILL; per session that "
            "lost its socket, the time from the kill to a `hello` with `resumed: true`.",
            "",
            "| round | sessions | lost their node | resumed | failed | p50 | p99 | min | max |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for rnd, f in enumerate(run["failover"], 1):
            if "affected" not in f:
                continue
            failed = sum(f["failed"].values())
            why = ", ".join(f"{k}: {v}" for k, v in f["failed"].items())
            lines.append(
                f"| {rnd} | {f['connected']} | {f['affected']} | {f['resumed']} | {failed}"
                f"{f' ({why})' if why else ''} | {f['p50'] or 0:,.0f} ms | {f['p99'] or 0:,.0f} "
                f"ms | {f['min'] or 0:,.0f} ms | {f['max'] or 0:,.0f} ms |"
            )
    problems = [p for rnd in run["rounds"] for c in rnd for p in c.get("log_problems", [])] + [
        p for f in run.get("failover", []) for p in f.get("log_problems", [])
    ]
    if problems:
        lines += [
            "",
            f"Server log lines with errors: {len(problems)} (first: `{problems[0][:200]}`)",
        ]
    if run.get("findings"):
        lines += ["", run["findings"].rstrip()]
    lines += ["", SECTION_END, ""]
    return "\n".join(lines)


def p99_ratio(at: dict[str, dict[str, Any]], a: str, b: str) -> str:
    """p99 of configuration ``a`` over ``b``'s; in parentheses when a step was not sustained."""
    value = _ratio(at[a].get("p99"), at[b].get("p99"))
    if value == "–" or (at[a].get("sustained") and at[b].get("sustained")):
        return value
    return f"({value})"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def dump(args: argparse.Namespace, run: dict[str, Any]) -> None:
    """The raw results so far (``--json``), so that a run cut short keeps what it measured."""
    if args.json:
        Path(args.json).write_text(json.dumps(run, indent=1, default=str))


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if not a or not b else f"{a / b:.2f}×"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,300", help="offered set-ups/s, comma-separated")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per rate step")
    parser.add_argument("--pairs", type=int, default=300, help="caller/callee pairs")
    parser.add_argument("--timeout", type=float, default=5.0, help="set-up time-out, seconds")
    parser.add_argument("--client-procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, order reversed each time")
    parser.add_argument(
        "--configs", default="sqlite,pg-1,pg-2x", help=f"among {', '.join(CONFIGS)}"
    )
    parser.add_argument("--sessions", type=int, default=300, help="failover: sessions")
    parser.add_argument("--failover-wait", type=float, default=30.0, help="failover: wait, s")
    parser.add_argument("--no-failover", action="store_true")
    parser.add_argument("--no-calls", action="store_true")
    parser.add_argument(
        "--pg-dsn",
        default=os.environ.get("YUNTONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--node-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every node on PostgreSQL+Redis, e.g. YUNTONG_FORWARD_TIMEOUT_S=1",
    )
    parser.add_argument("--keep", action="store_true", help="keep the servers' folders (logs)")
    parser.add_argument("--out", default=None, help="write the section into this file")
    parser.add_argument("--json", default=None, help="dump the raw results here")
    parser.add_argument("--from-json", default=None, help="render a previous --json dump")
    parser.add_argument("--findings", default=None, help="a hand-written findings file")
    args = parser.parse_args(argv)
    args.rate_list = [float(r) for r in args.rates.split(",") if r]
    return args


def node_env(args: argparse.Namespace) -> dict[str, str]:
    """``--node-env KEY=VALUE`` settings for every node on PostgreSQL and Redis."""
    return dict(item.split("=", 1) for item in args.node_env)


def make_config(name: str, args: argparse.Namespace, workdir: Path) -> Any:
    grace = {"YUNTONG_RECONNECT_GRACE_S": "3"}  # as bench/signaling.py
    if name == "sqlite":
        return SqliteConfig(args.pg_dsn, workdir)
    return ClusterConfig(
        name, 1 if name == "pg-1" else 2, args.pg_dsn, workdir, **grace, **node_env(args)
    )


def start_run(script: str, args: dict[str, Any]) -> tuple[dict[str, Any], Callable[[str], None]]:
    """A run begins: logging quiet, the open-files limit raised, the raw results' header
    (date, command, machine, code, load average, ``args``) and a log function that prints the
    seconds since now."""
    from yuntong.core.logging import configure_logging

    configure_logging("WARNING", json=False)
    raise_nofile()
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f}s] {msg}", flush=True)

    run: dict[str, Any] = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": " ".join(shlex.quote(a) for a in ["python", script, *sys.argv[1:]]),
        "machine": machine_info(),
        "source": source_state(),
        "loadavg_before": loadavg(),
        "args": args,
        "rounds": [],
    }
    return run, log


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    run, log = start_run(
        "bench/cluster.py",
        {
            "rates": args.rate_list,
            "duration": args.duration,
            "pairs": args.pairs,
            "client_procs": args.client_procs,
            "sessions": args.sessions,
            "node_env": node_env(args),
        },
    )
    run["failover"] = []
    workdir = Path(tempfile.mkdtemp(prefix="yuntong-cluster-bench-"))
    names = [n for n in args.configs.split(",") if n]
    try:
        for rnd in range(args.rounds):
            if not args.no_calls:
                order = names if rnd % 2 == 0 else names[::-1]
                pool = Pool(args.client_procs)
                try:
                    await pool.all("configure", compression="deflate", talk_s=0.0)
                    configs = []
                    run["rounds"].append(configs)
                    for name in order:
                        try:
                            configs.append(
                                await run_config(make_config(name, args, workdir), pool, args, log)
                            )
                        except Exception as exc:  # reported; the other configurations still run
                            log(f"  {name} failed: {exc!r}")
                            configs.append({"config": name, "steps": [], "error": repr(exc)})
                        dump(args, run)
                finally:
                    await pool.close()
            if not args.no_failover:
                try:
                    run["failover"].append(await run_failover(args, workdir, log))
                except Exception as exc:
                    log(f"  failover failed: {exc!r}")
                    run["failover"].append({"error": repr(exc)})
                dump(args, run)
    finally:
        if args.keep:
            log(f"servers' logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    run["loadavg_after"] = loadavg()
    run["total_s"] = time.perf_counter() - started
    return run


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report(args, lambda: asyncio.run(amain(args)), render, SECTION_START, SECTION_END)


if __name__ == "__main__":
    assert ROOT.exists()
    main()
