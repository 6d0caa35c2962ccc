"""Meeting benchmark: joining a Janus VideoRoom meeting through Yuntong, and one meeting's scale.

What it measures (one Janus started here, used by Yuntong and by the direct baseline alike):

1. **Join time** for meetings of N participants (2, 4, 8): participants join one after the
   other; for each one, the time from its request to join (ticket, meeting socket,
   ``meeting.join``, publish, subscribe: ``MeetingClient``) to the first decoded video frame
   from each participant already publishing. p50/p95 over all (participant, remote) pairs of
   several rounds. In the same run, round by round and in alternating order, the same aiortc
   client logic joins the same Janus directly (``JanusClient``: session, publisher ``join``,
   ``publish`` with the offer, one subscriber handle per remote ``join`` → offer → ``start``
   with the answer), measured the same way; the ratio Yuntong / direct is reported.
2. **Scale of one meeting**: one publisher (pattern video 640×360 at 15 fps and a tone) and
   receivers added in steps (5, 10, 20, 30, 40, 50, 60, 70, 80, 99: a meeting holds 100)
   subscribing through Yuntong, until the loss passes 5 % or a set-up fails; per step 10 s of
   RTP statistics (``getStats``: packets received and lost), forwarded streams, CPU of Janus,
   of the Yuntong server and of the bench's processes (all the aiortc clients). The receivers
   do not decode (aiortc's decoder thread is replaced by one that drops the frames): they
   measure forwarding, not the client's decoding.

The aiortc clients run in ``--workers`` processes (default 2, one per CPU here), so that one
event loop and one GIL do not carry a whole meeting's media; in the join test each
subscription decodes only its first frames (see :func:`install_decoder`). Everything shares
the machine's CPUs with Janus and Yuntong; the results give each one's CPU and the rest of
the machine's ("other": keep the machine otherwise idle).

Run from the repository root::

    .venv/bin/python bench/meeting.py                 # full run (~8 min)
    .venv/bin/python bench/meeting.py --quick         # smoke run (~2 min)
    .venv/bin/python bench/meeting.py --rounds 3 --sizes 2,4 --steps 5,10,20

Results are written to bench/RESULTS.md (the section between the ``meetings`` markers is
replaced; the rest of the file is kept). ``--json FILE`` keeps the raw results;
``--from-json FILE --findings FILE.md`` writes the section again from them with hand-written
findings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _path in (BENCH, ROOT, ROOT / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from results_file import write_section  # noqa: E402  (bench/, beside this script)
from signaling import machine_info, raise_nofile, serve_commands, source_state  # noqa: E402

from tests.support.janus import Janus, start_janus  # noqa: E402

SECTION_START = "<!-- meetings:start -->"
SECTION_END = "<!-- meetings:end -->"
TARGET_RATIO = 1.2  # Yuntong / direct, p50 and p95
TARGET_P95_S = 1.0
LOSS_LIMIT = 0.05
FIRST_FRAME_TIMEOUT_S = 20.0
STALL_S = 0.9  # answer → first frame this long: a lost handshake packet resent after 1 s
MIN_PAIRS = 4  # per round and meeting size (see meetings_per_round)
SETTLE_S = 0.3  # after a publication is up, before the next participant starts
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# =============================================================================================
# Measuring: first decoded frames, CPU
# =============================================================================================


def patch_first_frame_time() -> None:
    """``MediaStats`` (the client's sink) notes when its first video frame was decoded."""
    from yuntong.client.media import MediaStats

    if getattr(MediaStats, "_bench_timed", False):
        return
    original = MediaStats.add_video

    def add_video(self: Any, frame: Any) -> None:
        if self.video_frames == 0:
            self.first_video_at = time.monotonic()
        original(self, frame)

    MediaStats.add_video = add_video  # type: ignore[method-assign]
    MediaStats._bench_timed = True  # type: ignore[attr-defined]


def first_video_at(stats: Any) -> float | None:
    return getattr(stats, "first_video_at", None)


# How many frames each receiving track decodes (None: all, as aiortc does); read when a
# track starts receiving. See install_decoder().
DECODE: dict[str, int | None] = {"frames": None}
DECODE_FIRST = 5  # join test: enough for the first decoded frame, then no more


def install_decoder() -> None:
    """Replace aiortc's decoder thread by one that decodes only ``DECODE["frames"]`` frames.

    aiortc decodes every received frame in a thread per track, whether or not the
    application reads the track. All the clients of this benchmark run in one process on the
    same CPUs as Janus and Yuntong; decoding 56 streams of a full 8-person meeting (and
    encoding 8) would saturate them and measure the load generator instead of the meeting.
    The join test needs only each subscription's first decoded frame; the scale test's
    receivers count packets and decode nothing. RTP, SRTP, jitter buffer, RTCP, NACK and
    keyframe requests (on a frame that fails to decode) run as before.
    """
    import aiortc.rtcrtpreceiver as receiver
    import av
    from aiortc.codecs import get_decoder

    def bench_decoder_worker(loop: Any, input_q: Any, output_q: Any, decode_error: Any) -> None:
        limit = DECODE["frames"]
        decoder: Any = None
        codec_name = None
        decoded = 0
        while True:
            task = input_q.get()
            if task is None:
                break
            if limit is not None and decoded >= limit:
                continue
            codec, encoded_frame = task
            if codec.name != codec_name:
                decoder = get_decoder(codec)
                codec_name = codec.name
            try:
                frames = decoder.decode(encoded_frame)
            except av.FFmpegError:
                decode_error.set()  # the receiver asks for a keyframe
                continue
            for frame in frames:
                decoded += 1
                asyncio.run_coroutine_threadsafe(output_q.put(frame), loop)
        with contextlib.suppress(RuntimeError):  # the loop may be closed at exit
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)

    receiver.decoder_worker = bench_decoder_worker


def proc_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process (all its threads) so far; 0 if gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def machine_busy_s() -> float:
    """CPU seconds all CPUs spent not idle, so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class CpuMeter:
    """CPU seconds of named processes and of the whole machine between two readings."""

    def __init__(self, pids: dict[str, Callable[[], list[int | None]]]) -> None:
        self.pids = pids

    def read(self) -> dict[str, float]:
        now = {name: sum(proc_cpu_s(p) for p in pids()) for name, pids in self.pids.items()}
        now["machine"] = machine_busy_s()
        now["wall"] = time.monotonic()
        return now

    @staticmethod
    def delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        """CPU seconds per name over the interval, ``other`` (the rest of the machine) and
        ``wall`` (seconds)."""
        d = {k: b[k] - a[k] for k in a}
        named = sum(v for k, v in d.items() if k not in ("machine", "wall"))
        d["other"] = max(0.0, d["machine"] - named)
        return d


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile, linear between closest ranks; None when empty."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(s) - 1)
    return s[low] + (s[high] - s[low]) * (pos - low)


# =============================================================================================
# Janus and Yuntong
# =============================================================================================


def janus_version() -> str:
    binary = shutil.which("janus")
    if binary is None:
        return "not installed"
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    for line in out.stdout.splitlines():
        if line.startswith("Janus version:"):
            return line.split(":", 1)[1].strip()
    return "?"


@dataclass
class Setup:
    janus: Janus
    server: Any  # tests.support.server.ServerProcess
    host_token: str
    tokens: list[str]  # one signed-in user per participant of the join test (host first)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def server_pid(self) -> int | None:
        return self.server.proc.pid if self.server.proc else None


async def start_setup(workdir: Path, users: int) -> Setup:
    from tests.support.meetings import janus_ready
    from tests.support.server import ServerProcess
    from yuntong.media.supervisor import EVENTS_PATH, EVENTS_USER

    events_password = secrets.token_urlsafe(16)
    server = ServerProcess(workdir / "var", f"sqlite+aiosqlite:///{workdir / 'yuntong.db'}")
    janus = await start_janus(  # its secrets known here, 2,000 RTP ports
        workdir / "janus",
        event_url=f"http://127.0.0.1:{server.port}{EVENTS_PATH}",
        event_user=EVENTS_USER,
        event_password=events_password,
        rtp_ports=2000,
    )
    node = {
        "name": "bench",
        "url": janus.url,
        "token_secret": janus.token_secret,
        "videoroom_admin_key": janus.admin_key,
    }
    server.env.update(
        YUNTONG_START_JANUS="false",
        YUNTONG_JANUS_NODES=json.dumps([node]),
        YUNTONG_JANUS_EVENTS_PASSWORD=events_password,
        YUNTONG_JANUS_HEALTH_INTERVAL_S="1",
        YUNTONG_MEETING_RECONNECT_GRACE_S="3",
    )
    try:
        await asyncio.to_thread(server.start)
        await janus_ready(server)
        t = time.perf_counter()
        names = [f"mbench{i}" for i in range(users)]
        for name in names:
            await server.create_user(name)
        tokens = [await server.login(name) for name in names]
    except BaseException:
        server.stop()
        await janus.process.stop()
        raise
    setup = Setup(janus, server, tokens[0], tokens)
    setup.notes["users_s"] = time.perf_counter() - t
    return setup


async def stop_setup(setup: Setup) -> None:
    setup.server.stop()
    await setup.server.aclose()
    await setup.janus.process.stop()


async def create_meeting(setup: Setup, **settings: Any) -> dict[str, Any]:
    from tests.support.meetings import create_meeting as create

    return await create(setup.server, setup.host_token, **settings)


async def end_meeting(setup: Setup, meeting: dict[str, Any]) -> None:
    from tests.support.meetings import api

    with contextlib.suppress(Exception):
        await api(setup.server, setup.host_token, "POST", f"/api/v1/meetings/{meeting['id']}/end")


# =============================================================================================
# The participants of both paths (they live in worker processes)
# =============================================================================================


@dataclass
class Marks:
    """When one participant's join reached each step (monotonic seconds, the same clock in
    every process)."""

    start: float
    steps: dict[str, float] = field(default_factory=dict)
    subscribe: dict[str, tuple[float, float]] = field(default_factory=dict)  # remote → span

    def mark(self, name: str) -> None:
        self.steps[name] = time.monotonic()


class YuntongParticipant:
    """``MeetingClient`` through Yuntong, with the times of its join's steps."""

    def __init__(
        self, server_url: str, meeting: dict[str, Any], token: str, http: Any = None
    ) -> None:
        self.server_url = server_url
        self.meeting = meeting
        self.token = token
        self.http = http  # the worker's kept HTTP client, as a browser keeps its connection
        self.client: Any = None
        self.marks = Marks(0.0)

    @property
    def key(self) -> str:
        return str(self.client.participant_id)

    async def join(self) -> None:
        from yuntong.client.meeting import MeetingClient, get_ticket

        marks = self.marks = Marks(time.monotonic())

        class TimedClient(MeetingClient):
            async def request(self, type_: str, data: dict[str, Any] | None = None) -> Any:
                answer = await super().request(type_, data)
                if type_ == "meeting.join":
                    marks.mark("joined")  # the ack (before publishing)
                elif type_ == "meeting.publish":
                    marks.mark("published")
                return answer

            async def subscribe(
                self, feed_id: int, participant_id: str = "", kind: str = "camera"
            ) -> Any:
                t = time.monotonic()
                feed = await super().subscribe(feed_id, participant_id, kind)
                marks.subscribe[participant_id] = (t, time.monotonic())
                return feed

        ticket = await get_ticket(
            self.server_url,
            self.meeting["number"],
            token=self.token,
            passcode=self.meeting.get("passcode") or None,
            http=self.http,
        )
        marks.mark("ticket")
        self.client = TimedClient(self.server_url, ticket["ticket"])
        await self.client.connect()
        marks.mark("socket")
        await self.client.join()  # publishes, then subscribes to the feeds already up
        marks.mark("subscribed")

    def publishing(self) -> bool:
        pc = self.client.publisher if self.client else None
        return pc is not None and pc.connectionState == "connected"

    def first_frame(self, remote: str) -> float | None:
        times = [
            first_video_at(f.stats)
            for f in self.client.feeds.values()
            if f.participant_id == remote
        ]
        found = [t for t in times if t is not None]
        return min(found) if found else None

    async def close(self) -> None:
        if self.client is not None:
            await leave_cleanly(self.client)


async def leave_cleanly(client: Any) -> None:
    """``meeting.leave`` and close, never raising (a benchmark participant may be half gone)."""
    with contextlib.suppress(Exception):
        await client.leave()


def decoder_threads() -> int:
    """aiortc's decoder threads still alive (one per receiving track not yet stopped)."""
    import threading

    return sum(t.name.endswith("-decoder") and t.is_alive() for t in threading.enumerate())


@dataclass
class DirectFeed:
    publisher_id: int
    stats: Any
    handle: Any = None
    pc: Any = None


class DirectParticipant:
    """The same aiortc client logic, talking to Janus itself (as janus.js would)."""

    def __init__(self, janus_url: str, token: str, room: int, name: str) -> None:
        self.janus_url = janus_url
        self.token = token
        self.room = room
        self.name = name
        self.client: Any = None
        self.session: Any = None
        self.publisher_id = 0
        self.publisher: Any = None
        self.tracks: list[Any] = []
        self.feeds: dict[int, DirectFeed] = {}
        self.marks = Marks(0.0)
        self.joined = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def key(self) -> str:
        return str(self.publisher_id)

    async def join(self) -> None:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        from yuntong.client.media import PatternVideoTrack, ToneAudioTrack
        from yuntong.media.janus import VIDEOROOM, JanusClient

        marks = self.marks = Marks(time.monotonic())
        self.client = await JanusClient.connect(self.janus_url, self.token)
        self.session = await self.client.create_session()
        marks.mark("socket")
        handle = await self.session.attach(VIDEOROOM, on_event=self._on_publisher_event)
        joined = await handle.message(
            {"request": "join", "ptype": "publisher", "room": self.room, "display": self.name}
        )
        self.publisher_id = int(joined.data["id"])
        existing = [int(p["id"]) for p in joined.data.get("publishers", [])]
        self.joined = True
        marks.mark("joined")

        async def publish() -> None:
            pc = RTCPeerConnection()
            self.publisher = pc
            self.tracks = [ToneAudioTrack(), PatternVideoTrack()]
            for track in self.tracks:
                pc.addTrack(track)
            await pc.setLocalDescription(await pc.createOffer())
            answer = await handle.message(
                {"request": "publish", "display": self.name},
                {"type": "offer", "sdp": pc.localDescription.sdp},
            )
            if answer.jsep is None:
                raise RuntimeError("Janus did not answer the publisher's offer")
            await pc.setRemoteDescription(RTCSessionDescription(answer.jsep["sdp"], "answer"))
            marks.mark("published")

        # side by side, as MeetingClient does
        results = await asyncio.gather(
            publish(), *(self.subscribe(i) for i in existing), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        marks.mark("subscribed")

    async def subscribe(self, publisher_id: int) -> None:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        from yuntong.client.media import MediaStats
        from yuntong.media.janus import VIDEOROOM

        if publisher_id in self.feeds or publisher_id == self.publisher_id:
            return
        t = time.monotonic()
        feed = self.feeds[publisher_id] = DirectFeed(publisher_id, MediaStats())
        feed.handle = await self.session.attach(VIDEOROOM)
        offer = await feed.handle.message(
            {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "streams": [{"feed": publisher_id}],
            }
        )
        if offer.jsep is None:
            raise RuntimeError("Janus sent no offer for the subscription")
        pc = feed.pc = RTCPeerConnection()

        @pc.on("track")
        def on_track(track: Any) -> None:
            feed.stats.consume(track)

        await pc.setRemoteDescription(RTCSessionDescription(offer.jsep["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await feed.handle.message(
            {"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp}
        )
        self.marks.subscribe[str(publisher_id)] = (t, time.monotonic())

    def _on_publisher_event(self, event: Any) -> None:
        """A new publisher in the room: subscribe to it (as MeetingClient does on
        ``meeting.feed``)."""
        if not self.joined:
            return
        for p in event.data.get("publishers", []) or []:
            task = asyncio.create_task(self._subscribe_quietly(int(p["id"])))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _subscribe_quietly(self, publisher_id: int) -> None:
        with contextlib.suppress(Exception):
            await self.subscribe(publisher_id)

    def publishing(self) -> bool:
        pc = self.publisher
        return pc is not None and pc.connectionState == "connected"

    def first_frame(self, remote: str) -> float | None:
        feed = self.feeds.get(int(remote))
        return None if feed is None else first_video_at(feed.stats)

    async def close(self) -> None:
        self.joined = False  # no new subscriptions
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 15)
        for feed in self.feeds.values():
            with contextlib.suppress(Exception):
                await feed.stats.stop()
            if feed.pc is not None:
                with contextlib.suppress(Exception):
                    await feed.pc.close()
        for track in self.tracks:
            track.stop()
        if self.publisher is not None:
            with contextlib.suppress(Exception):
                await self.publisher.close()
        if self.session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.session.destroy(), 5)
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()


async def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def inbound(pc: Any) -> dict[str, tuple[int, int]]:
    """kind → (packets received, packets lost) of a receiving PeerConnection."""
    found: dict[str, tuple[int, int]] = {}
    with contextlib.suppress(Exception):
        for s in (await pc.getStats()).values():
            if s.type == "inbound-rtp":
                got, lost = found.get(s.kind, (0, 0))
                found[s.kind] = (got + s.packetsReceived, lost + s.packetsLost)
    return found


async def outbound(pc: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    with contextlib.suppress(Exception):
        for s in (await pc.getStats()).values():
            if s.type == "outbound-rtp":
                found[s.kind] = found.get(s.kind, 0) + s.packetsSent
    return found


async def client_stats(client: Any) -> dict[str, tuple[int, int]]:
    """kind → (packets received, lost) over a receiver's live subscriptions; {} if none."""
    total: dict[str, tuple[int, int]] = {}
    for feed in list(client.feeds.values()):
        if feed.pc is None or feed.pc.connectionState in ("failed", "closed"):
            continue
        for kind, (got, lost) in (await inbound(feed.pc)).items():
            g, lo = total.get(kind, (0, 0))
            total[kind] = (g + got, lo + lost)
    return total


async def start_receiver(server_url: str, meeting: dict[str, Any], name: str) -> Any:
    from yuntong.client.meeting import MeetingClient, get_ticket

    ticket = await get_ticket(
        server_url, meeting["number"], passcode=meeting.get("passcode") or None, display_name=name
    )
    client = MeetingClient(server_url, ticket["ticket"], publish_audio=False, publish_video=False)
    await client.connect()
    await client.join()
    deadline = time.monotonic() + FIRST_FRAME_TIMEOUT_S
    while time.monotonic() < deadline:
        stats = await client_stats(client)
        if stats.get("video", (0, 0))[0] > 0 and stats.get("audio", (0, 0))[0] > 0:
            return client
        await asyncio.sleep(0.1)
    await leave_cleanly(client)
    raise TimeoutError(f"{name}: no audio and video packets within {FIRST_FRAME_TIMEOUT_S:.0f} s")


class Worker:
    """A client process: participants and receivers, on orders from the orchestrator's pipe.

    All the aiortc clients in one process would be one event loop and one GIL for dozens of
    streams (a full meeting of 8 receives 56): the loop's delays would be measured as join
    time. Spread over processes they share only the CPUs (with Janus and Yuntong)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.parts: dict[int, YuntongParticipant | DirectParticipant] = {}
        self.receivers: dict[str, Any] = {}
        self.http: Any = None

    async def serve(self) -> None:
        asyncio.get_running_loop().set_exception_handler(quiet_close_errors)
        await serve_commands(self, self.conn)

    async def cmd_pid(self) -> dict[str, Any]:
        return {"pid": os.getpid()}

    async def cmd_decode(self, frames: int | None) -> dict[str, Any]:
        DECODE["frames"] = frames
        return {}

    async def cmd_join(self, slot: int, path: str, **params: Any) -> dict[str, Any]:
        p: YuntongParticipant | DirectParticipant
        if path == "yuntong":
            if self.http is None:
                import httpx

                self.http = httpx.AsyncClient(timeout=10)
            p = YuntongParticipant(
                params["server_url"], params["meeting"], params["token"], self.http
            )
        else:
            p = DirectParticipant(params["janus_url"], params["token"], params["room"], f"p{slot}")
        try:
            await asyncio.wait_for(p.join(), 30)
        except BaseException:
            await p.close()
            raise
        self.parts[slot] = p
        m = p.marks
        return {"key": p.key, "start": m.start, "steps": m.steps, "subscribe": m.subscribe}

    async def cmd_wait_frames(
        self, slot: int, remotes: list[str], timeout: float
    ) -> dict[str, Any]:
        """The first decoded frame from each remote (None if none within ``timeout``)."""
        p = self.parts[slot]
        await wait_until(lambda: all(p.first_frame(r) for r in remotes), timeout)
        return {"frames": {r: p.first_frame(r) for r in remotes}, "subscribe": p.marks.subscribe}

    async def cmd_wait_settled(
        self, slot: int | None, seen_by: list[int], key: str, timeout: float
    ) -> dict[str, Any]:
        """``slot``'s publication is up and every participant in ``seen_by`` sees ``key``."""
        publisher = self.parts[slot] if slot is not None else None
        ok = await wait_until(
            lambda: (
                (publisher is None or publisher.publishing())
                and all(self.parts[s].first_frame(key) for s in seen_by)
            ),
            timeout,
        )
        return {"ok": ok}

    async def cmd_close_all(self) -> dict[str, Any]:
        parts, self.parts = list(self.parts.values()), {}
        receivers, self.receivers = list(self.receivers.values()), {}
        await asyncio.gather(*(p.close() for p in parts), return_exceptions=True)
        await asyncio.gather(*(leave_cleanly(r) for r in receivers), return_exceptions=True)
        await asyncio.sleep(0.2)
        return {"leaked_decoders": decoder_threads()}

    async def cmd_add_receivers(
        self, server_url: str, meeting: dict[str, Any], names: list[str]
    ) -> dict[str, Any]:
        sem = asyncio.Semaphore(3)

        async def add(name: str) -> Any:
            async with sem:
                return await start_receiver(server_url, meeting, name)

        added = await asyncio.gather(*(add(n) for n in names), return_exceptions=True)
        errors = [f"{type(a).__name__}: {a}" for a in added if isinstance(a, BaseException)]
        for name, a in zip(names, added, strict=True):
            if not isinstance(a, BaseException):
                self.receivers[name] = a
        return {"added": len(names) - len(errors), "errors": errors}

    async def cmd_receiver_stats(self) -> dict[str, Any]:
        """Per receiver: kind → (received, lost), and when it was read."""
        per = {}
        for name, client in self.receivers.items():
            t = time.monotonic()
            stats = await client_stats(client)
            per[name] = {"stats": stats, "at": (t + time.monotonic()) / 2}
        return {"per": per}


def worker_main(conn: Any) -> None:
    from yuntong.core.logging import configure_logging

    configure_logging("WARNING", json=False)
    logging.getLogger("aiortc").setLevel(logging.ERROR)
    raise_nofile()
    patch_first_frame_time()
    install_decoder()
    asyncio.run(Worker(conn).serve())


class WorkerHandle:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child,), daemon=True)
        self.process.start()
        self.lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.pid
        return pid

    async def call(self, cmd: str, **kwargs: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        async with self.lock:
            self.conn.send((cmd, kwargs))
            result: dict[str, Any] = await loop.run_in_executor(None, self.conn.recv)
        if "exception" in result:
            raise RuntimeError(f"worker {self.pid}, {cmd}: {result['exception']}")
        return result

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call("quit"), 60)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# =============================================================================================
# Join time
# =============================================================================================


class DirectHost:
    """Creates and destroys the direct path's rooms with the VideoRoom admin key."""

    def __init__(self, janus: Janus) -> None:
        self.janus = janus
        self.client: Any = None
        self.handle: Any = None

    async def open(self) -> None:
        from yuntong.media.janus import VIDEOROOM, JanusClient

        self.client = await JanusClient.connect(self.janus.url, self.janus.token(24 * 3600))
        session = await self.client.create_session()
        self.handle = await session.attach(VIDEOROOM)

    async def create_room(self) -> int:
        room = secrets.randbelow(2**31) + 1
        # the options Yuntong creates its rooms with (meetings/live/janus_room.py), but recording
        await self.handle.request(
            {
                "request": "create",
                "room": room,
                "admin_key": self.janus.admin_key,
                "publishers": 100,
                "is_private": True,
                "audiolevel_event": True,
                "audio_active_packets": 50,
                "audio_level_average": 60,
                "videocodec": "vp8,h264",
            }
        )
        return room

    async def destroy_room(self, room: int) -> None:
        with contextlib.suppress(Exception):
            await self.handle.request({"request": "destroy", "room": room})

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


async def run_meeting(
    setup: Setup,
    workers: list[WorkerHandle],
    direct_host: DirectHost,
    path: str,
    n: int,
    round_no: int,
) -> dict[str, Any]:
    """One meeting of ``n`` participants joining one by one (participant k in worker
    k mod workers); the (participant, remote) pairs measured."""
    pairs: list[dict[str, Any]] = []
    joins: list[dict[str, Any]] = []
    failures: list[str] = []
    keys: list[str] = []
    meeting: dict[str, Any] = {}
    room = 0
    if path == "yuntong":
        meeting = await create_meeting(setup, max_participants=max(10, n))
    else:
        room = await direct_host.create_room()
    try:
        for k in range(n):
            worker = workers[k % len(workers)]
            params: dict[str, Any]
            if path == "yuntong":
                params = {
                    "server_url": setup.server.url,
                    "meeting": meeting,
                    "token": setup.tokens[k],
                }
            else:
                params = {
                    "janus_url": setup.janus.url,
                    "token": setup.janus.token(600),
                    "room": room,
                }
            try:
                info = await worker.call("join", slot=k, path=path, **params)
            except RuntimeError as exc:
                failures.append(f"join {k + 1}: {exc}")
                break
            remotes = list(keys)
            keys.append(info["key"])
            got = await worker.call(
                "wait_frames", slot=k, remotes=remotes, timeout=FIRST_FRAME_TIMEOUT_S
            )
            start = info["start"]
            joins.append(
                {
                    "k": k + 1,
                    "remotes": len(remotes),
                    "steps": {name: t - start for name, t in info["steps"].items()},
                }
            )
            for r in remotes:
                first = got["frames"].get(r)
                span = got["subscribe"].get(r)
                if first is None:
                    failures.append(f"participant {k + 1}: no frame from a remote in time")
                    continue
                pairs.append(
                    {
                        "k": k + 1,
                        "join_s": first - start,
                        "before_sub_s": span[0] - start if span else None,
                        "sub_signal_s": span[1] - span[0] if span else None,
                        "media_s": first - span[1] if span else None,
                    }
                )
            # settle: the newcomer's publication is up and everyone already there sees it,
            # before the next one joins (so that it finds every earlier feed published)
            checks = []
            for w in workers:
                seen_by = [s for s in range(k) if workers[s % len(workers)] is w]
                own = k if w is worker else None
                if seen_by or own is not None:
                    checks.append(
                        w.call(
                            "wait_settled",
                            slot=own,
                            seen_by=seen_by,
                            key=info["key"],
                            timeout=FIRST_FRAME_TIMEOUT_S,
                        )
                    )
            if not all(r["ok"] for r in await asyncio.gather(*checks)):
                failures.append(f"participant {k + 1}: not seen by everyone in time")
            await asyncio.sleep(SETTLE_S)
    finally:
        closed = await asyncio.gather(*(w.call("close_all") for w in workers))
        if path == "yuntong":
            await end_meeting(setup, meeting)
        else:
            await direct_host.destroy_room(room)
    leaked = sum(c["leaked_decoders"] for c in closed)
    if leaked:
        failures.append(f"{leaked} decoder threads still running after the meeting")
    return {
        "path": path,
        "n": n,
        "round": round_no,
        "pairs": pairs,
        "joins": joins,
        "failures": failures,
    }


async def ticket_probe(setup: Setup, times: int = 10) -> dict[str, float | None]:
    """Where a ticket's time goes: ``get_ticket`` as the client calls it (a new
    ``httpx.AsyncClient`` per call), the same POST on one kept client, and making the client."""
    import httpx

    from yuntong.client.meeting import get_ticket

    meeting = await create_meeting(setup)
    number, passcode = meeting["number"], meeting.get("passcode") or None
    fresh, kept, make = [], [], []
    async with httpx.AsyncClient(base_url=setup.server.url, timeout=10) as client:
        for _ in range(times):
            t = time.perf_counter()
            await get_ticket(setup.server.url, number, token=setup.host_token, passcode=passcode)
            fresh.append(time.perf_counter() - t)
            t = time.perf_counter()
            resp = await client.post(
                f"/api/v1/meetings/by-number/{number}/tickets",
                json={"passcode": passcode},
                headers={"Authorization": f"Bearer {setup.host_token}"},
            )
            resp.raise_for_status()
            kept.append(time.perf_counter() - t)
            t = time.perf_counter()
            await httpx.AsyncClient(timeout=10).aclose()
            make.append(time.perf_counter() - t)
    await end_meeting(setup, meeting)
    return {
        "get_ticket": pct(fresh, 50),
        "kept_client": pct(kept, 50),
        "new_client": pct(make, 50),
    }


def meetings_per_round(n: int) -> int:
    """Small meetings are repeated so that a round has at least MIN_PAIRS pairs of each size
    (a meeting of 2 has one pair)."""
    return max(1, -(-MIN_PAIRS // (n * (n - 1) // 2)))


async def join_test(
    setup: Setup, workers: list[WorkerHandle], sizes: list[int], rounds: int, meter: CpuMeter
) -> dict[str, Any]:
    probe = await ticket_probe(setup)
    for w in workers:
        await w.call("decode", frames=DECODE_FIRST)
    direct_host = DirectHost(setup.janus)
    await direct_host.open()
    runs: list[dict[str, Any]] = []
    cpu: dict[str, dict[str, float]] = {}
    try:
        # one meeting of each path first, not reported: imports, first connections, caches
        for path in ("yuntong", "direct"):
            await run_meeting(setup, workers, direct_host, path, 2, 0)
        for r in range(1, rounds + 1):
            order = ("yuntong", "direct") if r % 2 else ("direct", "yuntong")
            for n in sizes:
                for _ in range(meetings_per_round(n)):
                    for path in order:
                        before = meter.read()
                        run = await run_meeting(setup, workers, direct_host, path, n, r)
                        d = CpuMeter.delta(before, meter.read())
                        acc = cpu.setdefault(f"{path}:{n}", {})
                        for key, value in d.items():
                            acc[key] = acc.get(key, 0.0) + value
                        joins = run["pairs"]
                        p50 = pct([x["join_s"] for x in joins], 50)
                        failed = "; ".join(run["failures"])
                        log(
                            f"round {r} N={n} {path:7s}: {len(joins)} pairs, p50 "
                            f"{'-' if p50 is None else f'{p50 * 1000:.0f} ms'}"
                            f"{', failures: ' + failed if failed else ''}"
                        )
                        runs.append(run)
                        await asyncio.sleep(0.5)
    finally:
        await direct_host.close()
    return {"runs": runs, "cpu": cpu, "ticket_probe": probe}


# =============================================================================================
# Scale of one meeting
# =============================================================================================


async def scale_test(
    setup: Setup, workers: list[WorkerHandle], steps: list[int], measure_s: float, meter: CpuMeter
) -> dict[str, Any]:
    """The publisher in this process, the receivers spread over the workers."""
    from yuntong.client.meeting import MeetingClient, get_ticket

    for w in workers:
        await w.call("decode", frames=0)
    results: list[dict[str, Any]] = []
    stop_reason = f"all steps run (up to {steps[-1]} receivers)" if steps else "no steps"
    meeting = await create_meeting(setup, max_participants=100, allow_guests=True)
    ticket = await get_ticket(
        setup.server.url,
        meeting["number"],
        token=setup.host_token,
        passcode=meeting.get("passcode") or None,
    )
    publisher = MeetingClient(setup.server.url, ticket["ticket"], auto_subscribe=False)
    count = 0

    async def rx() -> list[dict[str, Any]]:
        """Per worker: per receiver kind → (received, lost), and when it was read."""
        return list(await asyncio.gather(*(w.call("receiver_stats") for w in workers)))

    async def tx() -> dict[str, Any]:
        t = time.monotonic()
        sent = await outbound(publisher.publisher)
        return {"stats": sent, "at": (t + time.monotonic()) / 2}

    try:
        await publisher.connect()
        await publisher.join()
        for target in steps:
            t = time.monotonic()
            names: list[list[str]] = [[] for _ in workers]
            for i in range(count, target):
                names[i % len(workers)].append(f"rx{i}")
            added = await asyncio.gather(
                *(
                    w.call("add_receivers", server_url=setup.server.url, meeting=meeting, names=n)
                    for w, n in zip(workers, names, strict=True)
                    if n
                )
            )
            count += sum(a["added"] for a in added)
            errors = [e for a in added for e in a["errors"]]
            setup_s = time.monotonic() - t
            if errors:
                stop_reason = (
                    f"setting up {target} receivers failed ({len(errors)} errors, first: "
                    f"{errors[0]})"
                )
                log(stop_reason)
                break
            await asyncio.sleep(2.0)  # let the newest subscriptions settle
            rx0, tx0, c0 = await rx(), await tx(), meter.read()
            await asyncio.sleep(measure_s)
            c1, rx1, tx1 = meter.read(), await rx(), await tx()
            step = scale_step(target, rx0, rx1, tx0, tx1, CpuMeter.delta(c0, c1), setup)
            step["setup_s"] = setup_s
            results.append(step)
            c = step["cpu_pct"]
            log(
                f"scale {target} receivers: loss {step['loss'] * 100:.2f}%, delivered "
                f"{step['delivered'] * 100:.1f}%, dropped {step['dropped']}, "
                f"Janus {c['janus']:.0f}%, "
                f"Yuntong {c['server']:.0f}%, clients {c['bench']:.0f}%, "
                f"other {c['other']:.0f}%, machine {c['machine']:.0f}%"
            )
            if step["loss"] > LOSS_LIMIT or step["delivered"] < 1 - LOSS_LIMIT:
                stop_reason = (
                    f"loss over 5% at {target} receivers (sequence gaps "
                    f"{step['loss'] * 100:.1f}%, delivered {step['delivered'] * 100:.1f}%)"
                )
                break
    finally:
        await asyncio.gather(*(w.call("close_all") for w in workers), return_exceptions=True)
        await leave_cleanly(publisher)
        await end_meeting(setup, meeting)
    return {"steps": results, "stop_reason": stop_reason, "measure_s": measure_s}


def scale_step(
    receivers: int,
    rx0: list[dict[str, Any]],
    rx1: list[dict[str, Any]],
    tx0: dict[str, Any],
    tx1: dict[str, Any],
    cpu: dict[str, float],
    setup: Setup,
) -> dict[str, Any]:
    """Rates per second over the step: each reading has its own time (reading 80
    PeerConnections' statistics takes a while on a busy machine), so each receiver's counts
    are divided by its own interval, the publisher's by its own."""
    kinds: dict[str, dict[str, float]] = {}
    dropped: set[str] = set()  # no live subscription at the end, or its counters restarted
    for kind in ("audio", "video"):
        got = lost = 0.0
        for a, b in zip(rx0, rx1, strict=True):
            for name, first in a["per"].items():
                last = b["per"].get(name) or {"stats": {}, "at": 0.0}
                g0, l0 = first["stats"].get(kind, (0, 0))
                g1, l1 = last["stats"].get(kind, (0, 0))
                if kind not in last["stats"] or g1 < g0:
                    dropped.add(name)
                    continue
                span = last["at"] - first["at"]
                got += (g1 - g0) / span
                lost += max(0, l1 - l0) / span
        sent = (tx1["stats"].get(kind, 0) - tx0["stats"].get(kind, 0)) / (tx1["at"] - tx0["at"])
        kinds[kind] = {
            "received_per_s": got,
            "lost_per_s": max(0.0, lost),
            "sent_per_s": sent,
            "expected_per_s": sent * receivers,
        }
    received = sum(k["received_per_s"] for k in kinds.values())
    lost = sum(k["lost_per_s"] for k in kinds.values())
    expected = sum(k["expected_per_s"] for k in kinds.values())
    wall = cpu["wall"]
    return {
        "receivers": receivers,
        "streams": receivers * 2,
        "dropped": len(dropped),
        "kinds": kinds,
        "loss": lost / (received + lost) if received + lost else 1.0,
        "delivered": received / expected if expected else 0.0,
        "packets_per_s": received,
        "cpu_pct": {k: 100 * v / wall for k, v in cpu.items() if k != "wall"},
        "rss_mb": {"janus": rss_mb(setup.janus.pid), "server": rss_mb(setup.server_pid)},
    }


# =============================================================================================
# Summaries and the results section
# =============================================================================================


def summarize_join(join: dict[str, Any], sizes: list[int]) -> dict[str, Any]:
    def pairs(path: str, n: int | None = None) -> list[dict[str, Any]]:
        return [
            x
            for run in join["runs"]
            if run["path"] == path and (n is None or run["n"] == n)
            for x in run["pairs"]
        ]

    rows: list[dict[str, Any]] = []
    for n in [*sizes, None]:
        row: dict[str, Any] = {"n": n}
        for path in ("yuntong", "direct"):
            values = [x["join_s"] for x in pairs(path, n)]
            runs = [r for r in join["runs"] if r["path"] == path and (n is None or r["n"] == n)]
            row[path] = {
                "count": len(values),
                "p50": pct(values, 50),
                "p95": pct(values, 95),
                "max": max(values) if values else None,
                "failures": sum(len(r["failures"]) for r in runs),
                "parts": {
                    part: pct([x[part] for x in pairs(path, n) if x[part] is not None], 50)
                    for part in ("before_sub_s", "sub_signal_s", "media_s")
                },
                "media_stalls": sum((x["media_s"] or 0) >= STALL_S for x in pairs(path, n)),
            }
        y, d = row["yuntong"], row["direct"]
        row["ratio_p50"] = y["p50"] / d["p50"] if y["p50"] and d["p50"] else None
        row["ratio_p95"] = y["p95"] / d["p95"] if y["p95"] and d["p95"] else None
        rows.append(row)
    steps: dict[str, dict[str, float | None]] = {}
    for path in ("yuntong", "direct"):
        names: dict[str, list[float]] = {}
        for run in join["runs"]:
            if run["path"] != path:
                continue
            for j in run["joins"]:
                if j["remotes"] == 0:
                    continue
                for name, value in j["steps"].items():
                    names.setdefault(name, []).append(value)
        steps[path] = {name: pct(values, 50) for name, values in names.items()}
    return {"rows": rows, "steps": steps}


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:,.0f} ms"


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def render(run: dict[str, Any], findings: str | None) -> str:
    m = run["machine"]
    a = run["args"]
    join = run.get("join")
    scale = run.get("scale")
    lines = [
        SECTION_START,
        "## Meetings (Janus VideoRoom through Yuntong, aiortc clients)",
        "",
        f"Run {run['date']} — `{run['command']}` — {run['total_s'] / 60:.1f} min.",
        "",
        f"Code at the start of the run: {run.get('source', '?')}.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, Python {m['python']}, "
        f"Linux {m['kernel']}; Janus {m['janus']}, aiortc {m['aiortc']}. One Janus (started by "
        "the bench with Yuntong's generated configuration: token auth, VideoRoom only, the event "
        "handler posting to Yuntong), the Yuntong server (SQLite, uvicorn) and the aiortc "
        f"clients ({a.get('workers', 1)} worker processes, participants spread over them; "
        "the bench process itself hosts the scale test's publisher) share these CPUs; all "
        "media on one host (no network loss or delay). Load on the machine before the run "
        f"started: {run.get('idle_load_pct', 0):.0f}% (of {int(m['nproc']) * 100}%).",
        "",
        "Clients decode only what is measured: aiortc decodes every received frame in a "
        "thread per track whether or not the track is read, and a full meeting of 8 receives "
        "56 streams, which on these CPUs would measure the load generator. The bench "
        "replaces aiortc's decoder thread: in the join test each subscription decodes its "
        f"first {DECODE_FIRST} frames (the first one is what is measured), in the scale test "
        "none. RTP, SRTP, jitter buffer, RTCP, NACK and keyframe requests run unchanged; "
        "every publisher encodes all the time.",
        "",
    ]
    if join:
        s = join["summary"]
        lines += [
            "### Join time",
            "",
            f"Meetings of {', '.join(str(n) for n in a['sizes'])} participants, {a['rounds']} "
            "rounds. Participants join one after the other (each once the previous one is "
            "seen by everyone); each publishes pattern video (640×360, 15 fps, VP8) and a tone "
            "and subscribes to every other feed, the subscriptions to the feeds already up side "
            "by side with publishing (both paths). Measured per (participant, remote already "
            "publishing) pair: from the start of the participant's join — Yuntong: ticket "
            "(`POST …/tickets` on the worker process's kept HTTP client, as a browser keeps "
            "its connection to the site), meeting socket, `meeting.join`, `meeting.publish`, "
            "`meeting.subscribe`/`meeting.answer` per feed (`yuntong.client.meeting."
            "MeetingClient`); direct: WebSocket to Janus, `create`, `attach`, publisher `join`, "
            "`publish` with the offer, per feed `attach`, subscriber `join` → offer, `start` "
            "with the answer — to the first decoded video frame from that remote. Each round "
            "runs every size on both paths, alternating which path goes first (meetings of "
            f"fewer than {MIN_PAIRS} pairs are repeated within the round to give "
            f"{MIN_PAIRS}: e.g. {meetings_per_round(2)} meetings of 2 per path); one meeting of "
            "each path before the rounds is not reported.",
            "",
            f"Targets: Yuntong / direct ≤ {TARGET_RATIO}× at p50 and at p95, and Yuntong's "
            f"p95 ≤ {TARGET_P95_S * 1000:,.0f} ms.",
            "",
            "| N | pairs (failed) | Yuntong p50 | p95 | max | direct p50 | p95 | max | "
            f"ratio p50 | ratio p95 | ≤ {TARGET_RATIO}× | p95 ≤ {TARGET_P95_S:g} s |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for row in s["rows"]:
            y, d = row["yuntong"], row["direct"]
            ratio_ok = (row["ratio_p50"] or 9) <= TARGET_RATIO and (
                row["ratio_p95"] or 9
            ) <= TARGET_RATIO
            p95_ok = y["p95"] is not None and y["p95"] <= TARGET_P95_S
            lines.append(
                f"| {row['n'] or 'all'} | {y['count']} ({y['failures']}) / {d['count']} "
                f"({d['failures']}) | {_ms(y['p50'])} | {_ms(y['p95'])} | {_ms(y['max'])} | "
                f"{_ms(d['p50'])} | {_ms(d['p95'])} | {_ms(d['max'])} | "
                f"{_x(row['ratio_p50'])} | {_x(row['ratio_p95'])} | "
                f"{'met' if ratio_ok else '**not met**'} | {'met' if p95_ok else '**not met**'} |"
            )
        lines += [
            "",
            "Where the time goes (medians over all pairs: the participant's own steps before "
            "it subscribes to that remote; the subscription's signalling, "
            "subscribe → answer acknowledged; then media: ICE, DTLS, Janus's keyframe request "
            "to the publisher, the keyframe, decoding):",
            "",
            "| N | path | before subscribing | subscribe signalling | answer → first frame | "
            f"total p50 | pairs with answer → first frame ≥ {STALL_S:g} s |",
            "|---:|---|---:|---:|---:|---:|---:|",
        ]
        for row in s["rows"]:
            for path in ("yuntong", "direct"):
                r = row[path]
                lines.append(
                    f"| {row['n'] or 'all'} | {path} | {_ms(r['parts']['before_sub_s'])} | "
                    f"{_ms(r['parts']['sub_signal_s'])} | {_ms(r['parts']['media_s'])} | "
                    f"{_ms(r['p50'])} | {r.get('media_stalls', 0)} of {r['count']} |"
                )
        st = s["steps"]
        ys, ds = st.get("yuntong", {}), st.get("direct", {})
        lines += [
            "",
            "A joining participant's own steps (medians since its start, joins with at least "
            f"one remote): Yuntong — ticket {_ms(ys.get('ticket'))}, meeting socket open "
            f"{_ms(ys.get('socket'))}, `meeting.join` acknowledged {_ms(ys.get('joined'))}, "
            f"published {_ms(ys.get('published'))}, all subscriptions answered "
            f"{_ms(ys.get('subscribed'))}; direct — Janus socket and session "
            f"{_ms(ds.get('socket'))}, publisher joined {_ms(ds.get('joined'))}, published "
            f"{_ms(ds.get('published'))}, all subscriptions started {_ms(ds.get('subscribed'))}.",
            "",
        ]
        probe = join.get("ticket_probe") or {}
        lines += [
            "The ticket, measured alone on the idle meeting before the rounds (medians of 10): "
            f"on a client kept open (as the participants above) {_ms(probe.get('kept_client'))}; "
            f"`get_ticket` with a new client {_ms(probe.get('get_ticket'))}, of which making "
            f"the `httpx.AsyncClient` {_ms(probe.get('new_client'))}.",
            "",
            "CPU during the join meetings (% of one core, averaged over each path's meetings; "
            "“clients” are the bench's processes):",
            "",
            "| N | path | wall | Janus | Yuntong server | clients | other processes | whole "
            f"machine (of {int(m['nproc']) * 100}%) |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key, c in sorted(join["cpu"].items(), key=lambda kv: (int(kv[0].split(":")[1]), kv[0])):
            path, n = key.split(":")
            w = c["wall"] or 1.0
            lines.append(
                f"| {n} | {path} | {c['wall']:.1f} s | {100 * c['janus'] / w:.0f}% | "
                f"{100 * c['server'] / w:.0f}% | {100 * c['bench'] / w:.0f}% | "
                f"{100 * c.get('other', 0) / w:.0f}% | {100 * c['machine'] / w:.0f}% |"
            )
        lines.append("")
    if scale:
        lines += [
            "### Scale of one meeting",
            "",
            "One publisher (the host: pattern video 640×360 at 15 fps VP8 and a tone, Opus) and "
            "receive-only guests added in steps (spread over the workers, 3 at a time in each), "
            "each subscribing through Yuntong "
            "(one Janus session and subscriber handle each). Receivers do not decode (aiortc's "
            "decoder thread replaced by one that drops frames; RTP, SRTP, jitter buffer, RTCP "
            "and NACK/PLI still run). Per step, after 2 s to settle, "
            f"{scale['measure_s']:.0f} s of `getStats()`: sequence-gap loss = packets lost ÷ "
            "(received + lost) over all receivers' inbound RTP; delivered = packets received "
            "÷ (packets the publisher sent × receivers), as rates (each reading timed on its "
            "own; a receiver whose subscription is gone or restarted by the end of the step "
            "counts as dropped and as delivering nothing). A step passes with gap loss ≤ 5% and "
            "delivered ≥ 95%. CPU in % of one core over the same seconds.",
            "",
            "| receivers | forwarded streams | set-up | packets/s received | gap loss | "
            "delivered | receivers dropped | Janus CPU | Yuntong CPU | Yuntong CPU / "
            "participant | clients CPU | "
            f"other | machine (of {int(m['nproc']) * 100}%) | Janus RSS |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for st in scale["steps"]:
            c = st["cpu_pct"]
            lines.append(
                f"| {st['receivers']} | {st['streams']} | {st['setup_s']:.1f} s | "
                f"{st['packets_per_s']:,.0f} | {st['loss'] * 100:.2f}% | "
                f"{st['delivered'] * 100:.1f}% | {st.get('dropped', 0)} | "
                f"{c['janus']:.0f}% | {c['server']:.1f}% | "
                f"{c['server'] / (st['receivers'] + 1):.2f}% | {c['bench']:.0f}% | "
                f"{c.get('other', 0):.0f}% | {c['machine']:.0f}% | "
                f"{st['rss_mb']['janus']:.0f} MB |"
            )
        lines += ["", f"Stopped: {scale['stop_reason']}.", ""]
        if scale["steps"]:
            last = scale["steps"][-1]
            c = last["cpu_pct"]
            capacity = int(m["nproc"]) * 100
            biggest = max(("janus", "server", "bench"), key=lambda k: c[k])
            label = {"janus": "Janus", "server": "the Yuntong server", "bench": "the clients"}
            lines += [
                f"At the last step ({last['receivers']} receivers) the machine was "
                f"{c['machine']:.0f}% busy of {capacity}%; the largest consumer was "
                f"{label[biggest]} ({c[biggest]:.0f}%). Janus per forwarded stream: "
                f"{c['janus'] / last['streams']:.2f}% of a core.",
                "",
            ]
    if findings:
        lines += ["### Findings", "", findings.strip(), ""]
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


# =============================================================================================
# Main
# =============================================================================================


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--sizes", default=None, help="meeting sizes, default 2,4,8")
    parser.add_argument("--rounds", type=int, default=None, help="rounds, default 5 (quick 2)")
    parser.add_argument(
        "--steps",
        default=None,
        help="receivers per scale step, default 5,10,20,30,40,50,60,70,80,99 (a meeting holds 100)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="client processes (default 2: one per CPU)"
    )
    parser.add_argument("--measure-s", type=float, default=10.0, help="seconds per scale step")
    parser.add_argument("--no-join", action="store_true", help="skip the join test")
    parser.add_argument("--no-scale", action="store_true", help="skip the scale test")
    parser.add_argument("--out", default=str(BENCH / "RESULTS.md"), help="results file")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--json", default=None, help="also dump raw results as JSON here")
    parser.add_argument("--from-json", default=None, help="only render the section from JSON")
    parser.add_argument("--findings", default=None, help="markdown file: the findings")
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = [int(x) for x in (args.sizes or ("2,4" if quick else "2,4,8")).split(",")]
    args.rounds = args.rounds or (2 if quick else 5)
    args.steps = [
        int(x)
        for x in (args.steps or ("5,10" if quick else "5,10,20,30,40,50,60,70,80,99")).split(",")
    ]
    return args


def print_table(run: dict[str, Any]) -> None:
    join = run.get("join")
    if join:
        print()
        print(
            f"{'join time':<14}{'pairs':>12}{'Yuntong p50':>13}{'p95':>9}{'direct p50':>12}"
            f"{'p95':>9}{'ratio p50':>11}{'p95':>8}"
        )
        for row in join["summary"]["rows"]:
            y, d = row["yuntong"], row["direct"]
            name = f"N={row['n']}" if row["n"] else "all"
            print(
                f"{name:<14}{str(y['count']) + '/' + str(d['count']):>12}{_ms(y['p50']):>13}"
                f"{_ms(y['p95']):>9}{_ms(d['p50']):>12}{_ms(d['p95']):>9}"
                f"{_x(row['ratio_p50']):>11}{_x(row['ratio_p95']):>8}"
            )
    scale = run.get("scale")
    if scale:
        print()
        print(
            f"{'receivers':>9}{'streams':>9}{'loss':>8}{'deliv.':>8}{'dropped':>8}{'Janus':>7}"
            f"{'Yuntong':>9}{'clients':>9}{'other':>7}{'machine':>9}"
        )
        for st in scale["steps"]:
            c = st["cpu_pct"]
            print(
                f"{st['receivers']:>9}{st['streams']:>9}{st['loss'] * 100:>7.2f}%"
                f"{st['delivered'] * 100:>7.1f}%{st.get('dropped', 0):>8}{c['janus']:>6.0f}%"
                f"{c['server']:>8.1f}%{c['bench']:>8.0f}%{c.get('other', 0):>6.0f}%"
                f"{c['machine']:>8.0f}%"
            )
        print(f"stopped: {scale['stop_reason']}")
    print()


def quiet_close_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """aiortc raises InvalidStateError when a PeerConnection is closed twice (the client
    closes a subscription on ``feed_gone`` and again on leaving): not worth a traceback."""
    from aiortc.exceptions import InvalidStateError as AiortcInvalidState

    exc = context.get("exception")
    if isinstance(exc, asyncio.InvalidStateError | AiortcInvalidState):
        return
    loop.default_exception_handler(context)


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    import aiortc

    from yuntong.core.logging import configure_logging

    started = time.monotonic()
    configure_logging("WARNING", json=False)
    asyncio.get_running_loop().set_exception_handler(quiet_close_errors)
    logging.getLogger("aiortc").setLevel(logging.ERROR)
    raise_nofile()
    patch_first_frame_time()
    install_decoder()
    machine = machine_info()
    machine["janus"] = janus_version()
    machine["aiortc"] = aiortc.__version__
    run: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + shlex.join(["bench/meeting.py", *sys.argv[1:]]),
        "source": source_state(),
        "machine": machine,
        "args": {
            "sizes": args.sizes,
            "rounds": args.rounds,
            "steps": args.steps,
            "workers": args.workers,
        },
    }
    before = machine_busy_s(), time.monotonic()
    await asyncio.sleep(3)
    idle = 100 * (machine_busy_s() - before[0]) / (time.monotonic() - before[1])
    run["idle_load_pct"] = idle
    log(f"machine load before starting: {idle:.0f}% of {machine['nproc']} CPUs x 100%")
    ctx = multiprocessing.get_context("spawn")
    workers = [WorkerHandle(ctx) for _ in range(args.workers)]
    with tempfile.TemporaryDirectory(prefix="yt-meeting-bench-") as tmp:
        log("starting Janus and Yuntong")
        setup = await start_setup(Path(tmp), max(args.sizes))
        meter = CpuMeter(
            {
                "janus": lambda: [setup.janus.pid],
                "server": lambda: [setup.server_pid],
                "bench": lambda: [os.getpid(), *(w.pid for w in workers)],
            }
        )
        try:
            for w in workers:
                await w.call("pid")
            if not args.no_join:
                log(f"join time: sizes {args.sizes}, {args.rounds} rounds, {args.workers} workers")
                join = await join_test(setup, workers, args.sizes, args.rounds, meter)
                join["summary"] = summarize_join(join, args.sizes)
                run["join"] = join
            if not args.no_scale:
                log(f"scale: steps {args.steps}")
                run["scale"] = await scale_test(setup, workers, args.steps, args.measure_s, meter)
        finally:
            await asyncio.gather(*(w.stop() for w in workers))
            await stop_setup(setup)
    run["total_s"] = time.monotonic() - started
    return run


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    findings = Path(args.findings).read_text() if args.findings else None
    if args.from_json:
        run = json.loads(Path(args.from_json).read_text())
    else:
        run = asyncio.run(amain(args))
        if args.json:
            Path(args.json).write_text(json.dumps(run, indent=1, default=str))
    print_table(run)
    if not args.no_write:
        write_section(Path(args.out), SECTION_START, SECTION_END, render(run, findings))
        print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
