// The operator's billing desk: catalog and price versions, cycle close and the daily jobs,
// payments, account lookup with lawful hold and release, dunning, the dispute queue,
// service-interruption incidents, and terminals with their warranty claims.

import '../app.js';
import { get, post } from '../api.js';
import {
  ACCOUNT_KIND, ACCOUNT_STATE, CLAIM_OUTCOME, PRODUCT_KIND, USAGE, bizDateTime, button, day, disputeStatus,
  disputeSteps, el, fail, formatAllowance, formatRate, link, money, named, newKey, parseYuan, productName, rateFen,
  rateYuan, row, stateTag, warranty, yuan, zonedInputToIso,
} from '../billing.js';
import { t } from '../i18n.js';
import { $, $$, clearErrors, formValues, onSubmit, showErrors, toast } from '../ui.js';

const USAGE_TYPES = JSON.parse($('#usage-types').textContent || '[]');
const RESULT_LABELS = {
  cycle: 'ui.opbilling.result.cycle',
  issued: 'ui.opbilling.result.issued',
  already: 'ui.opbilling.result.already',
  empty: 'ui.opbilling.result.empty',
  not_due: 'ui.opbilling.result.not_due',
  day: 'ui.opbilling.result.day',
  closed: 'ui.opbilling.result.closed',
  reviewed: 'ui.opbilling.result.reviewed',
  suspended: 'ui.opbilling.result.suspended',
  terminated: 'ui.opbilling.result.terminated',
  lifted: 'ui.opbilling.result.lifted',
  late_fees_fen: 'ui.opbilling.result.late_fees',
  mailed: 'ui.opbilling.result.mailed',
  mail_failed: 'ui.opbilling.result.mail_failed',
};

/** Show a client-side check's failure the way the API's own errors are shown. */
function invalid(form, fields, message = t('ui.signup.fix_fields')) {
  const detail = Object.fromEntries(Object.entries(fields).map(([name, text]) => [name, { message: text }]));
  showErrors(form, { status: 422, message, fields: detail });
}

function input(name, { placeholder = '', type = 'text', value = '', size = 0 } = {}) {
  const node = el('input');
  Object.assign(node, { name, type, value, placeholder, autocomplete: 'off' });
  if (size) node.size = size;
  if (placeholder) node.setAttribute('aria-label', placeholder);
  return node;
}

// -- catalog ------------------------------------------------------------------------------------

function priceCell(price) {
  if (!price) return '—';
  const parts = [t('ui.opbilling.from_day', { day: day(price.effective_on) }), money(price.monthly_fee_fen)];
  for (const [code, rate] of Object.entries(price.rates || {})) parts.push(`${named(USAGE, code)} ${formatRate(rate)}`);
  for (const [code, seconds] of Object.entries(price.allowances || {})) {
    parts.push(`${named(USAGE, code)} ${t('ui.prices.included', { minutes: formatAllowance(seconds) })}`);
  }
  return el('span', 'small', parts.join(' · '));
}

let inForce = new Map(); // product id → product with its current price, for corrections

async function loadCatalog() {
  const products = await get('/billing/catalog'); // every product, priced or not
  $('#catalog-rows').replaceChildren(...products.map((p) => {
    const tr = row([
      String(p.id), p.code, productName(p), named(PRODUCT_KIND, p.kind),
      p.current ? money(p.current.monthly_fee_fen) : '—', priceCell(p.next),
    ], { numeric: [4] });
    tr.dataset.code = p.code;
    return tr;
  }));
  $('#catalog-empty').hidden = products.length > 0;
  const select = $('#price-form [name=product_id]');
  const chosen = select.value;
  select.replaceChildren(...products.map((p) => new Option(`${p.code} · ${productName(p)}`, p.id)));
  if (chosen) select.value = chosen;
  inForce = new Map(products.filter((p) => p.current).map((p) => [String(p.id), p]));
  const correctable = $('#correct-form [name=product_id]');
  const picked = correctable.value;
  correctable.replaceChildren(...[...inForce.values()].map((p) => new Option(`${p.code} · ${productName(p)}`, p.id)));
  if (picked && inForce.has(picked)) correctable.value = picked;
  showInForce();
  $('#incident-products').replaceChildren(
    el('legend', '', t('ui.opbilling.affected_products')),
    ...products.map((p) => {
      const box = input('product_codes', { type: 'checkbox', value: p.code });
      return el('label', 'choice', box, el('span', '', `${p.code} · ${productName(p)}`));
    }),
  );
}

/** One row per usage type in ``body``; filled from ``price`` (a version to correct) if given. */
function rateRows(body = '#rate-rows', price = null) {
  $(body).replaceChildren(...USAGE_TYPES.map((code) => {
    const increment = el('select');
    increment.name = 'increment';
    increment.setAttribute('aria-label', t('ui.opbilling.increment'));
    for (const rule of ['60/60', '6/6', '1/1', '30/6', '60/6']) increment.append(new Option(rule, rule));
    const rate = price?.rates?.[code];
    const seconds = price?.allowances?.[code];
    if (rate && ![...increment.options].some((o) => o.value === rate.increment)) {
      increment.append(new Option(rate.increment, rate.increment));
    }
    if (rate) increment.value = rate.increment;
    const tr = row([
      named(USAGE, code),
      input('allowance', { placeholder: '0', size: 6, value: seconds ? String(seconds / 60) : '' }),
      input('rate', { placeholder: '0.15', size: 6, value: rate ? rateYuan(rate.per_minute_fen) : '' }),
      increment,
      input('connect_fee', { placeholder: '0', size: 6, value: rate?.connect_fee_fen ? yuan(rate.connect_fee_fen) : '' }),
    ]);
    tr.dataset.usageType = code;
    return tr;
  }));
}

/** The rate rows as the API takes them: allowances in seconds, rates in fen per minute. */
function ratesFromRows(form, body = '#rate-rows') {
  const allowances = {};
  const rates = {};
  const problems = {};
  for (const tr of $$(`${body} tr`)) {
    const code = tr.dataset.usageType;
    const value = (name) => tr.querySelector(`[name=${name}]`).value.trim();
    if (value('allowance')) {
      const minutes = Number(value('allowance'));
      if (!Number.isInteger(minutes) || minutes < 0) problems.allowances = t('ui.opbilling.allowance_invalid');
      else allowances[code] = minutes * 60;
    }
    if (value('rate')) {
      const perMinute = rateFen(value('rate'));
      const connect = value('connect_fee') ? parseYuan(value('connect_fee')) : 0;
      if (perMinute === null || connect === null) problems.rates = t('ui.billing.amount_invalid');
      else rates[code] = { per_minute_fen: perMinute, increment: value('increment'), connect_fee_fen: connect };
    }
  }
  if (Object.keys(problems).length) {
    invalid(form, {}, Object.values(problems).join(' '));
    return null;
  }
  return { allowances, rates };
}

const productForm = $('#product-form');
onSubmit(productForm, async () => {
  clearErrors(productForm);
  const values = formValues(productForm);
  let made;
  try {
    made = await post('/billing/products', {
      code: values.code,
      kind: values.kind,
      name_zh: values.name_zh,
      name_en: values.name_en,
      description_zh: values.description_zh,
      description_en: values.description_en,
      is_default: productForm.is_default.checked,
    });
  } catch (err) {
    showErrors(productForm, err);
    return;
  }
  productForm.reset();
  toast(t('ui.opbilling.product_created', { code: made.code }));
  await loadCatalog();
  $('#price-form [name=product_id]').value = String(made.id);
  $('#price-form [name=effective_on]').focus();
});

const priceForm = $('#price-form');
onSubmit(priceForm, async () => {
  clearErrors(priceForm);
  const values = formValues(priceForm);
  const fee = parseYuan(values.monthly_fee || '0');
  const missing = {};
  if (fee === null) missing.monthly_fee_fen = t('ui.billing.amount_invalid');
  if (!values.effective_on) missing.effective_on = t('ui.common.required');
  if (Object.keys(missing).length) {
    invalid(priceForm, missing);
    return;
  }
  const tariff = ratesFromRows(priceForm);
  if (!tariff) return;
  try {
    await post(`/billing/products/${values.product_id}/prices`, {
      effective_on: values.effective_on, monthly_fee_fen: fee, note: values.note, ...tariff,
    });
  } catch (err) {
    showErrors(priceForm, err);
    return;
  }
  priceForm.reset();
  rateRows();
  toast(t('ui.opbilling.price_scheduled'));
  await loadCatalog();
});

/** The correction form starts from the version in force, so only the wrong figure is retyped. */
function showInForce() {
  const product = inForce.get($('#correct-form [name=product_id]').value);
  $('#correct-in-force').replaceChildren(product ? priceCell(product.current) : t('ui.opbilling.no_price_in_force'));
  rateRows('#correct-rate-rows', product?.current);
}

const correctForm = $('#correct-form');
correctForm.product_id.addEventListener('change', showInForce);
onSubmit(correctForm, async () => {
  clearErrors(correctForm);
  const values = formValues(correctForm);
  const product = inForce.get(values.product_id);
  if (!product) {
    invalid(correctForm, {}, t('ui.opbilling.no_price_in_force'));
    return;
  }
  if (!values.note.trim()) {
    invalid(correctForm, { note: t('ui.common.required') });
    return;
  }
  const tariff = ratesFromRows(correctForm, '#correct-rate-rows');
  if (!tariff) return;
  let done;
  try {
    done = await post(`/billing/prices/${product.current.id}/corrections`, { note: values.note, ...tariff });
  } catch (err) {
    showErrors(correctForm, err);
    return;
  }
  correctForm.note.value = '';
  toast(t('ui.opbilling.corrected', { count: done.adjustments }));
  await loadCatalog();
});

// -- cycles and the daily jobs ------------------------------------------------------------------

function showResult(result) {
  const dl = $('#job-result');
  dl.replaceChildren(...Object.entries(result).flatMap(([key, value]) => [
    el('dt', '', named(RESULT_LABELS, key)),
    el('dd', '', key.endsWith('_fen') ? money(value) : String(value ?? '—')),
  ]));
  dl.hidden = false;
}

const closeForm = $('#close-form');
onSubmit(closeForm, async () => {
  try {
    showResult(await post(`/billing/cycles/${encodeURIComponent(closeForm.cycle.value.trim())}/close`));
    toast(t('ui.opbilling.cycle_closed'));
  } catch (err) {
    fail(err);
  }
  await loadDunning().catch(fail);
});

$('#daily-run').addEventListener('click', async (event) => {
  event.currentTarget.disabled = true;
  try {
    showResult(await post('/billing/daily-run'));
    toast(t('ui.opbilling.daily_done'));
  } catch (err) {
    fail(err);
  } finally {
    $('#daily-run').disabled = false;
  }
  await loadDunning().catch(fail);
});

// -- payments ---------------------------------------------------------------------------------

const paymentForm = $('#payment-form');

function freshPaymentKey() {
  paymentForm.idempotency_key.value = newKey();
  $('#payment-key').textContent = t('ui.opbilling.idempotency_key', { key: paymentForm.idempotency_key.value });
}

async function loadPaymentStatements() {
  const select = paymentForm.statement_id;
  select.replaceChildren(new Option('—', ''));
  const accountId = Number(paymentForm.account_id.value);
  if (!accountId) return;
  try {
    const statements = await get('/billing/statements', { account_id: accountId });
    for (const st of statements) select.append(new Option(`${st.number} · ${money(st.total_due_fen)}`, st.id));
  } catch {
    // an unknown account shows up when the payment is submitted
  }
}

paymentForm.account_id.addEventListener('change', loadPaymentStatements);

onSubmit(paymentForm, async () => {
  clearErrors(paymentForm);
  const values = formValues(paymentForm);
  const missing = {};
  if (!Number(values.account_id)) missing.account_id = t('ui.common.required');
  if (parseYuan(values.amount) === null) missing.amount = t('ui.billing.amount_invalid');
  if (Object.keys(missing).length) {
    invalid(paymentForm, missing);
    return;
  }
  let payment;
  try {
    payment = await post('/billing/payments', {
      account_id: Number(values.account_id),
      amount: values.amount,
      method: values.method,
      statement_id: values.statement_id ? Number(values.statement_id) : null,
      idempotency_key: values.idempotency_key,
    });
  } catch (err) {
    showErrors(paymentForm, err); // the same key is kept: resubmitting cannot pay twice
    return;
  }
  const result = $('#payment-result');
  result.replaceChildren(
    t('ui.opbilling.payment_recorded', { amount: money(payment.amount_fen), receipt: payment.receipt_number }), ' ',
    link(`/api/v1/billing/payments/${payment.id}/receipt`, t('ui.payment.receipt_pdf'), { download: true }),
  );
  result.hidden = false;
  paymentForm.amount.value = '';
  freshPaymentKey();
  await loadDunning().catch(fail);
});

// -- accounts: look up, lawful hold and release ---------------------------------------------------

const lookupForm = $('#lookup-form');
const holdForm = $('#hold-form');
let lookedUp = null;

function renderLookup(account) {
  lookedUp = account;
  const entries = [
    [t('ui.billing.account_number'), `#${account.id}`],
    [t('ui.field.status'), stateTag(ACCOUNT_STATE, account.state)],
    [t('ui.field.reason'), account.state_reason || '—'],
    [t('ui.billing.kind'), named(ACCOUNT_KIND, account.kind)],
    [t('ui.billing.balance_owed'), money(account.balance_fen)],
    [t('ui.billing.credit_limit'), money(account.credit_limit_fen)],
    [t('ui.billing.available'), money(account.available_fen)],
    [t('ui.opbilling.in_collections'), account.in_collections ? t('ui.opbilling.yes') : t('ui.opbilling.no')],
  ];
  $('#lookup-summary').replaceChildren(...entries.flatMap(([label, value]) => [el('dt', '', label), el('dd', '', value)]));
  $('#lookup-summary').dataset.state = account.state;
  // the steps the server says we may take on the account now
  const can = new Set(account.actions || []);
  $('#hold-button').disabled = !can.has('hold');
  $('#release-button').disabled = !can.has('release');
  $('#kind-button').textContent = t(account.kind === 'prepaid' ? 'ui.opbilling.make_postpaid' : 'ui.opbilling.make_prepaid');
  $('#lookup-result').hidden = false;
}

async function lookUp(accountId) {
  renderLookup(await get('/billing/account', { account_id: accountId }));
}

onSubmit(lookupForm, async () => {
  try {
    await lookUp(Number(lookupForm.account_id.value));
  } catch (err) {
    $('#lookup-result').hidden = true;
    fail(err);
  }
});

async function changeHold(action) {
  const reason = holdForm.reason.value.trim();
  if (!reason) {
    holdForm.reason.focus();
    toast(t('ui.operator.reason_required'), { error: true });
    return;
  }
  try {
    renderLookup(await post(`/billing/accounts/${lookedUp.id}/${action}`, { reason }));
    holdForm.reset();
    toast(t(action === 'hold' ? 'ui.opbilling.held' : 'ui.opbilling.released'));
  } catch (err) {
    fail(err);
  }
}

$('#hold-button').addEventListener('click', () => changeHold('hold'));
$('#release-button').addEventListener('click', () => changeHold('release'));
$('#kind-button').addEventListener('click', async () => {
  const kind = lookedUp.kind === 'prepaid' ? 'postpaid' : 'prepaid';
  try {
    renderLookup(await post(`/billing/accounts/${lookedUp.id}/kind`, { kind }));
    toast(t('ui.opbilling.kind_changed'));
  } catch (err) {
    fail(err);
  }
});

// -- dunning ------------------------------------------------------------------------------------

async function loadDunning() {
  const owing = await get('/billing/dunning');
  $('#dunning-rows').replaceChildren(...owing.map((a) => {
    const actions = el('span', 'actions', button(t('ui.opbilling.look_up'), 'btn-ghost', async () => {
      lookupForm.account_id.value = String(a.account_id);
      await lookUp(a.account_id).catch(fail);
      $('#accounts').scrollIntoView();
    }));
    if (a.actions?.includes('suspend')) {
      actions.append(button(t('ui.opbilling.confirm_suspension'), 'btn-danger', async () => {
        try {
          await post(`/billing/accounts/${a.account_id}/suspend`);
          toast(t('ui.opbilling.suspended'));
        } catch (err) {
          fail(err);
        }
        await loadDunning().catch(fail);
      }));
    }
    const tr = row([
      `#${a.account_id}`,
      el('span', '', stateTag(ACCOUNT_STATE, a.state), a.in_collections ? el('span', 'tag tag-danger', t('ui.opbilling.in_collections')) : null),
      money(a.overdue_fen), money(a.disputed_fen), day(a.oldest_due), String(a.days_overdue),
      day(a.suspend_after), day(a.terminate_after), actions,
    ], { numeric: [2, 3, 5] });
    tr.dataset.accountId = String(a.account_id);
    return tr;
  }));
  $('#dunning-empty').hidden = owing.length > 0;
}

$('#dunning-refresh').addEventListener('click', () => loadDunning().catch(fail));

// -- disputes -----------------------------------------------------------------------------------

async function settleDispute(request, done) {
  try {
    await request();
    toast(done);
  } catch (err) {
    fail(err);
  }
  await Promise.all([loadDisputes(), loadDunning()]).catch(fail);
}

// Resolving a dispute moves money or closes it for good, and VP 6 has the operator explain
// either way: both go through a confirmation step whose explanation is required and is what
// the customer reads.
const resolutionDialog = $('#resolve-dialog');
const resolutionForm = $('#resolve-form');
let resolving = null; // { url, body, done } of the resolution awaiting confirmation

$('#resolve-cancel').addEventListener('click', () => resolutionDialog.close());

function confirmResolution(d, { by, fen, note }) {
  resolving = {
    url: `/billing/disputes/${d.id}/resolve`,
    body: by === 'credit' ? { by, amount_fen: fen } : { by },
    done: by === 'credit' ? t('ui.opbilling.dispute_credited', { amount: money(fen) }) : t('ui.opbilling.dispute_updated'),
  };
  clearErrors(resolutionForm);
  $('#resolve-title').textContent = by === 'credit'
    ? t('ui.opbilling.resolve_credit_title', { id: d.id, amount: money(fen) })
    : t('ui.opbilling.resolve_explain_title', { id: d.id });
  $('#resolve-summary').textContent = `#${d.account_id} · ${d.statement_number} · ${money(d.amount_fen)} · ${d.reason}`;
  resolutionForm.note.value = note;
  resolutionDialog.dataset.disputeId = String(d.id);
  resolutionDialog.dataset.by = by;
  resolutionDialog.showModal();
  resolutionForm.note.focus();
}

onSubmit(resolutionForm, async () => {
  const note = resolutionForm.note.value.trim();
  if (!note) {
    invalid(resolutionForm, { note: t('ui.opbilling.note_required') });
    return;
  }
  try {
    await post(resolving.url, { ...resolving.body, note });
  } catch (err) {
    showErrors(resolutionForm, err);
    return;
  }
  resolutionDialog.close();
  toast(resolving.done);
  await Promise.all([loadDisputes(), loadDunning()]).catch(fail);
});

function disputeActions(d) {
  // the steps the server says we may take on it now
  const can = new Set(d.actions || []);
  if (!can.size) return disputeSteps(d);
  const note = input('note', { placeholder: t('ui.opbilling.note') });
  const amount = input('credit', { placeholder: t('ui.opbilling.credit_yuan'), value: yuan(d.amount_fen).replace(/,/g, ''), size: 8 });
  const box = el('div', 'stack', el('div', 'row', note, amount), el('span', 'actions'));
  const actions = box.querySelector('.actions');
  if (can.has('investigate')) {
    actions.append(button(t('ui.opbilling.investigate'), 'btn-ghost act-investigate', () => settleDispute(
      () => post(`/billing/disputes/${d.id}/investigate`, { note: note.value.trim() }), t('ui.opbilling.dispute_updated'),
    )));
  }
  if (can.has('resolve_credit')) {
    actions.append(button(t('ui.opbilling.resolve_credit'), 'btn-success act-credit', () => {
      const fen = parseYuan(amount.value);
      if (fen === null || fen <= 0) {
        amount.focus();
        toast(t('ui.billing.amount_invalid'), { error: true });
        return;
      }
      confirmResolution(d, { by: 'credit', fen, note: note.value.trim() });
    }));
  }
  if (can.has('resolve_explanation')) {
    actions.append(button(t('ui.opbilling.resolve_explain'), 'btn-primary act-explain', () => {
      confirmResolution(d, { by: 'explanation', note: note.value.trim() });
    }));
  }
  box.append(disputeSteps(d));
  return box;
}

async function loadDisputes() {
  const chosen = $('#queue-state').value;
  const all = await get('/billing/disputes', chosen && chosen !== 'pending' ? { state: chosen } : undefined);
  // pending: the disputes still waiting for a step from us
  const shown = chosen === 'pending' ? all.filter((d) => d.actions?.length) : all;
  $('#queue-rows').replaceChildren(...shown.map((d) => {
    const tr = row([
      String(d.id), `#${d.account_id}`, link(`/billing/statements/${d.statement_id}`, d.statement_number),
      money(d.amount_fen), d.reason,
      disputeStatus(d),
      disputeActions(d),
    ], { numeric: [3] });
    tr.dataset.disputeId = String(d.id);
    tr.dataset.state = d.state;
    return tr;
  }));
  $('#queue-empty').hidden = shown.length > 0;
}

$('#queue-state').addEventListener('change', () => loadDisputes().catch(fail));

// -- incidents ----------------------------------------------------------------------------------

async function loadIncidents() {
  const incidents = await get('/billing/incidents');
  $('#incident-rows').replaceChildren(...incidents.map((i) => {
    const apply = button(t('ui.opbilling.apply_credits'), i.credited_at ? 'btn-ghost' : 'btn-primary', async () => {
      try {
        const { credits } = await post(`/billing/incidents/${i.id}/credits`);
        toast(t('ui.opbilling.credits_applied', { count: credits }));
      } catch (err) {
        fail(err);
      }
      await loadIncidents().catch(fail);
    });
    const tr = row([
      String(i.id), i.title, bizDateTime(i.starts_at), i.ends_at ? bizDateTime(i.ends_at) : '—', i.product_codes.join(', '),
      i.credited_at ? bizDateTime(i.credited_at) : '—', apply,
    ]);
    tr.dataset.incidentId = String(i.id);
    return tr;
  }));
  $('#incidents-empty').hidden = incidents.length > 0;
}

const incidentForm = $('#incident-form');
onSubmit(incidentForm, async () => {
  clearErrors(incidentForm);
  const values = formValues(incidentForm);
  const codes = $$('[name=product_codes]:checked', incidentForm).map((box) => box.value);
  const missing = {};
  for (const name of ['title', 'starts_at', 'ends_at']) if (!values[name]) missing[name] = t('ui.common.required');
  if (Object.keys(missing).length || !codes.length) {
    invalid(incidentForm, missing, codes.length ? undefined : t('ui.opbilling.products_required'));
    return;
  }
  try {
    await post('/billing/incidents', {
      title: values.title,
      starts_at: zonedInputToIso(values.starts_at),
      ends_at: zonedInputToIso(values.ends_at),
      product_codes: codes,
    });
  } catch (err) {
    showErrors(incidentForm, err);
    return;
  }
  incidentForm.reset();
  toast(t('ui.opbilling.incident_recorded'));
  await loadIncidents();
});

// -- terminals and warranty claims --------------------------------------------------------------

const deviceForm = $('#device-form');
const deviceLookup = $('#device-lookup-form');

onSubmit(deviceForm, async () => {
  clearErrors(deviceForm);
  const values = formValues(deviceForm);
  let device;
  try {
    device = await post('/billing/devices', {
      account_id: Number(values.account_id), model: values.model, serial: values.serial, delivered_on: values.delivered_on,
    });
  } catch (err) {
    showErrors(deviceForm, err);
    return;
  }
  toast(t('ui.opbilling.device_registered', { serial: device.serial }));
  deviceForm.reset();
  deviceLookup.account_id.value = String(device.account_id);
  await loadDevices(device.account_id).catch(fail);
});

function resolveForm(claim, accountId) {
  const outcome = el('select');
  outcome.name = 'outcome';
  outcome.setAttribute('aria-label', t('ui.opbilling.outcome'));
  outcome.append(new Option(t('ui.device.outcome.repaired'), 'repaired'), new Option(t('ui.device.outcome.replaced'), 'replaced'));
  const parts = input('parts', { placeholder: t('ui.opbilling.parts') });
  const serial = input('replacement_serial', { placeholder: t('ui.opbilling.replacement_serial') });
  const note = input('note', { placeholder: t('ui.opbilling.note') });
  const go = button(t('ui.opbilling.resolve_claim'), 'btn-primary', async () => {
    try {
      await post(`/billing/claims/${claim.id}/resolve`, {
        outcome: outcome.value,
        parts_returned: parts.value.split(/[,，]/).map((p) => p.trim()).filter(Boolean),
        note: note.value.trim(),
        replacement_serial: outcome.value === 'replaced' ? serial.value.trim() || null : null,
      });
      toast(t('ui.opbilling.claim_resolved'));
    } catch (err) {
      fail(err);
    }
    await loadDevices(accountId).catch(fail);
  });
  return el('div', 'stack', el('div', 'row', outcome, parts), el('div', 'row', serial, note), el('span', 'actions', go));
}

function claimCell(device) {
  if (!device.claims.length) return '—';
  return el('ul', 'plain-list small', ...device.claims.map((c) => {
    const li = el('li', 'claim', el('div', '', `${day(c.claimed_on)} · ${c.fault}`, ' ', stateTag(CLAIM_OUTCOME, c.outcome),
      c.refusal_message ? el('div', 'muted', c.refusal_message) : null,
      c.parts_returned.length ? el('div', 'muted', t('ui.opbilling.parts_kept', { parts: c.parts_returned.join(', ') })) : null));
    if (c.outcome === 'open') li.append(resolveForm(c, device.account_id));
    return li;
  }));
}

async function loadDevices(accountId) {
  const devices = await get('/billing/devices', { account_id: accountId });
  const details = await Promise.all(devices.map((d) => get(`/billing/devices/${d.id}`)));
  $('#device-rows').replaceChildren(...details.map((d) => {
    const opened = d.warranty_void || d.replaced_by_id ? '' : button(t('ui.opbilling.mark_opened'), 'btn-ghost', async () => {
      try {
        await post(`/billing/devices/${d.id}/opened`, { note: '' });
        toast(t('ui.opbilling.marked_opened'));
      } catch (err) {
        fail(err);
      }
      await loadDevices(accountId).catch(fail);
    });
    const tr = row([String(d.id), d.model, d.serial, day(d.delivered_on), warranty(d), claimCell(d),
      d.replaced_by_id ? t('ui.device.replaced') : opened]);
    tr.dataset.serial = d.serial;
    return tr;
  }));
  $('#device-table').hidden = details.length === 0;
  $('#devices-empty').hidden = details.length > 0;
}

onSubmit(deviceLookup, async () => {
  await loadDevices(Number(deviceLookup.account_id.value)).catch(fail);
});

// -- start --------------------------------------------------------------------------------------

rateRows();
freshPaymentKey();
const results = await Promise.allSettled([loadCatalog(), loadDunning(), loadDisputes(), loadIncidents()]);
for (const result of results) if (result.status === 'rejected') fail(result.reason);
document.body.dataset.loaded = 'true';
