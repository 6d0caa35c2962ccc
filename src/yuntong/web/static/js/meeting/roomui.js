// Binds a MeetingRoom to the room screen of meeting_join.html: the video tiles (grid or active
// speaker), the participants and chat panels, the control bar and the host controls.

import { locale, t } from '../i18n.js';
import { $, $$, confirmDialog, initials, onSubmit, toast } from '../ui.js';
import { fillDevicePickers } from './devices.js';
import { formatNumber, roleName } from './format.js';

// the simulcast layer a tile needs, by its width in CSS pixels (speaker view: main 2, strip 0)
const LAYER_WIDTHS = [[560, 2], [280, 1], [0, 0]];
const QUALITY_KEYS = {
  unknown: 'ui.call.quality.unknown',
  good: 'ui.call.quality.good',
  fair: 'ui.call.quality.fair',
  poor: 'ui.call.quality.poor',
};
const ROLE_ORDER = { host: 0, cohost: 1, participant: 2, guest: 3 };
const clock = new Intl.DateTimeFormat(locale, { timeStyle: 'short' });

function fromTemplate(id) {
  return $(id).content.firstElementChild.cloneNode(true);
}

/** Play a video; when the browser refuses sound without a click, play muted and say so. */
function play(video, onBlocked) {
  video.play().catch(() => {
    if (video.muted) return;
    video.muted = true;
    video.play().catch(() => {});
    onBlocked();
  });
}

export class RoomView {
  constructor(room, media) {
    this.room = room;
    this.media = media;
    this.layout = 'grid';
    this.pinned = null; // a tile key chosen as the main tile in speaker view
    this.tiles = new Map(); // tile key -> element
    this.people = new Map(); // participant id -> <li>
    this.panel = null; // 'people' | 'chat' | null
    this.unread = 0;
    this.audioBlocked = false;
    this.frame = 0;
    this.el = {
      tiles: $('#tiles'),
      title: $('#room-title'),
      number: $('#room-number'),
      recording: $('#room-recording'),
      locked: $('#room-locked'),
      quality: $('#room-quality'),
      qualityLabel: $('#room-quality-label'),
      offline: $('#room-offline'),
      peopleList: $('#people-list'),
      peopleCount: $('#people-count'),
      hostTools: $('#host-tools'),
      lobbySection: $('#lobby-section'),
      lobbyList: $('#lobby-list'),
      lobbyCount: $('#lobby-count'),
      chatList: $('#chat-list'),
      chatForm: $('#chat-form'),
      chatTo: $('#chat-to'),
      audioBlocked: $('#audio-blocked'),
      publishFailed: $('#publish-failed'),
      publishFailedDetail: $('#publish-failed-detail'),
    };
    this._wire();
    room.addEventListener('change', () => this.render());
    room.addEventListener('notice', ({ detail }) => {
      toast(detail.key ? t(detail.key, detail.params) : detail.message, { error: Boolean(detail.error) });
    });
    room.addEventListener('chat', ({ detail }) => this._chatMessage(detail));
    media.addEventListener('change', () => this.render());
    new ResizeObserver(() => this._chooseLayers()).observe(this.el.tiles);
  }

  /** Re-draw on the next frame (many events may arrive together). */
  render() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.room.state !== 'joined') return;
      this._top();
      this._controls();
      this._tiles();
      this._people();
      this._lobby();
      this._chatTargets();
      this._chooseLayers();
    });
  }

  // -- wiring -------------------------------------------------------------------------------

  _wire() {
    const room = this.room;
    const click = (id, fn) => $(id).addEventListener('click', fn);
    click('#btn-mic', () => room.setMuted('audio', !this.media.audioMuted));
    click('#btn-cam', () => room.setMuted('video', !this.media.videoMuted));
    click('#btn-screen', () => (room.screenStream ? room.stopScreen() : room.shareScreen()));
    click('#btn-hand', () => room.raiseHand(!room.me?.hand));
    click('#btn-people', () => this._toggle('people'));
    click('#btn-chat', () => this._toggle('chat'));
    click('#btn-layout', () => {
      this.layout = this.layout === 'grid' ? 'speaker' : 'grid';
      this.render();
    });
    click('#btn-devices', () => {
      const panel = $('#devices-panel');
      panel.hidden = !panel.hidden;
      if (!panel.hidden) this._fillDevices();
    });
    click('#btn-record', () => room.record(!room.recording));
    click('#btn-leave', () => room.leave());
    click('#btn-retry-publish', () => room.retryPublish());
    click('#btn-end-all', async () => {
      if (await confirmDialog(t('ui.meeting.confirm_end'))) room.endForAll();
    });
    click('#btn-mute-all', () => room.muteAll());
    click('#btn-lock', () => room.lock(!room.locked));
    click('#btn-admit-all', () => room.admitAll());
    click('#btn-enable-audio', () => {
      for (const video of $$('video.remote', this.el.tiles)) {
        video.muted = false;
        video.play().catch(() => {});
      }
      this.audioBlocked = false;
      this.el.audioBlocked.hidden = true;
    });
    for (const button of $$('[data-close-panel]')) button.addEventListener('click', () => this._toggle(null));
    for (const [id, kind] of [['#room-pick-camera', 'videoinput'], ['#room-pick-microphone', 'audioinput']]) {
      $(id).addEventListener('change', async (event) => {
        try {
          await room.useDevice(kind, event.target.value);
        } catch (err) {
          toast(t('ui.meeting.device_failed', { error: err.message }), { error: true });
        }
        this._fillDevices();
      });
    }
    onSubmit(this.el.chatForm, async () => {
      const input = this.el.chatForm.elements.text;
      const text = input.value.trim();
      if (!text) return;
      const to = this.el.chatTo.value || null;
      if (await room.sendChat(text, to)) input.value = '';
      input.focus();
    });
    this.el.tiles.addEventListener('click', (event) => {
      const tile = event.target.closest('.tile');
      if (!tile || this.layout !== 'speaker') return;
      this.pinned = this.pinned === tile.dataset.key ? null : tile.dataset.key;
      this.render();
    });
  }

  _toggle(panel) {
    this.panel = this.panel === panel ? null : panel;
    $('#panel-people').hidden = this.panel !== 'people';
    $('#panel-chat').hidden = this.panel !== 'chat';
    $('#btn-people').setAttribute('aria-pressed', String(this.panel === 'people'));
    $('#btn-chat').setAttribute('aria-pressed', String(this.panel === 'chat'));
    if (this.panel === 'chat') {
      this.unread = 0;
      this.el.chatForm.elements.text.focus();
    }
    this.render();
  }

  async _fillDevices() {
    await fillDevicePickers(this.media, { camera: $('#room-pick-camera'), microphone: $('#room-pick-microphone') });
  }

  // -- the top bar and the controls ---------------------------------------------------------

  _top() {
    const { room, el } = this;
    el.title.textContent = room.meeting?.title || t('ui.meeting.title');
    el.number.textContent = formatNumber(room.meeting?.number);
    el.recording.hidden = !room.recording;
    el.locked.hidden = !room.locked;
    el.offline.hidden = room.connected;
    // our camera and microphone could not be published: others neither see nor hear us
    el.publishFailed.hidden = !room.publishError;
    el.publishFailedDetail.textContent = room.publishError?.message || '';
    const level = room.myQuality;
    el.quality.dataset.level = level;
    el.qualityLabel.textContent = t(QUALITY_KEYS[level] || QUALITY_KEYS.unknown);
    el.quality.title = el.qualityLabel.textContent;
  }

  _controls() {
    const { room, media } = this;
    const press = (id, pressed, labelKey) => {
      const button = $(id);
      button.setAttribute('aria-pressed', String(pressed));
      if (labelKey) {
        button.querySelector('.btn-label').textContent = t(labelKey);
        button.title = t(labelKey);
      }
      return button;
    };
    press('#btn-mic', media.audioMuted, media.audioMuted ? 'ui.call.unmute' : 'ui.call.mute').disabled = !media.hasAudio;
    press('#btn-cam', media.videoMuted, media.videoMuted ? 'ui.call.camera_on' : 'ui.call.camera_off').disabled = !media.hasVideo;
    press('#btn-screen', Boolean(room.screenStream), room.screenStream ? 'ui.meeting.stop_share' : 'ui.meeting.share')
      .hidden = !room.me?.can_share_screen || !navigator.mediaDevices.getDisplayMedia;
    press('#btn-hand', Boolean(room.me?.hand), room.me?.hand ? 'ui.meeting.lower_hand' : 'ui.meeting.raise_hand');
    press('#btn-record', room.recording, room.recording ? 'ui.meeting.stop_recording' : 'ui.meeting.record')
      .hidden = !room.me?.can_record;
    $('#btn-chat').hidden = !room.me?.can_chat;
    $('#btn-end-all').hidden = !room.me?.can_end_for_all;
    $('#btn-layout').querySelector('.btn-label').textContent = t(this.layout === 'grid' ? 'ui.meeting.speaker_view' : 'ui.meeting.grid_view');
    const peopleBadge = $('#people-badge');
    peopleBadge.textContent = String(room.isHost && room.lobby.length ? room.lobby.length : room.participants.size);
    peopleBadge.classList.toggle('badge-alert', room.isHost && room.lobby.length > 0);
    const chatBadge = $('#chat-badge');
    chatBadge.textContent = String(this.unread);
    chatBadge.hidden = !this.unread;
    this.el.hostTools.hidden = !room.isHost;
    press('#btn-lock', room.locked, room.locked ? 'ui.meeting.unlock' : 'ui.meeting.lock');
  }

  // -- tiles --------------------------------------------------------------------------------

  /** What should be on the stage: us, everyone else (camera or avatar), every screen. */
  _wantedTiles() {
    const { room, media } = this;
    const me = room.me;
    const wanted = [{ key: 'self', participant: me, stream: media.stream, self: true, kind: 'camera' }];
    if (room.screenStream) {
      wanted.push({ key: 'self-screen', participant: me, stream: room.screenStream, self: true, kind: 'screen' });
    }
    for (const p of room.participants.values()) {
      if (p.id === me.id) continue;
      const feed = room.cameraFeedOf(p.id);
      const sub = feed ? room.subscribers.get(feed.feed_id) : null;
      wanted.push({ key: `p-${p.id}`, participant: p, feed, sub, stream: sub?.stream, kind: 'camera' });
    }
    for (const feed of room.feeds.values()) {
      if (feed.kind !== 'screen' || feed.participant_id === me.id) continue;
      const sub = room.subscribers.get(feed.feed_id);
      const participant = room.participants.get(feed.participant_id) || { id: feed.participant_id, name: '' };
      wanted.push({ key: `s-${feed.feed_id}`, participant, feed, sub, stream: sub?.stream, kind: 'screen' });
    }
    return wanted;
  }

  _mainKey(wanted) {
    const keys = new Set(wanted.map((w) => w.key));
    if (this.pinned && keys.has(this.pinned)) return this.pinned;
    const screen = wanted.find((w) => w.kind === 'screen' && !w.self);
    if (screen) return screen.key;
    const speaker = this.room.lastSpeaker;
    if (speaker !== null && keys.has(`p-${speaker}`)) return `p-${speaker}`;
    return wanted.find((w) => !w.self)?.key || 'self';
  }

  _tiles() {
    const wanted = this._wantedTiles();
    const keys = new Set(wanted.map((w) => w.key));
    for (const [key, tile] of this.tiles) {
      if (!keys.has(key)) {
        tile.querySelector('video').srcObject = null;
        tile.remove();
        this.tiles.delete(key);
      }
    }
    const main = this.layout === 'speaker' ? this._mainKey(wanted) : null;
    for (const w of wanted) {
      let tile = this.tiles.get(w.key);
      if (!tile) {
        tile = fromTemplate('#tile-template');
        tile.dataset.key = w.key;
        this.tiles.set(w.key, tile);
        this.el.tiles.append(tile);
      }
      this._paintTile(tile, w, w.key === main);
    }
    const grid = this.el.tiles;
    grid.classList.toggle('layout-grid', this.layout === 'grid');
    grid.classList.toggle('layout-speaker', this.layout === 'speaker');
    const count = wanted.length;
    const cols = Math.ceil(Math.sqrt(count));
    grid.style.setProperty('--cols', String(cols));
    grid.style.setProperty('--rows', String(Math.ceil(count / cols)));
    grid.style.setProperty('--strip', String(Math.max(1, count - 1)));
    grid.classList.toggle('solo', count === 1);
  }

  _paintTile(tile, w, isMain) {
    const p = w.participant || {};
    const video = tile.querySelector('video');
    tile.dataset.participantId = String(p.id ?? '');
    tile.dataset.kind = w.kind;
    if (w.feed) tile.dataset.feedId = String(w.feed.feed_id);
    else delete tile.dataset.feedId;
    tile.classList.toggle('tile-main', isMain);
    tile.classList.toggle('self', Boolean(w.self));
    tile.classList.toggle('speaking', this.room.speaking.has(p.id) && w.kind === 'camera');
    const videoMuted = w.self && w.kind === 'camera' ? this.media.videoMuted || !this.media.hasVideo : Boolean(p.video_muted);
    const hasVideo = Boolean(w.stream?.getVideoTracks().length) && (w.kind === 'screen' || !videoMuted);
    tile.classList.toggle('no-video', !hasVideo);
    if (video.srcObject !== (w.stream || null)) {
      video.srcObject = w.stream || null;
      video.muted = Boolean(w.self) || this.audioBlocked;
      video.classList.toggle('remote', !w.self);
      video.classList.toggle('mirror', Boolean(w.self) && w.kind === 'camera');
      if (w.stream) play(video, () => this._audioBlocked());
    }
    let label = p.name || '';
    if (w.kind === 'screen') label = t('ui.meeting.screen_of', { name: label });
    else if (w.self) label = t('ui.meeting.you', { name: label });
    tile.querySelector('.tile-name').textContent = label;
    tile.querySelector('.avatar').textContent = initials(p.name);
    const audioMuted = w.self ? this.media.audioMuted : Boolean(p.audio_muted);
    tile.querySelector('.tile-mic').hidden = !audioMuted || w.kind === 'screen';
    tile.querySelector('.tile-hand').hidden = !p.hand || w.kind === 'screen';
    const level = this.room.quality.get(p.id);
    const dot = tile.querySelector('.tile-quality');
    dot.hidden = !level || w.self;
    dot.dataset.level = level || 'unknown';
    dot.title = t(QUALITY_KEYS[level] || QUALITY_KEYS.unknown);
  }

  _audioBlocked() {
    this.audioBlocked = true;
    this.el.audioBlocked.hidden = false;
  }

  /** Ask for the simulcast layer each remote camera tile needs at its size. */
  _chooseLayers() {
    if (this.room.state !== 'joined') return;
    for (const tile of this.tiles.values()) {
      const feedId = tile.dataset.feedId;
      if (!feedId || tile.dataset.kind !== 'camera') continue;
      let layer;
      if (this.layout === 'speaker') {
        layer = tile.classList.contains('tile-main') ? 2 : 0;
      } else {
        const width = tile.clientWidth;
        layer = LAYER_WIDTHS.find(([min]) => width >= min)[1];
      }
      this.room.setLayer(Number(feedId), layer);
    }
  }

  // -- participants and lobby ---------------------------------------------------------------

  _people() {
    const room = this.room;
    const sorted = [...room.participants.values()].sort((a, b) => (
      (b.id === room.me.id) - (a.id === room.me.id)
      || (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9)
      || Boolean(b.hand) - Boolean(a.hand)
      || String(a.name).localeCompare(String(b.name))
    ));
    for (const [id, li] of this.people) {
      if (!room.participants.has(id)) {
        li.remove();
        this.people.delete(id);
      }
    }
    for (const p of sorted) {
      let li = this.people.get(p.id);
      if (!li) {
        li = this._personRow(p.id);
        this.people.set(p.id, li);
      }
      this._paintPerson(li, p);
      this.el.peopleList.append(li); // moves it into sorted place; an open menu stays open
    }
    this.el.peopleCount.textContent = String(room.participants.size);
  }

  _personRow(id) {
    const room = this.room;
    const li = fromTemplate('#person-template');
    const act = (cls, fn) => li.querySelector(cls).addEventListener('click', () => {
      li.querySelector('details').open = false;
      fn();
    });
    act('.act-mute', () => room.mute(id, { audio: true }));
    act('.act-allow-audio', () => room.mute(id, { audio: false }));
    act('.act-stop-video', () => room.mute(id, { video: true }));
    act('.act-allow-video', () => room.mute(id, { video: false }));
    act('.act-cohost', () => room.setRole(id, 'cohost'));
    act('.act-uncohost', () => room.setRole(id, 'participant'));
    act('.act-remove', async () => {
      const name = room.participants.get(id)?.name || '';
      if (await confirmDialog(t('ui.meeting.confirm_remove', { name }))) room.remove(id);
    });
    return li;
  }

  _paintPerson(li, p) {
    const room = this.room;
    const mine = p.id === room.me.id;
    li.dataset.participantId = String(p.id);
    li.dataset.role = p.role;
    li.dataset.audioMuted = String(mine ? this.media.audioMuted : Boolean(p.audio_muted));
    li.dataset.videoMuted = String(mine ? this.media.videoMuted : Boolean(p.video_muted));
    li.dataset.hand = String(Boolean(p.hand));
    li.querySelector('.avatar').textContent = initials(p.name);
    li.querySelector('.person-name').textContent = mine ? t('ui.meeting.you', { name: p.name }) : p.name;
    const role = li.querySelector('.person-role');
    role.textContent = p.role === 'participant' ? '' : t(roleName(p.role));
    role.hidden = p.role === 'participant';
    li.querySelector('.person-hand').hidden = !p.hand;
    li.querySelector('.st-mic').title = t(li.dataset.audioMuted === 'true' ? 'ui.meeting.mic_off' : 'ui.meeting.mic_on');
    li.querySelector('.st-cam').title = t(li.dataset.videoMuted === 'true' ? 'ui.meeting.cam_off' : 'ui.meeting.cam_on');
    li.classList.toggle('speaking', room.speaking.has(p.id));
    // what we may do to p: the server's flags on p's entry as sent to us
    li.querySelector('.person-menu').hidden = !(p.can_mute || p.can_remove || p.can_make_cohost || p.can_make_participant);
    li.querySelector('.act-mute').hidden = Boolean(p.audio_muted);
    li.querySelector('.act-allow-audio').hidden = !p.audio_muted;
    li.querySelector('.act-stop-video').hidden = Boolean(p.video_muted);
    li.querySelector('.act-allow-video').hidden = !p.video_muted;
    for (const sel of ['.act-mute', '.act-allow-audio', '.act-stop-video', '.act-allow-video']) {
      if (!p.can_mute) li.querySelector(sel).hidden = true;
    }
    li.querySelector('.act-remove').hidden = !p.can_remove;
    li.querySelector('.act-cohost').hidden = !p.can_make_cohost;
    li.querySelector('.act-uncohost').hidden = !p.can_make_participant;
  }

  _lobby() {
    const room = this.room;
    const show = room.isHost && room.lobby.length > 0;
    this.el.lobbySection.hidden = !show;
    this.el.lobbyCount.textContent = String(room.lobby.length);
    if (!show) {
      this.el.lobbyList.replaceChildren();
      return;
    }
    const rendered = $$('li', this.el.lobbyList).map((li) => li.dataset.participantId).join(',');
    if (rendered === room.lobby.map((p) => String(p.id)).join(',')) return;
    this.el.lobbyList.replaceChildren(...room.lobby.map((p) => {
      const li = fromTemplate('#waiting-template');
      li.dataset.participantId = String(p.id);
      li.querySelector('.avatar').textContent = initials(p.name);
      li.querySelector('.person-name').textContent = p.name;
      li.querySelector('.person-guest').hidden = !p.guest;
      li.querySelector('.act-admit').addEventListener('click', () => room.admit(p.id));
      li.querySelector('.act-deny').addEventListener('click', () => room.deny(p.id));
      return li;
    }));
  }

  // -- chat ---------------------------------------------------------------------------------

  _chatTargets() {
    const select = this.el.chatTo;
    const chosen = select.value;
    const others = [...this.room.participants.values()].filter((p) => p.id !== this.room.me.id);
    const signature = others.map((p) => `${p.id}:${p.name}`).join('|');
    if (select.dataset.signature === signature) return;
    select.dataset.signature = signature;
    select.replaceChildren(
      new Option(t('ui.meeting.chat_everyone'), ''),
      ...others.map((p) => new Option(p.name, String(p.id))),
    );
    select.value = others.some((p) => String(p.id) === chosen) ? chosen : '';
  }

  _chatMessage(message) {
    const li = fromTemplate('#chat-template');
    const mine = message.from === this.room.me?.id;
    li.dataset.messageId = String(message.id);
    li.classList.toggle('mine', mine);
    li.classList.toggle('private', Boolean(message.to));
    li.querySelector('.chat-from').textContent = mine ? t('ui.meeting.chat_me') : message.from_name;
    let privately = '';
    if (message.to) {
      const to = this.room.participants.get(message.to)?.name || '';
      privately = mine ? t('ui.meeting.chat_private_to', { name: to }) : t('ui.meeting.chat_private');
    }
    li.querySelector('.chat-private').textContent = privately;
    li.querySelector('.chat-at').textContent = message.at ? clock.format(new Date(message.at)) : '';
    li.querySelector('.chat-text').textContent = message.text;
    this.el.chatList.append(li);
    li.scrollIntoView({ block: 'end' });
    if (this.panel !== 'chat' && !mine) this.unread += 1;
    this.render();
  }
}
