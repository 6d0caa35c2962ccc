// A meeting as this page takes part in it: the meeting socket, who is in, the feeds, our
// publishers and subscribers, the lobby, chat and host controls (docs/meetings.md).
//
// States: connecting → waiting (lobby) → joined → ended. The room emits 'change' whenever
// something the page shows changed, and 'notice' ({key, params, error} or {message}) for toasts.

import { t } from '../i18n.js';
import { icePolicy } from '../media/ice.js';
import { qualityLevel } from '../stats.js';
import { roleName } from './format.js';
import { Publisher, Subscriber } from './peers.js';
import { MeetingSocket } from './socket.js';

const QUALITY_TICK_MS = 3000;
const SUBSCRIBE_RETRIES = 4;
const RENEW_ATTEMPTS = 3;
const LEAVE_TIMEOUT_MS = 3000;
const CLOSE_ENDED = 4410;
const LEVELS = ['unknown', 'good', 'fair', 'poor'];

/** The worse of two quality levels ('unknown' counts as no measurement). */
export function worseQuality(a, b) {
  return LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b;
}

export class MeetingRoom extends EventTarget {
  /**
   * @param ticket       from POST /meetings/by-number/{number}/tickets
   * @param media        the LocalMedia, opened before joining or still opening (Join may be
   *                     pressed first: the camera is published when the devices open)
   * @param renewTicket  async () => a fresh ticket, when the server no longer takes this one
   */
  constructor({ ticket, media, renewTicket = null }) {
    super();
    this.ticket = ticket;
    this.media = media;
    this.renewTicket = renewTicket;
    this.renewals = 0;
    this.socket = null;
    this.state = 'connecting';
    this.endReason = null;
    this.endMessage = '';
    this.meeting = null;
    this.me = null;
    this.participants = new Map(); // participant id -> participant (us included)
    this.feeds = new Map(); // feed id -> {feed_id, participant_id, kind}
    this.subscribers = new Map(); // feed id -> Subscriber
    this.publishers = { camera: null, screen: null };
    this.screenStream = null;
    this.rtcConfig = null;
    this.recording = false;
    this.locked = false;
    this.lobby = [];
    this.speaking = new Set();
    this.lastSpeaker = null;
    this.quality = new Map(); // participant id -> level, as the server measures it
    this.ownQuality = 'unknown'; // from this page's getStats()
    this.chat = [];
    this.connected = false;
    this.lastError = null; // the server's last word before it closed the socket
    this.qualityTimer = null;
    this.publishError = null; // why our camera and microphone are not in the room (shown until retried)
    media.addEventListener('change', () => this._devicesChanged());
  }

  start() {
    this._connect(this.ticket);
  }

  /** May use the host controls (the server's can_control flag on our own entry). */
  get isHost() {
    return Boolean(this.me?.can_control);
  }

  get myQuality() {
    return worseQuality(this.ownQuality, this.quality.get(this.me?.id) || 'unknown');
  }

  /** The camera feed of a participant (the newest, when a media reset left an old one). */
  cameraFeedOf(participantId) {
    let found = null;
    for (const feed of this.feeds.values()) {
      if (feed.participant_id === participantId && feed.kind === 'camera') found = feed;
    }
    return found;
  }

  // -- what the person in front of the page does -------------------------------------------

  async setMuted(kind, muted) {
    const field = kind === 'audio' ? 'audio_muted' : 'video_muted';
    if (muted) {
      this.media.setMuted(kind, true);
      this._command('meeting.self', { [field]: true });
      return;
    }
    // unmuting may be refused (meeting_unmute_needs_host): ask first, then open the track
    if (await this._command('meeting.self', { [field]: false })) this.media.setMuted(kind, false);
    this._changed();
  }

  raiseHand(raised) {
    return this._command('meeting.hand', { raised });
  }

  async sendChat(text, to = null) {
    const ack = await this._command('meeting.chat', to ? { text, to } : { text });
    if (ack?.message) this._chatMessage({ message: ack.message });
    return Boolean(ack);
  }

  async useDevice(deviceKind, deviceId) {
    const track = await this.media.useDevice(deviceKind, deviceId);
    await this.publishers.camera?.replaceTrack(track);
  }

  async shareScreen() {
    if (this.screenStream) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch {
      return; // the person closed the picker
    }
    this.screenStream = stream;
    stream.getVideoTracks()[0]?.addEventListener('ended', () => this.stopScreen());
    this._changed();
    await this._publish('screen', stream);
  }

  stopScreen() {
    this.publishers.screen?.stop();
    this.publishers.screen = null;
    this.screenStream?.getTracks().forEach((track) => track.stop());
    this.screenStream = null;
    this._changed();
  }

  async leave() {
    if (this.state === 'ended') return;
    await Promise.race([
      this.socket.request('meeting.leave', {}).catch(() => null),
      new Promise((resolve) => { setTimeout(resolve, LEAVE_TIMEOUT_MS); }),
    ]);
    this._end('left');
  }

  /** Publish our camera and microphone again after it failed (the person pressed Try again). */
  retryPublish() {
    return this._publish('camera', this.media.stream);
  }

  setLayer(feedId, substream) {
    this.subscribers.get(feedId)?.setLayer(substream);
  }

  // -- host and co-host controls (the server checks the role again) ------------------------

  admit(participantId) { return this._command('meeting.admit', { participant_id: participantId }); }
  deny(participantId) { return this._command('meeting.deny', { participant_id: participantId }); }
  admitAll() { return this._command('meeting.admit', { all: true }); }
  mute(participantId, what) { return this._command('meeting.mute', { participant_id: participantId, ...what }); }
  muteAll() { return this._command('meeting.mute_all', {}); }
  remove(participantId) { return this._command('meeting.remove', { participant_id: participantId }); }
  setRole(participantId, role) { return this._command('meeting.role', { participant_id: participantId, role }); }
  lock(locked) { return this._command('meeting.lock', { locked }); }
  record(on) { return this._command('meeting.record', { on }); }
  endForAll() { return this._command('meeting.end', {}); }

  /** Per-feed getStats() summaries (framesDecoded, audioBytesReceived, …) and our camera's. */
  async stats() {
    const feeds = await Promise.all([...this.subscribers.values()].map(async (sub) => ({
      ...(await sub.stats().catch(() => null)),
      feed_id: sub.feed.feed_id,
      participant_id: sub.feed.participant_id,
      kind: sub.feed.kind,
      sub_id: sub.subId,
      substream: sub.substream,
      sent_substream: sub.sentLayer ?? null,
      layer_cap: sub.layerCap ?? null,
    })));
    const camera = (await this.publishers.camera?.stats().catch(() => null)) || null;
    return { feeds, camera };
  }

  // -- the socket ---------------------------------------------------------------------------

  _connect(ticket) {
    const socket = new MeetingSocket(ticket);
    this.socket = socket;
    const mine = (fn) => (data) => {
      if (this.socket === socket && this.state !== 'ended') fn.call(this, data || {});
    };
    socket.on('hello', mine(this._join));
    socket.on('connection', mine(this._connection));
    socket.on('error', mine((error) => { this.lastError = error; }));
    for (const [type, fn] of Object.entries(EVENTS)) socket.on(type, mine(fn));
    socket.connect();
  }

  _connection({ up, code, final }) {
    this.connected = up;
    if (final) {
      const error = this.lastError;
      if (code === CLOSE_ENDED) this._end('ended');
      else if (!error || error.code === 'meeting_ticket_invalid') this._renew(); // expired, or after the grace
      else this._refused(error);
    }
    this._changed();
  }

  async _renew() {
    if (!this.renewTicket || this.renewals >= RENEW_ATTEMPTS) {
      this._end('error');
      return;
    }
    this.renewals += 1;
    try {
      const ticket = await this.renewTicket();
      this._dropMedia();
      this._connect(ticket);
    } catch (err) {
      this._end(err.code === 'meeting_ended' ? 'ended' : 'error', err.message);
    }
  }

  async _join(hello = {}) {
    if (hello.meeting) this.meeting = { ...this.meeting, ...hello.meeting };
    this.lastError = null;
    let ack;
    try {
      // back on the same ticket: keep our media in Janus (resume), unless we never joined
      ack = await this.socket.request('meeting.join', { resume: this.state === 'joined' });
    } catch (err) {
      if (this.state !== 'ended') this._refused(err);
      return;
    }
    if (ack.state === 'waiting') {
      this.state = 'waiting';
      this._changed();
      return;
    }
    await this._enter(ack.room);
  }

  _refused(err) {
    const reasons = { meeting_ended: 'ended', meeting_removed: 'removed' };
    this._end(reasons[err.code] || 'error', err.message);
  }

  /** Joined (first time, after the lobby, or again after the socket came back). */
  async _enter(room) {
    // the same participant, still in (a server that restarted meanwhile has a new one)
    const again = this.state === 'joined' && this.me?.id === room.me.id && this.me?.joined_at === room.me.joined_at;
    if (this.state === 'joined' && !again) this._dropMedia(); // someone new: start afresh
    this.meeting = room.meeting || this.meeting;
    this.me = room.me;
    this.rtcConfig = { iceServers: room.ice_servers || [], iceTransportPolicy: icePolicy() };
    this.recording = Boolean(room.recording);
    this.locked = Boolean(room.locked);
    this.participants = new Map((room.participants || []).map((p) => [p.id, p]));
    this.participants.set(room.me.id, room.me);
    this.lobby = room.waiting || [];
    for (const p of this.participants.values()) if (p.quality) this.quality.set(p.id, p.quality);
    this.feeds = new Map((room.feeds || []).map((f) => [f.feed_id, f]));
    for (const [feedId, sub] of this.subscribers) {
      if (!this.feeds.has(feedId)) this._unsubscribe(feedId, false);
    }
    this.state = 'joined';
    this._syncOwnMute(room.me, true);
    this._startQuality();
    this._changed();
    if (again) {
      for (const link of [...Object.values(this.publishers), ...this.subscribers.values()]) {
        if (link && ['failed', 'disconnected'].includes(link.pc?.iceConnectionState)) link.restart();
      }
    } else {
      await this._publish('camera', this.media.stream);
      if (this.screenStream) await this._publish('screen', this.screenStream);
    }
    for (const feed of this.feeds.values()) this._subscribe(feed);
  }

  /** Our mute state is the stricter of ours and the server's; tell the server what it lacks. */
  _syncOwnMute(me, report) {
    for (const [kind, field] of [['audio', 'audio_muted'], ['video', 'video_muted']]) {
      const local = kind === 'audio' ? this.media.audioMuted : this.media.videoMuted;
      if (me[field] && !local) this.media.setMuted(kind, true);
      else if (!me[field] && local && report) this._command('meeting.self', { [field]: true });
    }
  }

  // -- media --------------------------------------------------------------------------------

  async _publish(kind, stream) {
    if (this.publishers[kind]) return; // already on its way (the devices opened meanwhile)
    if (kind === 'camera') this.publishError = null;
    // no tracks yet: the devices are still opening (Join pressed first); _devicesChanged
    // publishes them when they open
    if (this.state !== 'joined' || !stream.getTracks().length) return;
    const pub = new Publisher(this.socket, this.rtcConfig, kind, stream);
    this.publishers[kind] = pub;
    pub.onState = () => this._changed();
    try {
      await pub.start();
    } catch (err) {
      if (pub.closed) return; // dropped on purpose meanwhile (media reset, leaving)
      if (this.publishers[kind] === pub) this.publishers[kind] = null;
      pub.stop();
      if (kind === 'screen') {
        this.stopScreen();
        this._notice({ message: err.message, error: true });
      } else {
        console.warn('could not publish the camera', err);
        this.publishError = err; // the room shows it, with Try again
      }
    }
    this._changed();
  }

  /** The camera or microphone opened or changed: publish them if we are in but not sending. */
  _devicesChanged() {
    if (this.state !== 'joined' || this.publishers.camera || this.publishError) return;
    if (this.media.stream.getTracks().length) this._publish('camera', this.media.stream);
  }

  async _subscribe(feed, attempt = 0) {
    if (this.state !== 'joined' || feed.participant_id === this.me.id || this.subscribers.has(feed.feed_id)) return;
    const sub = new Subscriber(this.socket, this.rtcConfig, feed);
    this.subscribers.set(feed.feed_id, sub);
    sub.onTrack = () => this._changed();
    sub.onState = () => this._changed();
    try {
      await sub.start();
    } catch (err) {
      sub.stop();
      if (this.subscribers.get(feed.feed_id) === sub) this.subscribers.delete(feed.feed_id);
      this._subscribeFailed(feed, err, attempt);
    }
    this._changed();
  }

  _subscribeFailed(feed, err, attempt) {
    if (!this.feeds.has(feed.feed_id)) return; // unpublished meanwhile
    if (err.code === 'meeting_feed_not_found') {
      // gone (e.g. before a media reset); a stream published again is announced again
      this.feeds.delete(feed.feed_id);
    } else if (attempt < SUBSCRIBE_RETRIES && this.state === 'joined') {
      setTimeout(() => this._subscribe(this.feeds.get(feed.feed_id) || feed, attempt + 1), 800 * (attempt + 1));
    } else {
      console.warn('could not subscribe', feed, err);
    }
  }

  _unsubscribe(feedId, tellServer = true) {
    const sub = this.subscribers.get(feedId);
    if (!sub) return;
    this.subscribers.delete(feedId);
    sub.stop(tellServer);
  }

  /** Close every peer connection (the server has dropped them, or we start afresh). */
  _dropMedia() {
    for (const pub of Object.values(this.publishers)) pub?.stop(false);
    this.publishers = { camera: null, screen: null };
    for (const feedId of [...this.subscribers.keys()]) this._unsubscribe(feedId, false);
  }

  async _mediaReset() {
    this._dropMedia();
    this._changed();
    await this._publish('camera', this.media.stream);
    if (this.screenStream) await this._publish('screen', this.screenStream);
    for (const feed of this.feeds.values()) this._subscribe(feed);
  }

  _startQuality() {
    clearInterval(this.qualityTimer);
    this.qualityTimer = setInterval(() => this._measure(), QUALITY_TICK_MS);
  }

  async _measure() {
    const links = [this.publishers.camera, ...this.subscribers.values()].filter(Boolean);
    const all = (await Promise.all(links.map((link) => link.stats().catch(() => null)))).filter(Boolean);
    if (!all.length) return;
    const rtts = all.map((s) => s.rttMs).filter((rtt) => rtt !== null);
    const lost = all.reduce((sum, s) => sum + s.packetsLost, 0);
    const received = all.reduce((sum, s) => sum + s.packetsReceived, 0);
    this.ownQuality = qualityLevel({
      rttMs: rtts.length ? Math.max(...rtts) : null,
      lossPct: lost + received ? (100 * lost) / (lost + received) : 0,
    });
    this._changed();
  }

  _end(reason, message = '') {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endReason = reason;
    this.endMessage = message;
    clearInterval(this.qualityTimer);
    this._dropMedia();
    this.screenStream?.getTracks().forEach((track) => track.stop());
    this.media.stop();
    this.socket?.close();
    this._changed();
  }

  // -- server events ------------------------------------------------------------------------

  _participant({ participant }) {
    if (!participant) return;
    const before = this.participants.get(participant.id);
    this.participants.set(participant.id, participant);
    this.lobby = this.lobby.filter((p) => p.id !== participant.id);
    if (participant.quality) this.quality.set(participant.id, participant.quality);
    if (participant.id === this.me?.id) {
      if (before && before.role !== participant.role) {
        this._notice({ key: 'ui.meeting.notice.role_now', params: { role: t(roleName(participant.role)) } });
      }
      this.me = participant;
      this._syncOwnMute(participant, false);
    }
    this._changed();
  }

  _left({ participant_id: id, reason }) {
    if (id === this.me?.id) {
      if (reason === 'removed') this._end('removed');
      return;
    }
    this.participants.delete(id);
    this.speaking.delete(id);
    for (const feed of [...this.feeds.values()]) {
      if (feed.participant_id === id) this._feedGone(feed);
    }
    this._changed();
  }

  _feed(feed) {
    this.feeds.set(feed.feed_id, feed);
    this._subscribe(feed);
    this._changed();
  }

  _feedGone({ feed_id: feedId }) {
    this.feeds.delete(feedId);
    this._unsubscribe(feedId, false);
    this._changed();
  }

  _lobby({ waiting }) {
    const known = new Set(this.lobby.map((p) => p.id));
    this.lobby = waiting || [];
    for (const p of this.lobby) {
      if (!known.has(p.id)) this._notice({ key: 'ui.meeting.notice.waiting', params: { name: p.name } });
    }
    this._changed();
  }

  /** The host muted us (true), or lets us unmute again (false). */
  _muted({ audio, video }) {
    if (audio) this.media.setMuted('audio', true);
    if (video) this.media.setMuted('video', true);
    let key = 'ui.meeting.notice.may_unmute';
    if (audio && video) key = 'ui.meeting.notice.muted_both';
    else if (audio) key = 'ui.meeting.notice.muted_audio';
    else if (video) key = 'ui.meeting.notice.muted_video';
    this._notice({ key });
    this._changed();
  }

  _chatMessage({ message }) {
    if (!message || this.chat.some((m) => m.id === message.id)) return;
    this.chat.push(message);
    this.dispatchEvent(new CustomEvent('chat', { detail: message }));
  }

  _speaking({ participant_id: id, speaking }) {
    if (speaking) {
      this.speaking.add(id);
      if (id !== this.me?.id) this.lastSpeaker = id;
    } else {
      this.speaking.delete(id);
    }
    this._changed();
  }

  _state({ locked, recording }) {
    if (recording !== undefined && Boolean(recording) !== this.recording) {
      this._notice({ key: recording ? 'ui.meeting.notice.recording_on' : 'ui.meeting.notice.recording_off' });
    }
    if (locked !== undefined) this.locked = Boolean(locked);
    if (recording !== undefined) this.recording = Boolean(recording);
    this._changed();
  }

  // -- plumbing -----------------------------------------------------------------------------

  /** A request whose failure is told to the person; resolves with the ack, or null. */
  async _command(type, data) {
    try {
      return (await this.socket.request(type, data)) || {};
    } catch (err) {
      this._notice({ message: err.message, error: true });
      return null;
    }
  }

  _notice(detail) {
    this.dispatchEvent(new CustomEvent('notice', { detail }));
  }

  _changed() {
    this.dispatchEvent(new Event('change'));
  }
}

const EVENTS = {
  'meeting.participant': MeetingRoom.prototype._participant,
  'meeting.left': MeetingRoom.prototype._left,
  'meeting.feed': MeetingRoom.prototype._feed,
  'meeting.feed_gone': MeetingRoom.prototype._feedGone,
  'meeting.lobby': MeetingRoom.prototype._lobby,
  'meeting.admitted': MeetingRoom.prototype._join,
  'meeting.denied': function denied() { this._end('denied'); },
  'meeting.muted': MeetingRoom.prototype._muted,
  'meeting.chat': MeetingRoom.prototype._chatMessage,
  'meeting.speaking': MeetingRoom.prototype._speaking,
  'meeting.quality': function quality({ participant_id: id, level }) { this.quality.set(id, level); this._changed(); },
  'meeting.state': MeetingRoom.prototype._state,
  // the host changed the settings: what we may do with them (can_*) comes along
  'meeting.settings': function settings({ settings: value, can }) {
    if (this.meeting && value) this.meeting.settings = value;
    if (this.me && can) this.me = { ...this.me, ...can };
    this._changed();
  },
  // the layer Janus now sends us on a subscription (lower than asked while our link is slow)
  'meeting.layer': function layer({ sub_id: subId, substream, cap }) {
    for (const sub of this.subscribers.values()) {
      if (sub.subId === subId) Object.assign(sub, { sentLayer: substream, layerCap: cap });
    }
    this._changed();
  },
  'meeting.media_reset': MeetingRoom.prototype._mediaReset,
  'meeting.removed': function removed() { this._end('removed'); },
  'meeting.ended': function ended({ reason }) { this._end(reason === 'empty' ? 'empty' : 'host'); },
};
