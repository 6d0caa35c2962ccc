"""Child processes that ``yuntong serve`` runs and keeps alive: coturn and Janus.

A :class:`SupervisedProcess` restarts its program with exponential back-off when it dies;
:class:`Children` holds them all, reports their state for readiness and stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import resource
import secrets
import shutil
import signal
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import ifaddr
from pydantic import SecretStr

from yuntong.config import IPAddress, JanusNode, Settings, ip_range
from yuntong.core.context import Context, Piece, Slot
from yuntong.core.logging import get_logger
from yuntong.files import private_dir
from yuntong.media.janus import janus_token
from yuntong.media.janus_config import SipGatewayConfig, sip_local_ip, write_janus_config

log = get_logger(__name__)

COTURN_BINARY = "turnserver"
JANUS_BINARY = "janus"
LOCAL_NODE = "local"  # the local Janus's name among the pool's nodes
LOG_ROTATE_BYTES = 10 * 1024 * 1024

State = Literal["starting", "running", "restarting", "stopped"]


class SupervisedProcess:
    """One program kept running: restarted after 1 s, 2 s, 4 s … up to 30 s if it exits.

    The back-off starts again from ``min_backoff_s`` once a run has lasted ``stable_after_s``.
    Output (stdout and stderr) is appended to ``log_path``.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        min_backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        stable_after_s: float = 10.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.cwd = cwd
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.stable_after_s = stable_after_s
        self.stop_timeout_s = stop_timeout_s
        self.state: State = "stopped"
        self.restarts = 0
        self.last_exit_code: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._spawned = asyncio.Event()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def start(self) -> None:
        """Spawn the program and return once the first attempt has been made."""
        if self._task is not None:
            raise RuntimeError(f"{self.name} is already supervised")
        self._stopping.clear()
        self._spawned.clear()
        self.state = "starting"
        self._task = asyncio.create_task(self._supervise(), name=f"supervise-{self.name}")
        await self._spawned.wait()

    async def wait_running(self, *, new_pid_than: int | None = None) -> int:
        """Wait until a process is running (optionally another one than ``new_pid_than``).

        Callers bound the wait with ``asyncio.timeout``.
        """
        while True:
            pid = self.pid
            if self.state == "running" and pid is not None and pid != new_pid_than:
                return pid
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """SIGTERM the program, SIGKILL it after ``stop_timeout_s``, and stop supervising."""
        self._stopping.set()
        await self._terminate()
        if self._task is not None:
            await self._task
            self._task = None
        self.state = "stopped"

    async def _supervise(self) -> None:
        backoff = self.min_backoff_s
        while not self._stopping.is_set():
            started = time.monotonic()
            code = await self._run_once()
            if self._stopping.is_set():
                break
            if time.monotonic() - started >= self.stable_after_s:
                backoff = self.min_backoff_s
            self.state = "restarting"
            self.restarts += 1
            log.warning("child_exited", child=self.name, code=code, restart_in_s=backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    async def _run_once(self) -> int | None:
        _rotate(self.log_path)
        try:
            # owner-only: children log peers' addresses and TURN user names
            out = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=self.cwd,
                    start_new_session=True,  # a terminal's Ctrl-C reaches us, not the child
                )
            finally:
                os.close(out)
        except OSError as exc:
            log.error("child_spawn_failed", child=self.name, error=str(exc))
            self._spawned.set()
            return None
        self.state = "running"
        self._spawned.set()
        log.info("child_started", child=self.name, pid=self._proc.pid)
        if self._stopping.is_set():  # stop() ran while we were spawning
            await self._terminate()
        self.last_exit_code = await self._proc.wait()
        return self.last_exit_code

    async def _terminate(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=self.stop_timeout_s)
        except TimeoutError:
            log.warning("child_killed", child=self.name, pid=proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


ChildStatus = Literal["running", "starting", "restarting", "stopped", "disabled", "unavailable"]


class Children:
    """The supervised children of one node; ``status()`` feeds the readiness check."""

    def __init__(self) -> None:
        self.processes: dict[str, SupervisedProcess] = {}
        self._inactive: dict[str, ChildStatus] = {}

    def add(self, process: SupervisedProcess) -> None:
        self.processes[process.name] = process

    def mark(self, name: str, status: Literal["disabled", "unavailable"]) -> None:
        self._inactive[name] = status

    def status(self) -> dict[str, ChildStatus]:
        states: dict[str, ChildStatus] = dict(self._inactive)
        states.update({name: proc.state for name, proc in self.processes.items()})
        return states

    async def stop(self) -> None:
        await asyncio.gather(*(proc.stop() for proc in self.processes.values()))


CHILDREN = Piece(
    "media.children",
    "node-owned live state",
    lambda ctx: Slot[Children](),
    "the media programs this node supervises (coturn, Janus), set when they are started",
)
LOCAL_JANUS = Piece(
    "media.local_janus",
    "node-owned live state",
    lambda ctx: Slot[LocalJanus](),
    "the Janus this node runs (None: it runs none), set when the children are started",
)


async def start_media_children(ctx: Context) -> Children:
    """Start the media programs this node manages; never fails start-up."""
    children = Children()
    ctx.services.get(CHILDREN).value = children
    await _start_coturn(ctx.settings, children)
    ctx.services.get(LOCAL_JANUS).value = await _start_janus(ctx.settings, children)
    return children


async def _start_coturn(settings: Settings, children: Children) -> None:
    if not settings.start_coturn:
        children.mark("coturn", "disabled")
        return
    binary = shutil.which(COTURN_BINARY)
    if binary is None:
        log.error("coturn_unavailable", binary=COTURN_BINARY)
        children.mark("coturn", "unavailable")
        return
    try:
        conf = write_coturn_config(settings)
    except (OSError, ValueError) as exc:  # unwritable var dir, unresolvable host
        log.error("coturn_unavailable", error=str(exc))
        children.mark("coturn", "unavailable")
        return
    # relays reach public peers only, besides these (not this machine: see docs/operations.md)
    log.info(
        "coturn_peer_policy",
        allowed_peer_ips=settings.turn_allowed_peer_ips,
        tcp_relay=settings.turn_tcp_relay,
    )
    await stop_stale(conf.parent / "turnserver.pid", str(conf))
    coturn = SupervisedProcess(
        "coturn", [binary, "-c", str(conf)], log_path=conf.parent / "turnserver.log"
    )
    children.add(coturn)
    await coturn.start()


# --- Janus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalJanus:
    """How this node reaches the Janus it runs (secrets new at every start, never stored)."""

    url: str
    admin_url: str
    admin_secret: str
    token_secret: str
    videoroom_admin_key: str
    events_password: str = ""  # Janus's event handler posts with it (user "janus")

    def token(self, now: datetime, ttl_s: int = 24 * 3600) -> str:
        return janus_token(self.token_secret, now, ttl_s)

    def as_node(self) -> JanusNode:
        return JanusNode(
            name=LOCAL_NODE,
            url=self.url,
            token_secret=SecretStr(self.token_secret),
            videoroom_admin_key=SecretStr(self.videoroom_admin_key),
        )


async def _start_janus(settings: Settings, children: Children) -> LocalJanus | None:
    if not settings.start_janus or settings.janus_nodes:  # remote nodes: none of our own
        children.mark("janus", "disabled")
        return None
    binary = shutil.which(JANUS_BINARY)
    if binary is None:
        log.error("janus_unavailable", binary=JANUS_BINARY)
        children.mark("janus", "unavailable")
        return None
    directory = settings.var_dir / "janus"
    local = LocalJanus(
        url=f"ws://127.0.0.1:{settings.janus_ws_port}",
        admin_url=f"ws://127.0.0.1:{settings.janus_admin_port}",
        admin_secret=secrets.token_urlsafe(24),
        token_secret=secrets.token_urlsafe(32),
        videoroom_admin_key=secrets.token_urlsafe(24),
        events_password=secrets.token_urlsafe(24),
    )
    try:
        conf = write_janus_config(
            directory,
            ws_port=settings.janus_ws_port,
            admin_port=settings.janus_admin_port,
            admin_secret=local.admin_secret,
            videoroom_admin_key=local.videoroom_admin_key,
            rtp_range=(settings.janus_rtp_min_port, settings.janus_rtp_max_port),
            token_auth_secret=local.token_secret,
            event_url=events_url(settings),
            event_user=EVENTS_USER,
            event_password=local.events_password,
            # the browsers' WebRTC <-> SIP gateway, when this node runs a SIP edge
            sip=SipGatewayConfig(local_ip=sip_local_ip(settings.sip_host))
            if settings.start_sip
            else None,
            rtp_ip=plain_rtp_ip(settings),
        )
    except (OSError, ValueError) as exc:  # unwritable var dir, bad port range
        log.error("janus_unavailable", error=str(exc))
        children.mark("janus", "unavailable")
        return None
    pidfile = directory / "janus.pid"
    await stop_stale(pidfile, str(conf))
    raise_open_file_limit()  # every participant's media needs sockets; Janus inherits it
    janus = SupervisedProcess(
        "janus",
        [binary, "-C", str(conf), "-F", str(directory), "-p", str(pidfile)],
        log_path=directory / "janus.log",
        cwd=directory,
    )
    children.add(janus)
    await janus.start()
    return local


def plain_rtp_ip(settings: Settings) -> str:
    """Where SIP phones send their audio to the AudioBridge (conference calls): the address
    the SIP edge listens on, which the phones reach already."""
    if settings.sip_host not in ("0.0.0.0", "::", ""):  # noqa: S104 - a comparison, no bind
        return settings.sip_host
    return coturn_listen_ip(settings) or "127.0.0.1"


EVENTS_USER = "janus"
EVENTS_PATH = "/internal/janus/events"


def events_url(settings: Settings) -> str:
    """Where Janus's event handler posts: this service, over loopback when it listens there."""
    ip = coturn_listen_ip(settings) or "127.0.0.1"
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{settings.port}{EVENTS_PATH}"


def raise_open_file_limit() -> None:
    """Lift this process's soft limit on open files to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- coturn -------------------------------------------------------------------------------


def coturn_listen_ip(settings: Settings) -> str | None:
    """The IP coturn binds to (``settings.host``); ``None`` means every interface."""
    host = settings.host.strip("[]")
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (the operator asked for all interfaces)
        return None
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return socket.gethostbyname(host)


# Peers coturn never relays to unless the operator allows them (``turn_allowed_peer_ips``):
# every special-purpose network of the IANA registries, so that a user's TURN credentials open
# no path into the operator's networks (private, carrier-grade NAT, link-local with the cloud
# metadata service, loopback) nor to addresses that embed one (IPv4-mapped, NAT64, 6to4).
DENIED_PEER_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/96",  # unspecified, loopback, IPv4-compatible
        "::ffff:0:0/96",  # IPv4-mapped
        "64:ff9b::/96",  # NAT64
        "64:ff9b:1::/48",  # local NAT64
        "100::/64",  # discard
        "2001::/32",  # Teredo
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local
        "ff00::/8",  # multicast
    )
)


def server_addresses(settings: Settings) -> set[IPAddress]:
    """This machine's own addresses: its interfaces', coturn's and the public URL's host's.

    A relay to one of them reaches the services of this machine (Yuntong, Janus, databases).
    """
    found: set[IPAddress] = set()
    with contextlib.suppress(OSError):
        for adapter in ifaddr.get_adapters():
            for ip in adapter.ips:
                address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
                with contextlib.suppress(ValueError):
                    found.add(ipaddress.ip_address(address.split("%")[0]))
    listen = coturn_listen_ip(settings)
    if listen is not None:
        found.add(ipaddress.ip_address(listen))
    host = urlsplit(settings.public_url).hostname if settings.public_url else None
    if host:
        with contextlib.suppress(OSError, UnicodeError):
            for *_, sockaddr in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP):
                with contextlib.suppress(ValueError):
                    found.add(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]))
    return found


LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _covers_loopback(first: IPAddress, last: IPAddress) -> bool:
    """Whether the range ``first``–``last`` holds a loopback address."""
    return any(
        net.version == first.version
        and first <= net.broadcast_address  # type: ignore[operator]
        and last >= net.network_address  # type: ignore[operator]
        for net in LOOPBACK_NETWORKS
    )


def _range_lines(option: str, first: IPAddress, last: IPAddress) -> list[str]:
    """``option=first-last`` lines that coturn (4.6) reads as exactly that range.

    coturn compares IPv6 addresses byte by byte (a range is a box, not an interval) and takes
    a range starting at ``::`` as unbounded below, which then also matches every IPv4 peer; so
    ranges are written as CIDR networks (for which box and interval agree), and ``::`` itself,
    which coturn refuses anyway, is left out.
    """
    if first.version == 6 and int(first) == 0:
        if int(last) == 0:
            return []
        first = ipaddress.IPv6Address(1)
    nets = ipaddress.summarize_address_range(first, last)
    return [
        f"{option}={net.network_address}"
        if net.num_addresses == 1
        else f"{option}={net.network_address}-{net.broadcast_address}"
        for net in nets
    ]


def coturn_peer_policy(settings: Settings) -> list[str]:
    """The turnserver.conf lines that decide which peers a relay may reach.

    Denied: :data:`DENIED_PEER_NETWORKS`, this machine's other addresses, multicast, TCP
    relays (unless ``turn_tcp_relay``). Allowed (coturn lets an allowed address win over a
    denied one): ``turn_allowed_peer_ips``; loopback peers only when one of those covers them.
    """
    lines = ["no-multicast-peers"]
    if not settings.turn_tcp_relay:
        lines.append("no-tcp-relay")
    allowed = [ip_range(item) for item in settings.turn_allowed_peer_ips]
    if any(_covers_loopback(first, last) for first, last in allowed):
        lines.append("allow-loopback-peers")
    for first, last in allowed:
        lines += _range_lines("allowed-peer-ip", first, last)
    for net in DENIED_PEER_NETWORKS:
        lines += _range_lines("denied-peer-ip", net.network_address, net.broadcast_address)
    own = sorted(
        (
            ip
            for ip in server_addresses(settings)
            if not any(ip in net for net in DENIED_PEER_NETWORKS)
        ),
        key=lambda ip: (ip.version, int(ip)),
    )
    lines += [f"denied-peer-ip={ip}" for ip in own]
    return lines


def coturn_config(settings: Settings, directory: Path) -> str:
    """The turnserver.conf text: REST-API auth with our secret, no TLS, no CLI, logs to stdout,
    relays to public peers only (:func:`coturn_peer_policy`)."""
    lines = [
        f"listening-port={settings.coturn_port}",
        f"min-port={settings.coturn_min_port}",
        f"max-port={settings.coturn_max_port}",
        "use-auth-secret",
        f"static-auth-secret={settings.turn_secret.get_secret_value()}",
        f"realm={settings.turn_realm}",
        "fingerprint",
        "no-cli",
        "no-tls",
        "no-dtls",
        "no-rfc5780",
        "no-software-attribute",
        "log-file=stdout",
        "simple-log",
        f"pidfile={directory / 'turnserver.pid'}",
        # coturn opens an SQLite user database even with use-auth-secret; keep it private
        f"userdb={directory / 'turndb'}",
    ]
    ip = coturn_listen_ip(settings)
    if ip is not None:
        lines += [f"listening-ip={ip}", f"relay-ip={ip}"]
    lines += coturn_peer_policy(settings)
    return "\n".join(lines) + "\n"


def write_coturn_config(settings: Settings) -> Path:
    """Write ``<var>/coturn/turnserver.conf`` (mode 0600: it holds the TURN secret)."""
    directory = private_dir(settings.var_dir / "coturn")  # its user database, its log
    path = directory / "turnserver.conf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(coturn_config(settings, directory))
    return path


async def stop_stale(pidfile: Path, marker: str) -> None:
    """End a child (coturn, Janus, the billing worker) left running by an earlier node that
    died without stopping it: the process named in ``pidfile`` whose command line has
    ``marker``."""
    pid = _stale_pid(pidfile, marker)
    if pid is None:
        return
    log.warning("stale_child_stopped", pidfile=str(pidfile), pid=pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not _alive(pid):
            return
        await asyncio.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _stale_pid(pidfile: Path, marker: str) -> int | None:
    """The pid in ``pidfile`` if that process is still alive and its command line has ``marker``."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if marker in cmdline else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        pass
    return True


def _rotate(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_size > LOG_ROTATE_BYTES:
            path.replace(path.with_suffix(path.suffix + ".1"))
