// A phone call through the WebRTC <-> SIP gateway (docs/sip.md): this browser's SIP line is a
// Janus SIP handle that the server registered as the user's number; the browser only trades SDP
// with it over /ws (sip.call, sip.accept, sip.hangup; sip.ringing, sip.answered, sip.incoming,
// sip.ended). The number's SIP secret never reaches this page.
//
// A SipCall is a CallController (call.js) for the call screen: same states and events, audio
// only, G.711 (PCMU/PCMA) preferred since Janus does not transcode and phones speak G.711,
// and its ICE candidates go in the SDP (gathered before it is sent: Janus is on this side).

import { CallController } from './call.js';

const GATHER_MS = 3000;
const G711 = ['audio/PCMU', 'audio/PCMA', 'audio/telephone-event'];

/** Whether this browser has a SIP line (set once the server registered it). */
export const sipLine = { number: null };

/** Ask the server to register this browser's SIP line (quietly: most users have none). */
export async function goOnline(rt) {
  try {
    const { number } = await rt.request('sip.online', {}, 20000);
    sipLine.number = number;
  } catch {
    sipLine.number = null; // no SIP account, or the gateway is off: calls stay browser calls
  }
  document.dispatchEvent(new CustomEvent('yt:sip-line', { detail: { number: sipLine.number } }));
}

/** The outcome a SIP final response means for the caller (as the call screen names them). */
function outcomeOf(code, answered) {
  if (answered) return ['answered', 'hangup'];
  if (code === 486 || code === 600) return ['busy', 'busy'];
  if (code === 480 || code === 408) return ['no_answer', 'no_answer'];
  if (code === 487) return ['canceled', 'canceled'];
  if (code === 603 || code === 403 || code === 433) return ['rejected', 'rejected'];
  if (code === 404 || code === 484) return ['unreachable', 'unreachable'];
  return ['failed', `sip_${code || 'error'}`];
}

export class SipCall extends CallController {
  constructor(rt, options) {
    super(rt, { ...options, media: 'audio' });
    this.sip = true;
  }

  async dial(to) {
    try {
      await this._prepareMedia();
      if (!this.active) return;
      this._preferG711();
      await this.pc.setLocalDescription(await this.pc.createOffer());
      await this._gathered();
      const ack = await this.rt.request('sip.call', { to, sdp: this.pc.localDescription.sdp }, 30000);
      this.callId = ack.call_id;
      if (!this.active) { // hung up while the call was on its way
        this.rt.send('sip.hangup', { call_id: this.callId });
        return;
      }
      for (const [type, data] of this.early.splice(0)) this.handle(type, data);
    } catch (err) {
      await this._fail(err);
    }
  }

  ring() {
    this.tone.start('ring');
    this._changed();
  }

  async accept() {
    if (this.state !== 'incoming') return;
    this.tone.stop();
    this.state = 'connecting';
    this.answeredAt = Date.now();
    this._changed();
    try {
      await this._prepareMedia();
      if (!this.active) return;
      await this.pc.setRemoteDescription({ type: 'offer', sdp: this.offerSdp });
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      await this._gathered();
      this.answerSent = true;
      await this.rt.request('sip.accept', { call_id: this.callId, sdp: this.pc.localDescription.sdp });
    } catch (err) {
      await this._fail(err);
    }
  }

  async decline() {
    if (this.state !== 'incoming') return;
    this.tone.stop();
    this._askToEnd();
    await this._finish('rejected', 'rejected');
  }

  async hangup() {
    if (!this.active) return;
    if (this.state === 'incoming') return this.decline();
    if (this.callId) this._askToEnd();
    await this._finish(this.answeredAt ? 'answered' : 'canceled', this.answeredAt ? 'hangup' : 'canceled');
  }

  async resume() {} // no hold on SIP calls (yet)

  handle(type, data) {
    if (!type.startsWith('sip.')) return false;
    if (this.callId === null && this.direction === 'outgoing') {
      this.early.push([type, data]);
      return true;
    }
    if (data.call_id !== this.callId) return false;
    if (type === 'sip.ringing' && this.state === 'calling') {
      this.state = 'ringing';
      this.tone.start('ringback');
      this._changed();
    } else if (type === 'sip.answered') {
      this._answered(data.sdp);
    } else if (type === 'sip.ended') {
      if (!this.answeredAt) console.warn('SIP call not answered:', data.code, data.reason);
      const [outcome, reason] = outcomeOf(Number(data.code), Boolean(this.answeredAt));
      this._finish(outcome, reason);
    }
    return true;
  }

  // -- internals ---------------------------------------------------------------------------

  _askToEnd() {
    this.rt.request('sip.hangup', { call_id: this.callId }).catch(() => {});
  }

  _localCandidate() {} // in the SDP: see _gathered
  _startTrickle() {}
  async _sendFinalQuality() {}

  _connectionState(state) {
    if (!this.active) return;
    if (state === 'connected') {
      this.state = 'connected';
    } else if (state === 'disconnected' && this.state === 'connected') {
      this.state = 'reconnecting';
    } else if (state === 'failed') {
      if (this.callId) this._askToEnd();
      this._finish(this.answeredAt ? 'answered' : 'failed', 'media_failed');
      return;
    }
    this._changed();
  }

  /** Offer G.711 first (and only, with DTMF), as a phone answers it. */
  _preferG711() {
    const caps = RTCRtpSender.getCapabilities?.('audio');
    if (!caps) return;
    const codecs = G711.flatMap((mime) => caps.codecs.filter((c) => c.mimeType === mime));
    if (!codecs.length) return;
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.sender.track?.kind === 'audio') transceiver.setCodecPreferences(codecs);
    }
  }

  /** Wait until ICE gathering is complete (or GATHER_MS): the SDP then holds the candidates. */
  _gathered() {
    const pc = this.pc;
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (pc.iceGatheringState !== 'complete') return;
        pc.removeEventListener('icegatheringstatechange', done);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        pc.removeEventListener('icegatheringstatechange', done);
        resolve();
      }, GATHER_MS);
      pc.addEventListener('icegatheringstatechange', done);
    });
  }
}
