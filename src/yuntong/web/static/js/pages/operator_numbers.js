// Staff's number inventory: import a block with its source, list numbers by state and filters,
// block and unblock them, set the price tiers of beautiful numbers, and work the queue of
// port-in requests (approve with a date, reject with a reason, complete).
import '../app.js';

import { get, post, put } from '../api.js';
import { money, parseYuan } from '../billing.js';
import { t } from '../i18n.js';
import { $, cell, clearErrors, formValues, onSubmit, showErrors, toast } from '../ui.js';

const listForm = $('#list-form');

async function loadInventory() {
  let found;
  try {
    found = await get('/admin/numbers', formValues(listForm));
  } catch (err) {
    showErrors(listForm, err);
    return;
  }
  $('#inventory-rows').replaceChildren(...found.map((n) => {
    const tr = document.createElement('tr');
    tr.dataset.number = n.national;
    cell(tr, n.pattern ? `${n.national} · ${n.pattern}` : n.national);
    cell(tr, n.place || t('ui.numbers.unknown_place'));
    cell(tr, n.carrier);
    cell(tr, t(`ui.numbers.state.${n.state}`));
    const action = n.state === 'blocked' ? 'unblock' : 'block';
    const allowed = n.state === 'blocked' || ['available', 'reserved', 'quarantined'].includes(n.state);
    if (!allowed) {
      cell(tr, '');
      return tr;
    }
    const reason = document.createElement('input');
    reason.maxLength = 500;
    reason.size = 10;
    reason.placeholder = t('ui.opnumbers.reason');
    reason.setAttribute('aria-label', t('ui.opnumbers.reason'));
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `btn btn-sm btn-ghost act-${action}`;
    b.textContent = t(`ui.opnumbers.${action}`);
    b.addEventListener('click', async () => {
      if (!reason.value.trim()) {
        toast(t('ui.opnumbers.reason_required'), { error: true });
        reason.focus();
        return;
      }
      try {
        const done = await post(`/admin/numbers/${encodeURIComponent(n.e164)}/${action}`, { reason: reason.value.trim() });
        toast(t('ui.opnumbers.done', { number: done.national, state: t(`ui.numbers.state.${done.state}`) }));
      } catch (err) {
        toast(err.message, { error: true });
      }
      await loadInventory();
    });
    const row = document.createElement('div');
    row.className = 'row inline-form';
    row.append(reason, b);
    cell(tr, row, 'num');
    return tr;
  }));
  $('#inventory-empty').hidden = found.length > 0;
}

async function loadTiers() {
  const tiers = await get('/numbers/tiers');
  $('#tier-list').replaceChildren(...tiers.map((tier) => {
    const li = document.createElement('li');
    const patterns = tier.patterns.map((p) => p || 'plain').join(', ');
    li.textContent = `${tier.code} (${tier.name_zh} / ${tier.name_en}): ${patterns} — ${tier.monthly_rent_fen === null ? '—' : money(tier.monthly_rent_fen)}`;
    return li;
  }));
}

const importForm = $('#import-form');
onSubmit(importForm, async () => {
  clearErrors(importForm);
  const v = formValues(importForm);
  const body = { carrier: v.carrier, source_ref: v.source_ref };
  if (v.numbers) body.numbers = v.numbers.split(/\s+/).filter(Boolean);
  else Object.assign(body, { start: v.start, end: v.end });
  if (v.province) body.province = v.province;
  try {
    const result = await post('/admin/numbers/blocks', body);
    toast(t('ui.opnumbers.imported', { imported: result.imported, skipped: result.skipped, invalid: result.invalid.length }));
    importForm.reset();
  } catch (err) {
    showErrors(importForm, err);
    return;
  }
  await loadInventory();
});

const tierForm = $('#tier-form');
onSubmit(tierForm, async () => {
  clearErrors(tierForm);
  const v = formValues(tierForm);
  const patterns = v.patterns.split(',').map((p) => p.trim()).map((p) => (p === 'plain' ? '' : p));
  try {
    await put(`/admin/numbers/tiers/${encodeURIComponent(v.code)}`, {
      name_zh: v.name_zh, name_en: v.name_en, patterns, monthly_rent_fen: parseYuan(v.rent) ?? -1,
    });
    toast(t('ui.opnumbers.tier_saved'));
    tierForm.reset();
  } catch (err) {
    showErrors(tierForm, err);
    return;
  }
  await loadTiers();
});

// -- port-in requests -------------------------------------------------------------------------

function small(label, className, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `btn btn-sm ${className}`;
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

async function portAction(r, action, body) {
  try {
    const done = await post(`/admin/numbers/port-ins/${r.id}/${action}`, body);
    toast(t('ui.opporting.done', { id: done.id, state: t(`ui.porting.state.${done.state}`) }));
  } catch (err) {
    toast(err.message, { error: true });
  }
  await Promise.all([loadQueue(), loadInventory()]);
}

function portActions(r) {
  const row = document.createElement('div');
  row.className = 'row inline-form';
  if (r.state === 'checking' && r.checks_passed) {
    const day = document.createElement('input');
    day.type = 'date';
    day.setAttribute('aria-label', t('ui.opporting.date'));
    row.append(day, small(t('ui.opporting.approve'), 'btn-primary act-approve', () => {
      if (!day.value) {
        toast(t('ui.opporting.date_required'), { error: true });
        return;
      }
      portAction(r, 'approve', { porting_date: day.value });
    }));
  }
  if (r.state === 'approved') {
    row.append(small(t('ui.opporting.complete'), 'btn-primary act-complete', () => portAction(r, 'complete', {})));
  }
  if (['submitted', 'checking', 'approved'].includes(r.state)) {
    const reason = document.createElement('input');
    reason.maxLength = 500;
    reason.size = 10;
    reason.placeholder = t('ui.opnumbers.reason');
    reason.setAttribute('aria-label', t('ui.opnumbers.reason'));
    row.append(reason, small(t('ui.opporting.reject'), 'btn-ghost act-reject', () => {
      if (!reason.value.trim()) {
        toast(t('ui.opnumbers.reason_required'), { error: true });
        reason.focus();
        return;
      }
      portAction(r, 'reject', { reason: reason.value.trim() });
    }));
  }
  const doc = document.createElement('a');
  doc.href = `/api/v1/admin/numbers/port-ins/${r.id}/document`;
  doc.textContent = t('ui.opporting.document');
  row.append(doc);
  return row;
}

async function loadQueue() {
  const open = $('#port-open-only').checked;
  const requests = await get('/admin/numbers/port-ins', open ? { state: 'checking' } : {});
  const approved = open ? await get('/admin/numbers/port-ins', { state: 'approved' }) : [];
  const all = [...requests, ...approved];
  $('#port-queue-rows').replaceChildren(...all.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.request = String(r.id);
    cell(tr, r.e164.replace(/^\+86/, ''));
    cell(tr, r.customer_username || `#${r.customer_id}`);
    cell(tr, r.losing_carrier);
    cell(tr, t(`ui.porting.state.${r.state}`));
    const detail = r.state === 'rejected' ? r.reason_text : (r.porting_date || (r.checks_passed ? t('ui.porting.checks_passed') : ''));
    cell(tr, detail || '');
    cell(tr, portActions(r), 'num');
    return tr;
  }));
  $('#port-queue-empty').hidden = all.length > 0;
}

$('#port-open-only').addEventListener('change', loadQueue);
onSubmit(listForm, loadInventory);
await Promise.all([loadInventory(), loadTiers(), loadQueue()]);
