// Meetings: upcoming and past, a new instant meeting in one click, join by number.

import { get, post } from '../api.js';
import { me } from '../app.js';
import { t } from '../i18n.js';
import { formatNumber, joinPath, recurrenceText, statusLabel, statusOf, statusTag, whenText } from '../meeting/format.js';
import { $, $$, clearErrors, onSubmit, showErrors, toast } from '../ui.js';

const rows = $('#meetings-rows');
const rowTemplate = $('#meeting-row');
let scope = new URLSearchParams(location.search).get('scope') === 'past' ? 'past' : 'upcoming';

async function load() {
  for (const tab of $$('[data-scope]')) tab.setAttribute('aria-selected', String(tab.dataset.scope === scope));
  let meetings;
  try {
    meetings = await get('/meetings', { scope });
    $('#meetings-error').hidden = true;
  } catch (err) {
    $('#meetings-error').textContent = err.message;
    $('#meetings-error').hidden = false;
    return;
  }
  rows.replaceChildren(...meetings.map(row));
  rows.setAttribute('aria-busy', 'false');
  $('#meetings-empty').hidden = meetings.length > 0;
}

function row(meeting) {
  const tr = rowTemplate.content.firstElementChild.cloneNode(true);
  const status = statusOf(meeting);
  tr.dataset.meetingId = meeting.id;
  tr.dataset.number = meeting.number;
  tr.dataset.status = status;
  tr.querySelector('.m-when').textContent = whenText(meeting);
  const link = tr.querySelector('.m-link');
  link.textContent = meeting.title || t('ui.meetings.untitled');
  link.href = `/meetings/${meeting.id}`;
  const repeat = tr.querySelector('.m-recurrence');
  repeat.textContent = recurrenceText(meeting);
  repeat.hidden = !repeat.textContent;
  const role = tr.querySelector('.m-role');
  role.textContent = t('ui.meetings.invited');
  role.hidden = meeting.is_host;
  tr.querySelector('.m-number').textContent = formatNumber(meeting.number);
  const tag = tr.querySelector('.m-status .tag');
  tag.textContent = statusLabel(meeting);
  if (statusTag(meeting)) tag.classList.add(statusTag(meeting));
  const join = tr.querySelector('.act-join');
  join.href = joinPath(meeting);
  join.hidden = !meeting.can_join; // the API says; a scheduled meeting opens 30 min early
  const details = tr.querySelector('.act-details');
  details.href = `/meetings/${meeting.id}`;
  return tr;
}

async function startInstant() {
  const button = $('#new-instant');
  button.disabled = true;
  try {
    const meeting = await post('/meetings', {
      title: t('ui.meetings.instant_title', { name: me?.display_name || '' }),
      kind: 'instant',
    });
    location.href = joinPath(meeting);
  } catch (err) {
    toast(err.message, { error: true });
    button.disabled = false;
  }
}

const joinForm = $('#join-form');
onSubmit(joinForm, async () => {
  clearErrors(joinForm);
  const number = joinForm.elements.number.value.replace(/\D/g, '');
  if (number.length !== 9) {
    showErrors(joinForm, { fields: { number: { message: t('ui.meetings.number_invalid') } }, message: t('ui.meetings.number_invalid') });
    return;
  }
  location.href = `/m/${number}`;
});

for (const tab of $$('[data-scope]')) {
  tab.addEventListener('click', () => {
    scope = tab.dataset.scope;
    history.replaceState(null, '', `?scope=${scope}`);
    load();
  });
}
$('#new-instant').addEventListener('click', startInstant);
await load();
