// The shell of every signed-in page: the realtime connection, presence, calls in and out,
// the missed-call badge, log-out, and the `window.yuntong` hooks that tests read.

import { get, post } from './api.js';
import { CallController } from './call.js';
import { CallScreen } from './callui.js';
import { t } from './i18n.js';
import { $, toast } from './ui.js';
import { RealtimeClient } from './ws.js';

const CALL_EVENTS = [
  'call.ringing', 'call.answered', 'call.ice', 'call.connected', 'call.answered_elsewhere', 'call.ended',
];

export const me = JSON.parse($('#yt-me')?.textContent || 'null');
export const rt = new RealtimeClient();
const presence = new Map(); // user id -> online | busy | dnd | offline
let current = null; // the CallController shown on screen, or null
let lastCall = null;

const screen = new CallScreen({
  onClosed: (call) => {
    if (current === call) current = null;
  },
});

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
  show(call);
  call.dial(to);
  return call;
}

function show(call) {
  current = call;
  lastCall = call;
  screen.show(call);
  call.addEventListener('change', () => {
    if (call.state === 'ended') refreshMissed();
  });
}

function incoming(data) {
  if (current?.active) return; // the server does not ring a user who is in a call
  const call = new CallController(rt, {
    direction: 'incoming',
    peer: data.from,
    media: data.media,
    callId: data.call_id,
    offerSdp: data.sdp,
    toNumber: data.to_number || null,
    // caller ID (CLIP) and forwarding: the caller's number and which number forwarded the call
    callerNumber: data.from_number || null,
    forwardedBy: data.forwarded_by || null,
  });
  show(call);
  call.ring();
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
    if (!data.resumed && current?.active && current.callId !== null) current.handle('call.ended', {
      call_id: current.callId, outcome: 'interrupted', reason: 'connection_lost',
    });
  });
  rt.on('connection', ({ up }) => {
    const banner = $('#conn-banner');
    if (banner) banner.hidden = up;
    $('#my-presence')?.setAttribute('data-status', up ? 'online' : 'offline');
  });
  rt.on('call.incoming', incoming);
  for (const type of CALL_EVENTS) rt.on(type, (data) => current?.handle(type, data));
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
  rt,
  presence,
  stats: async () => (current ? current.stats() : null),
  startCall,
};

if (me) {
  wire();
  rt.connect();
  refreshMissed();
}
