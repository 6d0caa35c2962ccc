"""The configuration directory of a Janus that Yuntong runs itself.

Only what Yuntong uses is loaded (the VideoRoom plugin, the AudioBridge plugin for conference
calls, the SIP plugin when a SIP edge is
configured (the WebRTC <-> SIP gateway, docs/sip.md), the WebSocket transport and, when events
are wanted, the HTTP event handler); both APIs listen on loopback only.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

JANUS_LIB_DIR = Path("/usr/lib/x86_64-linux-gnu/janus")
VIDEOROOM = "libjanus_videoroom.so"
SIP_PLUGIN = "libjanus_sip.so"
AUDIOBRIDGE = "libjanus_audiobridge.so"
WEBSOCKETS = "libjanus_websockets.so"
SAMPLE_EVH = "libjanus_sampleevh.so"
# Everything the control plane reads (joins, leaves, media state, quality); "jsep"
# would post every SDP, "transports" every WebSocket connection.
SLOWLINK_LOST_PER_S = 4
DEFAULT_EVENT_TYPES = "sessions,handles,webrtc,media,plugins,core"

Value = str | int | bool
Section = dict[str, Value]


def write_janus_config(
    directory: Path,
    *,
    ws_port: int,
    admin_port: int,
    admin_secret: str,
    videoroom_admin_key: str,
    rtp_range: tuple[int, int],
    token_auth_secret: str | None = None,
    event_url: str | None = None,
    event_user: str | None = None,
    event_password: str | None = None,
    session_timeout_s: int = 60,
    lib_dir: Path = JANUS_LIB_DIR,
    sip: SipGatewayConfig | None = None,
    rtp_ip: str = "127.0.0.1",
) -> Path:
    """Write the ``.jcfg`` files into ``directory`` (mode 0600: they hold secrets).

    With ``token_auth_secret`` every Janus API request needs an HMAC-signed token
    (:func:`yuntong.media.janus.janus_token`). With ``sip`` the SIP plugin is loaded too (the
    browsers' WebRTC <-> SIP gateway, :mod:`yuntong.sip.gateway`). Returns the path of
    ``janus.jcfg``; start Janus with ``janus -C <that path> -F <directory>``.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = {
        "janus.jcfg": core_config(
            directory,
            admin_secret=admin_secret,
            rtp_range=rtp_range,
            token_auth_secret=token_auth_secret,
            events=event_url is not None,
            session_timeout_s=session_timeout_s,
            lib_dir=lib_dir,
            sip=sip is not None,
        ),
        "janus.transport.websockets.jcfg": websockets_config(ws_port, admin_port),
        "janus.plugin.videoroom.jcfg": videoroom_config(videoroom_admin_key),
        "janus.plugin.audiobridge.jcfg": audiobridge_config(videoroom_admin_key, rtp_ip, rtp_range),
        "janus.eventhandler.sampleevh.jcfg": event_handler_config(
            event_url, event_user, event_password
        ),
    }
    if sip is not None:
        files["janus.plugin.sip.jcfg"] = sip_config(sip, rtp_range)
    for name, text in files.items():
        _write_private(directory / name, text)
    return directory / "janus.jcfg"


def core_config(
    directory: Path,
    *,
    admin_secret: str,
    rtp_range: tuple[int, int],
    token_auth_secret: str | None,
    events: bool,
    session_timeout_s: int,
    lib_dir: Path,
    sip: bool = False,
) -> str:
    low, high = rtp_range
    if not 0 < low < high < 65536:
        raise ValueError(f"bad RTP port range {low}-{high}")
    general: Section = {
        "configs_folder": str(directory),
        "plugins_folder": str(lib_dir / "plugins"),
        "transports_folder": str(lib_dir / "transports"),
        "events_folder": str(lib_dir / "events"),
        "loggers_folder": str(lib_dir / "loggers"),
        "debug_level": 4,
        "debug_timestamps": True,
        "debug_colors": False,
        "admin_secret": admin_secret,
        "session_timeout": session_timeout_s,
    }
    if token_auth_secret is not None:
        general |= {"token_auth": True, "token_auth_secret": token_auth_secret}
    events_section: Section = {
        "broadcast": events,
        "disable": _all_but(lib_dir / "events", SAMPLE_EVH if events else None),
        # per-second statistics for every handle would flood the backend
        "stats_period": 5,
    }
    return render(
        {
            "general": general,
            # a handle losing this many packets a second gets a "slowlink" event: meetings
            # then send that subscriber a lower simulcast layer
            "media": {"rtp_port_range": f"{low}-{high}", "slowlink_threshold": SLOWLINK_LOST_PER_S},
            "plugins": {
                "disable": _all_but(
                    lib_dir / "plugins", VIDEOROOM, AUDIOBRIDGE, SIP_PLUGIN if sip else None
                )
            },
            "transports": {"disable": _all_but(lib_dir / "transports", WEBSOCKETS)},
            "loggers": {"disable": _all_but(lib_dir / "loggers", None)},
            "events": events_section,
        }
    )


def websockets_config(ws_port: int, admin_port: int) -> str:
    """Janus API and Admin API as plain WebSockets on 127.0.0.1 (Yuntong is the only client)."""
    return render(
        {
            "general": {
                "json": "compact",
                "ws": True,
                "ws_port": ws_port,
                "ws_ip": "127.0.0.1",
                "wss": False,
            },
            "admin": {
                "admin_ws": True,
                "admin_ws_port": admin_port,
                "admin_ws_ip": "127.0.0.1",
                "admin_wss": False,
            },
        }
    )


def videoroom_config(admin_key: str) -> str:
    """No static rooms; ``create`` needs ``admin_key``, so only Yuntong can make rooms."""
    return render({"general": {"admin_key": admin_key, "lock_rtp_forward": True}})


@dataclass(frozen=True)
class SipGatewayConfig:
    """The SIP plugin: each of its handles is one SIP user agent on ``local_ip`` (a random
    port), registered with and calling through the SIP edge; never behind NAT (the edge and
    the plugin share a host or a network)."""

    local_ip: str = "127.0.0.1"
    register_ttl_s: int = 300
    user_agent: str = "Yuntong WebRTC gateway"


def sip_local_ip(sip_host: str) -> str:
    """The address the SIP plugin's user agents use to reach the edge on ``sip_host``: itself,
    or loopback when the edge listens on every interface."""
    try:
        unspecified = ipaddress.ip_address(sip_host).is_unspecified
    except ValueError:
        return sip_host
    return "127.0.0.1" if unspecified else sip_host


def sip_rtp_range(rtp_range: tuple[int, int]) -> tuple[int, int]:
    """The plugin's plain-RTP ports: the upper quarter of Janus's range (WebRTC takes the rest
    first; both retry another port when one is taken)."""
    low, high = rtp_range
    return high - max((high - low) // 4, 1), high


def sip_config(sip: SipGatewayConfig, rtp_range: tuple[int, int]) -> str:
    low, high = sip_rtp_range(rtp_range)
    return render(
        {
            "general": {
                "local_ip": sip.local_ip,
                "local_media_ip": sip.local_ip,
                "sdp_ip": sip.local_ip,
                "register_ttl": sip.register_ttl_s,
                "rtp_port_range": f"{low}-{high}",
                "behind_nat": False,
                "user_agent": sip.user_agent,
                "keepalive_interval": 0,
                "events": False,
            }
        }
    )


def audiobridge_config(admin_key: str, rtp_ip: str, rtp_range: tuple[int, int]) -> str:
    """No static rooms; ``create`` needs the node's admin key (the VideoRoom's: one secret per
    node); plain-RTP participants (conference calls' phones) get ports of the node's RTP range
    on ``rtp_ip``."""
    low, high = rtp_range
    return render(
        {
            "general": {
                "admin_key": admin_key,
                "lock_rtp_forward": True,
                "local_ip": rtp_ip,
                "rtp_port_range": f"{low}-{high}",
                "events": False,  # Yuntong asks the bridge itself; meetings read the events
            }
        }
    )


def event_handler_config(url: str | None, user: str | None, password: str | None) -> str:
    """The sample event handler POSTs grouped JSON events to ``url`` (disabled without one)."""
    if url is None:
        return render({"general": {"enabled": False}})
    general: Section = {
        "enabled": True,
        "events": DEFAULT_EVENT_TYPES,
        "grouping": True,
        "json": "compact",
        "backend": url,
    }
    if user is not None and password is not None:
        general |= {"backend_user": user, "backend_pwd": password}
    return render({"general": general})


def render(sections: dict[str, Section]) -> str:
    """libconfig text, the format of Janus's ``.jcfg`` files."""
    blocks = []
    for name, values in sections.items():
        lines = [f"\t{key} = {_literal(value)}" for key, value in values.items()]
        blocks.append(f"{name}: {{\n" + "\n".join(lines) + "\n}\n")
    return "\n".join(blocks)


def _literal(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _all_but(folder: Path, *keep: str | None) -> str:
    """Janus loads every module in a folder unless named here, so name all the others."""
    try:
        names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".so"))
    except FileNotFoundError:
        return ""
    return ",".join(name for name in names if name not in keep)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
