// The customer's billing page: account state and how to fix it, balance and credit limit,
// package and services (order, cancel at cycle end), the bill to date, statements, payments,
// notices, disputes, terminals and warranty claims, and termination on request.

import '../app.js';
import { get, post, put } from '../api.js';
import {
  ACCOUNT_KIND, ACCOUNT_STATE, ATTENTION_HELP, CLAIM_OUTCOME, PAYMENT_METHOD, PRODUCT_KIND, STATEMENT_KIND,
  STATE_REASON, bizDate, bizDateTime, button, day, disputeStatus, disputeSteps, el, fail, link, money, named,
  newKey, parseYuan, productName, renderLines, row, stateTag, warranty, yuan,
} from '../billing.js';
import { t } from '../i18n.js';
import { $, clearErrors, confirmDialog, onSubmit, showErrors, toast } from '../ui.js';

const API = '/api/v1/billing';
let account = null;

function showList(tbody, emptyId, nodes) {
  tbody.replaceChildren(...nodes);
  $(emptyId).hidden = nodes.length > 0;
}

// -- the account ------------------------------------------------------------------------------

function renderAccount() {
  $('#account-state').replaceChildren(stateTag(ACCOUNT_STATE, account.state));
  // what needs the customer's attention (a state other than active, or the credit used up)
  // and what the customer may do: the server says; the page only explains it
  const help = $('#state-help');
  const { attention } = account;
  help.hidden = !attention;
  if (attention) {
    const reason = account.state_reason;
    $('#state-reason').textContent = reason ? t('ui.billing.reason', { reason: named(STATE_REASON, reason) }) : '';
    $('#state-reason').hidden = !reason || attention !== account.state; // the reason is the state's
    const fix = ATTENTION_HELP[attention];
    $('#state-fix').textContent = fix ? t(fix, { amount: money(Math.max(0, account.balance_fen)) }) : '';
  }
  const owed = account.balance_fen;
  const entries = [
    [t('ui.billing.account_number'), `#${account.id}`],
    [t('ui.billing.kind'), named(ACCOUNT_KIND, account.kind)],
    [owed >= 0 ? t('ui.billing.balance_owed') : t('ui.billing.balance_in_credit'), money(Math.abs(owed))],
    [t('ui.billing.available'), money(account.available_fen)],
  ];
  if (account.kind === 'postpaid') {
    entries.push([t('ui.billing.credit_limit'), money(account.credit_limit_fen)]);
    entries.push([t('ui.billing.credit_used'), `${account.credit_used_percent}%`]);
  }
  entries.push([t('ui.billing.close_day'), t('ui.billing.close_day_value', { day: account.close_day })]);
  $('#account-summary').replaceChildren(...entries.flatMap(([label, value]) => [el('dt', '', label), el('dd', '', value)]));
  $('#account-summary').dataset.balanceFen = String(owed);

  const input = $('#credit-form [name=credit_limit]');
  input.value = (account.credit_limit_fen / 100).toFixed(2);
  input.min = String(account.credit_limit_min_fen / 100);
  input.max = String(account.credit_limit_max_fen / 100);
  $('#credit-bounds').textContent = t('ui.billing.credit_bounds', {
    low: yuan(account.credit_limit_min_fen), high: yuan(account.credit_limit_max_fen),
  });
  $('#credit-limit').hidden = !account.can_change_credit_limit;
  $('#terminate-button').disabled = !account.can_terminate;
}

async function loadAccount() {
  account = await get('/billing/account');
  renderAccount();
}

const creditForm = $('#credit-form');
onSubmit(creditForm, async () => {
  clearErrors(creditForm);
  const fen = parseYuan(creditForm.credit_limit.value);
  if (fen === null) {
    showErrors(creditForm, { status: 422, message: t('ui.billing.amount_invalid'), fields: {} });
    return;
  }
  try {
    account = await put('/billing/account/credit-limit', { credit_limit_fen: fen });
  } catch (err) {
    showErrors(creditForm, err);
    return;
  }
  renderAccount();
  toast(t('ui.common.saved'));
});

// -- package and services -----------------------------------------------------------------------

function choice(type, name, product, held) {
  const input = el('input');
  input.type = type;
  input.name = name;
  input.value = product.code;
  input.disabled = held;
  const fee = product.current ? t('ui.billing.per_month', { fee: money(product.current.monthly_fee_fen) }) : '';
  const label = el('label', 'choice', input, el('span', '', productName(product)), el('span', 'muted small', fee));
  if (held) label.append(el('span', 'tag', t('ui.billing.subscribed')));
  return label;
}

async function loadSubscriptions() {
  const [subs, products] = await Promise.all([get('/billing/subscriptions'), get('/billing/price-list')]);
  const live = subs.filter((s) => s.live);
  showList($('#subscription-list'), '#subscriptions-empty', live.map((s) => {
    const li = el('li', '', el('div', '', el('strong', '', productName(s)), ' ', el('span', 'muted small', named(PRODUCT_KIND, s.kind))));
    li.dataset.code = s.product_code;
    if (s.ends_at) {
      li.append(el('span', 'tag tag-warn', t('ui.billing.ends_on', { day: bizDate(s.ends_at) })));
    }
    if (s.can_cancel) {
      li.append(button(t('ui.billing.cancel_at_cycle_end'), 'btn-ghost act-cancel', async () => {
        if (!await confirmDialog(t('ui.billing.cancel_confirm', { name: productName(s) }))) return;
        try {
          await post('/billing/subscriptions/cancel', { product_code: s.product_code });
          toast(t('ui.billing.cancelled'));
        } catch (err) {
          fail(err);
        }
        await loadSubscriptions();
      }));
    }
    return li;
  }));
  const held = new Set(live.filter((s) => s.can_cancel).map((s) => s.product_code));
  const orderable = products.filter((p) => p.current);
  const keep = el('label', 'choice', el('input'), el('span', '', t('ui.billing.keep_package')));
  Object.assign(keep.querySelector('input'), { type: 'radio', name: 'package', value: '', checked: true });
  $('#order-packages').replaceChildren(
    el('legend', '', t('ui.prices.packages')),
    keep,
    ...orderable.filter((p) => p.kind === 'package').map((p) => choice('radio', 'package', p, held.has(p.code))),
  );
  $('#order-addons').replaceChildren(
    el('legend', '', t('ui.prices.addons')),
    ...orderable.filter((p) => p.kind === 'addon').map((p) => choice('checkbox', 'addon', p, held.has(p.code))),
  );
}

const orderForm = $('#order-form');
onSubmit(orderForm, async () => {
  clearErrors(orderForm);
  const codes = [...orderForm.querySelectorAll('input:checked')].map((i) => i.value).filter(Boolean);
  if (!codes.length) {
    showErrors(orderForm, { status: 422, message: t('ui.billing.order_nothing'), fields: {} });
    return;
  }
  try {
    await post('/billing/orders', { product_codes: codes, idempotency_key: newKey() });
  } catch (err) {
    showErrors(orderForm, err);
    return;
  }
  toast(t('ui.billing.ordered'));
  await loadAll();
});

// -- what is owed and paid --------------------------------------------------------------------

async function loadBillToDate() {
  const bill = await get('/billing/bill-to-date');
  renderLines($('#to-date-rows'), bill.lines);
  $('#to-date-total').textContent = money(bill.total_due_fen);
}

async function loadStatements() {
  const statements = await get('/billing/statements');
  showList($('#statement-rows'), '#statements-empty', statements.map((st) => {
    const tr = row([
      link(`/billing/statements/${st.id}`, st.number),
      named(STATEMENT_KIND, st.kind),
      st.kind === 'cycle' ? st.cycle : '',
      bizDate(st.issued_at),
      day(st.due_on),
      money(st.total_due_fen),
      el('span', 'actions',
        link(`${API}/statements/${st.id}/pdf`, 'PDF', { download: true }),
        link(`${API}/statements/${st.id}/csv`, 'CSV', { download: true })),
    ], { numeric: [5] });
    tr.dataset.statementId = String(st.id);
    tr.dataset.number = st.number;
    return tr;
  }));
}

const ORDER_KIND = {
  subscribe: 'ui.order.kind.subscribe',
  change: 'ui.order.kind.change',
  cancel: 'ui.order.kind.cancel',
};

async function loadOrders() {
  const orders = await get('/billing/orders');
  showList($('#order-rows'), '#orders-empty', orders.map((o) => row([
    bizDateTime(o.placed_at),
    named(ORDER_KIND, o.kind),
    [...o.document.products.map((p) => p.code), ...o.document.ending.map((c) => `− ${c}`)].join(', '),
    money(o.document.charges_fen.reduce((sum, fen) => sum + fen, 0)),
  ], { numeric: [3] })));
}

async function loadPayments() {
  const payments = await get('/billing/payments');
  showList($('#payment-rows'), '#payments-empty', payments.map((p) => row([
    p.receipt_number,
    bizDateTime(p.received_at),
    named(PAYMENT_METHOD, p.method),
    money(p.amount_fen),
    link(`${API}/payments/${p.id}/receipt`, t('ui.payment.receipt_pdf'), { download: true }),
  ], { numeric: [3] })));
}

async function loadDisputes() {
  const disputes = await get('/billing/disputes');
  showList($('#dispute-rows'), '#disputes-empty', disputes.map((d) => {
    const tr = row([
      link(`/billing/statements/${d.statement_id}`, d.statement_number),
      bizDateTime(d.opened_at),
      d.reason,
      money(d.amount_fen),
      disputeStatus(d),
      disputeSteps(d),
    ], { numeric: [3] });
    tr.dataset.disputeId = String(d.id);
    tr.dataset.state = d.state;
    return tr;
  }));
}

// -- notices ----------------------------------------------------------------------------------

async function loadNotices() {
  const notices = await get('/billing/notices');
  const unread = notices.filter((n) => !n.read).length;
  $('#notices-unread').textContent = String(unread);
  $('#notices-unread').hidden = !unread;
  $('#notices-read').disabled = !unread;
  showList($('#notice-list'), '#notices-empty', notices.map((n) => el(
    'li',
    n.read ? '' : 'unread',
    el('div', '', el('strong', '', n.subject)),
    el('div', 'small', n.body),
    el('div', 'muted small', bizDateTime(n.created_at)),
  )));
}

$('#notices-read').addEventListener('click', async () => {
  try {
    await post('/billing/notices/read');
  } catch (err) {
    fail(err);
  }
  await loadNotices();
});

// -- terminals ----------------------------------------------------------------------------------

function claimList(claims) {
  return el('ul', 'plain-list small', ...claims.map((c) => el(
    'li',
    '',
    el('span', '', day(c.claimed_on), ' ', c.fault),
    el('span', '', stateTag(CLAIM_OUTCOME, c.outcome), c.refusal_message ? el('div', 'muted', c.refusal_message) : null),
  )));
}

function claimForm(device) {
  const form = el('form', 'inline-form');
  form.noValidate = true;
  const fault = el('input');
  Object.assign(fault, { name: 'fault', maxLength: 2000, required: true, placeholder: t('ui.device.fault') });
  fault.setAttribute('aria-label', t('ui.device.fault'));
  const submit = el('button', 'btn btn-sm btn-secondary', t('ui.device.file_claim'));
  submit.type = 'submit';
  form.append(fault, submit);
  onSubmit(form, async () => {
    if (!fault.value.trim()) {
      fault.focus();
      toast(t('ui.device.fault_required'), { error: true });
      return;
    }
    try {
      const claim = await post(`/billing/devices/${device.id}/claims`, { fault: fault.value.trim() });
      toast(claim.outcome === 'refused' ? claim.refusal_message : t('ui.device.claim_filed'), { error: claim.outcome === 'refused' });
    } catch (err) {
      fail(err);
      return;
    }
    await loadDevices();
  });
  return form;
}

async function loadDevices() {
  const devices = await get('/billing/devices');
  const details = await Promise.all(devices.map((d) => get(`/billing/devices/${d.id}`)));
  showList($('#device-rows'), '#devices-empty', details.map((d) => {
    const tr = row([
      d.model,
      d.serial,
      day(d.delivered_on),
      warranty(d),
      d.claims.length ? claimList(d.claims) : '—',
      d.replaced_by_id ? t('ui.device.replaced') : claimForm(d),
    ]);
    tr.dataset.serial = d.serial;
    return tr;
  }));
}

// -- termination --------------------------------------------------------------------------------

$('#terminate-button').addEventListener('click', async () => {
  if (!await confirmDialog(t('ui.billing.terminate_confirm'))) return;
  try {
    const { final_statement: final } = await post('/billing/terminate');
    toast(t('ui.billing.terminate_done', { number: final.number, amount: money(final.total_due_fen) }), { ms: 8000 });
  } catch (err) {
    fail(err);
  }
  await loadAll();
});

// -- loading ------------------------------------------------------------------------------------

async function settle(loaders) {
  const results = await Promise.allSettled(loaders.map((load) => load()));
  for (const result of results) if (result.status === 'rejected') fail(result.reason);
}

const SECTIONS = [loadSubscriptions, loadOrders, loadBillToDate, loadStatements, loadPayments, loadDisputes, loadNotices, loadDevices];

async function loadAll() {
  await settle([loadAccount, ...SECTIONS]);
}

try {
  await loadAccount(); // an organisation member who does not manage its billing stops here
  $('#billing-main').hidden = false;
  await settle(SECTIONS);
  document.body.dataset.loaded = 'true';
} catch (err) {
  if (err.code === 'billing_account_not_found') {
    $('#billing-unavailable').hidden = false;
  } else {
    $('#billing-unavailable-text').textContent = err.status === 0 ? t('ui.common.network_error') : err.message;
    $('#billing-unavailable').hidden = false;
  }
}
