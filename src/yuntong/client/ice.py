"""ICE for the headless client: the server's ICE servers for aiortc, a browser's trickled
candidate for aiortc, and the candidate types an SDP offers."""

from __future__ import annotations

from typing import Any

from aiortc import RTCIceServer
from aiortc.sdp import candidate_from_sdp


def rtc_ice_servers(servers: list[dict[str, Any]]) -> list[RTCIceServer]:
    return [
        RTCIceServer(
            urls=server["urls"],
            username=server.get("username"),
            credential=server.get("credential"),
        )
        for server in servers
    ]


def ice_candidate(candidate: dict[str, Any]) -> Any:
    """A browser's trickled ``{candidate, sdpMid, sdpMLineIndex}`` as an aiortc candidate."""
    line = str(candidate.get("candidate") or "")
    parsed = candidate_from_sdp(line.removeprefix("a=").removeprefix("candidate:"))
    parsed.sdpMid = candidate.get("sdpMid")
    parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
    return parsed


def candidate_types(sdp: str) -> list[str]:
    types = set()
    for line in sdp.splitlines():
        if line.startswith("a=candidate:") and " typ " in line:
            types.add(line.split(" typ ", 1)[1].split()[0])
    return sorted(types)
