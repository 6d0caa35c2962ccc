"""Signaling benchmark: simulated clients at the WebSocket level (no media).

What it measures, for SQLite and PostgreSQL (see bench/README.md for the method):

* concurrent authenticated sessions held by one server process, and server memory per 1,000
  sessions (ΔRSS of the server process / sessions × 1,000);
* call set-ups (invite → ringing → answer → hang-up) at rising open-loop arrival rates: achieved
  rate, p50/p90/p99 set-up latency (``call.invite`` sent → ``call.answered`` received by the
  caller, the callee answering at once), errors and time-outs;
* the same load against a minimal bare ``websockets`` relay (bench/baseline_relay.py) in the
  same run, and Yuntong's latency as a ratio to it.

Run from the repository root::

    uv run python bench/signaling.py                  # full run, both backends (~10 min)
    uv run python bench/signaling.py --quick          # the check before landing (~1 min)
    uv run python bench/signaling.py --backend sqlite --sessions 2000 --rates 100,200

Results are written to bench/RESULTS.md (the section between the ``signaling`` markers is
replaced; the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing as mp
import os
import platform
import resource
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from results_file import write_section  # bench/, beside this script

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _path in (ROOT, ROOT / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

SECTION_START = "<!-- signaling:start -->"
SECTION_END = "<!-- signaling:end -->"
PING = json.dumps({"v": 1, "type": "ping", "data": {}})
SHED_RETRIES = 20  # node_busy answers (admission control) a connect waits out before failing
FALLBACK_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=fingerprint:sha-256 00:11\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
)


def raise_nofile() -> int:
    """Raise the open-files limit to the hard limit (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fake_sdp() -> str:
    try:
        from tests.support.wsclient import FAKE_SDP
    except ImportError:
        return FALLBACK_SDP
    return FAKE_SDP


# =============================================================================================
# Client side: runs in worker processes (spawned), one asyncio loop each.
# =============================================================================================


class CallFailed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(eq=False)
class Side:
    ws: Any
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    answered: asyncio.Future[float] | None = None
    call_id: str | None = None
    reader: asyncio.Task[None] | None = None


@dataclass(eq=False)
class Pair:
    caller: Side
    callee: Side
    to: str


@dataclass
class StepStats:
    latencies: list[float] = field(default_factory=list)  # ms, invite sent → answered received
    lags: list[float] = field(default_factory=list)  # ms, scheduled → actually sent
    sent: int = 0
    ok: int = 0
    completed: int = 0  # hang-up acknowledged too
    timeouts: int = 0
    skipped: int = 0  # no idle caller/callee pair left at the scheduled time
    errors: Counter[str] = field(default_factory=Counter)
    first_send: float = 0.0  # wall clock
    last_answer: float = 0.0  # wall clock

    def as_dict(self) -> dict[str, Any]:
        return {
            "latencies": self.latencies,
            "lags": self.lags,
            "sent": self.sent,
            "ok": self.ok,
            "completed": self.completed,
            "timeouts": self.timeouts,
            "skipped": self.skipped,
            "errors": dict(self.errors),
            "first_send": self.first_send,
            "last_answer": self.last_answer,
        }


async def serve_commands(worker: Any, conn: Any) -> None:
    """A worker process's loop: ``(cmd, kwargs)`` from the pipe runs ``worker.cmd_<cmd>``,
    whose result (or the exception's text) goes back; ``quit`` closes everything and ends."""
    loop = asyncio.get_running_loop()
    while True:
        cmd, kwargs = await loop.run_in_executor(None, conn.recv)
        if cmd == "quit":
            with contextlib.suppress(Exception):
                await worker.cmd_close_all()
            conn.send({})
            return
        try:
            result = await getattr(worker, f"cmd_{cmd}")(**kwargs)
        except Exception as exc:
            result = {"exception": f"{type(exc).__name__}: {exc}"}
        conn.send(result)


class ClientWorker:
    """Holds idle sessions and drives call set-ups, on orders from the orchestrator's pipe."""

    def __init__(self, conn: Any, index: int) -> None:
        self.conn = conn
        self.index = index
        self.sdp = fake_sdp()
        self.compression: str | None = "deflate"
        self.talk_s = 0.0
        self.held: list[Any] = []
        self.held_readers: list[asyncio.Task[None]] = []
        self.pinger: asyncio.Task[None] | None = None
        self.pairs: list[Pair] = []
        self.free: deque[Pair] = deque()
        self.ids = itertools.count(1)
        self.stats = StepStats()
        self.shed = 0  # connects told node_busy (and retried after the hint)

    async def serve(self) -> None:
        await serve_commands(self, self.conn)

    async def _connect(self, url: str, token: str, device: str) -> Any:
        from websockets.asyncio.client import connect

        for _ in range(SHED_RETRIES):
            ws = await connect(
                f"{url}?device={device}",
                additional_headers={"Authorization": f"Bearer {token}"},
                ping_interval=None,  # the server pings; we send the protocol's app-level pings
                open_timeout=60,
                close_timeout=5,
                max_size=2**20,
                compression=self.compression,
            )
            first = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if first.get("type") == "hello":
                return ws
            await ws.close()
            data = first.get("data") or {}
            if first.get("type") == "error" and data.get("code") == "node_busy":
                # admission control: come back after the hint, as the real clients do
                self.shed += 1
                await asyncio.sleep(float(data.get("retry_after") or 1))
                continue
            raise CallFailed(f"no_hello:{first.get('type')}:{data.get('code')}")
        raise CallFailed("no_hello:node_busy")

    # -- idle sessions ---------------------------------------------------------------------

    async def cmd_configure(self, compression: str | None, talk_s: float = 0.0) -> dict[str, Any]:
        self.compression = compression
        self.talk_s = talk_s
        if self.pinger is None:
            self.pinger = asyncio.create_task(self._ping(20.0))
        return {"pid": os.getpid()}

    async def cmd_open_sessions(
        self, url: str, tokens: list[str], device: str, concurrency: int
    ) -> dict[str, Any]:
        sem = asyncio.Semaphore(concurrency)
        failures: Counter[str] = Counter()
        compressed = 0

        async def one(token: str) -> None:
            nonlocal compressed
            async with sem:
                try:
                    ws = await self._connect(url, token, device)
                except CallFailed as exc:
                    failures[exc.code] += 1
                    return
                except Exception as exc:
                    failures[type(exc).__name__] += 1
                    return
            if getattr(getattr(ws, "protocol", None), "extensions", None):
                compressed += 1
            self.held.append(ws)
            self.held_readers.append(asyncio.create_task(_drain(ws)))

        started = time.perf_counter()
        await asyncio.gather(*(one(t) for t in tokens))
        return {
            "opened": len(tokens) - sum(failures.values()),
            "compressed": compressed,
            "failures": dict(failures),
            "seconds": time.perf_counter() - started,
        }

    async def cmd_count_sessions(self) -> dict[str, Any]:
        from websockets.protocol import State

        return {"open": sum(1 for ws in self.held if ws.state is State.OPEN)}

    async def _ping(self, interval: float) -> None:
        """Every session sends the protocol's ``ping`` once per heartbeat, spread out in time."""
        while True:
            conns = [*self.held, *(s.ws for p in self.pairs for s in (p.caller, p.callee))]
            if not conns:
                await asyncio.sleep(1)
                continue
            batch = max(1, len(conns) // 200)
            for i in range(0, len(conns), batch):
                for ws in conns[i : i + batch]:
                    with contextlib.suppress(Exception):
                        await ws.send(PING)
                await asyncio.sleep(interval * batch / len(conns))

    async def cmd_close_sessions(self) -> dict[str, Any]:
        sem = asyncio.Semaphore(500)

        async def close(ws: Any) -> None:
            async with sem:
                with contextlib.suppress(Exception):
                    await ws.close()

        await asyncio.gather(*(close(ws) for ws in self.held))
        for task in self.held_readers:
            task.cancel()
        self.held.clear()
        self.held_readers.clear()
        return {}

    # -- calls -----------------------------------------------------------------------------

    async def cmd_open_pairs(
        self,
        url: str,
        pairs: list[tuple[str, str, str]],
        device: str,
        callee_url: str | None = None,
    ) -> dict[str, Any]:
        """Callers on ``url``, callees on ``callee_url`` (another node: bench/cluster.py) or
        on ``url`` too."""
        sem = asyncio.Semaphore(100)

        async def one(caller_token: str, callee_token: str, to: str) -> None:
            async with sem:
                caller = Side(await self._connect(url, caller_token, device))
                callee = Side(await self._connect(callee_url or url, callee_token, device))
            caller.reader = asyncio.create_task(self._read_caller(caller))
            callee.reader = asyncio.create_task(self._read_callee(callee))
            pair = Pair(caller, callee, to)
            self.pairs.append(pair)
            self.free.append(pair)

        await asyncio.gather(*(one(*p) for p in pairs))
        return {"pairs": len(self.pairs), "shed": self.shed}

    async def _read_caller(self, side: Side) -> None:
        with contextlib.suppress(Exception):
            async for raw in side.ws:
                now = time.perf_counter()
                msg = json.loads(raw)
                type_ = msg.get("type")
                if type_ in ("ack", "error"):
                    fut = side.pending.pop(str(msg.get("re")), None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    call_id = (msg.get("data") or {}).get("call_id")
                    if type_ == "ack" and call_id:
                        side.call_id = call_id
                    if type_ == "error":
                        _fail(side, str(msg.get("data", {}).get("code")))
                elif type_ == "call.answered":
                    side.call_id = msg.get("data", {}).get("call_id") or side.call_id
                    if side.answered is not None and not side.answered.done():
                        side.answered.set_result(now)
                elif type_ == "call.ended":
                    _fail(side, f"ended:{msg.get('data', {}).get('reason')}")
        _fail(side, "connection_closed")

    async def _read_callee(self, side: Side) -> None:
        """The callee rings and answers at once on every incoming call."""
        with contextlib.suppress(Exception):
            async for raw in side.ws:
                msg = json.loads(raw)
                type_ = msg.get("type")
                if type_ == "call.incoming":
                    call_id = msg["data"]["call_id"]
                    ringing = {"v": 1, "type": "call.ringing", "data": {"call_id": call_id}}
                    await side.ws.send(json.dumps(ringing))
                    answer = {
                        "v": 1,
                        "type": "call.answer",
                        "id": f"a{next(self.ids)}",
                        "data": {"call_id": call_id, "sdp": self.sdp},
                    }
                    await side.ws.send(json.dumps(answer))
                elif type_ == "error":
                    self.stats.errors[f"callee:{msg.get('data', {}).get('code')}"] += 1

    async def _call(self, pair: Pair, stats: StepStats, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        side = pair.caller
        answered: asyncio.Future[float] = loop.create_future()
        side.answered = answered
        side.call_id = None
        msg_id = f"i{next(self.ids)}"
        invite_ack: asyncio.Future[dict[str, Any]] = loop.create_future()
        side.pending[msg_id] = invite_ack
        invite = {
            "v": 1,
            "type": "call.invite",
            "id": msg_id,
            "data": {"to": pair.to, "media": "audio", "sdp": self.sdp},
        }
        payload = json.dumps(invite)
        sent_wall = time.time()
        if not stats.first_send:
            stats.first_send = sent_wall
        t0 = time.perf_counter()
        try:
            await side.ws.send(payload)
            t1 = await asyncio.wait_for(answered, timeout)
        except TimeoutError:
            stats.timeouts += 1
            return  # the pair stays out of the pool: its state is unknown
        except CallFailed as exc:
            stats.errors[exc.code] += 1
            return
        except Exception as exc:
            stats.errors[type(exc).__name__] += 1
            return
        finally:
            side.answered = None
        stats.ok += 1
        stats.latencies.append((t1 - t0) * 1000)
        stats.last_answer = max(stats.last_answer, sent_wall + (t1 - t0))
        if self.talk_s:  # the call lasts a moment, so that it is billable (≥ 1 ms answered)
            await asyncio.sleep(self.talk_s)
        # hang up, and only reuse the pair once the server has acknowledged it
        hang_id = f"h{next(self.ids)}"
        hang_fut: asyncio.Future[dict[str, Any]] = loop.create_future()
        side.pending[hang_id] = hang_fut
        try:
            reply = await asyncio.wait_for(invite_ack, timeout)
            call_id = reply.get("data", {}).get("call_id")
            if not call_id:
                raise CallFailed("invite_ack_missing")
            hangup = {"v": 1, "type": "call.hangup", "id": hang_id, "data": {"call_id": call_id}}
            await side.ws.send(json.dumps(hangup))
            reply = await asyncio.wait_for(hang_fut, timeout)
        except TimeoutError:
            stats.errors["hangup_timeout"] += 1
            return
        except CallFailed as exc:
            stats.errors[exc.code] += 1
            return
        finally:
            side.pending.pop(msg_id, None)
            side.pending.pop(hang_id, None)
        if reply.get("type") == "error":
            stats.errors[f"hangup:{reply.get('data', {}).get('code')}"] += 1
            return
        stats.completed += 1
        side.call_id = None
        self.free.append(pair)

    async def cmd_reset_pairs(self, timeout: float) -> dict[str, Any]:
        """Put pairs left out by a failed call back in the pool, ending what they left open."""
        loop = asyncio.get_running_loop()
        idle = set(self.free)
        reset = 0
        for pair in self.pairs:
            if pair in idle:
                continue
            side = pair.caller
            if side.call_id:
                for type_ in ("call.cancel", "call.hangup"):
                    msg_id = f"r{next(self.ids)}"
                    fut: asyncio.Future[dict[str, Any]] = loop.create_future()
                    side.pending[msg_id] = fut
                    msg = {"v": 1, "type": type_, "id": msg_id, "data": {"call_id": side.call_id}}
                    with contextlib.suppress(Exception):
                        await side.ws.send(json.dumps(msg))
                        await asyncio.wait_for(fut, timeout)
                    side.pending.pop(msg_id, None)
            side.call_id = None
            side.answered = None
            self.free.append(pair)
            reset += 1
        return {"reset": reset}

    async def cmd_run_step(
        self, rate: float, duration: float, start_wall: float, timeout: float
    ) -> dict[str, Any]:
        """Open loop: invites at fixed intervals from ``start_wall``, never waiting for answers."""
        loop = asyncio.get_running_loop()
        stats = StepStats()
        self.stats = stats
        count = round(rate * duration)
        start = loop.time() + (start_wall - time.time())
        tasks: set[asyncio.Task[None]] = set()
        for k in range(count):
            due = start + k / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            stats.lags.append(max(0.0, loop.time() - due) * 1000)
            if not self.free:
                stats.skipped += 1
                continue
            pair = self.free.popleft()
            stats.sent += 1
            task = asyncio.create_task(self._call(pair, stats, timeout))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks), timeout=2 * timeout + 5)
        await asyncio.sleep(0.2)  # late callee errors land in this step's stats
        return stats.as_dict()

    async def cmd_close_all(self) -> dict[str, Any]:
        await self.cmd_close_sessions()
        for pair in self.pairs:
            for side in (pair.caller, pair.callee):
                with contextlib.suppress(Exception):
                    await side.ws.close()
                if side.reader is not None:
                    side.reader.cancel()
        self.pairs.clear()
        self.free.clear()
        return {}


def _fail(side: Side, code: str) -> None:
    if side.answered is not None and not side.answered.done():
        side.answered.set_exception(CallFailed(code))


async def _drain(ws: Any) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


def worker_main(conn: Any, index: int) -> None:
    raise_nofile()
    worker = ClientWorker(conn, index)
    try:
        import uvloop
    except ImportError:
        asyncio.run(worker.serve())
    else:
        uvloop.run(worker.serve())


class Pool:
    """The client worker processes (spawned, so none inherits the orchestrator's loop)."""

    def __init__(self, size: int, main: Any = None) -> None:
        """``main(conn, index)``: the workers' entry point (default: :class:`ClientWorker`)."""
        ctx = mp.get_context("spawn")
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        for i in range(size):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=main or worker_main, args=(child, i), daemon=True)
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    @property
    def size(self) -> int:
        return len(self.conns)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    async def run(self, cmd: str, per_worker: list[dict[str, Any]]) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        for conn, kwargs in zip(self.conns, per_worker, strict=True):
            conn.send((cmd, kwargs))
        results = await asyncio.gather(*(loop.run_in_executor(None, c.recv) for c in self.conns))
        for result in results:
            if "exception" in result:
                raise RuntimeError(f"client worker failed in {cmd}: {result['exception']}")
        return list(results)

    async def all(self, cmd: str, **kwargs: Any) -> list[dict[str, Any]]:
        return await self.run(cmd, [kwargs] * self.size)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.all("quit"), 30)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()


def split(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i::n] for i in range(n)]


# =============================================================================================
# Servers under test
# =============================================================================================


@dataclass
class Seeded:
    hold_tokens: list[str]
    pairs: list[tuple[str, str, str]]  # (caller token, callee token, callee "to")
    notes: dict[str, Any] = field(default_factory=dict)


class BaselineTarget:
    name = "baseline"
    label = "bare websockets relay"

    def stalls(self) -> dict[str, float] | None:
        return None

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.nice = 0

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        return []

    def start(self) -> None:
        from tests.support.server import free_port

        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "baseline_relay.py"), "--port", str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"baseline relay did not start: {line!r}")

    async def seed(self, n_hold: int, n_pairs: int, contacts: bool) -> Seeded:
        return Seeded(
            [f"bh{i:05d}" for i in range(n_hold)],
            [(f"bc{i:04d}", f"be{i:04d}", f"be{i:04d}") for i in range(n_pairs)],
            {"auth": "none (bearer token = user name)"},
        )

    def session_gauge(self) -> int | None:
        return None

    async def db_pids(self) -> list[int]:
        return []

    async def db_transactions(self) -> int | None:
        return None

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


class YuntongTarget:
    """A real Yuntong (tests.support.server.ServerProcess) on SQLite or PostgreSQL."""

    def __init__(self, backend: str, pg_dsn: str, workdir: Path, by_number: bool = False) -> None:
        self.name = f"{backend}-number" if by_number else backend
        db = "SQLite" if backend == "sqlite" else "PostgreSQL"
        self.label = f"Yuntong ({db}, calls by number)" if by_number else f"Yuntong ({db})"
        self.by_number = by_number  # every party has a number; callers dial the callee's
        self.backend = backend
        self.pg_dsn = pg_dsn
        self.workdir = workdir / self.name
        self.server: Any = None
        self.pg_db: str | None = None
        self.db_info: dict[str, str] = {}
        self.nice = 0
        self.billing = True
        self.env: dict[str, str] = {}  # for the server process (e.g. PYTHONPATH: another src/)

    @property
    def ws_url(self) -> str:
        return str(self.server.ws_url)

    @property
    def pid(self) -> int:
        return int(self.server.proc.pid)

    async def _database_url(self) -> str:
        if self.backend == "sqlite":
            path = self.workdir / "yuntong.db"
            self.db_info = {
                "sqlite": sqlite3.sqlite_version,
                "file system": _filesystem(self.workdir),
            }
            return f"sqlite+aiosqlite:///{path}"
        import asyncpg

        self.pg_db = f"yt_bench_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(self.pg_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{self.pg_db}"')
            for setting in ("server_version", "synchronous_commit", "fsync", "shared_buffers"):
                self.db_info[setting] = str(await conn.fetchval(f"SHOW {setting}"))
        finally:
            await conn.close()
        base = self.pg_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        return f"{base}/{self.pg_db}"

    async def start_async(self) -> None:
        from tests.support.server import ServerProcess

        self.workdir.mkdir(parents=True, exist_ok=True)
        url = await self._database_url()
        # a short reconnect grace so the sessions closed after the memory phase are dropped
        # (and their presence published) before the call steps start
        env = {"YUNTONG_RECONNECT_GRACE_S": "3", **self.env}
        self.server = ServerProcess(self.workdir / "var", url, **env)
        await asyncio.to_thread(self.server.start)

    async def seed(self, n_hold: int, n_pairs: int, contacts: bool) -> Seeded:
        """Users and API sessions: one through the real accounts service, the rest cloned.

        Creating a user (argon2id hash) and logging in (argon2id verify) cost ~0.5 s each
        here, so 10,000 would take hours; the bench creates one user and one login session
        the normal way, then bulk-inserts copies of those rows (same password hash, fresh
        session tokens) — exactly the rows the service would have written.
        """
        from sqlalchemy import insert, select

        from yuntong.accounts.models import LoginSession, User
        from yuntong.contacts.models import Contact
        from yuntong.core.ids import new_id, new_token, token_hash

        server = self.server
        notes: dict[str, Any] = {}
        t = time.perf_counter()
        await server.create_user("benchtemplate")
        notes["create_user_s"] = time.perf_counter() - t
        t = time.perf_counter()
        template_token = await server.login("benchtemplate")
        notes["login_s"] = time.perf_counter() - t
        t = time.perf_counter()
        ctx = await server.context()
        names = [f"bh{i:05d}" for i in range(n_hold)]
        callers = [f"bc{i:04d}" for i in range(n_pairs)]
        callees = [f"be{i:04d}" for i in range(n_pairs)]
        async with ctx.db.session() as s:
            template = (
                await s.execute(select(User).where(User.username == "benchtemplate"))
            ).scalar_one()
            login = (
                await s.execute(
                    select(LoginSession).where(
                        LoginSession.token_hash == token_hash(template_token)
                    )
                )
            ).scalar_one()
            user_cols = {
                p.key: getattr(template, p.key)
                for p in User.__mapper__.column_attrs
                if p.key not in ("id", "username", "display_name")
            }
            session_cols = {
                p.key: getattr(login, p.key)
                for p in LoginSession.__mapper__.column_attrs
                if p.key not in ("id", "token_hash", "user_id")
            }
        all_names = names + callers + callees
        for chunk in _chunks(all_names, 2000):
            async with ctx.db.session() as s:
                rows = [{**user_cols, "username": n, "display_name": n} for n in chunk]
                await s.execute(insert(User), rows)
        async with ctx.db.session() as s:
            result = await s.execute(select(User.username, User.id).where(User.id != template.id))
            ids = {name: uid for name, uid in result.all()}
        tokens = {n: new_token() for n in all_names}
        for chunk in _chunks(all_names, 2000):
            async with ctx.db.session() as s:
                rows = [
                    {
                        **session_cols,
                        "id": new_id(),
                        "token_hash": token_hash(tokens[n]),
                        "user_id": ids[n],
                    }
                    for n in chunk
                ]
                await s.execute(insert(LoginSession), rows)
        if contacts:
            now = ctx.clock.now()
            rows = []
            for a, b in zip(callers, callees, strict=True):
                for owner, other in ((a, b), (b, a)):
                    rows.append(
                        {
                            "owner_id": ids[owner],
                            "contact_user_id": ids[other],
                            "name": other,
                            "notes": "",
                            "favourite": False,
                            "created_at": now,
                        }
                    )
            async with ctx.db.session() as s:
                if rows:
                    await s.execute(insert(Contact), rows)
        to = {b: b for b in callees}
        if self.by_number:
            numbers = await seed_numbers(ctx, [ids[n] for n in callers + callees])
            to = {b: numbers[ids[b]] for b in callees}
            notes["numbers"] = len(numbers)
        notes["seed_s"] = time.perf_counter() - t
        notes["users"] = len(all_names) + 1
        if self.billing:
            notes["billing"] = await seed_billing(ctx, [ids[c] for c in callers])
        await server.aclose()  # the bench holds no database connection while measuring
        return Seeded(
            [tokens[n] for n in names],
            [(tokens[a], tokens[b], to[b]) for a, b in zip(callers, callees, strict=True)],
            notes,
        )

    def worker_pids(self) -> list[int]:
        """The server's billing worker process (and any other child with a pid file)."""
        return list(self.server.children())

    async def billing_summary(self) -> dict[str, Any]:
        """What the rater made of the calls: usage entries, how many were charged, the total."""
        from sqlalchemy import func, select

        from yuntong.billing.models import EntryKind, LedgerEntry, UsageRecord

        ctx = await self.server.context()
        try:
            async with ctx.db.session() as s:
                usage = int(await s.scalar(select(func.count(UsageRecord.id))) or 0)
                entries = (
                    await s.execute(
                        select(
                            func.count(LedgerEntry.id),
                            func.count(LedgerEntry.id).filter(LedgerEntry.amount_fen > 0),
                            func.coalesce(func.sum(LedgerEntry.amount_fen), 0),
                        ).where(LedgerEntry.kind == EntryKind.USAGE)
                    )
                ).one()
        finally:
            await self.server.aclose()
        return {
            "usage_records": usage,
            "rated": int(entries[0]),
            "charged": int(entries[1]),
            "charged_fen": int(entries[2]),
        }

    async def db_pids(self) -> list[int]:
        """This database's PostgreSQL backends and the shared WAL/checkpoint processes."""
        if not self.pg_db:
            return []
        import asyncpg

        conn = await asyncpg.connect(self.pg_dsn)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 OR backend_type IN "
                "('walwriter', 'checkpointer', 'background writer')",
                self.pg_db,
            )
        finally:
            await conn.close()
        pids = [int(r["pid"]) for r in rows]
        set_priority(pids, self.nice)
        return pids

    async def db_transactions(self) -> int | None:
        """Transactions committed or rolled back in this PostgreSQL database so far."""
        if not self.pg_db:
            return None
        import asyncpg

        conn = await asyncpg.connect(self.pg_dsn)
        try:
            # backends flush their statistics lazily (up to 10 s after going idle)
            await asyncio.sleep(11)
            value = await conn.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
                self.pg_db,
            )
        finally:
            await conn.close()
        return None if value is None else int(value)

    def _metrics(self) -> str | None:
        import httpx

        try:
            return httpx.get(f"{self.server.url}/metrics", timeout=10).text
        except httpx.HTTPError:
            return None

    def session_gauge(self) -> int | None:
        for line in (self._metrics() or "").splitlines():
            if line.startswith("yuntong_ws_sessions "):
                return int(float(line.split()[1]))
        return None

    def stalls(self) -> dict[str, float] | None:
        """Counters so far of what can stop set-ups: garbage-collector pauses (every
        generation) and group-commit transactions — how many, and how many took ≥ 25 ms."""
        text = self._metrics()
        if text is None:
            return None
        out: dict[str, float] = {}
        for line in text.splitlines():
            name, _, value = line.rpartition(" ")
            for metric, key in (
                ("yuntong_gc_pause_seconds", "gc"),
                ("yuntong_db_group_commit_seconds", "commit"),
            ):
                if name.startswith(metric + "_count"):
                    out[key] = out.get(key, 0.0) + float(value)
                elif name.startswith(metric + "_sum"):
                    out[key + "_s"] = out.get(key + "_s", 0.0) + float(value)
                elif name.startswith(metric + "_bucket") and 'le="0.025"' in name:
                    out[key + "_fast"] = out.get(key + "_fast", 0.0) + float(value)
            if name == "yuntong_gc_frozen_objects":
                out["frozen"] = float(value)
        return out

    def log_problems(self) -> list[str]:
        try:
            lines = self.server.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [ln for ln in lines if "error" in ln.lower() or "Traceback" in ln][:20]

    async def stop(self) -> None:
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)
            await self.server.aclose()
        if self.pg_db:
            import asyncpg

            conn = await asyncpg.connect(self.pg_dsn)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')
            finally:
                await conn.close()


BILLING_RATE = {"per_minute_fen": "10", "increment": "60/60", "connect_fee_fen": 0}
BILLING_ALLOWANCE_S = 120


async def seed_numbers(ctx: Any, user_ids: list[int]) -> dict[int, str]:
    """A mobile number assigned to every user (rows as the numbers service writes them, from
    one block with its source); returns each user's number in the national form callers dial."""
    from sqlalchemy import insert

    from tests.support.numbers import number_row
    from yuntong.numbers.models import NumberBlock, NumberState, PhoneNumber

    now = ctx.clock.now()
    async with ctx.db.session() as s:
        block = NumberBlock(carrier="bench", source_ref="bench allocation", created_at=now)
        s.add(block)
        await s.flush()
        block_id = block.id
    national = {uid: f"139{20_000_000 + i:08d}" for i, uid in enumerate(user_ids)}
    rows = [number_row(n, block_id, uid, NumberState.ASSIGNED, now) for uid, n in national.items()]
    for chunk in _chunks(rows, 2000):
        async with ctx.db.session() as s:
            await s.execute(insert(PhoneNumber), chunk)
    return national


async def seed_billing(ctx: Any, caller_ids: list[int]) -> dict[str, Any]:
    """Billing as in production: a default package, set up by staff through the catalog
    service, on which audio calls are chargeable (0.10 a minute, per started minute, after 10
    free minutes a month), and a billing account for every caller (opened as the worker opens
    them), so every invite is checked by credit control and every call is rated."""
    from yuntong.accounts.auth import principal_for
    from yuntong.accounts.models import Role
    from yuntong.accounts.registration import do_create_admin
    from yuntong.billing.catalog import catalog
    from yuntong.billing.catalog.catalog import business_tz
    from yuntong.billing.ledger.accounts import account_ids_for_users

    staff = await do_create_admin(ctx, "benchstaff", "bench-staff-Passw0rd!", Role.OPERATOR_ADMIN)
    actor = principal_for(staff, "bench", "bench")
    product = await catalog.do_create_product(
        ctx,
        actor,
        code="bench-calls",
        kind="package",
        name_zh="通话套餐",
        name_en="Calls package",
        is_default=True,
    )
    await catalog.do_set_price(
        ctx,
        actor,
        product.id,
        effective_on=ctx.clock.now().astimezone(business_tz(ctx)).date(),
        monthly_fee_fen=0,
        allowances={"call.audio": BILLING_ALLOWANCE_S},
        rates={"call.audio": BILLING_RATE},
        note="bench",
    )
    opened = await account_ids_for_users(ctx, set(caller_ids))
    return {"accounts": len(opened), "package": product.code}


def billing_line(seeded: dict[str, Any] | None, summary: dict[str, Any] | None) -> str:
    if not seeded:
        return (
            "Billing: no package (`--no-billing`): calls are not chargeable; credit control "
            "and rating still run."
        )
    line = (
        f"Billing active: default package `{seeded['package']}` with audio calls at 0.10 a "
        f"minute per started minute after {BILLING_ALLOWANCE_S // 60} free minutes a month, "
        f"{seeded['accounts']:,} caller accounts; every invite is checked by credit control and "
        "the rater runs every 2 s in the server's billing worker process."
    )
    if summary:
        line += (
            f" After the steps: {summary['usage_records']:,} calls collected, "
            f"{summary['rated']:,} rated, {summary['charged']:,} of them charged, "
            f"{summary['charged_fen'] / 100:,.2f} yuan in all."
        )
    return line


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _filesystem(path: Path) -> str:
    try:
        out = subprocess.run(
            ["df", "-T", str(path)], capture_output=True, text=True, check=True
        ).stdout.splitlines()[-1]
        return out.split()[1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "?"


# =============================================================================================
# Measurement
# =============================================================================================


class CpuMeter:
    """CPU seconds used by some processes between start() and stop(), as % of one core."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = list(pids)
        self.t0 = 0.0
        self.c0: dict[int, float] = {}

    @staticmethod
    def _cpu(pid: int) -> float | None:
        import psutil

        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.c0 = {pid: c for pid in self.pids if (c := self._cpu(pid)) is not None}

    def stop(self) -> float:
        elapsed = time.perf_counter() - self.t0
        used = 0.0
        for pid, c0 in self.c0.items():
            c1 = self._cpu(pid)
            if c1 is not None:
                used += c1 - c0
        return 100.0 * used / elapsed if elapsed > 0 else 0.0


class SystemMeter:
    """Busy CPU of the whole machine (all processes), as % of one core."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.b0 = 0.0

    @staticmethod
    def _busy() -> float:
        import psutil

        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def start(self) -> None:
        self.t0, self.b0 = time.perf_counter(), self._busy()

    def stop(self) -> float:
        elapsed = time.perf_counter() - self.t0
        return 100.0 * (self._busy() - self.b0) / elapsed if elapsed > 0 else 0.0


class Meters:
    """Server, database, load generator and everything else on the machine, over one step."""

    def __init__(self, target: Any, pool: Pool) -> None:
        self.target = target
        self.pool = pool
        self.meters: dict[str, Any] = {}

    async def start(self) -> None:
        db_pids = await self.target.db_pids()
        self.meters = {
            "server_cpu": CpuMeter([self.target.pid]),
            "worker_cpu": CpuMeter(self.target.worker_pids()),
            "client_cpu": CpuMeter(self.pool.pids),
            "db_cpu": CpuMeter(db_pids),
            "system_cpu": SystemMeter(),
        }
        for meter in self.meters.values():
            meter.start()

    def stop(self) -> dict[str, float]:
        out = {name: meter.stop() for name, meter in self.meters.items()}
        ours = out["server_cpu"] + out["worker_cpu"] + out["client_cpu"] + out["db_cpu"]
        out["other_cpu"] = max(0.0, out["system_cpu"] - ours)
        return out


def set_priority(pids: list[int], nice: int) -> None:
    """Run the benchmark's processes at a higher priority (negative nice needs root)."""
    if not nice:
        return
    for pid in pids:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, nice)


def rss(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


async def wait_idle(pid: int, at_least: float, max_wait: float = 60.0) -> float:
    """Sleep ``at_least`` seconds, then until the process uses < 5 % CPU for a second."""
    started = time.perf_counter()
    await asyncio.sleep(at_least)
    while time.perf_counter() - started < max_wait:
        meter = CpuMeter([pid])
        meter.start()
        await asyncio.sleep(1.0)
        if meter.stop() < 5.0:
            break
    return time.perf_counter() - started


@dataclass
class Quiet:
    """The machine is shared: wait until other processes leave the CPUs (mostly) alone."""

    threshold: float  # % of one core used by processes that are not part of the benchmark
    max_wait: float  # seconds per wait
    log: Any
    waited: float = 0.0

    async def wait(self, target: Any, pool: Pool) -> float:
        started = time.perf_counter()
        calm = 0
        other = 0.0
        while time.perf_counter() - started < self.max_wait:
            meters = Meters(target, pool)
            await meters.start()
            await asyncio.sleep(1.0)
            other = meters.stop()["other_cpu"]
            calm = calm + 1 if other < self.threshold else 0
            if calm >= 2:
                break
        spent = time.perf_counter() - started
        self.waited += spent
        if spent > 5:
            self.log(f"  waited {spent:.0f} s for other load to drop (now {other:.0f}% CPU)")
        return other


def profile_summary(raw: Path) -> dict[str, Any]:
    """Aggregate ``py-spy record -f raw`` output: self time by package, hot Yuntong frames."""
    total = 0
    by_package: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not stack or not n_text.isdigit():
            continue
        n = int(n_text)
        total += n
        frames = stack.split(";")
        leaf = frames[-1]
        path = leaf[leaf.rfind("(") + 1 :].split(":")[0]
        parts = Path(path).parts
        by_package[parts[0] if len(parts) > 1 else (path or "?")] += n
        for frame in {
            f.split(" (")[0] + " (" + f.split("(")[-1].split(":")[0] + ")" for f in frames
        }:
            if "yuntong/" in frame and not frame.startswith("run_server "):
                inclusive[frame] += n
    if not total:
        return {}
    return {
        "samples": total,
        "self_by_package": [(k, 100.0 * v / total) for k, v in by_package.most_common(12)],
        "yuntong_inclusive": [(k, 100.0 * v / total) for k, v in inclusive.most_common(20)],
    }


async def sessions_phase(
    target: Any, pool: Pool, tokens: list[str], hold: float, quiet: Quiet, log: Any
) -> dict[str, Any]:
    """Open ``tokens`` sessions (a small warm-up batch first), measure ΔRSS, hold, check."""
    total = len(tokens)
    warm = min(200, max(pool.size, total // 20))
    warm_tokens, rest = tokens[:warm], tokens[warm:]
    res = await pool.run(
        "open_sessions",
        [
            {"url": target.ws_url, "tokens": t, "device": "bench", "concurrency": 50}
            for t in split(warm_tokens, pool.size)
        ],
    )
    failures: Counter[str] = Counter()
    for r in res:
        failures.update(r["failures"])
    await asyncio.sleep(2)
    await quiet.wait(target, pool)
    rss0 = rss(target.pid)
    meters = Meters(target, pool)
    await meters.start()
    t = time.perf_counter()
    res = await pool.run(
        "open_sessions",
        [
            {"url": target.ws_url, "tokens": t, "device": "bench", "concurrency": 100}
            for t in split(rest, pool.size)
        ],
    )
    connect_s = time.perf_counter() - t
    connect = meters.stop()
    opened_rest = sum(r["opened"] for r in res)
    compressed = sum(r.get("compressed", 0) for r in res)
    for r in res:
        failures.update(r["failures"])
    log(
        f"  opened {opened_rest + warm}/{total} sessions in {connect_s:.1f} s "
        f"(other load {connect['other_cpu']:.0f}% CPU)"
    )
    await asyncio.sleep(3)
    rss1 = rss(target.pid)
    idle = Meters(target, pool)
    await idle.start()
    await asyncio.sleep(hold)
    idle_cpu = idle.stop()
    open_now = sum(r["open"] for r in await pool.all("count_sessions"))
    gauge = await asyncio.to_thread(target.session_gauge)
    rss2 = rss(target.pid)
    per_session = (rss1 - rss0) / opened_rest if opened_rest else None
    log(
        f"  held {open_now} after {hold:.0f} s; RSS {rss0 / 2**20:.0f} → {rss1 / 2**20:.0f} MiB"
        f" ({(per_session or 0) / 1024:.1f} KiB/session)"
    )
    return {
        "requested": total,
        "held": open_now,
        "deflate_negotiated": compressed,
        "server_gauge": gauge,
        "failures": dict(failures),
        "connect_s": connect_s,
        "connect_rate": opened_rest / connect_s if connect_s else None,
        "connect_cpu": connect["server_cpu"],
        "connect_db_cpu": connect["db_cpu"],
        "connect_other_cpu": connect["other_cpu"],
        "rss_before": rss0,
        "rss_after": rss1,
        "rss_after_hold": rss2,
        "measured_sessions": opened_rest,
        "bytes_per_session": per_session,
        "idle_cpu": idle_cpu["server_cpu"],
        "hold_s": hold,
    }


def merge_step(rate: float, duration: float, parts: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [v for p in parts for v in p["latencies"]]
    lags = [v for p in parts for v in p["lags"]]
    errors: Counter[str] = Counter()
    for p in parts:
        errors.update(p["errors"])
    ok = sum(p["ok"] for p in parts)
    firsts = [p["first_send"] for p in parts if p["first_send"]]
    lasts = [p["last_answer"] for p in parts if p["last_answer"]]
    span = max(lasts) - min(firsts) if firsts and lasts else 0.0
    # answered set-ups over the time from the first invite to the last answer (at least the
    # step's duration): a server that falls behind stretches the span and shows a lower rate
    achieved = ok / max(span, duration) if ok else 0.0
    timeouts = sum(p["timeouts"] for p in parts)
    skipped = sum(p["skipped"] for p in parts)
    n_errors = sum(errors.values())
    return {
        "rate": rate,
        "duration": duration,
        "offered": round(rate * duration),
        "sent": sum(p["sent"] for p in parts),
        "ok": ok,
        "completed": sum(p["completed"] for p in parts),
        "achieved": achieved,
        "timeouts": timeouts,
        "skipped": skipped,
        "errors": dict(errors),
        "n_errors": n_errors,
        "p50": percentile(latencies, 50),
        "p90": percentile(latencies, 90),
        "p99": percentile(latencies, 99),
        "max": max(latencies) if latencies else None,
        "lag_p99": percentile(lags, 99),
        "sustained": achieved >= 0.95 * rate and not (timeouts or skipped or n_errors),
    }


@dataclass
class StepPlan:
    rates: list[float]
    duration: float
    timeout: float
    retries: int
    py_spy: str | None
    workdir: Path


async def calls_phase(
    target: Any,
    pool: Pool,
    pairs: list[tuple[str, str, str]],
    plan: StepPlan,
    quiet: Quiet,
    log: Any,
) -> dict[str, Any]:
    res = await pool.run(
        "open_pairs",
        [{"url": target.ws_url, "pairs": p, "device": "bench"} for p in split(pairs, pool.size)],
    )
    log(f"  {sum(r['pairs'] for r in res)} caller/callee pairs connected")

    async def step(rate: float, seconds: float, profile: bool = False) -> dict[str, Any]:
        meters = Meters(target, pool)
        stalls0 = target.stalls()
        await meters.start()
        spy, raw = None, plan.workdir / f"profile-{target.name}-{rate:g}.txt"
        if profile and plan.py_spy:
            spy = await asyncio.create_subprocess_exec(
                plan.py_spy,
                *("record", "--gil", "--nonblocking", "-r", "100", "-f", "raw"),
                *("-d", str(int(seconds)), "-o", str(raw), "-p", str(target.pid)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        # the schedule starts only now: anything slow before this must not make invites late
        start = time.time() + 0.3
        per_worker = [
            {
                "rate": rate / pool.size,
                "duration": seconds,
                "start_wall": start + i / rate,  # interleave the workers' invites
                "timeout": plan.timeout,
            }
            for i in range(pool.size)
        ]
        parts = await pool.run("run_step", per_worker)
        result = merge_step(rate, seconds, parts)
        result.update(meters.stop())
        stalls1 = target.stalls()
        if stalls0 is not None and stalls1 is not None:
            result["stalls"] = {
                key: stalls1.get(key, 0.0) - stalls0.get(key, 0.0)
                for key in ("gc", "gc_s", "gc_fast", "commit", "commit_s", "commit_fast")
            }
            result["stalls"]["frozen"] = stalls1.get("frozen", 0.0)
        if spy is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(spy.wait(), 30)
            if raw.exists():
                result["profile"] = profile_summary(raw)
        return result

    await quiet.wait(target, pool)
    # warm-up, not reported: every pair places a call once, so that no reported step pays
    # for a first call per user (a server's per-user caches are filled by then)
    warm_rate = min(plan.rates[0], 50.0)
    await step(warm_rate, max(2.0, 1.2 * len(pairs) / warm_rate))
    await pool.all("reset_pairs", timeout=plan.timeout)
    xacts0 = await target.db_transactions()
    steps = []
    for rate in plan.rates:
        attempts = []
        for _ in range(1 + plan.retries):
            await quiet.wait(target, pool)
            r = await step(rate, plan.duration, profile=isinstance(target, YuntongTarget))
            attempts.append(r)
            if r["other_cpu"] < quiet.threshold:
                break
            log(f"  {rate:g}/s: other processes used {r['other_cpu']:.0f}% CPU; again")
            await pool.all("reset_pairs", timeout=plan.timeout)
        r = min(attempts, key=lambda a: a["other_cpu"])
        r["attempts"] = len(attempts)
        steps.append(r)
        log(
            f"  {rate:>5.0f}/s offered → {r['achieved']:6.1f}/s achieved, "
            f"p50 {_ms(r['p50'])} p99 {_ms(r['p99'])} ms, errors {r['n_errors']}, "
            f"timeouts {r['timeouts']}, skipped {r['skipped']}, CPU server "
            f"{r['server_cpu']:.0f}% worker {r['worker_cpu']:.0f}% db {r['db_cpu']:.0f}% "
            f"clients {r['client_cpu']:.0f}% "
            f"other {r['other_cpu']:.0f}%"
        )
        if r["timeouts"] or r["achieved"] < 0.8 * rate:
            log("  saturated: higher rates skipped")
            break
        await pool.all("reset_pairs", timeout=plan.timeout)
        await asyncio.sleep(1.0)
    out: dict[str, Any] = {"steps": steps}
    if xacts0 is not None:
        xacts1 = await target.db_transactions()
        completed = sum(st["completed"] for st in steps)
        if xacts1 is not None and completed:
            out["db_xacts_per_call"] = (xacts1 - xacts0) / completed
    return out


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


# =============================================================================================
# Report
# =============================================================================================


def machine_info() -> dict[str, str]:
    import uvicorn
    import websockets

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    return {
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"),
        "cpu": cpu,
        "ram": mem,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "websockets": websockets.__version__,
        "uvicorn": uvicorn.__version__,
    }


def source_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes when the run started."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("log", "-1", "--format=%h %s")
        dirty = git("status", "--porcelain", "--", "src", "tests/support")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    if not dirty:
        return f"commit {head}"
    files = len(dirty.splitlines())
    return f"commit {head}, plus uncommitted changes to {files} files in src/ or tests/support/"


def render(run: dict[str, Any]) -> str:
    a = run["args"]
    m = run["machine"]
    targets = run["targets"]
    base = targets.get("baseline")
    lines = [
        SECTION_START,
        "## Signaling (WebSocket, no media)",
        "",
        f"Run {run['date']} — `{run['command']}` — {run['total_s'] / 60:.1f} min.",
        "",
        f"Code at the start of the run: {run.get('source', '?')}.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, Python {m['python']}, "
        f"Linux {m['kernel']}; websockets {m['websockets']}, uvicorn {m['uvicorn']} with uvloop "
        f"and httptools. The server, PostgreSQL and the load generator ({a['client_procs']} "
        "client processes) share these CPUs.",
        "",
        f"Load: {a['sessions']:,} idle sessions held {a['hold']:.0f} s; {a['pairs']} "
        f"caller/callee pairs; {a['duration']:.0f} s steps at "
        f"{', '.join(f'{r:g}' for r in a['rates'])} call set-ups/s (open loop); set-up "
        f"time-out {a['timeout']:.0f} s; clients "
        f"{'offer' if a['compression'] else 'do not offer'} permessage-deflate "
        f"{'(as browsers and the Python client do; each server decides)' if a['compression'] else ''}; "  # noqa: E501
        f"call partners {'are' if a['contacts'] else 'are not'} each other's contacts; the "
        f"idle sessions {'stay open' if a.get('calls_with_sessions') else 'are closed'} "
        "during the call steps; a caller hangs up "
        f"{a.get('talk_ms', 0):g} ms after the answer"
        f"{'; benchmark processes at nice ' + str(a['nice']) if a.get('nice') else ''}.",
        "",
        "### Against the targets",
        "",
        "| | sessions held | memory / session | sustained set-ups/s | p99 there |"
        " ≥ 10,000 sessions at ≤ 50 KB | ≥ 300/s with p99 ≤ 25 ms |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for name, t in targets.items():
        s = t.get("sessions") or {}
        steps = (t.get("calls") or {}).get("steps", [])
        sustained = [st for st in steps if st["sustained"]]
        best = max(sustained, key=lambda st: st["rate"]) if sustained else None
        calls_ok = any(
            st["sustained"] and st["rate"] >= 300 and (st["p99"] or 1e9) <= 25 for st in steps
        )
        per = s.get("bytes_per_session")
        sessions_ok = bool(s) and s["held"] >= 10_000 and per is not None and per <= 50_000
        lines.append(
            f"| {t['label']} | {_num(s.get('held'))} of {_num(s.get('requested'))} | "
            f"{'–' if per is None else f'{per / 1000:.1f} KB'} | "
            f"{'none' if best is None else format(best['rate'], 'g')} | "
            f"{'–' if best is None else _ms(best['p99']) + ' ms'} | "
            f"{_verdict(name, sessions_ok)} | {_verdict(name, calls_ok)} |"
        )
    lines += ["", "(KB = 1,000 bytes.)", ""]
    for name, t in targets.items():
        lines += [f"### {t['label']}", ""]
        notes = t.get("notes") or {}
        if name == "baseline":
            lines += [
                "bench/baseline_relay.py: one `websockets` server process relaying the same "
                "envelopes (no authentication, database, validation or presence; no "
                "permessage-deflate, like Yuntong's default), same load generator.",
                "",
            ]
        else:
            info = ", ".join(f"{k} {v}" for k, v in (t.get("db_info") or {}).items())
            if t.get("source") and t["source"] != run.get("source"):
                lines += [f"Code measured here: {t['source']} (changed during the run).", ""]
            lines += [
                f"Database: {info}. {notes.get('users', 0):,} users, every session a distinct "
                "user on one device: one user created through the accounts service "
                f"({notes.get('create_user_s', 0):.2f} s, argon2id) and logged in over HTTP "
                f"({notes.get('login_s', 0):.2f} s); the others are copies of that user row and "
                f"its API login-session row with fresh tokens, bulk-inserted in "
                f"{notes.get('seed_s', 0):.1f} s (logging them all in would take "
                f"{notes.get('users', 0) * notes.get('login_s', 0) / 60:.0f} min).",
                "",
            ]
            lines += [billing_line(notes.get("billing"), t.get("billing")), ""]
        s = t.get("sessions")
        if s:
            per = s["bytes_per_session"]
            lines += [
                "| sessions | held after the hold | server gauge | connect time | server RSS "
                "before → after | per 1,000 sessions | per session | server CPU, idle |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
                f"| {s['requested']:,} | {s['held']:,} | {_num(s['server_gauge'])} | "
                f"{s['connect_s']:.1f} s ({s['connect_rate'] or 0:.0f}/s; server CPU "
                f"{s['connect_cpu']:.0f}%, other load {s['connect_other_cpu']:.0f}%) | "
                f"{s['rss_before'] / 2**20:.0f} → {s['rss_after'] / 2**20:.0f} MiB | "
                f"{'–' if per is None else f'{per * 1000 / 1e6:.1f} MB'} | "
                f"{'–' if per is None else f'{per / 1000:.1f} KB'} | {s['idle_cpu']:.1f}% |",
                "",
            ]
            if s.get("deflate_negotiated") is not None:
                lines += [
                    f"permessage-deflate negotiated on {s['deflate_negotiated']:,} of the "
                    f"{s['measured_sessions']:,} sessions measured.",
                    "",
                ]
            if s["failures"]:
                lines += [f"Session failures: {s['failures']}", ""]
        steps = (t.get("calls") or {}).get("steps", [])
        if steps:
            base_steps = {st["rate"]: st for st in (base or {}).get("calls", {}).get("steps", [])}
            with_ratio = name != "baseline" and bool(base_steps)
            header = (
                "| offered /s | achieved /s | set-ups | errors | time-outs | skipped | p50 ms |"
                " p90 ms | p99 ms | max ms |"
            )
            rule = "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            if with_ratio:
                header += " p50 ÷ relay | p99 ÷ relay |"
                rule += "---:|---:|"
            header += " CPU server | CPU worker | CPU db | CPU clients | CPU other | sustained |"
            rule += "---:|---:|---:|---:|---:|:-:|"
            lines += [header, rule]
            for st in steps:
                row = (
                    f"| {st['rate']:g} | {st['achieved']:.1f} | {st['ok']:,} | {st['n_errors']} | "
                    f"{st['timeouts']} | {st['skipped']} | {_ms(st['p50'])} | {_ms(st['p90'])} | "
                    f"{_ms(st['p99'])} | {_ms(st['max'])} |"
                )
                if with_ratio:
                    b = base_steps.get(st["rate"])
                    row += f" {_ratio(st['p50'], b and b['p50'])} |"
                    row += f" {_ratio(st['p99'], b and b['p99'])} |"
                noisy = st["other_cpu"] >= a.get("quiet_threshold", 25.0)
                row += (
                    f" {st['server_cpu']:.0f}% | {st.get('worker_cpu', 0):.0f}% |"
                    f" {st['db_cpu']:.0f}% | {st['client_cpu']:.0f}% |"
                    f" {st['other_cpu']:.0f}%{' ⚠' if noisy else ''} |"
                    f" {'yes' if st['sustained'] else 'no'} |"
                )
                lines.append(row)
            lines.append("")
            errs = {format(st["rate"], "g"): st["errors"] for st in steps if st["errors"]}
            if errs:
                lines += [f"Errors by step: `{errs}`", ""]
            per_call = [
                (st["rate"], 10 * st["server_cpu"] / st["achieved"])
                for st in steps
                if st["achieved"] > 0
            ]
            if per_call:
                lines += [
                    "Server CPU per call (set-up and hang-up): "
                    + ", ".join(f"{c:.1f} ms at {r:g}/s" for r, c in per_call)
                    + ".",
                    "",
                ]
            stalled = [(st["rate"], st["stalls"]) for st in steps if st.get("stalls")]
            if stalled:
                lines += [
                    "| offered /s | GC pauses | GC time | GC pauses ≥ 25 ms |"
                    " frozen at last sweep | group commits | commit time | commits ≥ 25 ms |",
                    "|---:|---:|---:|---:|---:|---:|---:|---:|",
                    *(
                        f"| {r:g} | {g['gc']:,.0f} | {1000 * g['gc_s']:,.0f} ms |"
                        f" {g['gc'] - g['gc_fast']:,.0f} | {g['frozen']:,.0f} |"
                        f" {g['commit']:,.0f} | {1000 * g['commit_s']:,.0f} ms |"
                        f" {g['commit'] - g['commit_fast']:,.0f} |"
                        for r, g in stalled
                    ),
                    "",
                ]
            xacts = (t.get("calls") or {}).get("db_xacts_per_call")
            if xacts:
                lines += [
                    f"PostgreSQL transactions per completed call, all steps together "
                    f"(pg_stat_database): {xacts:.1f}.",
                    "",
                ]
            profiled = [st for st in steps if st.get("profile")]
            if profiled:
                st = profiled[-1]
                prof = st["profile"]
                lines += [
                    f"Server profile at {st['rate']:g}/s (py-spy, GIL-holding samples only, "
                    f"{prof['samples']:,} samples). Self time by package: "
                    + ", ".join(f"{k} {v:.0f}%" for k, v in prof["self_by_package"][:10])
                    + ". Yuntong functions, inclusive:",
                    "",
                    *(f"- {v:4.1f}% `{k}`" for k, v in prof["yuntong_inclusive"][:12]),
                    "",
                ]
        if t.get("waited_for_quiet_s", 0) > 5:
            lines += [
                f"Waited {t['waited_for_quiet_s']:.0f} s in all for other processes to leave "
                "the CPUs alone.",
                "",
            ]
        problems = t.get("log_problems") or []
        if problems:
            lines += ["Server log (first error lines):", "", "```", *problems, "```", ""]
    lines += [
        "Set-up latency: `call.invite` sent → `call.answered` received by the caller; the "
        "callee sends `call.ringing` and `call.answer` as soon as `call.incoming` arrives. "
        "Achieved = answered set-ups ÷ (last answer − first invite). Sustained = achieved ≥ 95% "
        "of offered with no error, time-out or skipped invite (skipped: every pair was still "
        "busy). CPU columns are % of one core over the step (200% = both cores); “other” is "
        "every process outside the benchmark (“db” counts the PostgreSQL backends present "
        "when the step starts, so connections the pool opens during a step are missed) — "
        "⚠ marks a step disturbed by more than "
        f"{a.get('quiet_threshold', 25.0):.0f}% of a core (the least disturbed of up to "
        f"{1 + run.get('retries', 1)} attempts is shown).",
        "",
    ]
    if run.get("findings"):
        lines += ["### Findings", "", run["findings"].strip(), ""]
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


def _verdict(name: str, ok: bool) -> str:
    return "—" if name == "baseline" else ("met" if ok else "**not met**")


def _num(v: int | None) -> str:
    return "–" if v is None else f"{v:,}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "–"
    return f"{a / b:.1f}×"


def write_results(path: Path, section: str) -> None:
    write_section(path, SECTION_START, SECTION_END, section)


# =============================================================================================
# Main
# =============================================================================================


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Yuntong signaling benchmark (sessions, call set-ups, bare relay baseline)."
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sessions", type=int, default=10_000, help="idle sessions to hold")
    parser.add_argument(
        "--rates", default="50,100,200,300,400", help="call set-ups per second, per step"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate step")
    parser.add_argument("--pairs", type=int, default=400, help="caller/callee user pairs")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds to hold the sessions")
    parser.add_argument("--timeout", type=float, default=5.0, help="set-up time-out, seconds")
    parser.add_argument("--client-procs", type=int, default=2, help="load generator processes")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the check before landing (~1 min): relay and Yuntong (SQLite, billing on) at 300/s "
        "for 10 s; last line: the ratio to the relay; exit 1 on a regression",
    )
    parser.add_argument(
        "--calls-with-sessions",
        action="store_true",
        help="keep the idle sessions open during the call steps (default: close them first)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare relay")
    parser.add_argument(
        "--by-number",
        action="store_true",
        help="also run each backend with calls placed by number (every party has an assigned "
        "number, callers dial the callee's), reported beside the calls by username",
    )
    parser.add_argument(
        "--talk-ms",
        type=float,
        default=20.0,
        help="how long a caller stays in an answered call before hanging up (a call answered "
        "for under 1 ms is not billable)",
    )
    parser.add_argument(
        "--no-billing",
        action="store_true",
        help="no package: calls are not chargeable (credit control and rating still run)",
    )
    parser.add_argument(
        "--no-contacts", action="store_true", help="call partners are not each other's contacts"
    )
    parser.add_argument(
        "--no-compression", action="store_true", help="clients do not offer permessage-deflate"
    )
    parser.add_argument(
        "--pg-dsn",
        default=os.environ.get("YUNTONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server (a fresh database is created and dropped)",
    )
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=25.0,
        help="CPU %% (of one core) other processes may use before a step is waited for/rerun",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="longest wait for a quiet machine, s"
    )
    parser.add_argument(
        "--retries", type=int, default=1, help="reruns of a step disturbed by other load"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="priority for the server, relay, clients and PostgreSQL backends (e.g. -5; root)",
    )
    parser.add_argument(
        "--py-spy", default=None, help="path to py-spy: profile the server during each step"
    )
    parser.add_argument(
        "--out", default=None, help="results file (default bench/RESULTS.md; --quick: none)"
    )
    parser.add_argument("--json", default=None, help="also dump raw results as JSON here")
    parser.add_argument(
        "--from-json", default=None, help="do not measure: render a --json dump into --out"
    )
    parser.add_argument(
        "--findings", default=None, help="a Markdown file to include as the Findings section"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.backend = "sqlite" if args.backend == "both" else args.backend
        args.sessions = 0
        args.rates = f"{QUICK_RATE:g}"
        args.duration = 10.0
        args.no_baseline = False
        args.quiet_wait = min(args.quiet_wait, 30.0)
    if args.out is None and not args.quick:
        args.out = str(BENCH / "RESULTS.md")
    args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    return args


async def run_target(
    target: Any, pool: Pool, args: argparse.Namespace, quiet: Quiet, workdir: Path, log: Any
) -> dict[str, Any]:
    log(f"== {target.label}")
    target.nice = args.nice
    if isinstance(target, BaselineTarget):
        await asyncio.to_thread(target.start)
    else:
        await target.start_async()
    set_priority([target.pid], args.nice)
    out: dict[str, Any] = {"label": target.label, "source": source_state()}
    waited_before = quiet.waited
    try:
        seeded = await target.seed(args.sessions, args.pairs, not args.no_contacts)
        out["notes"] = seeded.notes
        out["db_info"] = getattr(target, "db_info", {})
        if args.sessions:
            out["sessions"] = await sessions_phase(
                target, pool, seeded.hold_tokens, args.hold, quiet, log
            )
            if not args.calls_with_sessions:
                await pool.all("close_sessions")
                waited = await wait_idle(target.pid, 4.0)
                log(f"  sessions closed; server idle after {waited:.0f} s")
        plan = StepPlan(
            args.rate_list, args.duration, args.timeout, args.retries, args.py_spy, workdir
        )
        out["calls"] = await calls_phase(target, pool, seeded.pairs, plan, quiet, log)
        if isinstance(target, YuntongTarget) and target.billing:
            await asyncio.sleep(5)  # one more rating pass (every 2 s) for the last step
            out["billing"] = await target.billing_summary()
    finally:
        with contextlib.suppress(Exception):
            await pool.all("close_all")
        if isinstance(target, YuntongTarget):
            out["log_problems"] = target.log_problems()
        await target.stop()
        out["waited_for_quiet_s"] = quiet.waited - waited_before
    return out


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    from yuntong.core.logging import configure_logging

    configure_logging("WARNING", json=False)
    limit = raise_nofile()
    needed = args.sessions + 2 * args.pairs + 200
    if limit < needed:
        print(f"warning: open-files limit {limit} < {needed} needed by the server", flush=True)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f}s] {msg}", flush=True)

    source = source_state()
    workdir = Path(tempfile.mkdtemp(prefix="yuntong-bench-"))
    pool = Pool(args.client_procs)
    await pool.all(
        "configure",
        compression=None if args.no_compression else "deflate",
        talk_s=args.talk_ms / 1000,
    )
    set_priority([os.getpid(), *pool.pids], args.nice)
    quiet = Quiet(args.quiet_threshold, args.quiet_wait, log)
    targets: list[Any] = []
    if not args.no_baseline:
        targets.append(BaselineTarget())
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for b in backends:
        targets.append(YuntongTarget(b, args.pg_dsn, workdir))
        if args.by_number:
            targets.append(YuntongTarget(b, args.pg_dsn, workdir, by_number=True))
    for target in targets:
        if isinstance(target, YuntongTarget):
            target.billing = not args.no_billing
    results: dict[str, Any] = {}
    try:
        for target in targets:
            results[target.name] = await run_target(target, pool, args, quiet, workdir, log)
    finally:
        await pool.close()
        if args.py_spy:
            log(f"raw py-spy profiles kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": " ".join(
            shlex.quote(a) for a in ["python", "bench/signaling.py", *sys.argv[1:]]
        ),
        "machine": machine_info(),
        "source": source,
        "args": {
            "sessions": args.sessions,
            "rates": args.rate_list,
            "duration": args.duration,
            "pairs": args.pairs,
            "hold": args.hold,
            "timeout": args.timeout,
            "client_procs": args.client_procs,
            "compression": not args.no_compression,
            "contacts": not args.no_contacts,
            "calls_with_sessions": args.calls_with_sessions,
            "billing": not args.no_billing,
            "talk_ms": args.talk_ms,
            "quiet_threshold": args.quiet_threshold,
            "nice": args.nice,
        },
        "targets": results,
        "retries": args.retries,
        "total_s": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.from_json:
        run = json.loads(Path(args.from_json).read_text())
    else:
        run = asyncio.run(amain(args))
    if args.findings:
        run["findings"] = Path(args.findings).read_text()
    if args.json:
        Path(args.json).write_text(json.dumps(run, indent=1, default=str))
    section = render(run)
    if args.out:
        write_results(Path(args.out), section)
        print(section)
        print(f"results written to {args.out}")
    if args.quick:
        line, ok = quick_verdict(run)
        print(line)
        if not ok:
            sys.exit(1)


QUICK_RATE = 300.0
QUICK_P99_MS = 25.0  # the documented target at 300 set-ups/s (docs/architecture.md)
# p99 as a multiple of the relay's in the same run: 6-21x after issue 20's fix (the relay's
# p99 is under 1 ms, so this ratio is noisy); the regression issue 20 reported was about 150x.
# aa3905f, half fixed, measured 15x and 25x: inside the noise, which one 10-s step on a
# 2-core machine cannot separate from good code
QUICK_P99_RATIO = 30.0


def quick_verdict(run: dict[str, Any]) -> tuple[str, bool]:
    """One line: Yuntong's set-up latency at the quick rate, as a ratio to the bare relay
    measured in the same run, and whether it holds the target (sustained, p99 ≤ 25 ms)."""
    targets = run["targets"]
    relay = targets["baseline"]["calls"]["steps"][0]
    name = next(n for n in targets if n != "baseline")
    step = targets[name]["calls"]["steps"][0]
    ratio_p50 = step["p50"] / relay["p50"] if relay["p50"] else float("nan")
    ratio_p99 = step["p99"] / relay["p99"] if relay["p99"] else float("nan")
    ok = (
        bool(step["sustained"])
        and step["p99"] is not None
        and step["p99"] <= QUICK_P99_MS
        and ratio_p99 <= QUICK_P99_RATIO
    )
    return (
        f"quick {name} at {step['rate']:g}/s: p50 {_ms(step['p50'])} ms, p99 "
        f"{_ms(step['p99'])} ms, server CPU {step['server_cpu']:.0f}%; relay p50 "
        f"{_ms(relay['p50'])} ms, p99 {_ms(relay['p99'])} ms; ratio to relay p50 "
        f"{ratio_p50:.1f}x, p99 {ratio_p99:.1f}x — "
        + (
            "OK"
            if ok
            else f"REGRESSION (wanted: sustained, p99 <= {QUICK_P99_MS:g} ms and <= "
            f"{QUICK_P99_RATIO:g}x the relay's)"
        ),
        ok,
    )


if __name__ == "__main__":
    main()
