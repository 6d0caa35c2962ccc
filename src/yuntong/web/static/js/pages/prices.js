// The published price list (no login needed): packages and value-added services, the price in
// force today and any scheduled next price with the day it takes effect.

import { get } from '../api.js';
import {
  USAGE, day, el, formatAllowance, formatRate, money, named, productDescription, productName,
} from '../billing.js';
import { t } from '../i18n.js';
import { $ } from '../ui.js';

if ($('#yt-me')) import('../app.js'); // the signed-in shell (calls, presence) only for members

/** Monthly fee, allowances and per-minute rates of one price version. */
function priceDetails(price) {
  const dl = el('dl', 'kv');
  const add = (label, ...values) => dl.append(el('dt', '', label), el('dd', '', ...values));
  add(t('ui.prices.monthly_fee'), el('strong', 'fee', money(price.monthly_fee_fen)));
  const types = [...new Set([...Object.keys(price.allowances || {}), ...Object.keys(price.rates || {})])];
  for (const code of types) {
    const parts = [];
    if (price.allowances?.[code]) parts.push(t('ui.prices.included', { minutes: formatAllowance(price.allowances[code]) }));
    if (price.rates?.[code]) parts.push(formatRate(price.rates[code]));
    add(named(USAGE, code), el('span', 'rate', parts.join(t('ui.prices.then'))));
  }
  return dl;
}

function productCard(product) {
  const card = el('article', 'product', el('h3', '', productName(product)));
  card.dataset.code = product.code;
  if (product.is_default) card.querySelector('h3').append(' ', el('span', 'tag tag-ok', t('ui.prices.default')));
  const description = productDescription(product);
  if (description) card.append(el('p', 'muted small', description));
  if (product.current) {
    card.append(el('p', 'small muted', t('ui.prices.since', { day: day(product.current.effective_on) })), priceDetails(product.current));
  }
  if (product.next) {
    const next = el('div', 'next-price', el('p', 'small', el('strong', '', t('ui.prices.next', { day: day(product.next.effective_on) }))));
    next.append(priceDetails(product.next));
    if (product.next.note) next.append(el('p', 'muted small', product.next.note));
    card.append(next);
  }
  return card;
}

async function load() {
  let products;
  try {
    products = await get('/billing/price-list');
  } catch (err) {
    $('#prices-error').textContent = err.status === 0 ? t('ui.common.network_error') : err.message;
    $('#prices-error').hidden = false;
    return;
  }
  for (const [kind, box] of [['package', '#packages'], ['addon', '#addons']]) {
    const mine = products.filter((p) => p.kind === kind);
    $(box).replaceChildren(...mine.map(productCard));
    $(`${box}-empty`).hidden = mine.length > 0;
  }
  document.body.dataset.loaded = 'true';
}

await load();
