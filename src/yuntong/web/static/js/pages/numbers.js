// Choosing a number: search the available ones, hold one, confirm it (its monthly rent goes on
// the bill), see one's own numbers, release them, and (organisation administrators) choose the
// member each rings; a number in use has its SIP phone section (sip.js); port a number in from
// another carrier (携号转网) and get a port-out code. Everything goes through the REST API.
import '../app.js';

import { del, get, post, put } from '../api.js';
import { money } from '../billing.js';
import { formatDateTime, t } from '../i18n.js';
import { sipRow } from '../sip.js';
import { $, button, cell, clearErrors, confirmDialog, formValues, onSubmit, showErrors, toast } from '../ui.js';

const me = JSON.parse($('#yt-me')?.textContent || '{}');
const form = $('#search-form');
let members = null; // an organisation administrator's members: [{id, name}]

const path = (n) => `/numbers/${encodeURIComponent(n.e164)}`;
const place = (n) => n.place || t('ui.numbers.unknown_place');
const rent = (n) => (n.monthly_rent_fen === null ? t('ui.numbers.unpriced') : money(n.monthly_rent_fen));
const pattern = (n) => n.pattern || t('ui.numbers.pattern.plain');

async function run(request, done) {
  try {
    const result = await request();
    if (done) toast(done(result));
  } catch (err) {
    toast(err.message, { error: true });
  }
  await Promise.all([search(), loadMine()]);
}

function reserve(n) {
  return run(() => post(`${path(n)}/reserve`), (held) => t('ui.numbers.reserved', {
    number: held.national, until: formatDateTime(held.reserved_until),
  }));
}

async function confirmNumber(n) {
  if (!await confirmDialog(t('ui.numbers.confirm_question', { number: n.national, rent: rent(n) }))) return;
  await run(() => post(`${path(n)}/assign`), () => t('ui.numbers.confirmed', { number: n.national }));
}

async function release(n) {
  if (!await confirmDialog(t('ui.numbers.release_question', { number: n.national }))) return;
  await run(() => post(`${path(n)}/release`), () => t('ui.numbers.released', { number: n.national }));
}

async function search() {
  const query = formValues(form);
  let found;
  try {
    found = await get('/numbers/search', query);
  } catch (err) {
    showErrors(form, err);
    return;
  }
  $('#result-rows').replaceChildren(...found.map((n) => {
    const tr = document.createElement('tr');
    tr.dataset.number = n.national;
    cell(tr, n.national);
    cell(tr, place(n));
    cell(tr, t(`ui.numbers.kind.${n.kind}`));
    cell(tr, pattern(n));
    cell(tr, rent(n), 'num');
    const actions = document.createElement('div');
    actions.className = 'actions';
    if (n.monthly_rent_fen !== null) {
      actions.append(button(t('ui.numbers.reserve'), 'btn-primary act-reserve', () => reserve(n)));
    }
    cell(tr, actions, 'num');
    return tr;
  }));
  $('#results-empty').hidden = found.length > 0;
}

function memberSelect(n) {
  const select = document.createElement('select');
  select.setAttribute('aria-label', t('ui.numbers.col.member'));
  const nobody = new Option(t('ui.numbers.nobody'), '');
  select.append(nobody, ...members.map((m) => new Option(m.name, String(m.id))));
  select.value = n.user_id ? String(n.user_id) : '';
  const row = document.createElement('div');
  row.className = 'row';
  row.append(select, button(t('ui.numbers.give'), 'btn-ghost act-member', () => run(
    () => put(`${path(n)}/member`, { user_id: select.value ? Number(select.value) : null }),
    () => t('ui.numbers.member_set'),
  )));
  return row;
}

async function loadMine() {
  const mine = await get('/numbers/mine');
  $('#mine-rows').replaceChildren(...mine.flatMap((n) => {
    const tr = document.createElement('tr');
    tr.dataset.number = n.national;
    cell(tr, n.national);
    cell(tr, place(n));
    const held = n.state === 'reserved';
    cell(tr, held ? t('ui.numbers.held_until', { until: formatDateTime(n.reserved_until) })
      : t(`ui.numbers.state.${n.state}`));
    cell(tr, rent(n), 'num');
    if (members && n.holder_organisation_id && !held) cell(tr, memberSelect(n));
    else cell(tr, '');
    const actions = document.createElement('div');
    actions.className = 'actions';
    if (held) {
      actions.append(
        button(t('ui.numbers.confirm'), 'btn-primary act-confirm', () => confirmNumber(n)),
        button(t('ui.numbers.cancel_hold'), 'btn-ghost act-cancel', () => run(
          () => del(`${path(n)}/reserve`), () => t('ui.numbers.hold_cancelled'),
        )),
      );
    } else if (n.holder_user_id === me.user_id || members) {
      actions.append(
        button(t('ui.porting.out_code'), 'btn-ghost act-port-out', () => portOutCode(n)),
        button(t('ui.numbers.release'), 'btn-ghost act-release', () => release(n)),
      );
    }
    cell(tr, actions, 'num');
    // a number in use has its SIP phone section under it (sip.js)
    return n.state === 'assigned' ? [tr, sipRow(n, tr.cells.length)] : [tr];
  }));
  $('#mine-empty').hidden = mine.length > 0;
}

async function loadTiers() {
  const tiers = await get('/numbers/tiers');
  $('#tier-list').replaceChildren(...tiers.map((tier) => {
    const li = document.createElement('li');
    const name = document.documentElement.lang === 'en' ? tier.name_en : tier.name_zh;
    const patterns = tier.patterns.map((p) => p || t('ui.numbers.pattern.plain')).join(' · ');
    li.textContent = `${name}: ${patterns} — ${tier.monthly_rent_fen === null ? '—' : money(tier.monthly_rent_fen)}`;
    return li;
  }));
  $('#tiers-empty').hidden = tiers.length > 0;
}

// -- porting --------------------------------------------------------------------------------

async function portOutCode(n) {
  if (!await confirmDialog(t('ui.porting.out_code_question', { number: n.national }))) return;
  try {
    const issued = await post(`${path(n)}/port-out-code`);
    const shown = $('#port-out-result');
    shown.textContent = t('ui.porting.out_code_shown', {
      number: n.national, code: issued.code, until: formatDateTime(issued.expires_at),
    });
    shown.hidden = false;
    shown.scrollIntoView({ block: 'nearest' });
  } catch (err) {
    toast(err.message, { error: true });
  }
}

function portDetail(r) {
  if (r.state === 'rejected') return r.reason_text || '';
  if (r.porting_date) return r.porting_date;
  return r.checks_passed ? t('ui.porting.checks_passed') : '';
}

async function loadPortRequests() {
  const requests = await get('/numbers/port-ins');
  $('#port-rows').replaceChildren(...requests.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.request = String(r.id);
    cell(tr, r.e164.replace(/^\+86/, ''));
    cell(tr, r.losing_carrier);
    cell(tr, t(`ui.porting.state.${r.state}`), `port-state-${r.state}`);
    cell(tr, portDetail(r));
    return tr;
  }));
  $('#port-empty').hidden = requests.length > 0;
}

const portForm = $('#port-in-form');
onSubmit(portForm, async () => {
  clearErrors(portForm);
  const body = new FormData(portForm);
  try {
    const filed = await post('/numbers/port-ins', body);
    toast(t('ui.porting.submitted', { state: t(`ui.porting.state.${filed.state}`) }));
    portForm.reset();
  } catch (err) {
    showErrors(portForm, err);
  }
  await loadPortRequests();
});

if (me.role === 'org_admin') {
  const found = await get('/org/members').catch(() => []);
  members = found.map((m) => ({ id: m.user.id, name: m.user.display_name || m.user.username }));
}
onSubmit(form, search);
form.addEventListener('reset', () => setTimeout(search));
await Promise.all([search(), loadMine(), loadTiers(), loadPortRequests()]);
