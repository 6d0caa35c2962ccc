// A statement: header, summary, every line in the business time zone, PDF and CSV downloads,
// and a dispute per line the customer was charged for, with the steps of each dispute.

import '../app.js';
import { get, post } from '../api.js';
import {
  DISPUTE_STATE, STATEMENT_KIND, bizDateTime, button, day, disputeExplanation, disputeSteps, el, money, named, parseYuan, renderLines,
  stateTag,
} from '../billing.js';
import { t } from '../i18n.js';
import { $, clearErrors, onSubmit, showErrors, toast } from '../ui.js';

const statementId = Number($('#statement').dataset.statementId);
const dialog = $('#dispute-dialog');
const form = $('#dispute-form');
let disputing = null; // {entryId, line}
let disputes = [];

function kv(target, entries) {
  target.replaceChildren(...entries.flatMap(([label, value]) => [el('dt', '', label), el('dd', '', value)]));
}

function entryOf(line) {
  return line.entry_id ?? undefined;
}

const OPEN = new Set(['open', 'investigating']);

// the server says which lines may be disputed now (can_dispute) and for how much; a line with
// a dispute still open shows where that dispute stands
function lineAction(line) {
  const entryId = entryOf(line);
  const pending = entryId !== undefined && disputes.find((d) => d.entry_id === entryId && OPEN.has(d.state));
  if (pending) return stateTag(DISPUTE_STATE, pending.state);
  if (!line.can_dispute) return '';
  return button(t('ui.dispute.action'), 'btn-ghost act-dispute', () => openDialog(entryId, line));
}

function openDialog(entryId, line) {
  disputing = { entryId, line };
  form.reset();
  clearErrors(form);
  $('#dispute-line').textContent = `${bizDateTime(line.occurred_at)} · ${line.description} · ${money(line.amount_fen)}`;
  $('#dispute-amount-hint').textContent = t('ui.dispute.amount_hint', { amount: money(line.disputable_fen) });
  dialog.showModal();
}

$('#dispute-cancel').addEventListener('click', () => dialog.close());

onSubmit(form, async () => {
  clearErrors(form);
  const reason = form.reason.value.trim();
  const amountText = form.amount.value.trim();
  const amount = amountText ? parseYuan(amountText) : null;
  if (!reason || (amountText && amount === null)) {
    const fields = {};
    if (!reason) fields.reason = { message: t('ui.common.required') };
    if (amountText && amount === null) fields.amount_fen = { message: t('ui.billing.amount_invalid') };
    showErrors(form, { status: 422, message: t('ui.signup.fix_fields'), fields });
    return;
  }
  let dispute;
  try {
    dispute = await post('/billing/disputes', {
      entry_id: disputing.entryId, reason, ...(amount === null ? {} : { amount_fen: amount }),
    });
  } catch (err) {
    showErrors(form, err);
    return;
  }
  dialog.close();
  toast(t('ui.dispute.opened_toast', { id: dispute.id }));
  await load();
  $(`#dispute-list [data-dispute-id="${dispute.id}"]`)?.scrollIntoView({ block: 'center' });
});

function renderDisputes() {
  const mine = disputes.filter((d) => d.statement_id === statementId);
  $('#statement-disputes').hidden = !mine.length;
  $('#dispute-list').replaceChildren(...mine.map((d) => {
    const li = el(
      'li',
      'dispute',
      el('div', 'row', el('strong', '', t('ui.dispute.number', { id: d.id })), stateTag(DISPUTE_STATE, d.state),
        el('span', 'muted small', money(d.amount_fen))),
      el('p', 'small', d.reason),
      d.credited_fen ? el('p', 'small', t('ui.dispute.credited', { amount: money(d.credited_fen) })) : null,
      disputeExplanation(d),
      disputeSteps(d),
    );
    li.dataset.disputeId = String(d.id);
    li.dataset.state = d.state;
    return li;
  }));
}

async function load() {
  let st;
  try {
    [st, disputes] = await Promise.all([
      get(`/billing/statements/${statementId}`),
      get('/billing/disputes').catch(() => []), // staff see a statement without its account's list
    ]);
  } catch (err) {
    $('#statement-error').textContent = err.status === 0 ? t('ui.common.network_error') : err.message;
    $('#statement-error').hidden = false;
    $('#download-pdf').hidden = true;
    $('#download-csv').hidden = true;
    return;
  }
  $('#statement-number').textContent = st.number;
  kv($('#statement-meta'), [
    [t('ui.statement.kind'), named(STATEMENT_KIND, st.kind)],
    [t('ui.statement.cycle'), st.kind === 'cycle' ? st.cycle : '—'],
    // the days covered, both included: a cycle ending on 1 Dec 00:00 covers up to 30 Nov
    [t('ui.statement.period'), `${day(st.period_first_day)} – ${day(st.period_last_day)}`],
    [t('ui.statement.issued'), bizDateTime(st.issued_at)],
    [t('ui.statement.due'), day(st.due_on)],
    [t('ui.statement.customer'), st.customer_name],
  ]);
  kv($('#statement-summary'), [
    [t('ui.statement.previous_balance'), money(st.previous_balance_fen)],
    [t('ui.statement.payments'), money(st.payments_fen)],
    [t('ui.statement.charges'), money(st.charges_fen)],
    [t('ui.statement.total_due'), el('strong', '', money(st.total_due_fen))],
  ]);
  $('#statement-head').hidden = false;
  renderLines($('#line-rows'), st.lines, lineAction);
  $('#lines-total').textContent = money(st.total_due_fen);
  $('#statement-lines').hidden = false;
  renderDisputes();
  document.body.dataset.loaded = 'true';
}

await load();
