// How a meeting reads on the list and details pages: its link, status, time and repetition.
// What the viewer may do with it is the API's can_* flags; nothing here decides that.

import { formatDateTime, t } from '../i18n.js';


const STATUS_KEYS = {
  scheduled: 'ui.meetings.status.scheduled',
  live: 'ui.meetings.status.live',
  ended: 'ui.meetings.status.ended',
};
const STATUS_TAGS = { live: 'tag-ok', scheduled: 'tag-warn' };
const ROLE_KEYS = {
  host: 'ui.meeting.role.host',
  cohost: 'ui.meeting.role.cohost',
  participant: 'ui.meeting.role.participant',
  guest: 'ui.meeting.role.guest',
};
const RECURRENCE_KEYS = {
  daily: 'ui.meetings.recurrence.daily',
  weekly: 'ui.meetings.recurrence.weekly',
  weekdays: 'ui.meetings.recurrence.weekdays',
};

/** A meeting number as people read it: 123 456 789. */
export function formatNumber(number) {
  const digits = String(number || '');
  return digits.length === 9 ? `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}` : digits;
}

/** The join link's path, with the passcode when we know it. */
export function joinPath(meeting) {
  const pwd = meeting.passcode ? `?pwd=${encodeURIComponent(meeting.passcode)}` : '';
  return `/m/${meeting.number}${pwd}`;
}

/** The full join link: the server's (at its public URL when one is set), else on this site. */
export function joinUrl(meeting) {
  return new URL(meeting.join_url || joinPath(meeting), location.origin).href;
}

/** scheduled | live | ended */
export function statusOf(meeting) {
  return STATUS_KEYS[meeting.status] ? meeting.status : 'scheduled';
}

export function statusLabel(meeting) {
  return t(STATUS_KEYS[statusOf(meeting)]);
}

export function statusTag(meeting) {
  return STATUS_TAGS[statusOf(meeting)] || '';
}

/** When it starts (or started) and for how long, in the viewer's language. */
export function whenText(meeting) {
  const start = meeting.status === 'live' && meeting.started_at ? meeting.started_at : meeting.start_at;
  const parts = [formatDateTime(start)];
  if (meeting.duration_min) parts.push(t('ui.meetings.minutes', { minutes: meeting.duration_min }));
  return parts.filter(Boolean).join(' · ');
}

export function recurrenceText(meeting) {
  const label = RECURRENCE_KEYS[meeting.recurrence] ? t(RECURRENCE_KEYS[meeting.recurrence]) : '';
  if (!label || !meeting.recurrence_count) return label;
  return t('ui.meetings.recurrence.times', { label, count: meeting.recurrence_count });
}

/** The i18n key of a meeting role's name. */
export function roleName(role) {
  return ROLE_KEYS[role] || ROLE_KEYS.participant;
}
