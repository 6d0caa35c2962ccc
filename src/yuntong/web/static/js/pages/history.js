// Call history: filters (dates, direction, contact) kept in the URL, pagination, call back.

import { get } from '../api.js';
import { markMissedSeen, rt, startCall } from '../app.js';
import { formatDateTime, formatDuration, t } from '../i18n.js';
import { loadSipCalls } from '../sip.js';
import { $ } from '../ui.js';

const PAGE_SIZE = 20;
const form = $('#history-filters');
const rows = $('#history-rows');
const rowTemplate = $('#history-row');
const OUTCOME_TAG = { answered: 'tag-ok', rejected: 'tag-warn', busy: 'tag-warn', no_answer: 'tag-danger' };

function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  for (const name of ['since', 'until', 'direction', 'contact']) form[name].value = params.get(name) || '';
  return Math.max(1, Number(params.get('page')) || 1);
}

function dayStart(value, plusDays = 0) {
  if (!value) return undefined;
  const day = new Date(`${value}T00:00:00`);
  day.setDate(day.getDate() + plusDays);
  return day.toISOString();
}

async function load(page) {
  const f = Object.fromEntries(new FormData(form));
  const url = new URLSearchParams({ ...Object.fromEntries(Object.entries(f).filter(([, v]) => v)), page });
  history.replaceState(null, '', `?${url}`);
  let result;
  try {
    result = await get('/calls', {
      direction: f.direction,
      since: dayStart(f.since),
      until: dayStart(f.until, 1), // the whole of the last day
      contact: f.contact,
      page,
      page_size: PAGE_SIZE,
    });
    $('#history-error').hidden = true;
  } catch (err) {
    $('#history-error').textContent = err.message;
    $('#history-error').hidden = false;
    return;
  }
  rows.replaceChildren(...result.items.map(row));
  $('#history-empty').hidden = result.items.length > 0;
  const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
  $('#history-pager').hidden = result.total <= PAGE_SIZE;
  $('#page-info').textContent = t('ui.common.page_of', { page, pages, total: result.total });
  $('#page-prev').disabled = page <= 1;
  $('#page-next').disabled = page >= pages;
  currentPage = page;
}

function row(call) {
  const tr = rowTemplate.content.firstElementChild.cloneNode(true);
  tr.dataset.callId = call.id;
  tr.dataset.outcome = call.outcome || '';
  tr.dataset.durationMs = String(call.duration_ms);
  tr.dataset.direction = call.missed ? 'missed' : call.direction;
  tr.classList.toggle('missed', call.missed);
  const name = call.other.display_name || call.other.username || `#${call.other.user_id}`;
  tr.querySelector('.c-time').textContent = formatDateTime(call.created_at);
  tr.querySelector('.peer-name').textContent = name;
  const number = call.direction === 'outgoing' ? call.called_number : call.calling_number;
  // a forwarded leg: the forwarder's (outgoing) leg is for the original caller's number; the
  // final callee's (incoming) one came from that number, forwarded by the forwarder's
  let forwarded = '';
  if (call.forwarding && call.direction === 'outgoing' && call.calling_number) {
    forwarded = t('ui.history.forwarded_for', { number: call.calling_number });
  } else if (call.forwarding && call.forwarded_by) {
    forwarded = t('ui.history.forwarded_by', { number: call.forwarded_by });
  }
  tr.querySelector('.peer-username').textContent = [call.other.username ? `@${call.other.username}` : '', number || '', forwarded]
    .filter(Boolean).join(' · ');
  tr.querySelector('.dir-icon').textContent = call.direction === 'outgoing' ? '↗' : '↙';
  const type = call.forwarding && call.direction === 'outgoing' ? 'forwarded_leg' : (call.missed ? 'missed' : call.direction);
  tr.querySelector('.c-type-label').textContent = t(`ui.history.${type}`);
  tr.querySelector('.c-media').textContent = t(`ui.media.${call.media}`);
  if (call.forwarding) tr.dataset.forwarding = call.forwarding;
  const tag = tr.querySelector('.c-result .tag');
  const onward = call.direction === 'incoming' ? call.forwarded_to : null;
  if (onward) {
    // the call rang here and went on to another number: that, not its outcome, is what happened here
    tr.dataset.forwardedTo = onward.number || '';
    tag.textContent = t(`ui.history.forwarded_to.${onward.forwarding}`, { number: onward.number || '' });
  } else {
    tag.textContent = call.outcome ? t(`ui.outcome.${call.outcome}`) : t('ui.call.state.connected');
    if (OUTCOME_TAG[call.outcome]) tag.classList.add(OUTCOME_TAG[call.outcome]);
  }
  tr.querySelector('.c-duration').textContent = call.outcome === 'answered' ? formatDuration(call.duration_ms / 1000) : '—';
  if (call.holds?.length) tr.querySelector('.c-duration').append(holdsNote(call.holds));
  const mos = call.quality?.mos;
  tr.querySelector('.c-quality').textContent = mos ? `MOS ${mos.toFixed(1)}` : '—';
  const back = tr.querySelector('.act-video');
  if (call.other.username) {
    back.addEventListener('click', () => startCall(call.other.username, call.media, { ...call.other, display_name: name }));
  } else {
    back.hidden = true;
  }
  return tr;
}

// the call's holds: how many and how long in all, each period (who held it, from, to) as its title
function holdsNote(holds) {
  const note = document.createElement('small');
  note.className = 'c-holds';
  const seconds = holds.reduce((sum, h) => sum + ((h.ended_at ? new Date(h.ended_at) : new Date()) - new Date(h.started_at)) / 1000, 0);
  note.textContent = t('ui.history.holds', { count: holds.length, duration: formatDuration(seconds) });
  note.title = holds.map((h) => t(`ui.history.hold_period.${h.held_by}`, {
    start: formatDateTime(h.started_at),
    end: h.ended_at ? formatDateTime(h.ended_at) : t('ui.history.hold_open'),
  })).join('\n');
  note.dataset.holds = String(holds.length);
  return note;
}

async function loadContacts() {
  const select = form.contact;
  const chosen = select.value;
  try {
    const contacts = await get('/contacts');
    for (const c of contacts) select.append(new Option(`${c.name} (@${c.username})`, c.user_id));
    select.value = chosen;
  } catch {
    // filtering by contact is optional
  }
}

let currentPage = filtersFromUrl();
form.addEventListener('submit', (event) => { event.preventDefault(); load(1); });
form.addEventListener('reset', () => setTimeout(() => load(1)));
$('#page-prev').addEventListener('click', () => load(currentPage - 1));
$('#page-next').addEventListener('click', () => load(currentPage + 1));
rt.on('call.ended', () => setTimeout(() => load(currentPage), 300));

loadSipCalls(); // the calls of the user's SIP phones, a card of its own
await loadContacts();
filtersFromUrl();
await load(currentPage);
markMissedSeen();
