// SIP phones: a number's SIP account on the numbers page (status, the password shown once in a
// dialog, a new password, remove) and the SIP calls on the call history page. Everything goes
// through the SIP REST API, which says what the user may do; this only words what it says.

import { del, get, post } from './api.js';
import { formatDateTime, formatDuration, t } from './i18n.js';
import { $, $$, button, cell, confirmDialog, toast } from './ui.js';

const credentials = (n) => `/numbers/${encodeURIComponent(n.e164)}/sip-credentials`;
const SECRET_FIELDS = ['username', 'password', 'domain', 'registrar', 'transports'];

function line(text, className) {
  const p = document.createElement('p');
  p.className = className;
  p.textContent = text;
  return p;
}

function registeredPhones(contacts) {
  if (contacts === null || contacts === undefined) return [line(t('ui.sip.registered_unknown'), 'small muted sip-registered')];
  if (!contacts.length) return [line(t('ui.sip.registered_none'), 'small sip-registered')];
  const list = document.createElement('ul');
  list.className = 'sip-contacts';
  list.append(...contacts.map((contact) => {
    const li = document.createElement('li');
    const code = document.createElement('code');
    code.textContent = contact;
    li.append(code);
    return li;
  }));
  return [line(t('ui.sip.registered_count', { count: contacts.length }), 'small sip-registered'), list];
}

/** Draw the SIP section of number `n` from its account (null: none). */
function draw(n, box, row, account) {
  box.dataset.sip = account ? 'account' : 'none';
  const heading = document.createElement('h3');
  heading.textContent = t('ui.sip.title');
  const actions = document.createElement('div');
  actions.className = 'actions';
  const parts = [heading];
  if (account) {
    parts.push(line(t('ui.sip.made_on', { date: formatDateTime(account.rotated_at) }), 'small sip-status'));
    parts.push(...registeredPhones(account.registered));
    actions.append(
      button(t('ui.sip.rotate'), 'btn-ghost act-sip-rotate', () => issue(n, box, row, true)),
      button(t('ui.sip.remove'), 'btn-ghost act-sip-remove', () => remove(n, box, row)),
    );
  } else {
    parts.push(line(t('ui.sip.none'), 'small sip-status'));
    actions.append(button(t('ui.sip.make'), 'btn-primary act-sip-make', () => issue(n, box, row, false)));
  }
  box.replaceChildren(...parts, actions);
}

/** Fill the SIP section of number `n`; the row goes when the API says the user may not manage
 * the number's SIP account. */
async function fill(n, box, row) {
  let account = null;
  try {
    account = await get(credentials(n));
  } catch (err) {
    if (err.code !== 'sip_credentials_not_found') {
      if (err.status === 403 || err.status === 404) row.remove();
      else box.replaceChildren(line(err.message, 'form-error'));
      return;
    }
  }
  draw(n, box, row, account);
}

/** A row under number `n` of "my numbers" holding its SIP section. */
export function sipRow(n, columns) {
  const tr = document.createElement('tr');
  tr.className = 'sip-row';
  tr.dataset.sipFor = n.national;
  const td = document.createElement('td');
  td.colSpan = columns;
  td.className = 'sip-cell';
  td.dataset.label = '';
  const box = document.createElement('div');
  box.className = 'sip-box';
  td.append(box);
  tr.append(td);
  fill(n, box, tr);
  return tr;
}

// -- the password, shown once ---------------------------------------------------------------

const dialog = $('#sip-dialog');

function showOnce(n, issued) {
  $('#sip-dialog-title').textContent = t('ui.sip.dialog_title', { number: n.national });
  for (const name of SECRET_FIELDS) {
    const value = issued[name];
    $(`#sip-${name}`).textContent = Array.isArray(value) ? value.join(', ') : value;
  }
  for (const b of $$('.act-copy', dialog)) b.textContent = t('ui.sip.copy');
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      for (const name of SECRET_FIELDS) $(`#sip-${name}`).textContent = ''; // never seen again
      resolve();
    }, { once: true });
    dialog.showModal();
  });
}

async function copy(b) {
  const value = $(`#${b.dataset.copy}`);
  try {
    await navigator.clipboard.writeText(value.textContent);
    b.textContent = t('ui.sip.copied');
  } catch {
    // no clipboard here (a page not served over HTTPS): select it for the user to copy
    const range = document.createRange();
    range.selectNodeContents(value);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    b.textContent = t('ui.sip.copy_by_hand');
  }
}

dialog?.addEventListener('click', (event) => {
  const b = event.target.closest('.act-copy');
  if (b) copy(b);
});

async function issue(n, box, row, rotating) {
  if (rotating && !await confirmDialog(t('ui.sip.rotate_question', { number: n.national }))) return;
  let issued;
  try {
    issued = await post(credentials(n));
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  await showOnce(n, issued);
  await fill(n, box, row);
}

async function remove(n, box, row) {
  if (!await confirmDialog(t('ui.sip.remove_question', { number: n.national }))) return;
  try {
    await del(credentials(n));
    toast(t('ui.sip.removed', { number: n.national }));
  } catch (err) {
    toast(err.message, { error: true });
  }
  await fill(n, box, row);
}

// -- the SIP calls (call history page) --------------------------------------------------------

function translated(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

function caller(call) {
  if (!call.withheld) return call.calling_number || t('ui.sipcalls.unknown');
  // the API gives the number only to the caller themself
  const withheld = t('ui.sipcalls.withheld');
  return call.calling_number ? `${call.calling_number} (${withheld})` : withheld;
}

function sipCallRow(call) {
  const tr = document.createElement('tr');
  tr.dataset.callId = call.id;
  tr.dataset.outcome = call.outcome || '';
  cell(tr, formatDateTime(call.created_at));
  cell(tr, translated(`ui.sipcalls.direction.${call.direction}`, call.direction));
  cell(tr, caller(call));
  cell(tr, call.called_number || t('ui.sipcalls.unknown'));
  const outcome = call.outcome && !(call.outcome === 'answered' && !call.ended_at)
    ? translated(`ui.outcome.${call.outcome}`, call.outcome) : t('ui.sipcalls.in_progress');
  cell(tr, outcome, 'sip-outcome');
  cell(tr, call.ended_at && call.answered_at ? formatDuration(call.billable_seconds) : '—', 'num');
  cell(tr, call.pdd_ms === null ? '—' : t('ui.sipcalls.pdd_ms', { ms: call.pdd_ms }), 'num');
  return tr;
}

export async function loadSipCalls() {
  const empty = $('#sip-calls-empty');
  let calls;
  try {
    calls = await get('/sip/calls', { limit: 50 });
  } catch (err) {
    empty.textContent = err.message;
    empty.hidden = false;
    return;
  }
  $('#sip-call-rows').replaceChildren(...calls.map(sipCallRow));
  empty.hidden = calls.length > 0;
}
