// One conference call: join it from the browser (audio over WebRTC to the bridge, an SDP offer
// to the API and its answer back), and, for its organiser, the participants with the controls:
// mute one or all, remove, lock, end.

import { api, del, get, post } from '../api.js';
import '../app.js';
import { formatDateTime, formatDuration, t } from '../i18n.js';
import { rtcConfig } from '../media/ice.js';
import { $, button, cell, clearErrors, confirmDialog, onSubmit, showErrors, toast } from '../ui.js';

const root = $('#conference');
const id = root.dataset.conferenceId;
const path = `/conferences/${id}`;
let conference = null;
let pc = null;
let legId = null;

function fail(error) {
  const box = $('#conference-error');
  box.textContent = error.message;
  box.hidden = false;
}

function paint() {
  $('#conference-card').hidden = false;
  $('#c-title').textContent = conference.title;
  $('#c-dial').textContent = t('ui.conferences.dial_hint', { number: conference.dial_in });
  const state = $('#c-state');
  state.textContent = t(`ui.conferences.state.${conference.state}`)
    + (conference.locked ? ` · ${t('ui.conferences.locked')}` : '');
  state.className = `tag ${conference.state === 'open' ? 'tag-ok' : ''}`;
  $('#pin-field').hidden = conference.organiser || legId !== null;
  $('#join').hidden = legId !== null || conference.state !== 'open';
  $('#leave').hidden = legId === null;
  $('#self-mute').hidden = legId === null;
  $('#in-call').hidden = legId === null;
  $('#controls').hidden = !conference.organiser;
  if (conference.organiser) paintLegs(conference.legs || []);
}

function paintLegs(legs) {
  const present = legs.filter((leg) => !leg.left_at);
  $('#lock').textContent = t(conference.locked ? 'ui.conferences.unlock' : 'ui.conferences.lock');
  const open = conference.state === 'open';
  ['#mute-all', '#unmute-all', '#lock', '#end', '#dial'].forEach((sel) => { $(sel).disabled = !open; });
  $('#leg-rows').replaceChildren(...legs.map((leg) => {
    const tr = document.createElement('tr');
    tr.dataset.legId = leg.id;
    tr.dataset.kind = leg.kind;
    const notes = [];
    if (leg.muted && !leg.left_at) notes.push(t('ui.conferences.muted'));
    if (!leg.connected && !leg.left_at) notes.push(t('ui.conferences.ringing'));
    cell(tr, [leg.display, ...notes].join(' · '));
    cell(tr, t(`ui.conferences.kind.${leg.kind}`));
    cell(tr, leg.left_at ? `${formatDateTime(leg.joined_at)} · ${t('ui.conferences.left')}` : formatDateTime(leg.joined_at));
    cell(tr, leg.left_at ? formatDuration(leg.billable_seconds) : '', 'num');
    const actions = cell(tr, '');
    if (!leg.left_at && open && !leg.moderator) {
      actions.append(
        button(t(leg.muted ? 'ui.conferences.unmute' : 'ui.conferences.mute'), 'btn-ghost mute', () => act(() => post(`${path}/legs/${leg.id}/mute`, { muted: !leg.muted }))),
        button(t('ui.conferences.remove'), 'btn-ghost remove', () => act(() => del(`${path}/legs/${leg.id}`))),
      );
    }
    return tr;
  }));
  $('#legs-empty').hidden = present.length > 0;
}

async function load() {
  conference = await get(path);
  paint();
}

async function act(request) {
  try {
    await request();
    await load();
  } catch (error) {
    toast(error.message, { error: true });
  }
}

async function join(pin) {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch {
    throw new Error(t('ui.conferences.no_microphone'));
  }
  pc = new RTCPeerConnection(await rtcConfig());
  stream.getTracks().forEach((track) => pc.addTrack(track, stream));
  pc.ontrack = (event) => { $('#mix').srcObject = event.streams[0] || new MediaStream([event.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {  // one offer with every candidate: no trickle to relay
    if (pc.iceGatheringState === 'complete') resolve();
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    setTimeout(resolve, 3000);
  });
  const joined = await post(`${path}/legs`, { sdp: pc.localDescription.sdp, pin });
  legId = joined.leg_id;
  await pc.setRemoteDescription({ type: 'answer', sdp: joined.sdp });
  window.yuntongConference = { pc, legId };  // for tests and diagnostics
}

function hangUp() {
  if (pc) pc.getSenders().forEach((s) => s.track?.stop());
  pc?.close();
  pc = null;
}

const form = $('#join-form');
onSubmit(form, async () => {
  clearErrors(form);
  try {
    await join($('#pin').value.trim());
    await load();
  } catch (error) {
    hangUp();
    showErrors(form, error);
  }
});

const dialForm = $('#dial-form');
onSubmit(dialForm, async () => {
  clearErrors(dialForm);
  try {
    await post(`${path}/dial-outs`, { number: $('#dial-number').value.trim() });
    $('#dial-number').value = '';
    await load();
  } catch (error) {
    showErrors(dialForm, error);
  }
});

// muting yourself stops sending your microphone (the bridge hears silence); the moderator's
// mute is the bridge's own and is shown in the participants' list
$('#self-mute').addEventListener('click', () => {
  const track = pc?.getSenders()[0]?.track;
  if (!track) return;
  track.enabled = !track.enabled;
  const button = $('#self-mute');
  button.setAttribute('aria-pressed', String(!track.enabled));
  button.textContent = t(track.enabled ? 'ui.conferences.mute_me' : 'ui.conferences.unmute_me');
});

$('#leave').addEventListener('click', async () => {
  const leaving = legId;
  hangUp();
  legId = null;
  if (leaving) await act(() => del(`${path}/legs/${leaving}`));
});
$('#mute-all').addEventListener('click', () => act(() => post(`${path}/mute-all`, { muted: true })));
$('#unmute-all').addEventListener('click', () => act(() => post(`${path}/mute-all`, { muted: false })));
$('#lock').addEventListener('click', () => act(() => post(`${path}/lock`, { locked: !conference.locked })));
$('#end').addEventListener('click', async () => {
  if (!(await confirmDialog(t('ui.conferences.end_confirm')))) return;
  await act(() => post(`${path}/end`));
  hangUp();
  legId = null;
  paint();
});
window.addEventListener('pagehide', () => {
  if (legId) api('DELETE', `${path}/legs/${legId}`).catch(() => {});
});

load().catch(fail);
setInterval(() => { if (conference?.organiser && conference.state === 'open') load().catch(() => {}); }, 3000);
