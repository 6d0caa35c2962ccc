// Do-not-disturb as the user reads it: the server's state (on, why, until when) in words, and
// a schedule's days and times. The rules stay on the server; this only words what it says.

import { locale, t } from './i18n.js';

/** A moment in the schedules' time zone: "22:00", or "Mon 22:00" when not within a day. */
export function moment(iso, timeZone) {
  if (!iso) return '';
  const at = new Date(iso);
  const withinDay = Math.abs(at - Date.now()) < 20 * 3600 * 1000;
  const options = { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  if (!withinDay) options.weekday = 'short';
  return new Intl.DateTimeFormat(locale, options).format(at);
}

/** The name of the schedules' time zone in the page's language ("China Standard Time"). */
export function zoneName(timeZone) {
  const parts = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: 'long' }).formatToParts(new Date());
  return parts.find((p) => p.type === 'timeZoneName')?.value || timeZone;
}

/** What GET /presence/dnd (or the presence.dnd event, with the time zone) says, in words. */
export function describe(state, timeZone) {
  if (state.on && state.reason === 'manual') return t('ui.dnd.state.manual');
  if (state.on) return t('ui.dnd.state.schedule', { until: moment(state.until, timeZone) });
  if (state.paused_until) return t('ui.dnd.state.paused', { until: moment(state.paused_until, timeZone) });
  if (state.next_start) return `${t('ui.dnd.state.off')} · ${t('ui.dnd.state.next', { at: moment(state.next_start, timeZone) })}`;
  return t('ui.dnd.state.off');
}

/** A schedule's days and window: "Workdays · 22:00–07:30 (next day)". */
export function scheduleLine(schedule) {
  const days = schedule.days === 'weekdays'
    ? schedule.weekdays.map((d) => t(`ui.dnd.weekday.${d}`)).join(' ')
    : t(`ui.dnd.days.${schedule.days}`);
  let window = `${schedule.start}–${schedule.end}`;
  if (schedule.whole_day) window += ` (${t('ui.dnd.whole_day')})`;
  else if (schedule.overnight) window += ` (${t('ui.dnd.overnight')})`;
  return `${days} · ${window}`;
}
