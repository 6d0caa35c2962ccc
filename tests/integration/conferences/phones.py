"""SIPp phones that dial into a conference and send audio (a tone in G.711 A-law from a pcap),
then hang up, or wait to be hung up by the edge."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.integration.conferences.tone import write_tone_pcap
from tests.support.sipp import _headers, _send

# 20 ms A-law frames of a tone (the sample sip-tester ships has 30 ms ones, which the
# AudioBridge drops)
PCAP = write_tone_pcap(Path(tempfile.gettempdir()) / "yuntong-conference-tone.pcap")
SDP = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8
a=rtpmap:8 PCMA/8000
"""


def _in_dialog(method: str, cseq: int) -> str:
    return _send(
        f"{method} [next_url] SIP/2.0\nVia: SIP/2.0/[transport] [local_ip]:[local_port];"
        "branch=[branch]\n[last_From:]\n[last_To:]\n[routes]\n[last_Call-ID:]\n"
        f"CSeq: {cseq} {method}\nMax-Forwards: 70\nContent-Length: 0\n",
        retrans=method != "ACK",
    )


def dial_in_scenario(
    to: str, *, expect: int = 200, hold_ms: int = 3000, hung_up: bool = False
) -> str:
    """A phone dials ``to`` (number*PIN) with digest auth; answered, it plays the sample and
    hangs up after ``hold_ms`` or, with ``hung_up``, waits for the edge's BYE."""
    uri = f"sip:{to}@[domain]"
    body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{SDP}"
    parts = ['<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="dial-in">\n']
    parts.append(_send(_headers("INVITE", uri, 1, body)))
    parts.append('  <recv response="100" optional="true"/>\n')
    parts.append('  <recv response="407" auth="true"/>\n')
    parts.append(
        _send(
            f"ACK {uri} SIP/2.0\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
            "CSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n",
            retrans=False,
        )
    )
    parts.append(_send(_headers("INVITE", uri, 2, "[authentication]\n" + body)))
    parts.append('  <recv response="100" optional="true"/>\n')
    if expect != 200:
        parts.append(f'  <recv response="{expect}"/>\n')
        parts.append(
            _send(
                f"ACK {uri} SIP/2.0\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
                "CSeq: 2 ACK\nMax-Forwards: 70\nContent-Length: 0\n",
                retrans=False,
            )
        )
        parts.append("</scenario>\n")
        return "".join(parts)
    parts.append('  <recv response="200" rrs="true"/>\n')
    parts.append(_in_dialog("ACK", 2))
    parts.append(f'  <nop><action><exec play_pcap_audio="{PCAP}"/></action></nop>\n')
    if hung_up:
        parts.append('  <recv request="BYE" timeout="30000"/>\n')
        parts.append(
            _send(
                "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
                "[last_CSeq:]\nContent-Length: 0\n",
                retrans=False,
            )
        )
    else:
        parts.append(f'  <pause milliseconds="{hold_ms}"/>\n')
        parts.append(_in_dialog("BYE", 3))
        parts.append('  <recv response="200"/>\n')
    parts.append("</scenario>\n")
    return "".join(parts)
