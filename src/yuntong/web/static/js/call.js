// The WebRTC call controller: one 1:1 call, its RTCPeerConnection and its signaling over /ws.
//
// States: calling → ringing → connecting → connected → ended (caller),
//         incoming → connecting → connected → ended (callee).
// Call waiting: an incoming call may be `waiting` (its callee is in another call) and says how
// it may be answered (`answerModes`, from the server); an answered call may be on hold
// (`onHold`; `canResume` when this side holds it), its local tracks paused meanwhile.
// The controller emits 'change' whenever anything the UI shows changed.

import { rtcConfig } from './media/ice.js';
import { readStats, qualityLevel, qualityReport } from './stats.js';
import { Tone } from './ringtone.js';

const QUALITY_TICK_MS = 2500; // indicator refresh
const QUALITY_REPORT_EVERY = 2; // ticks: a call.quality report every 5 s
const END_ASKED_FOR_MS = 30000; // how long ending the call is asked again when the server says

export class CallController extends EventTarget {
  /**
   * @param rt       the RealtimeClient
   * @param options  {direction: 'outgoing'|'incoming', peer: {user_id?, username, display_name},
   *                  media: 'audio'|'video', callId?, offerSdp?}
   */
  constructor(rt, {
    direction, peer, media, callId = null, offerSdp = null, fromNumber = null, toNumber = null,
    waiting = false, answerModes = [],
    callerNumber = null, forwardedBy = null,
  }) {
    super();
    this.rt = rt;
    this.direction = direction;
    this.peer = peer;
    this.media = media;
    this.fromNumber = fromNumber; // a call by number: which of one's numbers it is from
    this.toNumber = toNumber; // an incoming call by number: which of one's numbers was dialled
    this.callerNumber = callerNumber; // incoming, with caller ID (CLIP): {number, province, city, …}
    this.forwardedBy = forwardedBy; // incoming, forwarded: the number that forwarded it to us
    this.callId = callId;
    this.offerSdp = offerSdp;
    this.state = direction === 'incoming' ? 'incoming' : 'calling';
    this.pc = null;
    this.localStream = null;
    this.remoteStream = new MediaStream();
    this.senders = {};
    this.early = []; // server events that arrived before we knew our call id
    this.localIce = []; // our candidates, held until the other side may receive them
    this.remoteIce = []; // their candidates, held until we have their description
    this.canTrickle = false;
    this.answerSent = false;
    this.mediaReported = false;
    this.answeredAt = null;
    this.endedAt = null;
    this.outcome = null;
    this.endReason = null;
    this.error = null;
    this.mediaError = false;
    this.muted = false;
    this.cameraOff = false;
    this.quality = 'unknown';
    this.lastStats = null;
    this.qualityTimer = null;
    this.ticks = 0;
    this.finalSent = false;
    this.tone = new Tone();
    this.waiting = waiting; // an incoming call waiting while this user is in another call
    this.answerModes = answerModes; // what answering it may do with the other call: hold, end
    this.peerWaiting = false; // an outgoing call waiting at its callee, who is in another call
    this.onHold = false;
    this.canResume = false;
  }

  get active() {
    return this.state !== 'ended';
  }

  // -- the caller's side -------------------------------------------------------------------

  async dial(to) {
    try {
      await this._prepareMedia();
      if (!this.active) return;
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      const ack = await this.rt.request('call.invite', {
        to, media: this.media, sdp: this.pc.localDescription.sdp,
        ...(this.fromNumber ? { from_number: this.fromNumber } : {}),
      });
      this.callId = ack.call_id;
      if (ack.ended) {
        await this._finish(ack.ended.outcome, ack.ended.reason);
        return;
      }
      if (!this.active) { // hung up while the invite was on its way
        this.rt.send('call.cancel', { call_id: this.callId });
        return;
      }
      this._startTrickle();
      for (const [type, data] of this.early.splice(0)) this.handle(type, data);
    } catch (err) {
      await this._fail(err);
    }
  }

  // -- the callee's side -------------------------------------------------------------------

  /** A new incoming call: tell the caller this device rings, and ring. */
  ring() {
    this.rt.send('call.ringing', { call_id: this.callId });
    this.tone.start(this.waiting ? 'waiting' : 'ring');
    this._changed();
  }

  /** Answer; a waiting call with `mode` 'hold' or 'end' for the call this user is in. */
  async accept(mode = null) {
    if (this.state !== 'incoming') return;
    this.tone.stop();
    this.state = 'connecting';
    this.answeredAt = Date.now();
    this._changed();
    try {
      await this._prepareMedia();
      if (!this.active) return;
      await this.pc.setRemoteDescription({ type: 'offer', sdp: this.offerSdp });
      await this._applyRemoteIce();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.answerSent = true;
      await this.rt.request('call.answer', {
        call_id: this.callId, sdp: this.pc.localDescription.sdp, ...(mode ? { mode } : {}),
      });
      this._startTrickle();
    } catch (err) {
      await this._fail(err);
    }
  }

  async decline() {
    if (this.state !== 'incoming') return;
    this.tone.stop();
    this._askToEnd('call.reject');
    await this._finish('rejected', 'rejected');
  }

  // -- either side -------------------------------------------------------------------------

  /** Hang up, cancel or decline — whatever ends the call from this side in its state. */
  async hangup() {
    if (!this.active) return;
    if (this.state === 'incoming') return this.decline();
    const type = this._endingMessage();
    if (type === 'call.hangup') await this._sendFinalQuality();
    if (this.callId) this._askToEnd(type);
    const local = { 'call.hangup': ['answered', 'hangup'], 'call.cancel': ['canceled', 'canceled'] };
    const [outcome, reason] = local[type] || ['rejected', 'rejected'];
    await this._finish(outcome, reason);
  }

  /** Take back a call this side holds (the server holds the other call, if any: a swap). */
  async resume() {
    await this.rt.request('call.resume', { call_id: this.callId });
  }

  /**
   * Ask the server to end the call from this side (the page has ended it already). An error
   * that says when to try again (`retry_after`: the node that owns the call cannot be reached
   * just now, e.g. it died and a survivor is taking the call over) is followed: else the call
   * would run on at the server, for the other party and the bill.
   */
  _askToEnd(type, data = {}) {
    const until = Date.now() + END_ASKED_FOR_MS;
    const ask = () => this.rt.request(type, { call_id: this.callId, ...data }).catch((err) => {
      const wait = Number(err?.retry_after) * 1000;
      if (wait > 0 && Date.now() + wait < until) setTimeout(ask, wait);
    });
    ask();
  }

  /** The protocol message that ends the call from this side: before or after the answer. */
  _endingMessage() {
    if (this.direction === 'outgoing') return this.answeredAt ? 'call.hangup' : 'call.cancel';
    return this.answerSent ? 'call.hangup' : 'call.reject';
  }

  /** Route a server call.* event; returns false when it is about another call. */
  handle(type, data) {
    if (this.callId === null && this.direction === 'outgoing') {
      this.early.push([type, data]);
      return true;
    }
    if (data.call_id !== this.callId) return false;
    switch (type) {
      case 'call.ringing':
        if (this.state === 'calling') {
          this.state = 'ringing';
          this.peerWaiting = Boolean(data.waiting);
          this.tone.start('ringback');
          this._changed();
        }
        break;
      case 'call.waiting':
        // the call this user was in ended: this one rings on as an ordinary call
        this.waiting = Boolean(data.waiting);
        this.answerModes = data.answer_modes || [];
        if (this.state === 'incoming') this.tone.start(this.waiting ? 'waiting' : 'ring');
        this._changed();
        break;
      case 'call.held':
      case 'call.resumed':
        this.onHold = Boolean(data.on_hold);
        this.canResume = Boolean(data.can_resume);
        this._applyTracks();
        this._changed();
        break;
      case 'call.answered':
        this._answered(data.sdp);
        break;
      case 'call.ice':
        this._remoteCandidate(data.candidate);
        break;
      case 'call.connected':
        if (!this.answeredAt) this.answeredAt = Date.now();
        this._changed();
        break;
      case 'call.answered_elsewhere':
        this._finish('answered', 'answered_elsewhere');
        break;
      case 'call.credit_low':
        // prepaid: the server ends the call when the balance runs out
        this.creditSecondsLeft = data.seconds_left;
        this._changed();
        break;
      case 'call.ended':
        this._finish(data.outcome, data.reason);
        break;
      default:
        return false;
    }
    return true;
  }

  /** The connection's current getStats() summary (for tests and the quality indicator). */
  async stats() {
    if (!this.pc || this.pc.signalingState === 'closed') return this.lastStats;
    return readStats(this.pc, this.lastStats);
  }

  setMuted(muted) {
    this.muted = muted;
    this._applyTracks();
    this._changed();
  }

  setCameraOff(off) {
    this.cameraOff = off;
    this._applyTracks();
    this._changed();
  }

  /** What this side sends: nothing while the call is on hold, else what the user chose. */
  _applyTracks() {
    for (const track of this.localStream?.getAudioTracks() || []) track.enabled = !this.muted && !this.onHold;
    for (const track of this.localStream?.getVideoTracks() || []) track.enabled = !this.cameraOff && !this.onHold;
  }

  /** Use another camera ('videoinput') or microphone ('audioinput') without renegotiating. */
  async useDevice(kind, deviceId) {
    const media = kind === 'videoinput' ? 'video' : 'audio';
    const stream = await navigator.mediaDevices.getUserMedia({ [media]: { deviceId: { exact: deviceId } } });
    const track = stream.getTracks()[0];
    const old = this.localStream?.getTracks().find((t) => t.kind === track.kind);
    track.enabled = (media === 'video' ? !this.cameraOff : !this.muted) && !this.onHold;
    await this.senders[track.kind]?.replaceTrack(track);
    if (old) {
      this.localStream.removeTrack(old);
      old.stop();
    }
    this.localStream?.addTrack(track);
    this._changed();
  }

  currentDevice(kind) {
    const track = this.localStream?.getTracks().find((t) => t.kind === (kind === 'videoinput' ? 'video' : 'audio'));
    return track?.getSettings().deviceId || null;
  }

  /** Cycle to the next camera. */
  async nextCamera() {
    const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    if (cameras.length < 2) return;
    const current = cameras.findIndex((d) => d.deviceId === this.currentDevice('videoinput'));
    await this.useDevice('videoinput', cameras[(current + 1) % cameras.length].deviceId);
  }

  // -- internals ---------------------------------------------------------------------------

  async _prepareMedia() {
    const [stream, config] = await Promise.all([
      navigator.mediaDevices.getUserMedia({ audio: true, video: this.media === 'video' })
        .catch((err) => { throw Object.assign(err, { isMedia: true }); }),
      rtcConfig(),
    ]);
    if (!this.active) {
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    this.localStream = stream;
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    for (const track of stream.getTracks()) this.senders[track.kind] = pc.addTrack(track, stream);
    pc.onicecandidate = (event) => this._localCandidate(event.candidate);
    pc.ontrack = (event) => {
      this.remoteStream.addTrack(event.track);
      this._changed();
    };
    pc.onconnectionstatechange = () => this._connectionState(pc.connectionState);
    this._changed();
  }

  _localCandidate(candidate) {
    if (candidate && !candidate.candidate) return; // an empty end-of-generation marker
    const body = candidate ? candidate.toJSON() : null;
    if (body) for (const key of Object.keys(body)) if (body[key] === null || body[key] === undefined) delete body[key];
    if (this.canTrickle) this.rt.send('call.ice', { call_id: this.callId, candidate: body });
    else this.localIce.push(body);
  }

  _startTrickle() {
    this.canTrickle = true;
    for (const candidate of this.localIce.splice(0)) {
      this.rt.send('call.ice', { call_id: this.callId, candidate });
    }
  }

  async _remoteCandidate(candidate) {
    if (!this.pc || !this.pc.remoteDescription) {
      this.remoteIce.push(candidate);
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate || undefined);
    } catch (err) {
      console.warn('addIceCandidate failed', err);
    }
  }

  async _applyRemoteIce() {
    for (const candidate of this.remoteIce.splice(0)) await this._remoteCandidate(candidate);
  }

  async _answered(sdp) {
    if (this.direction !== 'outgoing' || this.answeredAt || !this.pc) return;
    this.tone.stop();
    this.answeredAt = Date.now();
    this.state = 'connecting';
    this._changed();
    try {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
      await this._applyRemoteIce();
    } catch (err) {
      await this._fail(err);
    }
  }

  _connectionState(state) {
    if (!this.active) return;
    if (state === 'connected') {
      this.state = 'connected';
      if (!this.mediaReported) {
        this.mediaReported = true;
        this.rt.send('call.media', { call_id: this.callId, state: 'connected' });
        this._startQuality();
      }
    } else if (state === 'disconnected' && this.state === 'connected') {
      this.state = 'reconnecting';
    } else if (state === 'failed') {
      // tell the server the media path broke; it ends the call for both sides
      const wasConnected = this.mediaReported;
      if (this.callId) {
        this._askToEnd('call.media', { state: 'failed' });
      }
      this._finish(wasConnected ? 'answered' : 'failed', wasConnected ? 'media_lost' : 'media_failed');
      return;
    }
    this._changed();
  }

  _startQuality() {
    const tick = async () => {
      if (!this.pc || !this.active) return;
      const s = await readStats(this.pc, this.lastStats).catch(() => null);
      if (!s) return;
      this.lastStats = s;
      this.quality = qualityLevel(s);
      this.ticks += 1;
      if (this.ticks % QUALITY_REPORT_EVERY === 0) {
        this.rt.send('call.quality', qualityReport(this.callId, s, false));
      }
      this._changed();
    };
    this.qualityTimer = setInterval(tick, QUALITY_TICK_MS);
    setTimeout(tick, 1000);
  }

  async _sendFinalQuality() {
    if (this.finalSent || !this.mediaReported || !this.pc || this.pc.signalingState === 'closed') return;
    this.finalSent = true;
    const s = await readStats(this.pc, this.lastStats).catch(() => null);
    if (!s) return;
    this.lastStats = s;
    this.rt.send('call.quality', qualityReport(this.callId, s, true));
  }

  async _fail(err) {
    if (!this.active) return;
    this.error = err?.message || String(err);
    this.mediaError = Boolean(err?.isMedia);
    console.warn('call failed', err);
    if (this.callId) this._askToEnd(this._endingMessage());
    await this._finish('failed', err?.code || 'error');
  }

  async _finish(outcome, reason) {
    if (this.state === 'ended') {
      // ended here first (our own hang-up); the server's later word on the outcome wins
      this.outcome = outcome;
      this.endReason = reason;
      this._changed();
      return;
    }
    this.state = 'ended';
    this.outcome = outcome;
    this.endReason = reason;
    this.endedAt = Date.now();
    this.tone.stop();
    clearInterval(this.qualityTimer);
    await this._sendFinalQuality();
    if (this.pc) this.pc.close();
    this.localStream?.getTracks().forEach((t) => t.stop());
    this._changed();
  }

  _changed() {
    this.dispatchEvent(new Event('change'));
  }
}
