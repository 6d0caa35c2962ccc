// What the billing pages share: money in fen shown as yuan, rates, names of codes the API
// returns, times in the business time zone, and small table and dispute renderers.

import { locale, t } from './i18n.js';
import { toast } from './ui.js';

const BUSINESS_TZ = document.querySelector('meta[name="yt-business-tz"]')?.content || 'Asia/Shanghai';

// code -> ui.* key; an unknown code (say a usage type added later) is shown as it is
export const USAGE = {
  'call.audio': 'ui.usage.call.audio',
  'call.video': 'ui.usage.call.video',
  'meeting.video': 'ui.usage.meeting.video',
  'meeting.audio': 'ui.usage.meeting.audio',
  'call.outside': 'ui.usage.call.outside',
};
export const ACCOUNT_STATE = {
  active: 'ui.billing.state.active',
  suspended: 'ui.billing.state.suspended',
  held: 'ui.billing.state.held',
  terminating: 'ui.billing.state.terminating',
  terminated: 'ui.billing.state.terminated',
};
// what to do about the account's standing, by the API's `attention`
export const ATTENTION_HELP = {
  credit_exhausted: 'ui.billing.state_help.credit_exhausted',
  suspended: 'ui.billing.state_help.suspended',
  held: 'ui.billing.state_help.held',
  terminating: 'ui.billing.state_help.terminating',
  terminated: 'ui.billing.state_help.terminated',
};
export const STATE_REASON = {
  non_payment: 'ui.billing.reason.non_payment',
  customer_request: 'ui.billing.reason.customer_request',
};
export const ACCOUNT_KIND = { postpaid: 'ui.billing.kind.postpaid', prepaid: 'ui.billing.kind.prepaid' };
export const PRODUCT_KIND = { package: 'ui.prices.kind.package', addon: 'ui.prices.kind.addon' };
export const STATEMENT_KIND = {
  cycle: 'ui.statement.kind.cycle',
  first: 'ui.statement.kind.first',
  final: 'ui.statement.kind.final',
};
export const PAYMENT_METHOD = {
  bank_transfer: 'ui.payment.method.bank_transfer',
  cash: 'ui.payment.method.cash',
  card: 'ui.payment.method.card',
  provider: 'ui.payment.method.provider',
};
export const DISPUTE_STATE = {
  open: 'ui.dispute.state.open',
  investigating: 'ui.dispute.state.investigating',
  credited: 'ui.dispute.state.credited',
  explained: 'ui.dispute.state.explained',
};
export const DISPUTE_ACTION = {
  opened: 'ui.dispute.action.opened',
  investigating: 'ui.dispute.action.investigating',
  credited: 'ui.dispute.action.credited',
  explained: 'ui.dispute.action.explained',
};
export const CLAIM_OUTCOME = {
  open: 'ui.device.outcome.open',
  repaired: 'ui.device.outcome.repaired',
  replaced: 'ui.device.outcome.replaced',
  refused: 'ui.device.outcome.refused',
};
const TAG_OF = {
  active: 'tag-ok', credited: 'tag-ok', explained: 'tag-ok', repaired: 'tag-ok', replaced: 'tag-ok',
  suspended: 'tag-danger', held: 'tag-danger', terminated: 'tag-danger', refused: 'tag-danger',
  terminating: 'tag-warn', open: 'tag-warn', investigating: 'tag-warn',
};

export function named(names, code) {
  return code in names ? t(names[code]) : String(code ?? '');
}

// -- money -----------------------------------------------------------------------------------

/** 123456 → "1,234.56" (integer arithmetic: fen never pass through a float). */
export function yuan(fen) {
  const abs = Math.abs(fen);
  const whole = Math.floor(abs / 100).toLocaleString('en-US');
  return `${fen < 0 ? '-' : ''}${whole}.${String(abs % 100).padStart(2, '0')}`;
}

/** 123456 → "1,234.56 元" / "¥1,234.56"; negative amounts (in the customer's favour) keep the sign. */
export function money(fen) {
  return `${fen < 0 ? '-' : ''}${t('ui.money', { amount: yuan(Math.abs(fen)) })}`;
}

/** "12.5" yuan as typed → 1250 fen; null when it is not a plain amount with at most 2 decimals. */
export function parseYuan(text) {
  const match = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(text).trim());
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || '').padEnd(2, '0'));
}

/** A per-minute rate in fen as the API keeps it ("12.5") → yuan ("0.125"), at least 2 decimals. */
export function rateYuan(fenText) {
  const [whole, frac = ''] = String(fenText).split('.');
  const digits = whole.padStart(3, '0');
  const yuanPart = digits.slice(0, -2).replace(/^0+(?=\d)/, '');
  const decimals = (digits.slice(-2) + frac).replace(/0+$/, '').padEnd(2, '0');
  return `${yuanPart}.${decimals}`;
}

/** A per-minute rate typed in yuan ("0.125") → fen as the API takes it ("12.5"); null if malformed. */
export function rateFen(yuanText) {
  const match = /^(\d{1,7})(?:\.(\d{1,6}))?$/.exec(String(yuanText).trim());
  if (!match) return null;
  const frac = (match[2] || '').padEnd(2, '0');
  const whole = `${match[1]}${frac.slice(0, 2)}`.replace(/^0+(?=\d)/, '');
  const rest = frac.slice(2).replace(/0+$/, '');
  return rest ? `${whole}.${rest}` : whole;
}

/** "0.15 元/分钟，6/6 计费" (plus the connect fee when there is one). */
export function formatRate(rate) {
  const text = t('ui.prices.rate', { price: rateYuan(rate.per_minute_fen), increment: rate.increment });
  if (!rate.connect_fee_fen) return text;
  return `${text} ${t('ui.prices.connect_fee', { fee: money(rate.connect_fee_fen) })}`;
}

export function formatAllowance(seconds) {
  const minutes = Math.round((seconds / 60) * 100) / 100;
  return t('ui.prices.minutes', { minutes: minutes.toLocaleString(locale) });
}

// -- time in the business time zone -----------------------------------------------------------

const zoned = (options) => new Intl.DateTimeFormat(locale, { timeZone: BUSINESS_TZ, hourCycle: 'h23', ...options });
const dateTimeFormat = zoned({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
const dateFormat = zoned({ year: 'numeric', month: '2-digit', day: '2-digit' });

export const bizDateTime = (iso) => (iso ? dateTimeFormat.format(new Date(iso)) : '');
export const bizDate = (iso) => (iso ? dateFormat.format(new Date(iso)) : '');

/** A day the API sends as "2026-01-20": shown as it is, it is already a business-zone day. */
export const day = (isoDay) => isoDay || '';

/** A datetime-local value ("2026-01-20T10:00"), read as business-zone time, as an ISO instant. */
export function zonedInputToIso(value) {
  const [datePart, timePart = '00:00'] = value.split('T');
  const [y, mo, d] = datePart.split('-').map(Number);
  const [h, mi] = timePart.split(':').map(Number);
  const guess = Date.UTC(y, mo - 1, d, h, mi);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: BUSINESS_TZ, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric',
    }).formatToParts(new Date(guess)).map((p) => [p.type, p.value]),
  );
  const seen = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute);
  return new Date(guess - (seen - guess)).toISOString();
}

export function formatSeconds(total) {
  if (total === null || total === undefined) return '';
  const m = Math.floor(total / 60);
  const s = total % 60;
  return t('ui.statement.duration', { m, s: String(s).padStart(2, '0') });
}

// -- DOM -------------------------------------------------------------------------------------

/** <tag class> with text or child nodes. */
export function el(tag, className = '', ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function row(cells, { numeric = [] } = {}) {
  const tr = document.createElement('tr');
  cells.forEach((content, index) => tr.append(el('td', numeric.includes(index) ? 'num' : '', content)));
  return tr;
}

export function stateTag(names, code) {
  return el('span', `tag ${TAG_OF[code] || ''}`.trim(), named(names, code));
}

export function button(label, className, onClick) {
  const b = el('button', `btn btn-sm ${className}`, label);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

export function link(href, label, { download = false } = {}) {
  const a = el('a', '', label);
  a.href = href;
  if (download) a.setAttribute('download', '');
  return a;
}

/** Show an API failure as a toast (the message is already in the page's language). */
export function fail(err) {
  toast(err.status === 0 ? t('ui.common.network_error') : err.message, { error: true });
}

/** Fill a table body with statement lines; `extra(line, index)` adds a last cell when given. */
export function renderLines(tbody, lines, extra = null) {
  tbody.replaceChildren(...lines.map((line, index) => {
    const tr = row(
      [
        bizDateTime(line.occurred_at),
        line.description,
        line.other_party,
        formatSeconds(line.duration_s),
        line.rate,
        money(line.amount_fen),
      ],
      { numeric: [3, 5] },
    );
    tr.dataset.kind = line.kind;
    tr.children[5].classList.add('amount');
    tr.classList.toggle('credit', line.amount_fen < 0);
    if (extra) tr.append(el('td', 'num', extra(line, index)));
    return tr;
  }));
}

/** The operator's explanation of a resolved dispute (VP 6), or null while it is open. */
export function disputeExplanation(dispute) {
  if (!dispute.explanation) return null;
  return el('div', 'small explanation', el('strong', '', t('ui.dispute.explanation')), ' ', dispute.explanation);
}

/** A dispute's state, with the amount credited once there is one and the operator's explanation. */
export function disputeStatus(dispute) {
  return el('span', '', stateTag(DISPUTE_STATE, dispute.state),
    dispute.credited_fen ? el('div', 'small', t('ui.dispute.credited', { amount: money(dispute.credited_fen) })) : null,
    disputeExplanation(dispute));
}

/** A terminal's last day of warranty, marked when the warranty is void. */
export function warranty(device) {
  return el('span', '', day(device.warranty_ends), device.warranty_void ? ' ' : null,
    device.warranty_void ? el('span', 'tag tag-danger', t('ui.device.void')) : null);
}

/** A dispute's steps: what happened, when, and the note that came with it. */
export function disputeSteps(dispute) {
  return el('ol', 'steps', ...dispute.events.map((event) => el(
    'li',
    '',
    el('strong', '', named(DISPUTE_ACTION, event.action)),
    ' ',
    el('span', 'muted small', bizDateTime(event.at)),
    event.note ? el('div', 'small', event.note) : null,
  )));
}

/** A fresh idempotency key for one submission of a form. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A product's name and description in the page's language. */
export const productName = (product) => (locale === 'zh-CN' ? product.name_zh : product.name_en);
export const productDescription = (product) => (locale === 'zh-CN' ? product.description_zh : product.description_en);
