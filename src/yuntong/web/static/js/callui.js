// Binds a CallController to the incoming-call overlay and the in-call screen (_call.html), and
// a second call (waiting, or held) to its card (SecondCallCard).

import { locale, t, formatDuration } from './i18n.js';
import { $, initials, toast } from './ui.js';

const ENDED_SCREEN_MS = 3000;

/** A calling number as caller ID shows it: the number, then its attribution (归属地) when known. */
function callerNumberText(shown) {
  const en = locale === 'en';
  const place = [en ? shown.province_en : shown.province, en ? shown.city_en : shown.city]
    .filter(Boolean).join(en ? ', ' : ' ');
  return place ? `${shown.number} · ${place}` : shown.number;
}

export class CallScreen {
  constructor({ onClosed }) {
    this.onClosed = onClosed;
    this.call = null;
    this.timer = null;
    this.closeTimer = null;
    this.el = {
      incoming: $('#incoming'),
      incomingTitle: $('#incoming-title'),
      incomingUser: $('#incoming-username'),
      incomingAvatar: $('#incoming-avatar'),
      incomingNumber: $('#incoming-number'),
      incomingForwarded: $('#incoming-forwarded'),
      screen: $('#callscreen'),
      peer: $('#call-peer'),
      avatar: $('#call-avatar'),
      state: $('#call-state'),
      clock: $('#call-timer'),
      outcome: $('#call-outcome'),
      quality: $('#call-quality'),
      qualityLabel: $('#call-quality-label'),
      remote: $('#remote-video'),
      local: $('#local-video'),
      mute: $('#btn-mute'),
      muteLabel: $('#btn-mute-label'),
      camera: $('#btn-camera'),
      cameraLabel: $('#btn-camera-label'),
      switchCamera: $('#btn-switch-camera'),
      hangup: $('#btn-hangup'),
      resume: $('#btn-resume'),
      pickCamera: $('#pick-camera'),
      pickMic: $('#pick-microphone'),
    };
    const e = this.el;
    $('#incoming-accept').addEventListener('click', () => this.call?.accept());
    $('#incoming-decline').addEventListener('click', () => this.call?.decline());
    e.hangup.addEventListener('click', () => this.call?.hangup());
    e.resume.addEventListener('click', () => this.call?.resume().catch((err) => toast(err.message, { error: true })));
    e.mute.addEventListener('click', () => this.call?.setMuted(!this.call.muted));
    e.camera.addEventListener('click', () => this.call?.setCameraOff(!this.call.cameraOff));
    e.switchCamera.addEventListener('click', () => this.call?.nextCamera().then(() => this._fillDevices()));
    e.pickCamera.addEventListener('change', () => this.call?.useDevice('videoinput', e.pickCamera.value));
    e.pickMic.addEventListener('change', () => this.call?.useDevice('audioinput', e.pickMic.value));
    this.onChange = () => this.render();
  }

  show(call) {
    this.call?.removeEventListener('change', this.onChange);
    clearTimeout(this.closeTimer);
    this.call = call;
    this.devicesFilled = false;
    call.addEventListener('change', this.onChange);
    const name = call.peer.display_name || call.peer.username;
    this.el.peer.textContent = name;
    this.el.avatar.textContent = initials(name);
    this.el.incomingAvatar.textContent = initials(name);
    this.el.incomingTitle.textContent = t(call.media === 'video' ? 'ui.call.incoming_video' : 'ui.call.incoming_audio', { name });
    const dialled = call.toNumber ? t('ui.call.to_number', { number: call.toNumber }) : '';
    this.el.incomingUser.textContent = [call.peer.username ? `@${call.peer.username}` : '', dialled]
      .filter(Boolean).join(' · ');
    // caller ID (CLIP): the caller's number and where it is from; a forwarded call says who forwarded it
    this.el.incomingNumber.textContent = call.callerNumber ? callerNumberText(call.callerNumber) : '';
    this.el.incomingNumber.hidden = !call.callerNumber;
    this.el.incomingForwarded.textContent = call.forwardedBy ? t('ui.call.forwarded_by', { number: call.forwardedBy }) : '';
    this.el.incomingForwarded.hidden = !call.forwardedBy;
    this.el.outcome.hidden = true;
    this.el.outcome.removeAttribute('data-outcome');
    this.el.remote.srcObject = null;
    this.el.local.srcObject = null;
    clearInterval(this.timer);
    this.timer = setInterval(() => this._tick(), 500);
    this.render();
  }

  render() {
    const call = this.call;
    if (!call) return;
    const e = this.el;
    const ringing = call.state === 'incoming';
    e.incoming.hidden = !ringing;
    e.screen.hidden = ringing;
    e.screen.classList.toggle('audio-only', call.media !== 'video');
    e.screen.classList.toggle('camera-off', call.cameraOff);
    e.screen.classList.toggle('has-remote-video',
      call.media === 'video' && call.remoteStream.getVideoTracks().length > 0 && call.state !== 'ended');
    if (call.localStream && e.local.srcObject !== call.localStream) e.local.srcObject = call.localStream;
    if (e.remote.srcObject !== call.remoteStream) e.remote.srcObject = call.remoteStream;
    e.state.dataset.state = call.state;
    e.state.textContent = stateText(call);
    e.screen.classList.toggle('on-hold', call.onHold && call.active);
    e.resume.hidden = !(call.canResume && call.active);
    e.mute.setAttribute('aria-pressed', String(call.muted));
    e.muteLabel.textContent = t(call.muted ? 'ui.call.unmute' : 'ui.call.mute');
    e.camera.setAttribute('aria-pressed', String(call.cameraOff));
    e.cameraLabel.textContent = t(call.cameraOff ? 'ui.call.camera_on' : 'ui.call.camera_off');
    e.quality.dataset.level = call.quality;
    e.qualityLabel.textContent = t(`ui.call.quality.${call.quality}`);
    e.quality.title = e.qualityLabel.textContent;
    if (call.localStream && !this.devicesFilled) this._fillDevices();
    if (call.creditSecondsLeft !== undefined && !call.creditWarned && call.state !== 'ended') {
      call.creditWarned = true;
      toast(t('ui.call.credit_low', { seconds: call.creditSecondsLeft }));
    }
    this._tick();
    if (call.state === 'ended') this._ended();
  }

  _tick() {
    const call = this.call;
    if (!call?.answeredAt) {
      this.el.clock.hidden = true;
      return;
    }
    const until = call.endedAt || Date.now();
    this.el.clock.hidden = false;
    this.el.clock.textContent = formatDuration((until - call.answeredAt) / 1000);
  }

  _ended() {
    const call = this.call;
    clearInterval(this.timer);
    if (call.direction === 'incoming' && !call.answeredAt) {
      // declined here, given up by the caller or taken elsewhere: just stop ringing
      if (call.endReason === 'answered_elsewhere') toast(t('ui.call.elsewhere'));
      this.close(call);
      return;
    }
    const e = this.el;
    e.incoming.hidden = true;
    e.screen.hidden = false;
    e.outcome.hidden = false;
    e.outcome.dataset.outcome = call.outcome;
    e.outcome.dataset.reason = call.endReason || '';
    e.outcome.textContent = this._outcomeText(call);
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => this.close(call), ENDED_SCREEN_MS);
  }

  _outcomeText(call) {
    if (call.mediaError) return t('ui.call.media_error', { error: call.error });
    if (call.outcome === 'failed' && call.error) return t('ui.call.failed', { error: call.error });
    if (call.outcome === 'answered' && call.endReason === 'credit_exhausted') {
      return t('ui.call.credit_exhausted');
    }
    if (call.outcome === 'answered') {
      const seconds = call.answeredAt ? (call.endedAt - call.answeredAt) / 1000 : 0;
      return `${t('ui.call.state.ended')} · ${formatDuration(seconds)}`;
    }
    // barred, anonymous rejected, a forwarding loop: the reason says more than the outcome
    const reasonKey = `ui.call.reason.${call.endReason}`;
    if (t(reasonKey) !== reasonKey) return t(reasonKey);
    return t(`ui.outcome.${call.outcome}`);
  }

  close(call) {
    if (call !== this.call) return;
    call.removeEventListener('change', this.onChange);
    this.call = null;
    this.el.screen.hidden = true;
    this.el.incoming.hidden = true;
    this.el.remote.srcObject = null;
    this.el.local.srcObject = null;
    this.onClosed?.(call);
  }

  async _fillDevices() {
    this.devicesFilled = true;
    const call = this.call;
    const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
    for (const [select, kind] of [[this.el.pickCamera, 'videoinput'], [this.el.pickMic, 'audioinput']]) {
      const current = call?.currentDevice(kind);
      select.replaceChildren(...devices.filter((d) => d.kind === kind).map((d, i) => {
        const option = new Option(d.label || `${kind === 'videoinput' ? t('ui.call.camera') : t('ui.call.microphone')} ${i + 1}`, d.deviceId);
        option.selected = d.deviceId === current;
        return option;
      }));
      select.disabled = select.options.length < 2;
    }
    this.el.switchCamera.disabled = this.el.pickCamera.options.length < 2;
  }
}

/** What the screen says of a call: on hold (by this side or the other), waiting at the callee,
 * or its state. */
function stateText(call) {
  if (call.onHold && call.active) return t(call.canResume ? 'ui.call.on_hold' : 'ui.call.held_by_peer');
  if (call.state === 'ringing' && call.peerWaiting) return t('ui.call.peer_waiting');
  return t(`ui.call.state.${call.state}`);
}

/**
 * The second call of a user in a call: a waiting call (answer holding or ending the current
 * one, as the server offers, or reject) or a held one (swap to it). The buttons call back to
 * the shell (app.js), which decides which call is on the screen.
 */
export class SecondCallCard {
  constructor({ onAnswer, onReject, onSwap }) {
    this.call = null;
    this.el = {
      card: $('#second-call'),
      avatar: $('#second-avatar'),
      title: $('#second-title'),
      state: $('#second-state'),
      answer: $('#second-answer'),
      answerHold: $('#second-answer-hold'),
      answerEnd: $('#second-answer-end'),
      reject: $('#second-reject'),
      swap: $('#second-swap'),
    };
    const e = this.el;
    e.answer.addEventListener('click', () => onAnswer(this.call, null));
    e.answerHold.addEventListener('click', () => onAnswer(this.call, 'hold'));
    e.answerEnd.addEventListener('click', () => onAnswer(this.call, 'end'));
    e.reject.addEventListener('click', () => onReject(this.call));
    e.swap.addEventListener('click', () => onSwap(this.call));
    this.onChange = () => this.render();
  }

  show(call) {
    this.call?.removeEventListener('change', this.onChange);
    this.call = call;
    call?.addEventListener('change', this.onChange);
    this.render();
  }

  render() {
    const call = this.call;
    const e = this.el;
    e.card.hidden = !call?.active;
    if (e.card.hidden) {
      document.body.style.removeProperty('--second-call-h');
      return;
    }
    const name = call.peer.display_name || call.peer.username;
    const incoming = call.state === 'incoming';
    e.card.dataset.kind = incoming ? 'waiting' : 'held';
    e.avatar.textContent = initials(name);
    e.title.textContent = incoming ? t(call.waiting ? 'ui.call.waiting' : 'ui.call.waiting_over', { name }) : name;
    e.state.textContent = incoming ? t(call.media === 'video' ? 'ui.media.video' : 'ui.media.audio') : stateText(call);
    // the server says how a waiting call may be answered; an ordinary one is just answered
    e.answerHold.hidden = !(incoming && call.answerModes.includes('hold'));
    e.answerEnd.hidden = !(incoming && call.answerModes.includes('end'));
    e.answer.hidden = !(incoming && call.answerModes.length === 0);
    e.reject.hidden = !incoming;
    e.swap.hidden = !(!incoming && call.canResume);
    document.body.style.setProperty('--second-call-h', `${e.card.offsetHeight}px`);
  }
}
