// Staff: the margin report per trunk and category (and its CSV), the imports of the price and
// cost tables with every faulty line shown, and the versions imported. Works through
// /api/v1/tariffs; the page computes no figure of its own.

import '../app.js';
import { ApiError, get, post } from '../api.js';
import { money } from '../billing.js';
import { formatDateTime, t } from '../i18n.js';
import { $, cell, clearErrors, onSubmit, showErrors, toast } from '../ui.js';

const marginForm = $('#margin-form');

function marginRow(line, total = false) {
  const tr = document.createElement('tr');
  cell(tr, total ? t('ui.optariffs.total') : line.trunk);
  cell(tr, total ? '' : t(`ui.tariffs.category.${line.category}`));
  cell(tr, String(line.calls), 'num');
  cell(tr, (line.billed_s / 60).toFixed(line.billed_s % 60 ? 2 : 0), 'num');
  cell(tr, money(line.revenue_fen), 'num');
  cell(tr, money(line.cost_fen), 'num');
  cell(tr, money(line.margin_fen), 'num');
  cell(tr, String(line.calls_without_cost), 'num');
  if (total) tr.className = 'total';
  return tr;
}

async function loadMargins() {
  const query = { from: marginForm.elements.from.value, to: marginForm.elements.to.value };
  try {
    const report = await get('/tariffs/margins', query);
    marginForm.elements.from.value = report.first_day;
    marginForm.elements.to.value = report.last_day;
    const rows = report.lines.map((line) => marginRow(line));
    if (rows.length) rows.push(marginRow(report.total, true));
    $('#margin-rows').replaceChildren(...rows);
    $('#margin-empty').hidden = report.lines.length > 0;
    $('#margins-csv').href = `/api/v1/tariffs/margins.csv?from=${report.first_day}&to=${report.last_day}`;
  } catch (err) {
    showErrors(marginForm, err);
  }
}

async function loadVersions() {
  const versions = await get('/tariffs/tables');
  $('#version-rows').replaceChildren(...versions.map((v) => {
    const tr = document.createElement('tr');
    const kind = t(`ui.optariffs.kind.${v.kind}`);
    cell(tr, v.in_force ? `${kind} · ${t('ui.optariffs.in_force')}` : kind);
    cell(tr, v.trunk || '—');
    cell(tr, formatDateTime(v.effective_from));
    cell(tr, String(v.rows), 'num');
    cell(tr, v.note || '—');
    if (v.in_force) tr.classList.add('in-force');
    return tr;
  }));
  $('#version-empty').hidden = versions.length > 0;
}

function showRowErrors(form, err) {
  const list = $('.row-errors', form);
  const rows = err instanceof ApiError ? err.rows || [] : [];
  list.replaceChildren(...rows.map((r) => {
    const li = document.createElement('li');
    li.textContent = t('ui.optariffs.row_error', { line: r.line, message: r.message });
    return li;
  }));
  list.hidden = rows.length === 0;
}

for (const form of document.querySelectorAll('.import-form')) {
  onSubmit(form, async () => {
    clearErrors(form);
    showRowErrors(form, null);
    const file = form.elements.file.files[0];
    const when = form.elements.effective_from.value;
    const body = {
      csv: file ? await file.text() : '',
      effective_from: when ? new Date(when).toISOString() : null,
      note: form.elements.note.value.trim(),
    };
    const path = form.dataset.kind === 'prices'
      ? '/tariffs/prices'
      : `/tariffs/costs/${encodeURIComponent(form.elements.trunk.value.trim())}`;
    try {
      const done = await post(path, body);
      toast(t('ui.optariffs.imported', { rows: done.rows }));
      form.reset();
      await loadVersions();
    } catch (err) {
      showErrors(form, err);
      showRowErrors(form, err);
    }
  });
}

onSubmit(marginForm, loadMargins);
loadMargins();
loadVersions().then(() => { document.body.dataset.loaded = 'true'; });
