"""Typed settings: ``YUNTONG_*`` environment variables, an optional TOML file and generated secrets.

Secrets are never defaulted: on first start they are generated into ``var/secrets.toml``
(mode 0600) and read back on every later start.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import tomllib
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from yuntong.files import private_dir, private_file

SECRETS_FILE = "secrets.toml"


class JanusNode(BaseModel):
    """A Janus this node may place meetings on: its Janus API URL and the secrets it was
    started with (token auth, the VideoRoom ``admin_key``)."""

    name: str = Field(min_length=1, max_length=40)
    url: str = Field(pattern=r"^wss?://")
    token_secret: SecretStr | None = None
    videoroom_admin_key: SecretStr


class SipTrunk(BaseModel):
    """A carrier's SIP trunk: calls to numbers outside Yuntong leave by it, and calls from its
    address (host and port) to Yuntong's numbers are the carrier's (docs/sip.md)."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(5060, ge=1, le=65535)
    transport: Literal["udp", "tcp"] = "udp"


class Settings(BaseSettings):
    """Everything an operator can set; every field maps to ``YUNTONG_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="YUNTONG_", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""
    # PostgreSQL: connections each process keeps open (and as many more in a burst); mind
    # the server's max_connections across every node, its billing worker and the CLI
    database_pool_size: int = Field(20, ge=1, le=500)
    # several nodes (docs/operations.md, "Several nodes"): Redis for the bus, presence and
    # leases; empty = the embedded default (in-process bus, one node)
    redis_url: str = ""
    # this node's id, unique among live nodes (empty: a server generates one at its first start
    # and keeps it in var/node_id; its billing worker is <id>.billing; see cluster/nodes.py)
    node_id: str = ""
    # the Redis bus (core/bus/redis.py): a publish or PING gives up after redis_timeout_s; a
    # lost Redis is retried after 0.1 s, doubling up to bus_reconnect_max_s (jittered); a quiet
    # subscription is PINGed every bus_ping_s and counted lost when no answer comes as long again
    redis_timeout_s: float = Field(2.0, gt=0)
    bus_reconnect_max_s: float = Field(5.0, gt=0)
    bus_ping_s: float = Field(5.0, gt=0)
    # node liveness (yuntong.cluster.nodes): each node renews its keepalive (a Redis key and its
    # row in `nodes`) this often; a node heard in neither for node_dead_after_s is dead, and
    # what it left open is closed by the others. Several times the keepalive: a node whose event
    # loop stalls (a long garbage collection) must not be taken for dead
    node_keepalive_s: float = Field(1.0, gt=0)
    node_dead_after_s: float = Field(5.0, gt=0)
    # a singleton job's lease (yuntong.cluster.jobs): renewed every third of it while the job
    # runs; another node takes the job over this long after its holder died
    job_lease_s: float = Field(15.0, gt=0)
    # a request forwarded to the node that owns what it concerns (yuntong.cluster.forward)
    # fails with node_unreachable when no answer comes this long after it was sent
    forward_timeout_s: float = Field(3.0, gt=0)
    # a live meeting's owner lease (yuntong.meetings.live.lease): renewed every third of it by
    # the node running the room; another node takes the meeting over this long after it died
    meeting_lease_s: float = Field(15.0, gt=0)
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    business_timezone: str = "Asia/Shanghai"
    default_locale: str = "zh-CN"
    log_level: str = "INFO"
    log_json: bool = True

    # secrets (generated into var/secrets.toml when absent)
    secret_key: SecretStr = SecretStr("")
    pii_keys: dict[str, SecretStr] = Field(default_factory=dict)
    pii_active_key: str = ""
    turn_secret: SecretStr = SecretStr("")

    # accounts
    auto_approve: bool = False
    session_ttl_hours: int = 24 * 14
    # throttles (docs/operations.md, "Throttles"); in Redis with several nodes. Wrong passwords
    # for one account from one client (IPv6: its /64), then that client waits; for one account
    # from all clients, then the account is locked; from one client for all accounts
    login_max_failures: int = Field(5, ge=1)
    login_account_max_failures: int = Field(20, ge=1)
    login_client_max_failures: int = Field(100, ge=1)
    login_lockout_minutes: int = Field(15, ge=1)
    # registrations from one client refused as username/e-mail/phone/credit code taken, per hour
    registration_max_taken: int = Field(10, ge=1)
    # look-ups of users by username, phone or e-mail (and calls to a phone or e-mail) per user
    lookup_per_minute: int = Field(30, ge=1)
    cookie_secure: bool = False

    # calls
    ring_timeout_s: float = 45.0
    media_timeout_s: float = 30.0
    # every live answered call's last-alive moment is written this often (one statement per
    # node): a call cut by a crash is billed up to its last checkpoint, never for the outage
    call_checkpoint_s: float = Field(10.0, gt=0)
    reconnect_grace_s: float = 20.0
    heartbeat_interval_s: float = 20.0
    # how often each server reads the change feed (core/changes.py) and drops what it keeps in
    # memory that another process (the CLI, another node) changed; 0: never (one process)
    change_poll_s: float = Field(1.0, ge=0)
    ws_max_message_bytes: int = 64 * 1024
    ws_resume_buffer: int = 200
    # admission control: sockets a node signs in and greets at once (on /ws and /ws/meeting
    # each); beyond, a new socket is told node_busy with a retry hint and closed with 1013, so
    # a reconnect storm (a node died, its sessions come here) never stalls the calls running
    ws_max_opening: int = Field(64, ge=1)
    # permessage-deflate costs ~64 KB of zlib state and CPU per socket for little gain on
    # small signaling messages; off unless asked for
    ws_compression: bool = False
    # garbage collector (yuntong.ops.gcwatch): freeze survivors every interval (0: off) so
    # that pauses do not grow with the sessions held; sweep frozen garbage cycles hourly
    gc_freeze_interval_s: float = 1.0
    gc_sweep_interval_s: float = 3600.0

    # billing (amounts in fen; days in the business time zone)
    billing_close_day: int = Field(25, ge=1, le=28)
    billing_due_workdays: int = Field(10, ge=1, le=60)
    billing_first_due_workdays: int = Field(7, ge=1, le=60)
    billing_default_credit_limit_fen: int = Field(50_000, ge=0)
    billing_credit_limit_min_fen: int = Field(10_000, ge=0)
    billing_credit_limit_max_fen: int = Field(10_000_000, ge=0)
    billing_late_fee_per_day: Decimal = Decimal("0.003")
    billing_suspend_after_months: int = Field(1, ge=1)
    billing_terminate_after_months: int = Field(3, ge=1)
    # "automatic": suspended by the daily run; "confirm": listed for staff to confirm
    billing_suspension_mode: str = Field("automatic", pattern="^(automatic|confirm)$")
    billing_reminder_days_before_due: int = Field(3, ge=0)
    billing_price_notice_days: int = Field(30, ge=0)
    billing_incident_min_hours: float = Field(2.0, ge=0)
    billing_rating_interval_s: float = 2.0
    # rating, the daily jobs and pending e-mail run in a child process of the server (`yuntong
    # billing worker`, supervised), never in the event loop that carries signaling; false: in
    # the server's own loop (issue 20)
    billing_worker_process: bool = True
    # PostgreSQL: rating statements run at once, each on its share of the accounts (one more
    # than the cores of the benchmark machine: a share's work between statements overlaps)
    billing_rating_parallel: int = Field(3, ge=1, le=16)
    billing_daily_run_hour: int = Field(1, ge=0, le=23)
    # rent while suspended for arrears: the contract charges rent during a suspension only at
    # a competent authority's request (VP 10, a lawful hold), so by default none is charged
    billing_rent_during_arrears_suspension: bool = False
    # a postpaid order whose monthly rent exceeds the account's credit limit: "raise" the limit
    # by the rent (the usage room the customer had stays), "refuse" it (the customer raises the
    # limit first), or "allow" it as it is (the limit is exhausted by the rent alone)
    billing_rent_over_credit_limit: str = Field("raise", pattern="^(raise|refuse|allow)$")
    # a terminated account places no call at all, not even one its tariff does not charge for
    billing_terminated_free_calls: bool = False
    # HMAC-SHA256 key of the payment provider's webhook; empty: the webhook is off
    payment_webhook_secret: SecretStr = SecretStr("")
    # Chinese working days the calendar package does not know yet: {"2027-02-06": true}
    workday_overrides: dict[date, bool] = Field(default_factory=dict)
    # where `yuntong holidays import` keeps the State Council's schedules (<year>.json);
    # empty: var/holidays
    holidays_dir: Path | None = None

    # e-mail (statements, notices); empty host: mail is logged as skipped, never sent
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    mail_from: str = "yuntong@localhost"

    # TURN / STUN
    stun_urls: list[str] = Field(default_factory=list)
    turn_urls: list[str] = Field(default_factory=list)
    turn_credential_ttl_s: int = 24 * 3600
    turn_realm: str = "yuntong"
    coturn_port: int = 3478
    coturn_min_port: int = 49160
    coturn_max_port: int = 49400
    start_coturn: bool = True
    # a local Janus (VideoRoom SFU) started and supervised by `yuntong serve`; both of its
    # APIs listen on loopback only, with secrets generated at every start
    start_janus: bool = True
    janus_ws_port: int = Field(18188, ge=1, le=65535)  # not 8188: Debian's own janus.service
    janus_admin_port: int = Field(17188, ge=1, le=65535)
    janus_rtp_min_port: int = Field(20000, ge=1024, le=65535)
    janus_rtp_max_port: int = Field(20999, ge=1024, le=65535)
    # Janus nodes run by someone else (JSON list); when set, no local Janus is started and new
    # meetings go to the least-loaded healthy node
    janus_nodes: list[JanusNode] = Field(default_factory=list)
    janus_health_interval_s: float = Field(5.0, gt=0)
    # the password remote Janus nodes' HTTP event handlers post with (user "janus") to
    # /internal/janus/events; the local Janus gets a new one at every start
    janus_events_password: SecretStr | None = None
    # the SIP edge (docs/sip.md): a Kamailio started and supervised by `yuntong serve` as the
    # registrar and proxy of SIP phones and carrier trunks, on sip_host only; it asks this
    # service how to route every call
    start_sip: bool = True
    sip_host: str = "127.0.0.1"
    sip_port: int = Field(5060, ge=1, le=65535)
    sip_tls_port: int | None = Field(5061, ge=1, le=65535)  # None: no SIP over TLS
    sip_domain: str = ""  # the SIP domain and digest realm (empty: yuntong.local)
    sip_public_host: str = ""  # the registrar address phones are given (empty: the domain)
    sip_trunks: list[SipTrunk] = Field(default_factory=list)
    sip_ring_timeout_s: int = Field(45, ge=5, le=300)
    sip_children: int = Field(4, ge=1, le=64)  # Kamailio's worker processes per transport
    # conference calls (docs/conferences.md): the operator's own dial-in numbers (E.164), which
    # any organiser may host conferences on (each told apart by its PIN)
    conference_numbers: list[str] = Field(default_factory=list)
    # meetings: a participant whose socket drops keeps its place this long; a join ticket lasts
    # this long; chat messages per participant per second (sustained) and in a burst
    meeting_reconnect_grace_s: float = Field(30.0, gt=0)
    meeting_ticket_ttl_s: int = Field(600, ge=10)
    # wrong passcodes for one meeting from one client, then that client waits; for one meeting
    # from all clients, then passcode entry is paused for everyone (the host and signed-in
    # invitees need none); from one client for all meetings, unknown numbers included
    meeting_passcode_max_failures: int = Field(5, ge=1)
    meeting_passcode_meeting_max_failures: int = Field(20, ge=1)
    meeting_passcode_client_max_failures: int = Field(30, ge=1)
    meeting_passcode_lockout_minutes: int = Field(15, ge=1)
    meeting_chat_per_s: float = Field(2.0, gt=0)
    meeting_chat_burst: int = Field(10, ge=1)
    # each participant's minutes so far are written this often: after a crash they are billed
    # up to the last write
    meeting_checkpoint_s: float = Field(60.0, gt=0)
    # a subscriber's simulcast layer lowered for its slow link is raised one step after this
    # long without another
    meeting_layer_recover_s: float = Field(15.0, gt=0)
    # peers the managed coturn may relay to besides the public Internet: IPs, networks
    # ("10.8.0.0/16") or ranges ("10.8.0.1-10.8.0.9"); private, CGNAT, link-local, loopback
    # and the server's own addresses are refused otherwise (an allowed entry wins)
    turn_allowed_peer_ips: list[str] = Field(default_factory=list)
    # RFC 6062 TCP relays (TCP connections opened from the server to a peer); off unless set
    turn_tcp_relay: bool = False
    # the network effectiveness ratio the contract promises (CP 2.1), in hundredths of a
    # percent (9800: 98.00 %); a day below it raises an operator alert (sla/completion.py)
    completion_ner_contracted_bp: int = Field(9800, ge=0, le=10_000)

    # phone numbers (docs/numbers.md): a customer's hold on a number lapses after
    # numbers_hold_minutes, at most numbers_max_holds at once; a released number rests in
    # quarantine numbers_quarantine_days before it is offered again (it never rings its former
    # holder); the kinds imported, and which prefixes are service numbers (400, 95xxx)
    numbers_hold_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    numbers_max_holds: int = Field(5, ge=1, le=100)
    numbers_quarantine_days: int = Field(90, ge=0, le=3650)
    numbers_kinds: list[str] = Field(default_factory=lambda: ["mobile", "fixed_line", "service"])
    numbers_service_prefixes: list[str] = Field(default_factory=lambda: ["400", "95"])
    # porting (携号转网, docs/numbers.md "Porting"): the province whose local network the
    # operator serves (None: no port-in) and the carrier a ported-in number is with; days a
    # number must have been in service; the authorisation document's largest size; the
    # port-out code's lifetime; the secret both carriers sign their calls with (empty: derived
    # from secret_key, for the sandbox); the sandbox losing carrier's register:
    # national number -> {"holder_id", "in_service_since", "arrears_fen"}
    numbers_porting_province: str | None = None
    numbers_porting_carrier_name: str = Field("云通", min_length=1, max_length=60)
    numbers_porting_min_service_days: int = Field(120, ge=0, le=3650)
    numbers_porting_document_max_bytes: int = Field(5_000_000, ge=1000, le=50_000_000)
    numbers_port_out_code_hours: int = Field(72, ge=1, le=30 * 24)
    numbers_porting_carrier_secret: SecretStr = SecretStr("")
    numbers_porting_sandbox: dict[str, dict[str, str | int]] = Field(default_factory=dict)

    # backups (docs/backup.md): the key every backup is encrypted with (32 random bytes,
    # URL-safe base64, as `yuntong backup key` prints one): never generated nor defaulted, and
    # kept apart from this machine (whoever holds a backup and its key holds all the data);
    # the folder the daily backup is written to (None: no scheduled backup), at which hour of
    # the business day, and how many to keep: the newest of each of the last
    # backup_keep_daily days and of the last backup_keep_monthly months
    backup_key: SecretStr = SecretStr("")
    backup_dir: Path | None = None
    backup_hour: int = Field(3, ge=0, le=23)
    backup_keep_daily: int = Field(7, ge=1, le=366)
    backup_keep_monthly: int = Field(12, ge=0, le=1200)
    # customer-service desk (docs/support.md): how long a platform's identity signature is
    # taken after its timestamp; how long a visitor token lasts; the expected wait per place
    # in the queue while an inbox has no history; how many messages a conversation shows
    support_identity_max_age_s: int = Field(300, ge=30, le=3600)
    support_visitor_token_hours: int = Field(24, ge=1, le=24 * 30)
    support_default_wait_s: int = Field(120, ge=1, le=24 * 3600)
    support_history_limit: int = Field(200, ge=10, le=1000)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("YUNTONG_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("var_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @field_validator("turn_allowed_peer_ips")
    @classmethod
    def _peer_ranges(cls, value: list[str]) -> list[str]:
        for item in value:
            ip_range(item)
        return value

    @property
    def holidays_path(self) -> Path:
        return (self.holidays_dir or self.var_dir / "holidays").resolve()

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.var_dir / 'yuntong.db'}"

    def with_generated_secrets(self) -> Settings:
        """Return settings whose missing secrets are filled from (or generated into) var/.

        var/ is made owner-only (0700) first: it holds the keys, the SQLite database and
        recordings (docs/operations.md).
        """
        private_dir(self.var_dir)
        stored = _load_or_create_secrets(self.var_dir)
        update: dict[str, Any] = {}
        if not self.secret_key.get_secret_value():
            update["secret_key"] = SecretStr(stored["secret_key"])
        if not self.turn_secret.get_secret_value():
            update["turn_secret"] = SecretStr(stored["turn_secret"])
        if not self.pii_keys:
            keys = stored["pii_keys"]
            update["pii_keys"] = {kid: SecretStr(k) for kid, k in keys.items()}
            update["pii_active_key"] = stored.get("pii_active_key") or sorted(keys)[-1]
        elif not self.pii_active_key:
            update["pii_active_key"] = sorted(self.pii_keys)[-1]
        return self.model_copy(update=update)


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def ip_range(text: str) -> tuple[IPAddress, IPAddress]:
    """``"10.0.0.1"``, ``"10.0.0.0/8"`` or ``"10.0.0.1-10.0.0.9"`` as (first, last) addresses."""
    first, dash, last = text.strip().partition("-")
    if dash:
        low, high = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
        if low.version != high.version or low > high:  # type: ignore[operator]
            raise ValueError(f"not an address range: {text!r}")
        return low, high
    network = ipaddress.ip_network(first, strict=False)
    return network.network_address, network.broadcast_address


def _new_aes_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _load_or_create_secrets(var_dir: Path) -> dict[str, Any]:
    path = var_dir / SECRETS_FILE
    if path.exists():
        private_file(path)
        with path.open("rb") as fh:
            return tomllib.load(fh)
    private_dir(var_dir)
    data = {
        "secret_key": secrets.token_urlsafe(48),
        "turn_secret": secrets.token_urlsafe(32),
        "pii_active_key": "k1",
        "pii_keys": {"k1": _new_aes_key()},
    }
    write_secrets(path, data)
    return data


def secrets_text(data: dict[str, Any]) -> str:
    """The secrets file's text for ``data`` (secret_key, turn_secret, the PII key ring)."""
    lines = [
        f'secret_key = "{data["secret_key"]}"',
        f'turn_secret = "{data["turn_secret"]}"',
        f'pii_active_key = "{data["pii_active_key"]}"',
        "[pii_keys]",
        *(f'{kid} = "{key}"' for kid, key in sorted(data["pii_keys"].items())),
    ]
    return "\n".join(lines) + "\n"


def write_secrets(path: Path, data: dict[str, Any]) -> None:
    """Write the secrets file atomically with owner-only permissions."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets_text(data))
    tmp.replace(path)


def secrets_in_use(settings: Settings) -> dict[str, Any]:
    """The secrets ``settings`` run with (wherever they came from), as the secrets file holds
    them: what a backup keeps apart from the data."""
    return {
        "secret_key": settings.secret_key.get_secret_value(),
        "turn_secret": settings.turn_secret.get_secret_value(),
        "pii_active_key": settings.pii_active_key,
        "pii_keys": {kid: key.get_secret_value() for kid, key in settings.pii_keys.items()},
    }


def rotate_pii_key(var_dir: Path) -> str:
    """Add a new PII key to var/secrets.toml and make it the active one; returns its id."""
    data = _load_or_create_secrets(var_dir)
    keys: dict[str, str] = dict(data["pii_keys"])
    kid = f"k{max(int(k[1:]) for k in keys) + 1}"
    keys[kid] = _new_aes_key()
    data["pii_keys"] = keys
    data["pii_active_key"] = kid
    write_secrets(var_dir / SECRETS_FILE, data)
    return kid


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides).with_generated_secrets()
