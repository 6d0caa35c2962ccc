// The agent workspace (/support): my status, the conversation list (mine, waiting, open,
// resolved), a conversation with its messages, reply, resolve, reopen and transfer; inboxes and
// agents for organisation administrators. Live through the shell's /ws (support.* events).
// What an agent may do comes from the API's can_* flags, never worked out here.

import { get, post, put } from '../api.js';
import { me, rt } from '../app.js';
import { formatDateTime, t } from '../i18n.js';
import { $, $$, clearErrors, onSubmit, showErrors, toast } from '../ui.js';

const page = $('#support-page');
const list = $('#conversation-list');
let listing = 'open'; // mine and waiting ones
let current = null; // the conversation shown (detail)
let chosen = null; // the status the agent chose
let refreshing = null;

const clientId = () => `w${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

function visitorName(visitor) {
  return visitor.name || t('ui.support.anonymous', { id: visitor.id });
}

async function loadMe() {
  const mine = await get('/support/me');
  chosen = mine.chosen;
  $('#my-status').value = mine.chosen || 'away';
  $('#not-agent').hidden = mine.agent;
  $('#my-status').disabled = !mine.agent;
  return mine;
}

async function setStatus(status) {
  try {
    const mine = await put('/support/me/status', { status });
    chosen = mine.chosen;
    toast(t('ui.support.status_set'));
  } catch (err) {
    toast(err.message, { error: true });
  }
}

async function loadList() {
  let rows;
  try {
    rows = await get('/support/conversations', { listing });
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  list.replaceChildren(...rows.map(item));
  list.setAttribute('aria-busy', 'false');
  $('#conversations-empty').hidden = rows.length > 0;
  page.dataset.loaded = 'true';
}

function refreshSoon() {
  clearTimeout(refreshing);
  refreshing = setTimeout(loadList, 150);
}

function item(c) {
  const li = document.createElement('li');
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'conversation-item';
  b.dataset.id = String(c.id);
  if (current?.id === c.id) b.setAttribute('aria-current', 'true');
  const name = document.createElement('strong');
  name.textContent = visitorName(c.visitor);
  const state = document.createElement('span');
  state.className = `state-tag state-${c.state}`;
  state.textContent = t(`ui.support.state.${c.state}`);
  const when = document.createElement('small');
  when.className = 'muted';
  when.textContent = formatDateTime(c.last_message_at);
  b.append(name, state, when);
  b.addEventListener('click', () => open(c.id));
  li.append(b);
  return li;
}

function messageItem(m) {
  const li = document.createElement('li');
  li.className = `support-message from-${m.sender}`;
  li.dataset.id = String(m.id);
  const who = document.createElement('small');
  who.className = 'muted';
  const author = m.sender === 'visitor' ? visitorName(current.visitor) : m.author || t('ui.support.you');
  who.textContent = `${author} · ${formatDateTime(m.created_at)}`;
  const body = document.createElement('p');
  body.textContent = m.body;
  li.append(who, body);
  return li;
}

function eventItem(e) {
  const li = document.createElement('li');
  li.className = 'support-event muted small';
  let text = t(`ui.support.event.${e.action}`, { actor: e.actor || '', to: e.to || '' });
  if (e.note) text += ` — ${e.note}`;
  li.textContent = text;
  return li;
}

function appendMessage(m) {
  const box = $('#messages');
  if ($(`[data-id="${m.id}"]`, box)) return;
  box.append(messageItem(m));
  box.scrollTop = box.scrollHeight;
}

async function open(id) {
  let detail;
  try {
    detail = await get(`/support/conversations/${id}`);
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  current = detail;
  $('#thread-empty').hidden = true;
  $('#thread-body').hidden = false;
  $('#thread-title').textContent = visitorName(detail.visitor);
  const state = $('#thread-state');
  state.className = `state-tag state-${detail.state}`;
  state.textContent = t(`ui.support.state.${detail.state}`);
  const facts = Object.entries(detail.visitor.attributes || {})
    .filter(([k]) => k !== 'name')
    .map(([k, v]) => `${k}: ${v}`);
  facts.unshift(detail.visitor.verified ? t('ui.support.verified') : t('ui.support.unverified'));
  if (detail.agent) facts.push(t('ui.support.with_agent', { agent: detail.agent }));
  $('#thread-visitor').textContent = facts.join(' · ');
  const box = $('#messages');
  box.replaceChildren(...detail.events.map(eventItem), ...detail.messages.map(messageItem));
  box.scrollTop = box.scrollHeight;
  const form = $('#reply-form');
  form.body.disabled = !detail.can_reply;
  $('#send').disabled = !detail.can_reply;
  $('#resolve').hidden = !detail.can_resolve;
  $('#reopen').hidden = !detail.can_reopen;
  await loadTransferTargets(detail);
  for (const b of $$('.conversation-item')) b.toggleAttribute('aria-current', b.dataset.id === String(id));
}

async function loadTransferTargets(detail) {
  const form = $('#transfer-form');
  form.hidden = !detail.can_transfer;
  if (!detail.can_transfer) return;
  const agents = await get(`/support/inboxes/${detail.inbox_id}/agents`);
  const select = form.to_user_id;
  select.replaceChildren(
    ...agents
      .filter((a) => a.user_id !== detail.agent_id)
      .map((a) => {
        const o = document.createElement('option');
        o.value = String(a.user_id);
        o.textContent = `${a.display_name} (${t(`ui.support.status.${a.status}`)})`;
        o.disabled = a.status === 'offline' || a.status === 'away';
        return o;
      }),
  );
}

onSubmit($('#reply-form'), async () => {
  const form = $('#reply-form');
  const body = form.body.value.trim();
  if (!current || !body) return;
  clearErrors(form);
  try {
    appendMessage(await post(`/support/conversations/${current.id}/messages`, { body, client_id: clientId() }));
    form.body.value = '';
  } catch (err) {
    showErrors(form, err);
  }
});

$('#reply-form').body.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    $('#reply-form').requestSubmit();
  }
});

async function act(path, body = {}) {
  try {
    current = await post(`/support/conversations/${current.id}/${path}`, body);
  } catch (err) {
    toast(err.message, { error: true });
    return false;
  }
  await open(current.id);
  refreshSoon();
  return true;
}

$('#resolve').addEventListener('click', () => act('resolve'));
$('#reopen').addEventListener('click', () => act('reopen'));

onSubmit($('#transfer-form'), async () => {
  const form = $('#transfer-form');
  clearErrors(form);
  if (!form.to_user_id.value) return;
  const body = { to_user_id: Number(form.to_user_id.value), note: form.note.value };
  try {
    current = await post(`/support/conversations/${current.id}/transfer`, body);
  } catch (err) {
    showErrors(form, err);
    return;
  }
  form.note.value = '';
  toast(t('ui.support.transferred'));
  await open(current.id);
  refreshSoon();
});

for (const tab of $$('[data-listing]')) {
  tab.addEventListener('click', () => {
    listing = tab.dataset.listing;
    for (const other of $$('[data-listing]')) other.setAttribute('aria-selected', String(other === tab));
    loadList();
  });
}

$('#my-status').addEventListener('change', (event) => setStatus(event.target.value));

rt.on('support.message', ({ conversation_id: id, message }) => {
  if (current?.id === id) appendMessage(message);
  else toast(t('ui.support.new_message'));
  refreshSoon();
});
rt.on('support.conversation', ({ conversation_id: id }) => {
  refreshSoon();
  if (current?.id === id) open(id);
});
rt.on('support.transferred', (data) => {
  toast(t('ui.support.transferred_to_you', { from: data.from, note: data.note || '' }));
  refreshSoon();
});
// connected (again): an agent who chose online takes waiting conversations now
rt.on('hello', () => {
  if (chosen === 'online') setStatus('online');
});

// -- inboxes and agents (organisation administrators) -------------------------------------------

async function loadInboxes() {
  const listEl = $('#inbox-list');
  if (!listEl) return;
  const inboxes = await get('/support/inboxes');
  const origin = location.origin;
  listEl.replaceChildren(
    ...inboxes.map((i) => {
      const li = document.createElement('li');
      const name = document.createElement('strong');
      name.textContent = i.name;
      const code = document.createElement('code');
      code.className = 'embed-code';
      code.textContent = `<script src="${origin}/support/widget.js" data-inbox="${i.key}"></script>`;
      li.append(name, code);
      return li;
    }),
  );
  $('#agent-form').inbox_id.replaceChildren(
    ...inboxes.map((i) => {
      const o = document.createElement('option');
      o.value = String(i.id);
      o.textContent = i.name;
      return o;
    }),
  );
}

if ($('#inbox-form')) {
  onSubmit($('#inbox-form'), async () => {
    const form = $('#inbox-form');
    clearErrors(form);
    const body = {
      name: form.name.value.trim(),
      origins: form.origins.value.split(/\s+/).filter(Boolean),
      allow_anonymous: form.allow_anonymous.checked,
      routing: form.routing.value,
    };
    let created;
    try {
      created = await post('/support/inboxes', body);
    } catch (err) {
      showErrors(form, err);
      return;
    }
    form.reset();
    const secret = $('#inbox-secret');
    secret.textContent = t('ui.support.secret_once', { secret: created.secret });
    secret.hidden = false;
    await loadInboxes();
  });
  onSubmit($('#agent-form'), async () => {
    const form = $('#agent-form');
    clearErrors(form);
    const path = `/support/inboxes/${form.inbox_id.value}/agents/${encodeURIComponent(form.username.value.trim())}`;
    try {
      await put(path, { capacity: Number(form.capacity.value) });
    } catch (err) {
      showErrors(form, err);
      return;
    }
    form.username.value = '';
    toast(t('ui.support.agent_added'));
    await loadMe();
  });
}

if (me) {
  await loadMe();
  await Promise.all([loadList(), loadInboxes()]);
}
