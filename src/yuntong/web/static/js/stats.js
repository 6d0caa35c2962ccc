// Reads an RTCPeerConnection's getStats() into the numbers Yuntong reports and tests check.

/**
 * Summarise a peer connection's stats. `previous` (the last summary) lets it compute a bitrate.
 * Returns cumulative counters (framesDecoded, audioBytesReceived, …) and the selected
 * candidate pair's RTT and candidate types.
 */
export async function readStats(pc, previous = null) {
  const report = await pc.getStats();
  const s = {
    at: performance.now(),
    framesDecoded: 0,
    framesReceived: 0,
    audioBytesReceived: 0,
    videoBytesReceived: 0,
    audioPacketsReceived: 0,
    audioEnergy: 0,
    bytesReceived: 0,
    bytesSent: 0,
    packetsLost: 0,
    packetsReceived: 0,
    jitterMs: null,
    rttMs: null,
    lossPct: null,
    bitrateKbps: null,
    frameWidth: null,
    frameHeight: null,
    localCandidateType: null,
    remoteCandidateType: null,
    relayProtocol: null,
    connectionState: pc.connectionState,
    iceConnectionState: pc.iceConnectionState,
  };
  let pair = null;
  report.forEach((r) => {
    if (r.type === 'inbound-rtp') {
      s.packetsLost += Math.max(0, r.packetsLost || 0);
      s.packetsReceived += r.packetsReceived || 0;
      s.bytesReceived += r.bytesReceived || 0;
      if (r.kind === 'video') {
        s.framesDecoded += r.framesDecoded || 0;
        s.framesReceived += r.framesReceived || 0;
        s.videoBytesReceived += r.bytesReceived || 0;
        if (r.frameWidth) { s.frameWidth = r.frameWidth; s.frameHeight = r.frameHeight; }
      } else if (r.kind === 'audio') {
        s.audioBytesReceived += r.bytesReceived || 0;
        s.audioPacketsReceived += r.packetsReceived || 0;
        s.audioEnergy += r.totalAudioEnergy || 0;
        if (typeof r.jitter === 'number') s.jitterMs = r.jitter * 1000;
      }
    } else if (r.type === 'outbound-rtp') {
      s.bytesSent += r.bytesSent || 0;
    } else if (r.type === 'transport' && r.selectedCandidatePairId) {
      pair = report.get(r.selectedCandidatePairId) || pair;
    }
  });
  if (!pair) {
    report.forEach((r) => {
      if (r.type === 'candidate-pair' && (r.selected || (r.nominated && r.state === 'succeeded'))) pair = r;
    });
  }
  if (pair) {
    if (typeof pair.currentRoundTripTime === 'number') s.rttMs = pair.currentRoundTripTime * 1000;
    const local = report.get(pair.localCandidateId);
    const remote = report.get(pair.remoteCandidateId);
    s.localCandidateType = local?.candidateType || null;
    s.remoteCandidateType = remote?.candidateType || null;
    s.relayProtocol = local?.relayProtocol || null;
  }
  const expected = s.packetsReceived + s.packetsLost;
  if (expected > 0) s.lossPct = (100 * s.packetsLost) / expected;
  if (previous && s.at > previous.at) {
    const bits = 8 * (s.bytesReceived - previous.bytesReceived);
    s.bitrateKbps = Math.max(0, bits / (s.at - previous.at));
  }
  return s;
}

/** Good / fair / poor from RTT and loss, for the in-call indicator. */
export function qualityLevel(s) {
  if (!s || s.rttMs === null) return 'unknown';
  const loss = s.lossPct || 0;
  if (s.rttMs < 200 && loss < 2) return 'good';
  if (s.rttMs < 450 && loss < 8) return 'fair';
  return 'poor';
}

/** The call.quality message body of the protocol. */
export function qualityReport(callId, s, final) {
  const round = (v, digits = 1) => (v === null || v === undefined ? null : Number(v.toFixed(digits)));
  return {
    call_id: callId,
    rtt_ms: round(s.rttMs),
    jitter_ms: round(s.jitterMs),
    loss_pct: s.lossPct === null ? null : Math.min(100, round(s.lossPct, 2)),
    bitrate_kbps: round(s.bitrateKbps),
    frames_decoded: s.framesDecoded,
    audio_bytes_received: s.audioBytesReceived,
    final,
  };
}
