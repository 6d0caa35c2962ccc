// The page's ui.* strings (rendered by the server into #yt-i18n) and a tiny formatter.

const catalog = JSON.parse(document.getElementById('yt-i18n')?.textContent || '{}');

export const locale = document.documentElement.lang || 'zh-CN';

/** Translate `key`, filling `{name}` placeholders from `params`. */
export function t(key, params = {}) {
  const text = catalog[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDateTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '';
}

/** Seconds as m:ss or h:mm:ss. */
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
