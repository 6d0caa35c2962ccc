// Wall-clock time in a named time zone (IANA) ⇄ instants, with nothing but Intl.

const FIELDS = ['year', 'month', 'day', 'hour', 'minute', 'second'];

function wallClock(instant, timeZone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(instant);
  const value = Object.fromEntries(parts.filter((p) => FIELDS.includes(p.type)).map((p) => [p.type, Number(p.value)]));
  return value;
}

/** How far `timeZone` is ahead of UTC at `instant`, in milliseconds. */
function offsetMs(instant, timeZone) {
  const w = wallClock(instant, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** The instant when clocks in `timeZone` show `date` (YYYY-MM-DD) `time` (HH:MM). */
export function zonedToInstant(date, time, timeZone) {
  const [y, mo, d] = date.split('-').map(Number);
  const [h, mi] = time.split(':').map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  let guess = new Date(wall - offsetMs(new Date(wall), timeZone));
  guess = new Date(wall - offsetMs(guess, timeZone)); // again, in case a DST change lies between
  return guess;
}

/** {date: 'YYYY-MM-DD', time: 'HH:MM'} of an instant on the clocks of `timeZone`. */
export function instantToZoned(instant, timeZone) {
  const w = wallClock(new Date(instant), timeZone);
  const two = (n) => String(n).padStart(2, '0');
  return { date: `${w.year}-${two(w.month)}-${two(w.day)}`, time: `${two(w.hour)}:${two(w.minute)}` };
}

export function browserTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function timeZones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['Asia/Shanghai', 'UTC'];
  }
}
