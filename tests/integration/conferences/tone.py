"""A pcap of RTP G.711 A-law (payload type 8) in 20 ms packets, for SIPp's
``play_pcap_audio``: the AudioBridge takes G.711 in 20 ms frames only, and the sample Debian's
``sip-tester`` ships has 30 ms ones. The sound is a 440 Hz tone."""

from __future__ import annotations

import math
import struct
from pathlib import Path

RATE = 8000
FRAME = 160  # 20 ms
SEG_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def alaw(sample: int) -> int:
    """One 16-bit sample as A-law (ITU-T G.711, as the reference g711.c)."""
    value = sample >> 3
    if value >= 0:
        mask = 0xD5
    else:
        mask, value = 0x55, -value - 1
    segment = next((i for i, end in enumerate(SEG_END) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    code = segment << 4
    code |= (value >> 1 if segment < 2 else value >> segment) & 0x0F
    return code ^ mask


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def _packet(payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", 4000, 4002, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        17,
        0,
        bytes([10, 0, 0, 1]),
        bytes([10, 0, 0, 2]),
    )
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    ethernet = b"\x00\x11\x22\x33\x44\x55" + b"\x66\x77\x88\x99\xaa\xbb" + b"\x08\x00"
    return ethernet + ip + udp


def write_tone_pcap(path: Path, seconds: float = 10.0, hz: float = 440.0) -> Path:
    frames = int(seconds * RATE / FRAME)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for n in range(frames):
        samples = (
            int(12000 * math.sin(2 * math.pi * hz * (n * FRAME + i) / RATE)) for i in range(FRAME)
        )
        rtp = struct.pack("!BBHII", 0x80, 8, n & 0xFFFF, n * FRAME, 0x1234ABCD)
        data = _packet(rtp + bytes(alaw(s) for s in samples))
        micros = n * 20_000
        out.append(
            struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(data), len(data))
        )
        out.append(data)
    path.write_bytes(b"".join(out))
    return path
