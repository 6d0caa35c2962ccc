// One meeting: number, passcode and join link; for its host also invitations, edit, end for all
// (or cancel), and what happened: attendance, the chat export and the recordings. What the
// viewer may do comes from the API (can_join, can_edit, can_invite, can_end, can_see_history);
// is_host only chooses words.

import { get, post } from '../api.js';
import '../app.js';
import { formatDateTime, formatDuration, t } from '../i18n.js';
import {
  formatNumber, joinPath, joinUrl, recurrenceText, roleName, statusLabel, statusOf, statusTag, whenText,
} from '../meeting/format.js';
import { $, $$, clearErrors, confirmDialog, onSubmit, showErrors, toast } from '../ui.js';

const SETTING_KEYS = {
  waiting_room: 'ui.meetings.setting.waiting_room',
  mute_on_entry: 'ui.meetings.setting.mute_on_entry',
  ask_to_unmute: 'ui.meetings.setting.ask_to_unmute',
  allow_guests: 'ui.meetings.setting.allow_guests',
  allow_screen_share: 'ui.meetings.setting.allow_screen_share',
  allow_chat: 'ui.meetings.setting.allow_chat',
  allow_recording: 'ui.meetings.setting.allow_recording',
};

const root = $('#meeting-detail');
const id = root.dataset.meetingId;
const api = `/api/v1/meetings/${id}`;
let meeting = null;

function paint() {
  const status = statusOf(meeting);
  const hosting = meeting.is_host; // words only: what may be done is in the can_* flags
  root.dataset.status = status;
  $('#m-title').textContent = meeting.title || t('ui.meetings.untitled');
  $('#m-when').textContent = whenText(meeting);
  const tag = $('#m-status');
  tag.textContent = statusLabel(meeting);
  tag.className = `tag ${statusTag(meeting)}`;
  $('#m-number').textContent = formatNumber(meeting.number);
  $('#m-passcode').textContent = meeting.passcode || (hosting ? t('ui.meetings.no_passcode') : '—');
  $('#m-recurrence').textContent = recurrenceText(meeting) || t('ui.meetings.recurrence.none');
  const settings = meeting.settings || {};
  const on = Object.entries(SETTING_KEYS).filter(([name]) => settings[name]).map(([, key]) => t(key));
  if (settings.max_participants) on.push(t('ui.meetings.max_people', { count: settings.max_participants }));
  $('#m-settings').textContent = on.join(' · ') || '—';
  $('#m-link').value = joinUrl(meeting);
  const join = $('#join-meeting');
  join.href = joinPath(meeting);
  join.hidden = !meeting.can_join;
  join.textContent = t(hosting ? 'ui.meetings.start' : 'ui.meeting.join');
  $('#edit-meeting').hidden = !meeting.can_edit;
  const end = $('#end-meeting');
  end.hidden = !meeting.can_end;
  end.textContent = t(status === 'live' ? 'ui.meeting.end_for_all' : 'ui.meetings.cancel_meeting');
  for (const el of $$('.host-only')) el.hidden = !meeting.can_see_history;
  $('#invite-card').hidden = !meeting.can_invite;
  $('#detail-body').hidden = false;
  $('#chat-csv').href = `${api}/chat?format=csv`;
  $('#chat-json').href = `${api}/chat?format=json`;
}

async function loadMeeting() {
  try {
    meeting = await get(`/meetings/${id}`);
  } catch (err) {
    $('#detail-error').textContent = err.message;
    $('#detail-error').hidden = false;
    return false;
  }
  paint();
  return true;
}

async function loadAttendance() {
  let rows = [];
  try {
    rows = await get(`/meetings/${id}/attendance`);
  } catch {
    // not the host, or nothing yet
  }
  const template = $('#attendance-row');
  $('#attendance-rows').replaceChildren(...rows.map((a) => {
    const tr = template.content.firstElementChild.cloneNode(true);
    tr.dataset.participantId = a.participant_id;
    tr.querySelector('.a-name').textContent = a.guest ? `${a.name} (${t('ui.meeting.role.guest')})` : a.name;
    tr.querySelector('.a-role').textContent = a.role ? t(roleName(a.role)) : '';
    tr.querySelector('.a-joined').textContent = formatDateTime(a.joined_at);
    tr.querySelector('.a-left').textContent = a.left_at ? formatDateTime(a.left_at) : '—';
    tr.querySelector('.a-minutes').textContent = a.minutes.toFixed(1);
    return tr;
  }));
  $('#attendance-empty').hidden = rows.length > 0;
}

async function loadRecordings() {
  let recordings = [];
  try {
    recordings = await get(`/meetings/${id}/recordings`);
  } catch {
    // not the host, or recording is off
  }
  // one playable file per participant and recording, once the recording is processed
  const template = $('#recording-row');
  const items = recordings.flatMap((r) => (r.files || []).map((file) => ({ r, file })));
  $('#recordings').replaceChildren(...items.map(({ r, file }) => {
    const li = template.content.firstElementChild.cloneNode(true);
    li.querySelector('.r-when').textContent = `${formatDateTime(r.started_at)} · ${file.name}`;
    const details = [];
    if (file.duration_s) details.push(formatDuration(file.duration_s));
    if (file.size_bytes) details.push(`${(file.size_bytes / 1_048_576).toFixed(1)} MB`);
    li.querySelector('.r-size').textContent = details.join(' · ');
    li.querySelector('.r-download').href = `${api}/recordings/${r.id}/files/${encodeURIComponent(file.name)}`;
    return li;
  }));
  const pending = recordings.filter((r) => r.status === 'recording' || r.status === 'processing').length;
  const failed = recordings.filter((r) => r.status === 'failed').length;
  $('#recordings-status').textContent = [
    pending ? t('ui.meetings.recordings_pending', { count: pending }) : '',
    failed ? t('ui.meetings.recordings_failed', { count: failed }) : '',
  ].filter(Boolean).join(' ');
  $('#recordings-empty').hidden = items.length > 0 || recordings.length > 0;
}

async function loadContacts() {
  let contacts = [];
  try {
    contacts = await get('/contacts');
  } catch {
    // inviting by e-mail still works
  }
  const template = $('#invite-contact');
  $('#invite-contacts').replaceChildren(...contacts.map((c) => {
    const label = template.content.firstElementChild.cloneNode(true);
    label.querySelector('input').value = c.user_id;
    label.querySelector('.c-name').textContent = c.name;
    label.querySelector('.c-username').textContent = `@${c.username}`;
    return label;
  }));
  $('#invite-contacts-empty').hidden = contacts.length > 0;
}

const inviteForm = $('#invite-form');
onSubmit(inviteForm, async () => {
  clearErrors(inviteForm);
  const userIds = $$('input[name=user_ids]:checked', inviteForm).map((box) => Number(box.value));
  const emails = inviteForm.elements.emails.value.split(/[\s,;]+/).filter(Boolean);
  if (!userIds.length && !emails.length) {
    showErrors(inviteForm, { fields: {}, message: t('ui.meetings.invite_nobody') });
    return;
  }
  let sent;
  try {
    sent = await post(`/meetings/${id}/invitations`, { user_ids: userIds, emails });
  } catch (err) {
    showErrors(inviteForm, err);
    return;
  }
  inviteForm.reset();
  toast(t('ui.meetings.invited_count', { users: sent.users, emails: sent.emails }));
});

$('#copy-link').addEventListener('click', async () => {
  const input = $('#m-link');
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    document.execCommand('copy');
  }
  toast(t('ui.meetings.copied'));
});

$('#end-meeting').addEventListener('click', async () => {
  const live = statusOf(meeting) === 'live';
  if (!(await confirmDialog(t(live ? 'ui.meeting.confirm_end' : 'ui.meetings.confirm_cancel')))) return;
  try {
    await post(`/meetings/${id}/end`);
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  await loadMeeting();
});

if (await loadMeeting() && meeting.can_see_history) {
  await Promise.all([loadAttendance(), loadRecordings(), loadContacts()]);
}
