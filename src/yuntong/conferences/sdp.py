"""The little SDP a phone's dial-in needs (RFC 4566/3264): where the phone wants its audio and
in which codec, from its offer; and the answer that points it at the AudioBridge."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

# static payload types of RFC 3551 and the AudioBridge's names for them
STATIC = {0: "pcmu", 8: "pcma"}
NAMES = {"pcmu": "PCMU/8000", "pcma": "PCMA/8000", "opus": "opus/48000/2"}


@dataclass(frozen=True)
class AudioOffer:
    """The phone's audio: where it listens and the codec chosen (its first one the bridge
    mixes: pcmu, pcma or opus) with that codec's payload type."""

    ip: str
    port: int
    codec: str
    payload_type: int


def parse_offer(sdp: str) -> AudioOffer | None:
    """The audio of an SDP offer, or None (no audio, no codec the bridge takes, no address)."""
    session_ip, media_ip, port, formats = "", "", 0, []
    rtpmap: dict[int, str] = {}
    in_audio = False
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            in_audio = len(parts) >= 4 and parts[0] == "audio" and port == 0
            if in_audio:
                port = int(parts[1]) if parts[1].isdigit() else 0
                formats = [int(f) for f in parts[3:] if f.isdigit()]
        elif line.startswith("c=") and len(line[2:].split()) == 3:
            ip = line[2:].split()[2].split("/")[0]
            if in_audio:
                media_ip = ip
            elif port == 0:
                session_ip = ip
        elif line.startswith("a=rtpmap:") and in_audio:
            key, _, value = line[9:].partition(" ")
            if key.isdigit():
                rtpmap[int(key)] = value.strip().lower()
    ip = media_ip or session_ip
    if not ip or not 0 < port < 65536:
        return None
    for pt in formats:
        name = rtpmap.get(pt, "")
        if pt in STATIC:
            return AudioOffer(ip, port, STATIC[pt], pt)
        if name.startswith("opus/48000"):
            return AudioOffer(ip, port, "opus", pt)
    return None


def answer(ip: str, port: int, codec: str, payload_type: int) -> str:
    """The SDP answer (or a dial-out's offer): the bridge's address and port, one codec."""
    version = secrets.randbelow(2**31)
    family = "IP6" if ":" in ip else "IP4"
    lines = [
        "v=0",
        f"o=yuntong {version} {version} IN {family} {ip}",
        "s=Yuntong conference",
        f"c=IN {family} {ip}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {payload_type}",
        f"a=rtpmap:{payload_type} {NAMES[codec]}",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return "\r\n".join(lines) + "\r\n"
