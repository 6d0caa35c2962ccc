// Small DOM helpers shared by the pages: toasts, form field errors, a confirm dialog.

import { t } from './i18n.js';

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function toast(message, { error = false, ms = 3500 } = {}) {
  const box = $('#toasts');
  if (!box) return;
  const el = document.createElement('div');
  el.className = error ? 'toast toast-error' : 'toast';
  el.setAttribute('role', error ? 'alert' : 'status');
  el.textContent = message;
  box.append(el);
  setTimeout(() => el.remove(), ms);
}

export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form)) values[name] = typeof value === 'string' ? value.trim() : value;
  return values;
}

export function clearErrors(form) {
  for (const el of $$('[data-error-for]', form)) {
    el.textContent = '';
    if (el.classList.contains('form-error')) el.hidden = true;
  }
  for (const el of $$('.field.invalid', form)) el.classList.remove('invalid');
}

/** Show an ApiError on a form: per-field messages under their inputs, the summary on top. */
export function showErrors(form, error) {
  clearErrors(form);
  for (const [name, detail] of Object.entries(error.fields || {})) {
    const slot = $(`[data-error-for="${CSS.escape(name)}"]`, form);
    if (!slot) continue;
    slot.textContent = detail.message || detail.code;
    slot.closest('.field')?.classList.add('invalid');
  }
  $('.field.invalid input, .field.invalid select', form)?.focus();
  const message = error.status === 0 ? t('ui.common.network_error') : error.message;
  const general = $('[data-error-for="_form"]', form);
  if (general) {
    general.textContent = message;
    general.hidden = false;
  } else {
    toast(message, { error: true });
  }
}

/** Ask a yes/no question in the page's <dialog id="confirm-dialog">; resolves true on OK. */
export function confirmDialog(text) {
  const dialog = $('#confirm-dialog');
  $('#confirm-text', dialog).textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

export function initials(name) {
  const trimmed = (name || '?').trim();
  return [...trimmed][0]?.toUpperCase() || '?';
}

/** Wire a form's submit to an async handler, disabling its buttons while it runs. */
export function onSubmit(form, handler) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = $$('button', form);
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await handler(event);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}

// -- narrow tables ------------------------------------------------------------------------------

/** Give each body cell of a table its column's heading as data-label: where the table is narrow
 * (a phone, a side column) the stylesheet shows a row as a card with the heading in front of
 * each value. The headings are the table's own <th>s (already in the page's language); rows
 * added later are labelled as they come. */
function labelCells(table) {
  const heads = [...(table.tHead?.rows[0]?.cells || [])].map((th) => th.textContent.trim());
  if (!heads.length) return;
  for (const body of table.tBodies) {
    for (const tr of body.rows) {
      let column = 0;
      for (const td of tr.cells) {
        if (!td.hasAttribute('data-label')) td.dataset.label = heads[column] || '';
        column += td.colSpan;
      }
    }
  }
}

function labelTablesIn(records) {
  const tables = new Set();
  for (const record of records) {
    const table = record.target.closest?.('table.table');
    if (table) tables.add(table);
    for (const node of record.addedNodes) {
      if (node.nodeType === Node.ELEMENT_NODE) node.querySelectorAll('table.table').forEach((found) => tables.add(found));
    }
  }
  tables.forEach(labelCells);
}

$$('table.table').forEach(labelCells);
new MutationObserver(labelTablesIn).observe(document.body, { childList: true, subtree: true });

// a table cell with text (or a node), and a small button: what the staff and number pages build rows of
export function cell(tr, content, className = '') {
  const td = document.createElement('td');
  if (className) td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? '';
  tr.append(td);
  return td;
}

export function button(label, className, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `btn btn-sm ${className}`;
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}
