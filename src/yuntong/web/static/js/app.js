// The shell of every signed-in page: the realtime connection, presence, calls in and out (and
// a second call: waiting, or held), the missed-call badge, log-out, and the `window.yuntong`
// hooks that tests read.

import { get, post } from './api.js';
import { CallController } from './call.js';
import { CallScreen, SecondCallCard } from './callui.js';
import { t } from './i18n.js';
import { $, toast } from './ui.js';
import { RealtimeClient } from './ws.js';
import { SipCall, goOnline, sipLine } from './sipcall.js';

const CALL_EVENTS = [
  'call.ringing', 'call.answered', 'call.ice', 'call.connected', 'call.answered_elsewhere', 'call.ended',
  'call.waiting', 'call.held', 'call.resumed',
];

export const me = JSON.parse($('#yt-me')?.textContent || 'null');
export const rt = new RealtimeClient();
const presence = new Map(); // user id -> online | busy | dnd | offline
let current = null; // the CallController shown on screen, or null
let second = null; // the user's other call: a waiting call, or a held one
let lastCall = null;

const screen = new CallScreen({
  onClosed: (call) => {
    if (current === call) current = null;
  },
});

const card = new SecondCallCard({
  onAnswer: (call, mode) => answerSecond(call, mode),
  onReject: (call) => {
    setSecond(null);
    call.decline();
  },
  onSwap: (call) => swapTo(call),
});

function setSecond(call) {
  second = call;
  card.show(call);
}

/** Answer the waiting call, holding or ending (`mode`) the one on screen, as the server offered. */
async function answerSecond(call, mode) {
  const previous = current?.active ? current : null;
  setSecond(mode === 'hold' ? previous : null);
  show(call);
  await call.accept(mode);
}

/** Resume the held call; the server holds the one on screen, which becomes the second call. */
async function swapTo(call) {
  try {
    await call.resume();
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  const previous = current?.active ? current : null;
  setSecond(previous);
  show(call);
}

export function presenceOf(userId) {
  return presence.get(userId) || 'offline';
}

function presenceChanged() {
  document.dispatchEvent(new CustomEvent('yt:presence'));
}

/** Place a call to a username (or user id); `peer` is what the screen shows meanwhile. */
export function startCall(to, media, peer = null, { fromNumber = null } = {}) {
  if (current?.active) {
    toast(t('ui.call.busy_here'), { error: true });
    return null;
  }
  const call = new CallController(rt, {
    direction: 'outgoing',
    peer: peer || { username: String(to), display_name: String(to) },
    media,
    fromNumber,
  });
  track(call);
  show(call);
  call.dial(to);
  return call;
}

/** A phone call through the SIP gateway from this browser's SIP line (sipcall.js). */
export function startSipCall(to) {
  if (current?.active) {
    toast(t('ui.call.busy_here'), { error: true });
    return null;
  }
  const call = new SipCall(rt, { direction: 'outgoing', peer: { username: '', display_name: String(to) } });
  track(call);
  show(call);
  call.dial(to);
  return call;
}

/** A phone (or the carrier) calls this user's number and the SIP line in this browser rings. */
function incomingSip(data) {
  if (current?.active) {
    rt.request('sip.hangup', { call_id: data.call_id }).catch(() => {});
    return;
  }
  const name = data.display || data.from;
  const call = new SipCall(rt, {
    direction: 'incoming',
    peer: { username: '', display_name: name },
    callId: data.call_id,
    offerSdp: data.sdp,
    toNumber: data.to,
    callerNumber: data.from && data.from !== 'anonymous' ? { number: data.from } : null,
  });
  track(call);
  show(call);
  call.ring();
}

function show(call) {
  current = call;
  lastCall = call;
  screen.show(call);
}

/** Every call this page runs: when it ends, the missed-call badge, and its place taken. */
function track(call) {
  call.addEventListener('change', () => {
    if (call.state !== 'ended') return;
    refreshMissed();
    if (second === call) {
      setSecond(null);
    } else if (current === call && second?.active) {
      // the call on screen is over: the other one (held, or ringing on) takes its place
      const next = second;
      setSecond(null);
      show(next);
    }
  });
}

function incoming(data) {
  const call = new CallController(rt, {
    direction: 'incoming',
    peer: data.from,
    media: data.media,
    callId: data.call_id,
    offerSdp: data.sdp,
    toNumber: data.to_number || null,
    waiting: Boolean(data.waiting),
    answerModes: data.answer_modes || [],
    // caller ID (CLIP) and forwarding: the caller's number and which number forwarded the call
    callerNumber: data.from_number || null,
    forwardedBy: data.forwarded_by || null,
  });
  if (current?.active || data.waiting) {
    // the server rings a user in a call only with a waiting call, and one at most
    if (!data.waiting || second?.active) return;
    track(call);
    setSecond(call);
    call.ring();
    return;
  }
  track(call);
  show(call);
  call.ring();
}

function route(type, data) {
  if (current?.handle(type, data)) return;
  second?.handle(type, data);
}

export async function refreshMissed() {
  const badge = $('#missed-badge');
  if (!badge) return;
  try {
    const { missed } = await get('/calls/missed-count');
    badge.textContent = String(missed);
    badge.hidden = !missed;
    badge.title = t('ui.nav.missed', { count: missed });
  } catch {
    // the badge is a convenience; the history page is the record
  }
}

export async function markMissedSeen() {
  await post('/calls/missed-seen').catch(() => {});
  await refreshMissed();
}

function wire() {
  rt.on('presence.snapshot', ({ contacts }) => {
    presence.clear();
    for (const { user_id: id, status } of contacts || []) presence.set(id, status);
    presenceChanged();
  });
  rt.on('presence', ({ user_id: id, status }) => {
    presence.set(id, status);
    presenceChanged();
  });
  rt.on('hello', (data) => {
    // a fresh session (not a resume) means the server has ended whatever this tab was doing
    if (data.resumed) return;
    for (const call of [second, current]) {
      if (call?.active && call.callId !== null) call.handle('call.ended', {
        call_id: call.callId, outcome: 'interrupted', reason: 'connection_lost',
      });
    }
  });
  rt.on('connection', ({ up }) => {
    const banner = $('#conn-banner');
    if (banner) banner.hidden = up;
    $('#my-presence')?.setAttribute('data-status', up ? 'online' : 'offline');
  });
  rt.on('call.incoming', incoming);
  rt.on('sip.incoming', incomingSip);
  for (const type of ['sip.ringing', 'sip.answered', 'sip.ended']) rt.on(type, (data) => route(type, data));
  rt.on('hello', () => goOnline(rt)); // this browser's SIP line, when the user has a SIP account
  for (const type of CALL_EVENTS) rt.on(type, (data) => route(type, data));
  rt.on('call.ended', () => refreshMissed());

  $('#logout')?.addEventListener('click', logout);
  window.addEventListener('beforeunload', (event) => {
    if (current?.active && current.state !== 'incoming') event.preventDefault();
  });
}

export async function logout() {
  rt.close();
  await post('/auth/logout').catch(() => {});
  sessionStorage.clear();
  location.href = '/login?notice=logged_out';
}

// Hooks for end-to-end tests (and the curious): the live call and its getStats() numbers.
window.yuntong = {
  get call() { return current; },
  get lastCall() { return lastCall; },
  get second() { return second; },
  rt,
  presence,
  stats: async () => (current ? current.stats() : null),
  startCall,
  startSipCall,
  sipLine,
};

if (me) {
  wire();
  rt.connect();
  refreshMissed();
}
