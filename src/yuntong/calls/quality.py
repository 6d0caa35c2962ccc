"""Estimated call quality: a simplified ITU-T G.107 E-model from RTT, jitter and packet loss.

R = 93.2 − Id − Ie, where the delay impairment uses the effective latency
(one-way delay + 2 × jitter + 10 ms codec allowance) and each 1 % of loss costs 2.5 points.
MOS follows from R by the G.107 mapping.
"""

from __future__ import annotations


def r_factor(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    effective_latency = rtt_ms / 2 + 2 * jitter_ms + 10.0
    if effective_latency < 160:
        r = 93.2 - effective_latency / 40
    else:
        r = 93.2 - (effective_latency - 120) / 10
    r -= 2.5 * loss_pct
    return max(0.0, min(100.0, r))


def mos_from_r(r: float) -> float:
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r)


def estimate_mos(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    return round(mos_from_r(r_factor(rtt_ms, jitter_ms, loss_pct)), 2)
