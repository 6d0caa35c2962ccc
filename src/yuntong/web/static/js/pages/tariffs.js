// Outside-call prices: the price list in force (and when a new one applies), and what a call to
// a number would cost. Everything comes from /api/v1/tariffs; the page computes no price.

import '../app.js';
import { get } from '../api.js';
import { money } from '../billing.js';
import { formatDateTime, t } from '../i18n.js';
import { $, cell, clearErrors, onSubmit, showErrors } from '../ui.js';

const category = (code) => t(`ui.tariffs.category.${code}`);

async function loadList() {
  let list;
  try {
    list = await get('/tariffs/prices');
  } catch (err) {
    $('#tariff-error').textContent = err.status === 0 ? t('ui.common.network_error') : err.message;
    $('#tariff-error').hidden = false;
    return;
  }
  $('#tariff-rows').replaceChildren(...list.rows.map((row) => {
    const tr = document.createElement('tr');
    cell(tr, row.name);
    cell(tr, `+${row.prefix}`);
    cell(tr, category(row.category));
    cell(tr, money(row.price_per_minute_fen), 'num');
    cell(tr, t('ui.tariffs.seconds', { n: row.increment_s }), 'num');
    return tr;
  }));
  $('#tariff-empty').hidden = list.rows.length > 0;
  $('#tariff-since').hidden = !list.effective_from;
  if (list.effective_from) $('#tariff-since').textContent = t('ui.tariffs.since', { time: formatDateTime(list.effective_from) });
  $('#tariff-next').hidden = !list.next_effective_from;
  if (list.next_effective_from) $('#tariff-next').textContent = t('ui.tariffs.next', { time: formatDateTime(list.next_effective_from) });
  document.body.dataset.loaded = 'true';
}

const form = $('#quote-form');
onSubmit(form, async () => {
  clearErrors(form);
  $('#quote-result').hidden = true;
  try {
    const quote = await get('/tariffs/quote', { to: form.elements.to.value.trim() });
    $('#quote-result').textContent = t('ui.tariffs.quote_result', {
      name: quote.name,
      category: category(quote.category),
      price: money(quote.price_per_minute_fen),
      increment: quote.increment_s,
    });
    $('#quote-result').hidden = false;
  } catch (err) {
    showErrors(form, err);
  }
});

loadList();
