// The peer connections of a meeting: publishers (our camera and microphone, our screen) and
// subscribers (one per feed we receive). Yuntong passes SDP and ICE to Janus and back.

import { readStats } from '../stats.js';

// Janus's simulcast layers, highest first: substream 2 is h, 0 is l
export const SIMULCAST = [
  { rid: 'h', active: true, maxBitrate: 1_200_000 },
  { rid: 'm', active: true, maxBitrate: 400_000, scaleResolutionDownBy: 2 },
  { rid: 'l', active: true, maxBitrate: 120_000, scaleResolutionDownBy: 4 },
];
const DISCONNECTED_GRACE_MS = 3000; // "disconnected" often recovers alone; "failed" never does

function candidateBody(candidate) {
  if (!candidate) return null;
  const body = candidate.toJSON();
  for (const key of Object.keys(body)) if (body[key] === null || body[key] === undefined) delete body[key];
  return body;
}

/** One RTCPeerConnection with trickle ICE towards `target` and ICE restart when it breaks. */
class MediaLink {
  constructor(socket, rtcConfig) {
    this.socket = socket;
    this.rtcConfig = rtcConfig;
    this.pc = null;
    this.target = null; // "camera" | "screen" | sub_id, once the server knows the link
    this.heldIce = [];
    this.trickling = false;
    this.closed = false;
    this.restarting = null;
    this.restartTimer = null;
    this.lastStats = null;
    this.onState = () => {};
  }

  _open() {
    const pc = new RTCPeerConnection(this.rtcConfig);
    this.pc = pc;
    pc.onicecandidate = (event) => {
      if (event.candidate && !event.candidate.candidate) return; // end-of-generation marker
      this._sendIce(candidateBody(event.candidate));
    };
    pc.oniceconnectionstatechange = () => this._iceState(pc);
    return pc;
  }

  _sendIce(candidate) {
    if (!this.trickling) {
      this.heldIce.push(candidate);
      return;
    }
    this.socket.send('meeting.ice', { target: this.target, candidate });
  }

  _startTrickle() {
    this.trickling = true;
    for (const candidate of this.heldIce.splice(0)) this._sendIce(candidate);
  }

  _iceState(pc) {
    if (this.closed || pc !== this.pc) return;
    const state = pc.iceConnectionState;
    clearTimeout(this.restartTimer);
    if (state === 'failed') {
      this.restart();
    } else if (state === 'disconnected') {
      this.restartTimer = setTimeout(() => {
        if (['disconnected', 'failed'].includes(pc.iceConnectionState)) this.restart();
      }, DISCONNECTED_GRACE_MS);
    }
    this.onState(state);
  }

  /** ICE restart through `meeting.restart`; one at a time. */
  restart() {
    if (this.closed || !this.target || this.restarting) return this.restarting;
    this.restarting = this._restart()
      .catch((err) => console.warn('ICE restart failed', this.target, err))
      .finally(() => { this.restarting = null; });
    return this.restarting;
  }

  async stats() {
    if (!this.pc || this.pc.signalingState === 'closed') return this.lastStats;
    this.lastStats = await readStats(this.pc, this.lastStats);
    return this.lastStats;
  }

  close() {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.pc?.close();
  }
}

/** Our camera and microphone ("camera", simulcast) or our screen ("screen") in the room. */
export class Publisher extends MediaLink {
  constructor(socket, rtcConfig, kind, stream) {
    super(socket, rtcConfig);
    this.kind = kind;
    this.stream = stream;
    this.senders = {}; // audio | video -> RTCRtpSender
  }

  async start() {
    const pc = this._open();
    for (const track of this.stream.getTracks()) {
      const init = { direction: 'sendonly', streams: [this.stream] };
      if (track.kind === 'video' && this.kind === 'camera') init.sendEncodings = SIMULCAST;
      this.senders[track.kind] = pc.addTransceiver(track, init).sender;
    }
    await pc.setLocalDescription(await pc.createOffer());
    const ack = await this.socket.request('meeting.publish', {
      kind: this.kind,
      sdp: pc.localDescription.sdp,
      simulcast: this.kind === 'camera' && Boolean(this.senders.video),
    });
    if (this.closed) return;
    this.target = this.kind;
    await pc.setRemoteDescription({ type: 'answer', sdp: ack.sdp });
    this._startTrickle();
  }

  async _restart() {
    const pc = this.pc;
    await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
    const ack = await this.socket.request('meeting.restart', { target: this.kind, sdp: pc.localDescription.sdp });
    if (!this.closed) await pc.setRemoteDescription({ type: 'answer', sdp: ack.sdp });
  }

  /** Stop publishing; `tellServer` false when the server already dropped the feed. */
  stop(tellServer = true) {
    if (tellServer && this.target && !this.closed) this.socket.send('meeting.unpublish', { kind: this.kind });
    this.close();
  }

  /** Send another camera or microphone track without renegotiating. */
  async replaceTrack(track) {
    await this.senders[track.kind]?.replaceTrack(track);
  }
}

/** One feed of someone else, received: Janus offers, we answer. */
export class Subscriber extends MediaLink {
  constructor(socket, rtcConfig, feed) {
    super(socket, rtcConfig);
    this.feed = feed;
    this.subId = null;
    this.stream = new MediaStream();
    this.substream = null; // the simulcast layer Janus was last asked for
    this.wantedLayer = null;
    this.onTrack = () => {};
  }

  async start() {
    const ack = await this.socket.request('meeting.subscribe', { feed_id: this.feed.feed_id });
    if (this.closed) {
      this.socket.send('meeting.unsubscribe', { sub_id: ack.sub_id });
      return;
    }
    this.subId = ack.sub_id;
    this.target = ack.sub_id;
    const pc = this._open();
    pc.ontrack = (event) => {
      this.stream.addTrack(event.track);
      this.onTrack(event.track);
    };
    await this._answer(ack.sdp);
    this._startTrickle();
    this._applyLayer();
  }

  async _answer(offerSdp) {
    const pc = this.pc;
    await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await this.socket.request('meeting.answer', { sub_id: this.subId, sdp: pc.localDescription.sdp });
  }

  async _restart() {
    const ack = await this.socket.request('meeting.restart', { target: this.subId });
    if (!this.closed) await this._answer(ack.sdp);
  }

  /** Ask Janus for simulcast layer 0 (lowest) … 2; only camera feeds have layers. */
  setLayer(substream) {
    this.wantedLayer = substream;
    this._applyLayer();
  }

  _applyLayer() {
    const substream = this.wantedLayer;
    if (this.feed.kind !== 'camera' || !this.trickling || substream === null || this.substream === substream) return;
    this.substream = substream;
    this.socket.send('meeting.layer', { sub_id: this.subId, substream });
  }

  /** Leave the feed; `tellServer` false when the server already dropped it. */
  stop(tellServer = true) {
    if (tellServer && this.subId && !this.closed) this.socket.send('meeting.unsubscribe', { sub_id: this.subId });
    this.close();
    for (const track of this.stream.getTracks()) track.stop();
  }
}
