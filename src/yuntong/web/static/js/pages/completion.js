// The completion rate (CP 2.1): ASR and NER per business day as a chart (inline SVG) and
// tables, with the reasons of the network failures; operator staff see every customer and the
// alerts of the days below the contract, a customer its own account. Everything comes from
// /api/v1/completion; the page computes no figure of its own.

import '../app.js';
import { get } from '../api.js';
import { formatDateTime, t } from '../i18n.js';
import { $ } from '../ui.js';

const form = $('#completion-filters');
const staff = $('#completion-card').dataset.staff === 'true';
const SVG = 'http://www.w3.org/2000/svg';
let shown = null; // the last report, redrawn when the chart's width changes

const pct = (value) => (value === null || value === undefined ? '—' : `${value}%`);

function causeName(entry) {
  const key = `ui.completion.cause.${entry.name}`;
  const name = t(key);
  return name === key ? t('ui.completion.cause_other', { cause: entry.cause }) : name;
}

function reasons(tally) {
  return tally.failures.map((f) => `${causeName(f)} (${f.cause}) ${f.count}`).join(' · ');
}

function cell(tr, text, className = '') {
  const td = document.createElement('td');
  if (className) td.className = className;
  if (text instanceof Node) td.append(text);
  else td.textContent = text;
  tr.append(td);
}

function tag(tally) {
  const span = document.createElement('span');
  span.textContent = pct(tally.ner_pct);
  if (tally.below_contract) {
    span.className = 'tag tag-danger';
    span.title = t('ui.completion.below');
  }
  return span;
}

function tallyRow(label, tally) {
  const tr = document.createElement('tr');
  cell(tr, label);
  cell(tr, String(tally.attempts), 'num');
  cell(tr, String(tally.answered), 'num');
  cell(tr, String(tally.effective), 'num');
  cell(tr, String(tally.network_failures), 'num');
  cell(tr, pct(tally.asr_pct), 'num');
  cell(tr, tag(tally), 'num');
  cell(tr, reasons(tally) || '—', 'small');
  if (tally.below_contract) tr.classList.add('below-contract');
  return tr;
}

function fill(tbodyId, emptyId, rows) {
  $(tbodyId).replaceChildren(...rows);
  if (emptyId) $(emptyId).hidden = rows.length > 0;
}

function renderTotal(report) {
  const total = report.total;
  const pairs = [
    ['ui.completion.range', `${report.first_day} – ${report.last_day} (${report.timezone})`],
    ['ui.completion.attempts', String(total.attempts)],
    ['ui.completion.asr', pct(total.asr_pct)],
    ['ui.completion.ner', pct(total.ner_pct)],
    ['ui.completion.failures', String(total.network_failures)],
    ['ui.completion.reasons', reasons(total) || '—'],
  ];
  if (report.account_id !== null) pairs.splice(1, 0, ['ui.completion.customer', `#${report.account_id}`]);
  if (report.number !== null) pairs.splice(1, 0, ['ui.completion.number', report.number]);
  $('#completion-total').replaceChildren(
    ...pairs.flatMap(([key, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = t(key);
      const dd = document.createElement('dd');
      dd.textContent = value;
      return [dt, dd];
    }),
  );
  $('#completion-contract').textContent = t('ui.completion.contract_is', { ner: report.contracted_ner_pct });
}

// -- the chart --------------------------------------------------------------------------------

function svg(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** NER and ASR per day as lines (a day without attempts is a gap), the contract as a dashed
 * line, the days below it as red dots; drawn at the box's own width so that text stays legible
 * on a phone. */
function drawChart(report) {
  const chart = $('#completion-chart');
  const days = report.days;
  const any = days.some((d) => d.attempts > 0);
  $('#completion-chart-box').hidden = !any;
  $('#completion-chart-empty').hidden = any;
  if (!any) return;
  const width = Math.max(240, Math.round(chart.getBoundingClientRect().width) || 640);
  const height = 220;
  const pad = { left: 44, right: 10, top: 10, bottom: 26 };
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const contract = Number(report.contracted_ner_pct);
  const values = days.filter((d) => d.attempts > 0).flatMap((d) => [Number(d.ner_pct), Number(d.asr_pct)]);
  const low = Math.max(0, Math.floor((Math.min(contract, ...values) - 1) / 5) * 5);
  const x = (i) => pad.left + (days.length === 1 ? 0.5 : i / (days.length - 1)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + ((100 - v) / (100 - low || 1)) * (height - pad.top - pad.bottom);
  const nodes = [];
  for (const v of [low, (low + 100) / 2, 100]) {
    nodes.push(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'grid' }));
    nodes.push(svg('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, `${v}%`));
  }
  const labels = days.length <= 2 ? days.map((_, i) => i) : [0, Math.floor((days.length - 1) / 2), days.length - 1];
  for (const i of labels) {
    const anchor = i === 0 ? 'start' : i === days.length - 1 ? 'end' : 'middle';
    nodes.push(svg('text', { x: x(i), y: height - 8, 'text-anchor': anchor, class: 'axis' }, days[i].day.slice(5)));
  }
  nodes.push(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(contract), y2: y(contract), class: 'contract' }));
  for (const [field, className] of [['asr_pct', 'asr'], ['ner_pct', 'ner']]) {
    let segment = [];
    const flush = () => {
      if (segment.length > 1) nodes.push(svg('polyline', { points: segment.join(' '), class: className }));
      if (segment.length === 1) nodes.push(svg('circle', { r: 2.5, cx: segment[0].split(',')[0], cy: segment[0].split(',')[1], class: className }));
      segment = [];
    };
    days.forEach((d, i) => {
      if (d.attempts === 0) flush();
      else segment.push(`${x(i).toFixed(1)},${y(Number(d[field])).toFixed(1)}`);
    });
    flush();
  }
  days.forEach((d, i) => {
    if (!d.below_contract) return;
    const dot = svg('circle', { cx: x(i), cy: y(Number(d.ner_pct)), r: 4, class: 'below' });
    dot.append(svg('title', {}, `${d.day} ${t('ui.completion.ner')} ${d.ner_pct}%`));
    nodes.push(dot);
  });
  chart.replaceChildren(...nodes);
  const below = days.filter((d) => d.below_contract).length;
  chart.setAttribute('aria-label', t('ui.completion.chart_label', {
    from: report.first_day, to: report.last_day, ner: pct(report.total.ner_pct), below,
  }));
}

// -- loading ----------------------------------------------------------------------------------

function filters() {
  return Object.fromEntries([...new FormData(form)].filter(([, v]) => v !== ''));
}

async function load() {
  const query = filters();
  history.replaceState(null, '', Object.keys(query).length ? `?${new URLSearchParams(query)}` : location.pathname);
  let report;
  try {
    report = await get('/completion', query);
    $('#completion-error').hidden = true;
  } catch (err) {
    $('#completion-error').textContent = err.message;
    $('#completion-error').hidden = false;
    return;
  }
  shown = report;
  form.from.value = report.first_day;
  form.to.value = report.last_day;
  renderTotal(report);
  drawChart(report);
  // newest first, only days with attempts (the chart shows the gaps)
  fill('#day-rows', '#days-empty', report.days.filter((d) => d.attempts > 0).reverse().map((d) => tallyRow(d.day, d)));
  fill('#number-rows', '#numbers-empty', report.numbers.map((n) => tallyRow(n.number, n)));
  if (staff) {
    fill('#customer-rows', '#customers-empty', report.customers.map((c) => tallyRow(`#${c.account_id} ${c.name}`, c)));
  }
}

async function loadAlerts() {
  const alerts = await get('/completion/alerts');
  fill('#alert-rows', '#alerts-empty', alerts.map((a) => {
    const tr = document.createElement('tr');
    cell(tr, a.day);
    cell(tr, String(a.attempts), 'num');
    cell(tr, pct(a.ner_pct), 'num');
    cell(tr, pct(a.contracted_ner_pct), 'num');
    cell(tr, formatDateTime(a.raised_at));
    return tr;
  }));
}

const params = new URLSearchParams(location.search);
for (const name of ['from', 'to', 'customer', 'number']) if (form[name]) form[name].value = params.get(name) || '';
form.addEventListener('submit', (event) => {
  event.preventDefault();
  load();
});
new ResizeObserver(() => shown && drawChart(shown)).observe($('#completion-chart-box'));
load();
if (staff) loadAlerts();
