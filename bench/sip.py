"""SIP edge call set-up rate: SIPp through Kamailio with Yuntong deciding every call, beside
SIPp straight to SIPp in the same run (issue 17).

What it measures, at rising open-loop call rates (SIPp ``-r``), each call answered at once and
held ``--hold-ms`` (1 s) before the caller's BYE:

* **peer**: a SIPp UAC straight to a SIPp UAS (INVITE → 180 → 200 → ACK, BYE → 200): what
  SIPp and the loopback manage on this machine, the baseline of the same run;
* **phone → phone**: a SIPp UAC authenticating per call (digest, 407 challenge, as the
  number's SIP credentials made by the credentials service) → Kamailio → Yuntong
  (``/internal/sip/route``: the caller's number, barring, credit, the callee's number, its
  services, busy marks, do-not-disturb, CLIP; the call's row in ``sip_calls``) → the callee's
  registered contact, a SIPp UAS; the answer and the BYE reported to Yuntong as events;
* **phone → trunk**: the same callers dialling public numbers, which leave by the carrier
  trunk, a SIPp UAS (P-Asserted-Identity as Yuntong says).

Each step offers ``rate`` calls a second for ``--duration`` seconds; a rate is sustained when
≥ 99.9 % of its calls succeeded (every message of the scenario, within SIPp's time-outs). The
ladder of a path stops at its first rate not sustained. Post-dial delay (RFC 6076: the first
INVITE, the digest challenge included, to the 180) is SIPp's response-time measurement
(``rtd``) per call; ``sip_calls.pdd_ms`` (what Kamailio reported to Yuntong: the
authenticated INVITE to the 180) is given beside it.

Every call comes from one of ``--ips`` loopback addresses (127.0.1.x, SIPp ``-t ui``): the
edge's flood guard (Kamailio ``pike``, 30 requests/s per address) would otherwise stop one
address sending a whole benchmark's load, as it should stop one phone doing it.

Run from the repository root::

    .venv/bin/python bench/sip.py                   # SQLite and PostgreSQL (~10 min)
    .venv/bin/python bench/sip.py --quick           # SQLite, 3 short steps (~2 min)
    .venv/bin/python bench/sip.py --backend postgres --rates 100,150 --duration 10

Results go to bench/RESULTS.md (the section between the ``sip`` markers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _path in (ROOT, ROOT / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import signaling  # noqa: E402  (bench/, beside this script)
from results_file import report  # noqa: E402
from signaling import CpuMeter, SystemMeter, YuntongTarget, machine_info  # noqa: E402

from tests.support.server import free_port, wait_for  # noqa: E402
from tests.support.sipp import uas_scenario  # noqa: E402

SECTION_START = "<!-- sip:start -->"
SECTION_END = "<!-- sip:end -->"
SIPP = shutil.which("sipp") or "sipp"
DOMAIN = "yuntong.bench"
NICE = [0]  # --nice, for every process the run starts
SUCCESS = 0.999  # a rate is sustained when at least this share of its calls succeeded
MACHINE = ("nproc", "cpu", "ram", "python", "kernel")
PATHS = {
    "peer": "SIPp → SIPp (peer)",
    "phone": "phone → edge → phone",
    "trunk": "phone → edge → trunk",
}

SDP = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
"""


# -- scenarios (injection file fields: caller; password; callee; source address) -------------


def _request(method: str, uri: str, cseq: int, extra: str = "") -> str:
    return (
        f"{method} {uri} SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]\n"
        "From: <sip:[field0]@[domain]>;tag=[pid]SIPpTag00[call_number]\n"
        f"To: <sip:[field2]@[domain]>\n"
        "Call-ID: [call_id]\n"
        f"CSeq: {cseq} {method}\n"
        "Contact: <sip:[field0]@[local_ip]:[local_port]>\n"
        "Max-Forwards: 70\n"
        f"{extra}"
    )


def _in_dialog(method: str, cseq: int) -> str:
    return (
        f"{method} [next_url] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]\n"
        "[last_From:]\n[last_To:]\n[routes]\n[last_Call-ID:]\n"
        f"CSeq: {cseq} {method}\nMax-Forwards: 70\nContent-Length: 0\n"
    )


def _send(text: str, attrs: str = ' retrans="500"') -> str:
    return f"  <send{attrs}><![CDATA[\n{text}\n]]></send>\n"


def uac_scenario(*, auth: bool, hold_ms: int) -> str:
    """A call from field0 (password field1) to field2; response time 1 (rtd): the first
    INVITE to the 180 or the 200 (the post-dial delay, the digest challenge included)."""
    uri = "sip:[field2]@[remote_ip]:[remote_port]"
    body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{SDP}"
    parts = ['<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="uac">\n']
    parts.append(_send(_request("INVITE", uri, 1, body), ' retrans="500" start_rtd="1"'))
    cseq = 1
    if auth:
        parts.append('  <recv response="100" optional="true"/>\n')
        parts.append('  <recv response="407" auth="true"/>\n')
        parts.append(
            _send(
                f"ACK {uri} SIP/2.0\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
                "CSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n",
                "",
            )
        )
        cseq = 2
        parts.append(_send(_request("INVITE", uri, 2, "[authentication]\n" + body)))
    parts.append('  <recv response="100" optional="true"/>\n')
    # the 180 and the 200 of the UAS may pass the edge's workers in either order; the
    # response time is taken once per call, at whichever comes first
    parts.append('  <recv response="180" optional="true" rtd="1"/>\n')
    parts.append('  <recv response="200" rrs="true" rtd="1"/>\n')
    parts.append(_send(_in_dialog("ACK", cseq), ""))
    parts.append(f'  <pause milliseconds="{hold_ms}"/>\n')
    parts.append(_send(_in_dialog("BYE", cseq + 1)))
    parts.append('  <recv response="200"/>\n</scenario>\n')
    return "".join(parts)


def register_scenario(contact: str) -> str:
    """field0 (password field1) registers ``contact`` (host:port of the phones' UAS)."""
    uri = "sip:[field0]@[domain]"
    head = (
        f"REGISTER sip:[domain] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]\n"
        f"From: <{uri}>;tag=[pid]SIPpTag00[call_number]\nTo: <{uri}>\nCall-ID: [call_id]\n"
    )
    tail = f"Contact: <sip:[field0]@{contact}>\nExpires: 3600\nMax-Forwards: 70\n"
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="register">\n'
        + _send(head + "CSeq: 1 REGISTER\n" + tail + "Content-Length: 0\n")
        + '  <recv response="401" auth="true"/>\n'
        + _send(head + "CSeq: 2 REGISTER\n[authentication]\n" + tail + "Content-Length: 0\n")
        + '  <recv response="200"/>\n</scenario>\n'
    )


def injection(rows: list[tuple[str, str, str]], ips: int) -> str:
    """SIPp's injection file: one line per (caller, password, callee), each from an address."""
    lines = ["SEQUENTIAL"]
    for i, (caller, password, callee) in enumerate(rows):
        lines.append(f"{caller};{password};{callee};{source_ip(i % ips)}")
    return "\n".join(lines) + "\n"


def source_ip(i: int) -> str:
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


# -- running SIPp ------------------------------------------------------------------------------


def _base_argv(scenario: Path, port: int) -> list[str]:
    return [
        SIPP,
        "-sf",
        str(scenario),
        "-p",
        str(port),
        "-nostdin",
        "-max_socket",
        "2000",
        "-key",
        "domain",
        DOMAIN,
    ]


class Uas:
    """A SIPp UAS in the background (the callees' phone, or the carrier trunk)."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        scenario = self.folder / "uas.xml"
        scenario.write_text(uas_scenario(200, ring_ms=0))
        argv = [*_base_argv(scenario, self.port), "-i", "127.0.0.1", "-s", "phone"]
        argv += ["-trace_err", "-error_file", str(self.folder / "errors.log")]
        argv += ["-trace_stat", "-stf", str(self.folder / "stats.csv"), "-fd", "1"]
        self.proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=self.folder,
        )
        signaling.set_priority([self.proc.pid], NICE[0])
        await asyncio.sleep(0.5)  # bound to its port
        if self.proc.returncode is not None:
            raise RuntimeError(f"the UAS on port {self.port} did not start")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def _write_files(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def _last_stats(path: Path) -> dict[str, str]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    return dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}


def _rtds(folder: Path) -> list[float]:
    out: list[float] = []
    for path in folder.glob("*_rtt.csv"):
        with path.open(newline="") as f:
            for row in csv.reader(f, delimiter=";"):
                if len(row) >= 3 and row[2] == "1":
                    with contextlib.suppress(ValueError):
                        out.append(float(row[1]))
    return out


async def run_uac(
    folder: Path,
    scenario_text: str,
    inf_text: str,
    dest: str,
    *,
    rate: float,
    calls: int,
    timeout_s: float,
    extra: list[str] | None = None,
) -> tuple[int, dict[str, str], list[float], float]:
    """Run one SIPp UAC to ``dest``: its exit code, its final statistics, the response times
    (ms) of every call and the wall time."""
    scenario = folder / "uac.xml"
    await asyncio.to_thread(_write_files, folder, {"uac.xml": scenario_text, "calls.csv": inf_text})
    argv = _base_argv(scenario, free_sip_port())
    argv += ["-inf", str(folder / "calls.csv"), "-t", "ui", "-ip_field", "3"]
    # the digest credentials of each call (SIPp takes no field inside [authentication ...])
    argv += ["-au", "[field0]", "-ap", "[field1]"]
    argv += ["-r", f"{rate:g}", "-m", str(calls), "-l", str(max(200, int(rate * 20)))]
    argv += ["-trace_stat", "-stf", str(folder / "stats.csv"), "-fd", "1"]
    argv += ["-trace_rtt", "-rtt_freq", "50", "-recv_timeout", "10000", "-send_timeout", "10000"]
    argv += ["-trace_err", "-error_file", str(folder / "errors.log")]
    argv += ["-timeout", f"{timeout_s:.0f}s", *(extra or []), dest]
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=folder
    )
    signaling.set_priority([proc.pid], NICE[0])
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout_s + 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    wall = time.perf_counter() - started
    stats_path = folder / "stats.csv"
    stats = _last_stats(stats_path) if stats_path.exists() else {}
    if not stats:
        print(err.decode(errors="replace")[-1500:], flush=True)
    return proc.returncode or 0, stats, _rtds(folder), wall


def free_sip_port() -> int:
    """A port free for UDP and for TCP (Kamailio listens on both)."""
    import socket

    from tests.support.sipp import free_udp_port

    while True:
        port = free_udp_port()
        with socket.socket() as tcp:
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


# -- the ladder of rates --------------------------------------------------------------------


class Meters:
    """CPU of each part over one step, as % of one core (the machine's total beside it)."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.meters: dict[str, Any] = {name: CpuMeter(pids) for name, pids in groups.items()}
        self.meters["system"] = SystemMeter()

    def start(self) -> None:
        for meter in self.meters.values():
            meter.start()

    def stop(self) -> dict[str, float]:
        return {name: round(meter.stop()) for name, meter in self.meters.items()}


async def step(
    args: argparse.Namespace,
    folder: Path,
    scenario: str,
    inf_text: str,
    dest: str,
    rate: float,
    pids: Any,
) -> dict[str, Any]:
    calls = max(1, round(rate * args.duration))
    meters = Meters(await pids())
    meters.start()
    code, stats, rtds, wall = await run_uac(
        folder,
        scenario,
        inf_text,
        dest,
        rate=rate,
        calls=calls,
        timeout_s=args.duration + args.hold_ms / 1000 + 40,
    )
    cpu = meters.stop()
    ok = int(stats.get("SuccessfulCall(C)", 0) or 0)
    failed = int(stats.get("FailedCall(C)", 0) or 0)
    created = int(stats.get("OutgoingCall(C)", 0) or 0)
    rtds.sort()
    out = {
        "rate": rate,
        "offered": calls,
        "created": created,
        "ok": ok,
        "failed": failed,
        "success": ok / calls,
        "sustained": ok / calls >= SUCCESS,
        "exit": code,
        "pdd_p50": signaling.percentile(rtds, 50),
        "pdd_p99": signaling.percentile(rtds, 99),
        "pdd_max": rtds[-1] if rtds else None,
        "measured": len(rtds),
        "wall_s": round(wall, 1),
        "cpu": cpu,
    }
    return out


async def ladder(
    args: argparse.Namespace,
    name: str,
    folder: Path,
    scenario: str,
    inf_text: str,
    dest: str,
    pids: Any,
) -> dict[str, Any]:
    steps = []
    rates = args.rate_list + (args.peer_more if name == "peer" else [])
    for rate in rates:
        result = await step(args, folder / f"{name}-{rate:g}", scenario, inf_text, dest, rate, pids)
        tries = [result["success"]]
        for attempt in range(args.retries):
            if result["sustained"]:
                break
            # a shared machine: a step that failed is tried again once the edge is idle
            print(f"  {PATHS[name]:22s} {rate:5g}/s: {100 * result['success']:.2f} %, again")
            await asyncio.sleep(10)
            again = await step(
                args,
                folder / f"{name}-{rate:g}-{attempt + 2}",
                scenario,
                inf_text,
                dest,
                rate,
                pids,
            )
            tries.append(again["success"])
            result = max(result, again, key=lambda st: st["success"])
        result["tries"] = tries
        steps.append(result)
        print(
            f"  {PATHS[name]:22s} {rate:5g}/s: {result['ok']}/{result['offered']} ok"
            f" ({100 * result['success']:.2f} %), PDD p50 {result['pdd_p50']} ms"
            f" p99 {result['pdd_p99']} ms, {result['wall_s']} s, CPU {result['cpu']}",
            flush=True,
        )
        if not result["sustained"]:
            break
        await asyncio.sleep(2)  # let the last calls' events and the database settle
    sustained = [s["rate"] for s in steps if s["sustained"]]
    return {"steps": steps, "sustained_cps": max(sustained) if sustained else 0}


# -- peer baseline -----------------------------------------------------------------------------


async def measure_peer(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    uas = Uas(workdir / "peer-uas", free_sip_port())
    await uas.start()
    try:
        rows = [(f"peer{i}", "-", f"far{i}") for i in range(args.pairs)]

        async def pids() -> dict[str, list[int]]:
            assert uas.proc is not None
            return {"sipp_uas": [uas.proc.pid]}

        return await ladder(
            args,
            "peer",
            workdir,
            uac_scenario(auth=False, hold_ms=args.hold_ms),
            injection(rows, args.ips),
            f"127.0.0.1:{uas.port}",
            pids,
        )
    finally:
        await uas.stop()


# -- through the edge ------------------------------------------------------------------------


class EdgeTarget(YuntongTarget):
    """A Yuntong with its SIP edge (Kamailio), the carrier trunk at ``trunk_port``."""

    def __init__(self, backend: str, pg_dsn: str, workdir: Path, children: int) -> None:
        super().__init__(backend, pg_dsn, workdir, by_number=True)
        self.name = f"{backend}-sip"
        self.workdir = workdir / self.name
        self.sip_port = free_sip_port()
        self.trunk_port = free_sip_port()
        self.env = {
            "YUNTONG_START_SIP": "true",
            "YUNTONG_SIP_PORT": str(self.sip_port),
            # an empty YUNTONG_SIP_TLS_PORT (docs/sip.md: "empty: no TLS") is refused by the
            # settings: a free port instead (TLS is not measured)
            "YUNTONG_SIP_TLS_PORT": str(free_port()),
            "YUNTONG_SIP_DOMAIN": DOMAIN,
            "YUNTONG_SIP_CHILDREN": str(children),
            "YUNTONG_SIP_TRUNKS": (
                f'[{{"code":"carrier","host":"127.0.0.1","port":{self.trunk_port}}}]'
            ),
            "YUNTONG_START_JANUS": "false",
            "YUNTONG_START_COTURN": "false",
            # the production default (tests' servers use 4, to share PostgreSQL's connections)
            "YUNTONG_DATABASE_POOL_SIZE": "20",
        }
        # the bench's own Context (which issues the credentials) reads its settings from this
        # process's environment: the same realm as the server's
        os.environ["YUNTONG_SIP_DOMAIN"] = DOMAIN

    async def wait_edge(self) -> None:
        fifo = self.workdir / "var" / "sip" / "kamailio_rpc.fifo"
        await wait_for(fifo.exists, timeout=30, interval=0.1)

    def process_groups(self) -> dict[str, list[int]]:
        import psutil

        server = psutil.Process(self.pid)
        kamailio, others = [], []
        for child in server.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                (kamailio if child.name().startswith("kamailio") else others).append(child.pid)
        signaling.set_priority([self.pid, *kamailio, *others], self.nice)
        return {"yuntong": [self.pid], "kamailio": kamailio, "workers": others}

    async def phones(self, pairs: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Callers and callees: users with numbers (seeded as bench/signaling.py does), each
        number's SIP credentials issued by the credentials service (what the API runs)."""
        from sqlalchemy import select

        from yuntong.accounts import directory
        from yuntong.accounts.auth import principal_for
        from yuntong.accounts.models import User
        from yuntong.numbers.models import PhoneNumber
        from yuntong.sip.credentials import do_issue

        await self.seed(0, pairs, False)
        ctx = await self.server.context()
        callers = [f"bc{i:04d}" for i in range(pairs)]
        callees = [f"be{i:04d}" for i in range(pairs)]
        async with ctx.db.session() as s:
            query = select(User.username, User.id, PhoneNumber.e164).join(
                PhoneNumber, PhoneNumber.user_id == User.id
            )
            found = {name: (uid, e164) for name, uid, e164 in (await s.execute(query)).all()}
        issued: dict[str, tuple[str, str]] = {}
        for name in callers + callees:
            uid, e164 = found[name]
            actor = principal_for(await directory.get_user(ctx, uid), "", "cli")
            cred = await do_issue(ctx, actor, e164)
            issued[name] = (cred.username, cred.password)
        await self.server.aclose()
        return [issued[n] for n in callers], [issued[n] for n in callees]

    async def sip_calls(self) -> dict[str, Any]:
        """What Yuntong recorded: calls by direction and outcome, and the post-dial delay
        Kamailio reported (ms)."""
        from sqlalchemy import select

        from yuntong.sip.models import SipCall

        ctx = await self.server.context()
        try:
            async with ctx.db.session() as s:
                rows = (
                    await s.execute(
                        select(SipCall.direction, SipCall.outcome, SipCall.state, SipCall.pdd_ms)
                    )
                ).all()
        finally:
            await self.server.aclose()
        out: dict[str, Any] = {}
        for direction in ("internal", "outbound"):
            mine = [r for r in rows if r[0] == direction]
            pdd = [float(r[3]) for r in mine if r[3] is not None]
            outcomes: dict[str, int] = {}
            for r in mine:
                key = f"{r[1]}/{r[2]}"
                outcomes[key] = outcomes.get(key, 0) + 1
            out[direction] = {
                "calls": len(mine),
                "outcomes": outcomes,
                "pdd_p50": signaling.percentile(pdd, 50),
                "pdd_p99": signaling.percentile(pdd, 99),
            }
        return out


async def register_all(
    args: argparse.Namespace,
    folder: Path,
    target: EdgeTarget,
    callees: list[tuple[str, str]],
    contact: str,
) -> None:
    rows = [(user, password, user) for user, password in callees]
    code, stats, _, wall = await run_uac(
        folder,
        register_scenario(contact),
        injection(rows, args.ips),
        f"127.0.0.1:{target.sip_port}",
        rate=min(200, max(50, len(rows) / 10)),
        calls=len(rows),
        timeout_s=len(rows) / 20 + 60,
    )
    ok = int(stats.get("SuccessfulCall(C)", 0) or 0)
    print(f"  {ok}/{len(rows)} callees registered in {wall:.1f} s", flush=True)
    if ok != len(rows):
        raise RuntimeError(f"registration failed ({ok}/{len(rows)}, sipp exit {code})")


async def measure_edge(args: argparse.Namespace, backend: str, workdir: Path) -> dict[str, Any]:
    target = EdgeTarget(backend, args.pg_dsn, workdir, args.children)
    target.nice = args.nice
    phone_uas = trunk_uas = None
    t0 = time.perf_counter()
    try:
        await target.start_async()
        await target.wait_edge()
        target.process_groups()  # (their priority)
        callers, callees = await target.phones(args.pairs)
        seeded_s = time.perf_counter() - t0
        print(f"  {backend}: server up, {2 * args.pairs} SIP accounts in {seeded_s:.0f} s")
        phone_uas = Uas(target.workdir / "phone-uas", free_sip_port())
        trunk_uas = Uas(target.workdir / "trunk-uas", target.trunk_port)
        await phone_uas.start()
        await trunk_uas.start()
        await register_all(
            args, target.workdir / "register", target, callees, f"127.0.0.1:{phone_uas.port}"
        )
        uases = [phone_uas, trunk_uas]

        async def pids() -> dict[str, list[int]]:
            groups = target.process_groups()
            groups["db"] = await target.db_pids()
            groups["sipp_uas"] = [u.proc.pid for u in uases if u.proc is not None]
            return groups

        scenario = uac_scenario(auth=True, hold_ms=args.hold_ms)
        dest = f"127.0.0.1:{target.sip_port}"
        out: dict[str, Any] = {"db": target.db_info, "setup_s": round(seeded_s, 1)}
        to_phones = [(c[0], c[1], b[0]) for c, b in zip(callers, callees, strict=True)]
        outside = [(c[0], c[1], f"1380013{i:04d}") for i, c in enumerate(callers)]
        for name, rows in (("phone", to_phones), ("trunk", outside)):
            if name in args.path_list:
                inf_text = injection(rows, args.ips)
                out[name] = await ladder(args, name, target.workdir, scenario, inf_text, dest, pids)
        await asyncio.sleep(2)
        out["records"] = await target.sip_calls()
        return out
    finally:
        for uas in (phone_uas, trunk_uas):
            if uas is not None:
                await uas.stop()
        await target.stop()


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    signaling.raise_nofile()
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="yuntong-bench-sip-"))
    info = machine_info()
    out: dict[str, Any] = {
        "machine": {k: v for k, v in info.items() if k in MACHINE},
        "load": [round(x, 2) for x in os.getloadavg()],
        "source": signaling.source_state(),
        "sipp": sipp_version(),
        "kamailio": kamailio_version(),
        "rates": args.rate_list,
        "peer_more": args.peer_more,
        "retries": args.retries,
        "duration": args.duration,
        "hold_ms": args.hold_ms,
        "pairs": args.pairs,
        "ips": args.ips,
        "children": args.children,
        "nice": args.nice,
        "quick": args.quick,
    }
    try:
        if "peer" in args.path_list:
            print("peer: SIPp → SIPp", flush=True)
            out["peer"] = await measure_peer(args, workdir)
        out["edge"] = {}
        for backend in args.backends:
            print(f"edge: {backend}", flush=True)
            out["edge"][backend] = await measure_edge(args, backend, workdir)
    finally:
        if args.keep:
            print(f"the run's files are kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    out["load_end"] = [round(x, 2) for x in os.getloadavg()]
    out["total_s"] = round(time.perf_counter() - started)
    return out


def sipp_version() -> str:
    import subprocess

    text = subprocess.run([SIPP, "-v"], capture_output=True, text=True, check=False).stdout
    return next((ln.strip().rstrip(".") for ln in text.splitlines() if "SIPp" in ln), "?")


def kamailio_version() -> str:
    import subprocess

    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    words = (done.stdout or done.stderr).split()
    # "version: kamailio 5.6.3 (x86_64/linux) ..."
    return next((b for a, b in itertools.pairwise(words) if a == "kamailio"), "?")


# -- the report --------------------------------------------------------------------------------


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f}"


def render(r: dict[str, Any]) -> str:
    db = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    r.setdefault("peer", {"steps": [], "sustained_cps": 0})
    peer = r["peer"]["sustained_cps"]
    lines = [
        SECTION_START,
        "## SIP edge call set-up rate (bench/sip.py)",
        "",
        f"`bench/sip.py{' --quick' if r['quick'] else ''}`: open-loop SIPp calls at rising rates"
        f" ({', '.join(f'{x:g}' for x in r['rates'])}/s, {r['duration']:g} s a step, the"
        f" ladder stops at the first rate below {100 * SUCCESS:.1f} % success; the peer goes on"
        f" to {', '.join(f'{x:g}' for x in r.get('peer_more', [])) or 'no further rates'};"
        f" a step that failed is run again {r.get('retries', 0)} time(s), the better kept),"
        " each answered"
        f" at once and held {r['hold_ms']} ms; {r['pairs']} caller/callee pairs, calls from"
        f" {r['ips']} loopback addresses; Kamailio {r['kamailio']} with"
        f" {r['children']} UDP workers; Yuntong with its production database pool (20);"
        f" {r['sipp']}"
        + (f"; every process of the run at nice {r['nice']}" if r.get("nice") else "")
        + ".",
        "Machine: "
        + ", ".join(f"{k} {v}" for k, v in r["machine"].items())
        + f"; load average {r['load']} at the start, {r['load_end']} at the end;"
        f" {r['source']}; {r['total_s']} s in all.",
        "",
        "PDD: SIPp's response time per call (ms resolution), from the first INVITE (through"
        " the digest challenge) to the 180 (or the 200, if it came first). CPU in % of one"
        " core over the step (the UAC's own SIPp not counted); machine CPU: every process on"
        " the machine, out of 200 %.",
        "",
        "| path | database | offered/s | calls | success | PDD p50 ms | PDD p99 ms |"
        " PDD max ms | step s | Yuntong CPU | Kamailio CPU | db CPU | machine CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def rows(name: str, dbname: str, result: dict[str, Any]) -> None:
        for st in result["steps"]:
            cpu = st["cpu"]
            lines.append(
                f"| {PATHS[name]} | {dbname} | {st['rate']:g} | {st['offered']} |"
                f" {_success(st)} | {_ms(st['pdd_p50'])} | {_ms(st['pdd_p99'])} |"
                f" {_ms(st['pdd_max'])} | {st['wall_s']} | {cpu.get('yuntong', '–')} |"
                f" {cpu.get('kamailio', '–')} | {cpu.get('db', '–')} | {cpu['system']} |"
            )

    rows("peer", "–", r["peer"])
    for backend, e in r["edge"].items():
        for name in ("phone", "trunk"):
            if name in e:
                rows(name, db[backend], e[name])
    lines += [
        "",
        "| path | database | sustained CPS (≥ 99.9 %) | PDD p99 ms at that rate |"
        " `sip_calls.pdd_ms` p99 (all steps) | edge / peer |",
        "|---|---|---:|---:|---:|---:|",
        f"| {PATHS['peer']} | – | {peer:g} | {_ms(_p99_at(r['peer']))} | – | 1 |",
    ]
    for backend, e in r["edge"].items():
        for name, direction in (("phone", "internal"), ("trunk", "outbound")):
            if name not in e:
                continue
            cps = e[name]["sustained_cps"]
            ratio = f"{cps / peer:.2f}" if peer else "–"
            rec = e["records"][direction]
            lines.append(
                f"| {PATHS[name]} | {db[backend]} | {cps:g} | {_ms(_p99_at(e[name]))} |"
                f" {_ms(rec['pdd_p99'])} | {ratio} |"
            )
    lines.append("")
    for backend, e in r["edge"].items():
        for direction in ("internal", "outbound"):
            rec = e["records"][direction]
            outcomes = ", ".join(f"{k} × {n}" for k, n in sorted(rec["outcomes"].items()))
            lines.append(
                f"{db[backend]}: `sip_calls` {direction}: {rec['calls']} rows ({outcomes})."
            )
    target = 100
    met, missed = [], []
    for backend, e in r["edge"].items():
        for name in ("phone", "trunk"):
            if name in e:
                label = f"{PATHS[name]} on {db[backend]} ({e[name]['sustained_cps']:g})"
                (met if e[name]["sustained_cps"] >= target else missed).append(label)
    lines += [
        "",
        f"Target (issue 17): ≥ {target} CPS with Yuntong in the loop — met by"
        f" {', '.join(met) or 'no path'}"
        + (f"; not met by {', '.join(missed)}" if missed else "")
        + ". A path's"
        " sustained rate is the highest of the ladder that passed: its limit lies between it"
        " and the next rate.",
    ]
    if r.get("findings"):
        lines += ["", "### Findings", "", r["findings"].strip()]
    lines += ["", SECTION_END, ""]
    return "\n".join(lines)


def _success(st: dict[str, Any]) -> str:
    tries = st.get("tries", [st["success"]])
    text = f"{100 * st['success']:.2f} %"
    if len(tries) > 1:
        text += " (tries: " + ", ".join(f"{100 * t:.1f} %" for t in tries) + ")"
    return text


def _p99_at(result: dict[str, Any]) -> float | None:
    best = [s for s in result["steps"] if s["sustained"]]
    return best[-1]["pdd_p99"] if best else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--rates", default=None, help="calls/s per step (default 25,50,100,150,200,300,400)"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per step")
    parser.add_argument("--hold-ms", type=int, default=1000, help="how long a call is held")
    parser.add_argument("--pairs", type=int, default=600, help="caller/callee pairs")
    parser.add_argument(
        "--ips", type=int, default=100, help="loopback addresses the calls come from"
    )
    parser.add_argument(
        "--children", type=int, default=4, help="Kamailio workers per transport (the default)"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="priority of every process of the run: SIPp, Yuntong, Kamailio, PostgreSQL's"
        " backends (e.g. -10, as root: measures the edge, not the other load of a shared machine)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="SQLite only, rates 25,50,100 for 5 s, 300 pairs (a check, not a result)",
    )
    parser.add_argument(
        "--pg-dsn",
        default=os.environ.get("YUNTONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server (a fresh database is created and dropped)",
    )
    parser.add_argument("--out", default=None, help="results file (default bench/RESULTS.md)")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    parser.add_argument("--json", default=None, help="also dump the raw results as JSON here")
    parser.add_argument("--from-json", default=None, help="render a previous --json run")
    parser.add_argument(
        "--retries", type=int, default=1, help="reruns of a step that failed (shared machine)"
    )
    parser.add_argument(
        "--peer-rates",
        default="600,800,1000",
        help="further rates for the peer alone, after --rates (to find where SIPp stops)",
    )
    parser.add_argument(
        "--paths", default="peer,phone,trunk", help="which paths to measure (developing)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the SIPp files (debugging)")
    parser.add_argument("--findings", default=None, help="a file of findings for the section")
    args = parser.parse_args(argv)
    if args.quick:
        args.backend = "sqlite" if args.backend == "both" else args.backend
        args.rates, args.duration, args.pairs = args.rates or "25,50,100", 5.0, 300
        args.peer_rates = ""
    args.rates = args.rates or "25,50,100,150,200,300,400"
    args.rate_list = [float(x) for x in args.rates.split(",") if x.strip()]
    args.peer_more = [float(x) for x in args.peer_rates.split(",") if x.strip()]
    args.path_list = [x.strip() for x in args.paths.split(",") if x.strip()]
    args.backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if args.out is None and not args.no_write:
        args.out = str(BENCH / "RESULTS.md")
    if args.no_write:
        args.out = None
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    NICE[0] = args.nice
    report(args, lambda: asyncio.run(measure(args)), render, SECTION_START, SECTION_END)


if __name__ == "__main__":
    main()
