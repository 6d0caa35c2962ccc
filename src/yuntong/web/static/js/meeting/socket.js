// The meeting socket /ws/meeting?ticket= (docs/meetings.md): the envelopes, heartbeats,
// request/ack and reconnect of ws.js, with the ticket in place of the device channel.

import { RealtimeClient } from '../ws.js';

/** Close codes after which reconnecting with the same ticket cannot help. */
export const isFinalClose = (code) => code >= 4400 && code < 4500;

export class MeetingSocket extends RealtimeClient {
  constructor(ticket) {
    super();
    this.ticket = ticket;
  }

  connect() {
    this.closed = false;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    // the server's errors in the page's language (a guest has no account language to go by)
    const params = new URLSearchParams({ ticket: this.ticket, locale: document.documentElement.lang || '' });
    const ws = new WebSocket(`${scheme}://${location.host}/ws/meeting?${params}`);
    this.ws = ws;
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._closed(ws, event);
    ws.onerror = () => {}; // onclose follows
  }

  _closed(ws, event) {
    if (ws !== this.ws || !isFinalClose(event.code)) {
      super._closed(ws, event); // reconnects with back-off, same ticket
      return;
    }
    // removed, denied, ended or a ticket the server no longer takes: no retry, no log-in page
    this.ready = false;
    this.closed = true;
    clearInterval(this.heartbeat);
    this._emit('connection', { up: false, code: event.code, final: true });
  }

  // the ticket is the whole identity of this socket: nothing to resume from sessionStorage
  _loadResume() {
    return null;
  }

  _saveResume() {}
}
