// The desk widget (docs/support.md): one classic script on the platform's own page,
//   <script src="https://yuntong.example/support/widget.js" data-inbox="KEY" async></script>
// A chat bubble and panel in a shadow root (the page's styles do not reach it), zh-CN and en,
// phone-sized, keyboard-usable. A platform that signs its visitors sets, before the script,
//   window.YuntongSupport = { identity: { visitor_id, attributes, timestamp, signature } };
// the identity is exchanged for a visitor token at once (a signature lasts minutes and is
// used once). Messages go over /ws/support (REST when the socket is down); the words come
// from the inbox's config, in the page's language. No rule of the desk is worked out here.

(() => {
  const script = document.currentScript;
  if (!script || !script.dataset.inbox || window.__yuntongSupportLoaded) return;
  window.__yuntongSupportLoaded = true;
  const key = script.dataset.inbox;
  const base = new URL(script.src, location.href).origin;
  const api = `${base}/api/v1/support/widget/${encodeURIComponent(key)}`;
  const wsBase = base.replace(/^http/, 'ws');
  const lang = (script.dataset.locale || document.documentElement.lang || navigator.language || 'zh-CN').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
  const store = `yuntong.support.${key}`;
  const PING_MS = 15000;
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];

  let words = {};
  let config = null;
  let token = null;
  let socket = null;
  let attempt = 0;
  let pinger = null;
  let nextId = 1;
  const pending = new Map();
  const shown = new Set();

  const word = (k, params = {}) => (words[`widget.${k}`] || k).replace(/\{(\w+)\}/g, (w, n) => (n in params ? String(params[n]) : w));

  // -- the bubble and the panel ---------------------------------------------------------------
  const host = document.createElement('div');
  host.id = 'yuntong-support';
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `
<style>
  :host { all: initial; }
  * { box-sizing: border-box; font-family: system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif; }
  .bubble { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px; border-radius: 50%;
    border: 0; background: #2563eb; color: #fff; font-size: 26px; cursor: pointer; box-shadow: 0 6px 20px rgba(16,24,40,.25); }
  .bubble:focus-visible, button:focus-visible, textarea:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
  .panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: min(370px, calc(100vw - 24px));
    height: min(540px, calc(100vh - 110px)); display: flex; flex-direction: column; background: #fff; color: #101828;
    border-radius: 14px; box-shadow: 0 12px 40px rgba(16,24,40,.25); overflow: hidden; font-size: 15px; }
  .panel[hidden] { display: none; }
  header { display: flex; align-items: center; justify-content: space-between; padding: 12px 14px; background: #2563eb; color: #fff; }
  header h2 { margin: 0; font-size: 16px; }
  header button { background: none; border: 0; color: #fff; font-size: 22px; cursor: pointer; line-height: 1; padding: 4px 8px; }
  .status { margin: 0; padding: 8px 14px; font-size: 13px; background: #f8fafc; color: #475467; border-bottom: 1px solid #eaecf0; }
  ol { list-style: none; margin: 0; padding: 12px; flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: 8px; }
  li { max-width: 85%; padding: 8px 11px; border-radius: 12px; background: #f2f4f7; white-space: pre-wrap; overflow-wrap: anywhere; }
  li.mine { align-self: flex-end; background: #2563eb; color: #fff; }
  li small { display: block; font-size: 11px; opacity: .75; margin-bottom: 2px; }
  form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #eaecf0; }
  form.prechat { flex-direction: column; border: 0; padding: 14px; overflow-y: auto; flex: 1; }
  label { display: grid; gap: 4px; font-size: 13px; color: #344054; }
  textarea, input, select { font: inherit; font-size: 15px; border: 1px solid #d0d5dd; border-radius: 8px; padding: 8px; width: 100%; }
  textarea { resize: none; height: 44px; }
  .send, .start { border: 0; border-radius: 8px; background: #2563eb; color: #fff; font: inherit; font-weight: 600; padding: 0 14px; cursor: pointer; min-height: 44px; }
  .error { color: #b42318; font-size: 13px; margin: 0 14px 8px; }
  @media (max-width: 480px) {
    .panel { inset: 0; width: 100vw; height: 100%; border-radius: 0; }
    .bubble { right: 14px; bottom: 14px; }
  }
</style>
<button type="button" class="bubble" aria-expanded="false" aria-controls="yts-panel">💬</button>
<section class="panel" id="yts-panel" role="dialog" aria-modal="false" aria-labelledby="yts-title" hidden>
  <header><h2 id="yts-title"></h2><button type="button" class="close">×</button></header>
  <p class="status" role="status" aria-live="polite"></p>
  <form class="prechat" hidden></form>
  <ol class="messages" aria-live="polite"></ol>
  <p class="error" role="alert" hidden></p>
  <form class="compose">
    <textarea name="body" maxlength="4000" rows="1"></textarea>
    <button type="submit" class="send"></button>
  </form>
</section>`;
  const $ = (sel) => root.querySelector(sel);
  const bubble = $('.bubble');
  const panel = $('.panel');
  const list = $('.messages');
  const compose = $('.compose');
  const prechat = $('.prechat');

  function label() {
    bubble.setAttribute('aria-label', word('open'));
    bubble.title = word('open');
    $('#yts-title').textContent = config?.name || word('title');
    $('.close').setAttribute('aria-label', word('close'));
    compose.body.placeholder = word('placeholder');
    compose.body.setAttribute('aria-label', word('placeholder'));
    $('.send').textContent = word('send');
  }

  function openPanel(open) {
    panel.hidden = !open;
    bubble.setAttribute('aria-expanded', String(open));
    if (open) {
      (prechat.hidden ? compose.body : prechat.querySelector('input, select, button'))?.focus();
      if (!token && !prechat.hidden) return;
      if (token && !socket) connect();
    } else {
      bubble.focus();
    }
  }
  bubble.addEventListener('click', () => openPanel(panel.hidden));
  $('.close').addEventListener('click', () => openPanel(false));
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') openPanel(false);
  });

  function showError(message) {
    const p = $('.error');
    p.textContent = message || '';
    p.hidden = !message;
  }

  // -- what the visitor sees -------------------------------------------------------------------
  function addMessage(m) {
    if (!m || shown.has(m.id)) return;
    shown.add(m.id);
    const li = document.createElement('li');
    const mine = m.sender === 'visitor';
    li.className = mine ? 'mine' : 'theirs';
    li.dataset.sender = m.sender;
    const who = document.createElement('small');
    who.textContent = mine ? word('you') : m.author || word('agent');
    li.append(who, document.createTextNode(m.body));
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  function showConversation(c) {
    const status = $('.status');
    status.dataset.state = c ? c.state : '';
    if (!c) {
      status.textContent = '';
      status.hidden = true;
      return;
    }
    status.hidden = false;
    if (c.state === 'assigned') status.textContent = word('assigned', { agent: c.agent || word('agent') });
    else if (c.state === 'resolved') status.textContent = word('resolved');
    else if (!c.queue || c.queue.wait_s === null) status.textContent = word('no_agents');
    else {
      const minutes = Math.max(1, Math.round(c.queue.wait_s / 60));
      status.textContent = c.queue.position <= 1 ? word('next', { minutes }) : word('waiting', { ahead: c.queue.position - 1, minutes });
    }
  }

  function showState(state) {
    showConversation(state.conversation);
    for (const m of state.messages || []) addMessage(m);
  }

  // -- the REST calls (CORS: this page's origin must be the inbox's) ----------------------------
  async function call(method, path, body) {
    const headers = { Accept: 'application/json', 'Accept-Language': lang };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers['X-Visitor-Token'] = token;
    const response = await fetch(`${api}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), mode: 'cors', credentials: 'omit' });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error(data?.error?.message || `HTTP ${response.status}`);
      error.code = data?.error?.code;
      throw error;
    }
    return data;
  }

  async function startSession(body) {
    const session = await call('POST', '/session', body);
    token = session.token;
    try { localStorage.setItem(store, token); } catch { /* private mode */ }
    prechat.hidden = true;
    compose.hidden = false;
    showState(session.state);
    connect();
  }

  function buildPrechat() {
    prechat.replaceChildren();
    for (const field of config.prechat_fields || []) {
      const wrap = document.createElement('label');
      wrap.textContent = lang === 'zh-CN' ? field.label_zh : field.label_en;
      let input;
      if (field.options && field.options.length) {
        input = document.createElement('select');
        for (const option of ['', ...field.options]) {
          const o = document.createElement('option');
          o.value = option;
          o.textContent = option;
          input.append(o);
        }
      } else {
        input = document.createElement('input');
        input.maxLength = 200;
      }
      input.name = field.name;
      input.required = Boolean(field.required);
      wrap.append(input);
      prechat.append(wrap);
    }
    const start = document.createElement('button');
    start.type = 'submit';
    start.className = 'start';
    start.textContent = word('start');
    prechat.append(start);
    prechat.hidden = false;
    compose.hidden = true;
  }

  prechat.addEventListener('submit', async (event) => {
    event.preventDefault();
    const answers = {};
    for (const input of prechat.querySelectorAll('input, select')) {
      if (input.required && !input.value.trim()) {
        showError(`${input.parentElement.firstChild.textContent}: ${word('required')}`);
        input.focus();
        return;
      }
      if (input.value.trim()) answers[input.name] = input.value.trim();
    }
    showError('');
    try {
      await startSession({ prechat: answers });
      compose.body.focus();
    } catch (err) {
      showError(err.message);
    }
  });

  // -- the socket ------------------------------------------------------------------------------
  function connect() {
    if (!token || socket) return;
    const params = new URLSearchParams({ ticket: token, locale: lang });
    const ws = new WebSocket(`${wsBase}/ws/support?${params}`);
    socket = ws;
    ws.onmessage = (event) => receive(JSON.parse(event.data));
    ws.onclose = (event) => closed(ws, event);
    ws.onerror = () => {};
  }

  function receive(msg) {
    if (msg.type === 'hello') {
      attempt = 0;
      showError('');
      host.dataset.connected = 'true';
      showState(msg.data);
      clearInterval(pinger);
      pinger = setInterval(() => send('ping'), PING_MS);
      return;
    }
    if ((msg.type === 'ack' || msg.type === 'error') && pending.has(msg.re)) {
      const { resolve, reject } = pending.get(msg.re);
      pending.delete(msg.re);
      if (msg.type === 'ack') resolve(msg.data);
      else reject(Object.assign(new Error(msg.data.message), { code: msg.data.code }));
      return;
    }
    if (msg.type === 'error' && msg.re === undefined && msg.data?.code === 'support_visitor_invalid') forget();
    if (msg.type === 'support.message') addMessage(msg.data.message);
    if (msg.type === 'support.conversation') showConversation(msg.data.conversation);
  }

  function send(type, data = {}) {
    const id = `w${nextId++}`;
    return new Promise((resolve, reject) => {
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        reject(new Error('offline'));
        return;
      }
      if (type !== 'ping') pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ v: 1, type, id: type === 'ping' ? undefined : id, data }));
      if (type === 'ping') resolve({});
    });
  }

  function closed(ws, event) {
    if (socket !== ws) return;
    socket = null;
    host.dataset.connected = 'false';
    clearInterval(pinger);
    for (const { reject } of pending.values()) reject(new Error('offline'));
    pending.clear();
    if (event.code === 4401 || event.code === 4403) {
      forget();
      return;
    }
    if (!token) return;
    showError(word('offline'));
    const delay = BACKOFF_MS[Math.min(attempt++, BACKOFF_MS.length - 1)];
    setTimeout(connect, delay);
  }

  function forget() {
    token = null;
    try { localStorage.removeItem(store); } catch { /* private mode */ }
    if (config?.allow_anonymous) buildPrechat();
  }

  compose.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = compose.body.value.trim();
    if (!body || !token) return;
    const clientId = `v${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    compose.body.value = '';
    try {
      let message;
      try {
        message = (await send('support.send', { body, client_id: clientId })).message;
      } catch (err) {
        if (err.message !== 'offline') throw err;
        message = await call('POST', '/messages', { body, client_id: clientId }); // the socket is down
      }
      addMessage(message);
      showError('');
    } catch (err) {
      compose.body.value = body;
      showError(word('failed', { message: err.message }));
    }
  });
  compose.body.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      compose.requestSubmit();
    }
  });

  // -- start -------------------------------------------------------------------------------------
  async function start() {
    config = await call('GET', `/config?locale=${lang}`);
    words = config.strings;
    label();
    document.body.append(host);
    const identity = window.YuntongSupport?.identity;
    if (identity) {
      try {
        await startSession({ identity });
      } catch (err) {
        showError(err.message);
      }
      return;
    }
    try { token = localStorage.getItem(store); } catch { token = null; }
    if (token) {
      try {
        showState(await call('GET', '/conversation'));
        connect();
        return;
      } catch {
        forget();
      }
    }
    if (config.allow_anonymous) {
      buildPrechat();
      return;
    }
    compose.hidden = true;
    try {
      await startSession({}); // refused: the server says why, in the page's language
    } catch (err) {
      showError(err.message);
    }
  }

  start().catch((err) => console.warn('yuntong support widget:', err.message));
})();
