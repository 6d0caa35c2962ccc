// Schedule a meeting (POST /meetings) or change one (PATCH /meetings/{id}): title, start in a
// chosen time zone, duration, repetition and the meeting's settings.

import { get, patch, post } from '../api.js';
import '../app.js';
import { formatDateTime, t } from '../i18n.js';
import { browserTimeZone, instantToZoned, timeZones, zonedToInstant } from '../meeting/zoned.js';
import { $, clearErrors, formValues, onSubmit, showErrors } from '../ui.js';

// MeetingSettings of the API; `passcode` is not one of them but the create call's `no_passcode`
const SWITCHES = [
  'waiting_room', 'mute_on_entry', 'ask_to_unmute',
  'allow_guests', 'allow_screen_share', 'allow_chat', 'allow_recording',
];

const form = $('#meeting-form');
const meetingId = form.dataset.meetingId || null;

function fillTimeZones(chosen) {
  const select = form.elements.time_zone;
  const zones = timeZones();
  if (!zones.includes(chosen)) zones.unshift(chosen);
  select.replaceChildren(...zones.map((zone) => new Option(zone.replaceAll('_', ' '), zone)));
  select.value = chosen;
}

/** The next half hour from now, on the clocks of the chosen zone. */
function defaultStart(timeZone) {
  const next = new Date(Math.ceil(Date.now() / 1_800_000) * 1_800_000);
  return instantToZoned(next, timeZone);
}

function fill(meeting) {
  const zone = meeting?.time_zone || browserTimeZone();
  fillTimeZones(zone);
  const start = meeting?.start_at ? instantToZoned(meeting.start_at, zone) : defaultStart(zone);
  form.elements.date.value = start.date;
  form.elements.time.value = start.time;
  if (!meeting) return; // the page comes with the API's defaults
  form.elements.title.value = meeting.title || '';
  if (meeting.duration_min) form.elements.duration_min.value = meeting.duration_min;
  const settings = meeting.settings || {};
  for (const name of SWITCHES) form.elements[name].checked = Boolean(settings[name]);
  if (settings.max_participants) form.elements.max_participants.value = settings.max_participants;
  if (settings.auto_end_after_empty_s) form.elements.auto_end_min.value = Math.round(settings.auto_end_after_empty_s / 60);
}

/** The body of POST /meetings, or of PATCH (which changes neither passcode nor repetition). */
function body() {
  const v = formValues(form);
  const settings = Object.fromEntries(SWITCHES.map((name) => [name, form.elements[name].checked]));
  // empty: the API's defaults, which the page was rendered with
  settings.max_participants = Number(v.max_participants) || Number(form.elements.max_participants.defaultValue);
  settings.auto_end_after_empty_s = Math.round((Number(v.auto_end_min) || Number(form.elements.auto_end_min.defaultValue)) * 60);
  const data = {
    title: v.title,
    start_at: v.date && v.time ? zonedToInstant(v.date, v.time, v.time_zone).toISOString() : null,
    duration_min: Number(v.duration_min) || 60,
    time_zone: v.time_zone,
    settings,
  };
  if (meetingId) return data;
  return {
    ...data,
    kind: 'scheduled',
    recurrence: v.recurrence || null,
    recurrence_count: v.recurrence ? Number(v.recurrence_count) || 2 : null,
    no_passcode: !form.elements.passcode.checked,
  };
}

function preview() {
  const v = formValues(form);
  $('#count-field').hidden = !v.recurrence || Boolean(meetingId);
  const local = browserTimeZone();
  $('#when-preview').textContent = v.date && v.time && v.time_zone !== local
    ? t('ui.meetings.local_time', { time: formatDateTime(zonedToInstant(v.date, v.time, v.time_zone).toISOString()) })
    : '';
}

onSubmit(form, async () => {
  clearErrors(form);
  const data = body();
  const missing = {};
  if (!data.title) missing.title = { message: t('ui.common.required') };
  if (!data.start_at) missing.start_at = { message: t('ui.common.required') };
  if (Object.keys(missing).length) {
    showErrors(form, { fields: missing, message: t('ui.meetings.fix_fields') });
    return;
  }
  try {
    const saved = meetingId ? await patch(`/meetings/${meetingId}`, data) : await post('/meetings', data);
    location.href = `/meetings/${saved?.id ?? meetingId}`;
  } catch (err) {
    showErrors(form, err);
  }
});

form.addEventListener('input', preview);
form.addEventListener('change', preview);
if (meetingId) {
  try {
    fill(await get(`/meetings/${meetingId}`));
  } catch (err) {
    showErrors(form, err);
  }
} else {
  fill(null);
}
preview();
