// The join link /m/<number>: pre-join (preview, devices, name, passcode), then the lobby,
// the room and the end screen — four states of one page. `window.ytMeeting` is for tests.

import { post } from '../api.js';
import { t } from '../i18n.js';
import { fillDevicePickers, LocalMedia } from '../meeting/devices.js';
import { MeetingRoom } from '../meeting/room.js';
import { RoomView } from '../meeting/roomui.js';
import { $, clearErrors, formValues, initials, onSubmit, showErrors } from '../ui.js';

const NAME_KEY = 'yuntong.meeting.name';
const GUEST_KEY = 'yuntong.meeting.guest'; // who a guest is across tickets (a removal sticks)
const END_KEYS = {
  host: ['ui.meeting.end.host', 'ui.meeting.end.host_body'],
  empty: ['ui.meeting.end.empty', 'ui.meeting.end.empty_body'],
  ended: ['ui.meeting.end.ended', 'ui.meeting.end.ended_body'],
  removed: ['ui.meeting.end.removed', 'ui.meeting.end.removed_body'],
  denied: ['ui.meeting.end.denied', 'ui.meeting.end.denied_body'],
  left: ['ui.meeting.end.left', 'ui.meeting.end.left_body'],
  error: ['ui.meeting.end.error', 'ui.meeting.end.error_body'],
};
const SCREENS = { prejoin: '#prejoin', connecting: '#prejoin', waiting: '#lobby', joined: '#room', ended: '#meeting-end' };

const app = $('#meeting-app');
const signedIn = Boolean($('#yt-me'));
if (signedIn) import('../app.js'); // the shell: presence, log-out, calls

const media = new LocalMedia();
let room = null;
let joinValues = {};

function show(state) {
  app.dataset.state = state;
  for (const [name, selector] of Object.entries(SCREENS)) {
    if (name !== state) $(selector).hidden = true;
  }
  $(SCREENS[state]).hidden = false;
  document.body.classList.toggle('in-room', state === 'joined');
}

// -- pre-join ---------------------------------------------------------------------------------

const form = $('#prejoin-form');
const preview = $('#preview-video');
const pickers = { camera: $('#prejoin-pick-camera'), microphone: $('#prejoin-pick-microphone') };

function paintPreview() {
  preview.srcObject = media.stream;
  $('#preview-off').hidden = media.hasVideo && !media.videoMuted;
  $('#preview-error').hidden = media.hasAudio || media.hasVideo;
  for (const [id, kind, off, on] of [
    ['#prejoin-mic', 'audio', 'ui.call.unmute', 'ui.call.mute'],
    ['#prejoin-cam', 'video', 'ui.call.camera_on', 'ui.call.camera_off'],
  ]) {
    const button = $(id);
    const muted = kind === 'audio' ? media.audioMuted : media.videoMuted;
    button.setAttribute('aria-pressed', String(muted));
    button.disabled = kind === 'audio' ? !media.hasAudio : !media.hasVideo;
    button.title = t(muted ? off : on);
    button.querySelector('.btn-label').textContent = button.title;
  }
}

async function openDevices() {
  await media.open();
  paintPreview();
  await fillDevicePickers(media, pickers);
}

function wirePrejoin() {
  $('#prejoin-mic').addEventListener('click', () => media.setMuted('audio', !media.audioMuted));
  $('#prejoin-cam').addEventListener('click', () => media.setMuted('video', !media.videoMuted));
  media.addEventListener('change', () => {
    if (!room) paintPreview();
  });
  for (const [select, kind] of [[pickers.camera, 'videoinput'], [pickers.microphone, 'audioinput']]) {
    select.addEventListener('change', async () => {
      await media.useDevice(kind, select.value).catch(() => null);
      await fillDevicePickers(media, pickers);
    });
  }
  const name = form.elements.display_name;
  if (name) {
    name.value = localStorage.getItem(NAME_KEY) || '';
    name.addEventListener('input', () => { $('#preview-avatar').textContent = initials(name.value); });
  }
  onSubmit(form, join);
}

function guestKey() {
  let key = localStorage.getItem(GUEST_KEY);
  if (!key || !/^[A-Za-z0-9_-]{16,64}$/.test(key)) {
    key = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
    localStorage.setItem(GUEST_KEY, key);
  }
  return key;
}

async function requestTicket() {
  const body = {};
  if (joinValues.passcode) body.passcode = joinValues.passcode;
  if (joinValues.display_name) body.display_name = joinValues.display_name;
  if (!signedIn) body.guest_key = guestKey();
  return post(`/meetings/by-number/${app.dataset.number}/tickets`, body);
}

async function join() {
  if (room) return; // already on the way in
  clearErrors(form);
  joinValues = formValues(form);
  if (!signedIn && !joinValues.display_name) {
    showErrors(form, { fields: { display_name: { message: t('ui.common.required') } }, message: t('ui.common.required') });
    return;
  }
  if (joinValues.display_name) localStorage.setItem(NAME_KEY, joinValues.display_name);
  let answer;
  try {
    answer = await requestTicket();
  } catch (err) {
    if (err.code === 'meeting_passcode_wrong') {
      $('#passcode-field').hidden = false;
      err.fields = { passcode: { message: err.message } };
    }
    showErrors(form, err);
    return;
  }
  enter(answer);
}

// -- the lobby, the room, the end -------------------------------------------------------------

function enter({ ticket, meeting }) {
  room = new MeetingRoom({ ticket, media, renewTicket: async () => (await requestTicket()).ticket });
  room.meeting = meeting || null;
  const view = new RoomView(room, media);
  room.addEventListener('change', () => stateChanged(view));
  $('#prejoin-join').hidden = true; // (not disabled: onSubmit enables it again)
  $('#prejoin-joining').hidden = false;
  room.start();
}

function stateChanged(view) {
  const state = room.state;
  if (app.dataset.state === state) return;
  if (state === 'waiting') $('#lobby-meeting').textContent = room.meeting?.title || '';
  if (state === 'ended') paintEnd();
  show(state);
  if (state === 'joined') view.render();
}

function paintEnd() {
  const [title, body] = END_KEYS[room.endReason] || END_KEYS.error;
  $('#end-title').textContent = t(title);
  $('#end-message').textContent = room.endMessage || t(body);
  $('#meeting-end').dataset.reason = room.endReason;
  $('#end-rejoin').hidden = !['left', 'error'].includes(room.endReason);
}

$('#lobby-leave')?.addEventListener('click', () => room?.leave());
$('#end-rejoin')?.addEventListener('click', () => location.reload());
window.addEventListener('pagehide', () => {
  if (room && room.state !== 'ended') room.socket?.send('meeting.leave', {});
});

// Hooks for end-to-end tests (and the curious).
window.ytMeeting = {
  get state() { return room ? room.state : 'prejoin'; },
  get room() { return room; },
  get me() { return room?.me || null; },
  get endReason() { return room?.endReason || null; },
  participants: () => (room ? [...room.participants.values()] : []),
  feeds: () => (room ? [...room.feeds.values()] : []),
  stats: async () => (room ? room.stats() : { feeds: [], camera: null }),
  media,
};

if (app) {
  wirePrejoin();
  await openDevices();
}
