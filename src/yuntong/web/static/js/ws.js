// The realtime client: one WebSocket to /ws (docs/protocol.md) with hello/resume, heartbeats,
// request/ack by id, reconnect with back-off and event dispatch.

const DEVICE_KEY = 'yuntong.device';
const RESUME_KEY = 'yuntong.resume'; // per tab: {device, token, lastSeq}
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const REQUEST_TIMEOUT_MS = 15000;

/** A stable id for this browser, made up once and kept in localStorage. */
export function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
    const bytes = crypto.getRandomValues(new Uint8Array(9));
    id = `web-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

export class RealtimeClient {
  constructor() {
    this.handlers = new Map(); // type -> Set<fn(data, msg)>
    this.pending = new Map(); // request id -> {resolve, reject, timer}
    this.outbox = []; // messages written while the socket was down
    this.nextId = 1;
    this.attempt = 0;
    this.ws = null;
    this.ready = false;
    this.closed = false;
    this.heartbeat = null;
    this.hello = null;
    this.resume = this._loadResume();
  }

  /** Subscribe to a server message type ('*' for all); returns an unsubscribe function. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type)?.delete(fn);
  }

  connect() {
    this.closed = false;
    const params = new URLSearchParams({ device: this.resume?.device || deviceId() });
    // the server's error messages in the page's language (docs/protocol.md)
    if (document.documentElement.lang) params.set('locale', document.documentElement.lang);
    if (this.resume?.token) {
      params.set('resume', this.resume.token);
      params.set('last_seq', String(this.resume.lastSeq || 0));
    }
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws?${params}`);
    this.ws = ws;
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._closed(ws, event);
    ws.onerror = () => {}; // onclose follows and reconnects
  }

  close() {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.ws?.close(1000);
  }

  /** Fire-and-forget message; queued while disconnected. */
  send(type, data = {}) {
    this._write({ v: 1, type, data });
  }

  /** A message with an id: resolves with the ack's data, rejects with the error's data. */
  request(type, data = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
    const id = `c-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(Object.assign(new Error('timeout'), { code: 'timeout' }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this._write({ v: 1, type, id, data });
    });
  }

  // -- internals ---------------------------------------------------------------------------

  _write(msg) {
    if (this.ready && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
    } else {
      this.outbox.push(msg);
    }
  }

  _receive(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (typeof msg.seq === 'number' && this.resume) {
      this.resume.lastSeq = Math.max(this.resume.lastSeq || 0, msg.seq);
      this._saveResume();
    }
    if (msg.type === 'hello') {
      this._hello(msg.data); // emits 'hello' itself, after the outbox: not again below
      return;
    }
    if (msg.type === 'error' && !msg.re && msg.data?.code === 'node_busy') {
      // shed by admission control (a 1013 close follows): come back when told, not sooner
      this.retryAfterMs = Math.max(0, Number(msg.data.retry_after) || 1) * 1000;
    }
    if ((msg.type === 'ack' || msg.type === 'error') && msg.re) {
      const entry = this.pending.get(msg.re);
      if (entry) {
        this.pending.delete(msg.re);
        clearTimeout(entry.timer);
        if (msg.type === 'ack') entry.resolve(msg.data);
        else entry.reject(Object.assign(new Error(msg.data?.message || msg.data?.code), msg.data));
        return;
      }
    } else if (msg.type === 'pong') {
      return;
    }
    this._emit(msg.type, msg.data, msg);
  }

  _hello(data) {
    this.hello = data;
    this.ready = true;
    this.attempt = 0;
    const lastSeq = data.resumed ? this.resume?.lastSeq || 0 : data.last_seq || 0;
    this.resume = { device: data.device_id, token: data.resume_token, lastSeq };
    this._saveResume();
    clearInterval(this.heartbeat);
    const every = Math.max(1, Number(data.heartbeat_s) || 20) * 1000;
    this.heartbeat = setInterval(() => this._write({ v: 1, type: 'ping', data: {} }), every);
    const queued = this.outbox.splice(0);
    for (const msg of queued) this._write(msg);
    this._emit('hello', data, { type: 'hello', data });
    this._emit('connection', { up: true, resumed: !!data.resumed });
  }

  _closed(ws, event) {
    if (ws !== this.ws) return;
    this.ready = false;
    clearInterval(this.heartbeat);
    this._emit('connection', { up: false, code: event.code });
    if (event.code === 4401) {
      location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
      return;
    }
    if (event.code === 4409 || event.code === 4400) {
      // another tab took over this device channel (or it was refused): start a fresh one
      this.resume = null;
      this._saveResume();
    }
    if (this.closed) return;
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    const told = this.retryAfterMs || 0; // node_busy's retry_after (already jittered)
    this.retryAfterMs = 0;
    setTimeout(() => this.connect(), Math.max(told, base / 2 + Math.random() * base / 2));
  }

  _emit(type, data, msg) {
    for (const key of [type, '*']) {
      for (const fn of this.handlers.get(key) || []) {
        try {
          fn(data, msg);
        } catch (err) {
          console.error('handler failed', type, err);
        }
      }
    }
  }

  _loadResume() {
    try {
      return JSON.parse(sessionStorage.getItem(RESUME_KEY) || 'null');
    } catch {
      return null;
    }
  }

  _saveResume() {
    if (this.resume) sessionStorage.setItem(RESUME_KEY, JSON.stringify(this.resume));
    else sessionStorage.removeItem(RESUME_KEY);
  }
}
