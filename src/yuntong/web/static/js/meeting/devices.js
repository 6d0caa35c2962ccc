// The camera and microphone of this page: opened once before joining, switched in the room.

import { t } from '../i18n.js';

const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { max: 30 } };
const kindOf = (deviceKind) => (deviceKind === 'videoinput' ? 'video' : 'audio');

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    this.stream = new MediaStream();
    this.audioMuted = false;
    this.videoMuted = false;
    this.error = null; // the getUserMedia error name when a device could not be opened
  }

  /** Open the microphone and camera; either may fail alone (no camera, permission refused). */
  async open({ audio = null, video = null } = {}) {
    const wanted = {
      audio: audio ? { deviceId: { exact: audio } } : true,
      video: video ? { ...VIDEO, deviceId: { exact: video } } : VIDEO,
    };
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(wanted);
    } catch (err) {
      this.error = err.name || 'Error';
      stream = new MediaStream();
      for (const kind of ['audio', 'video']) {
        const one = await navigator.mediaDevices.getUserMedia({ [kind]: wanted[kind] }).catch(() => null);
        one?.getTracks().forEach((track) => stream.addTrack(track));
      }
    }
    for (const track of this.stream.getTracks()) {
      this.stream.removeTrack(track);
      track.stop();
    }
    for (const track of stream.getTracks()) this.stream.addTrack(track);
    this._applyMute();
    this._changed();
    return this.stream;
  }

  track(kind) {
    return this.stream.getTracks().find((track) => track.kind === kind) || null;
  }

  get hasAudio() { return Boolean(this.track('audio')); }
  get hasVideo() { return Boolean(this.track('video')); }

  currentDevice(deviceKind) {
    return this.track(kindOf(deviceKind))?.getSettings().deviceId || null;
  }

  /** Another camera ('videoinput') or microphone ('audioinput'); returns the new track. */
  async useDevice(deviceKind, deviceId) {
    const kind = kindOf(deviceKind);
    const constraints = kind === 'video' ? { ...VIDEO, deviceId: { exact: deviceId } } : { deviceId: { exact: deviceId } };
    const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraints });
    const track = stream.getTracks()[0];
    const old = this.track(kind);
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    this._applyMute();
    this._changed();
    return track;
  }

  setMuted(kind, muted) {
    if (kind === 'audio') this.audioMuted = muted;
    else this.videoMuted = muted;
    this._applyMute();
    this._changed();
  }

  stop() {
    for (const track of this.stream.getTracks()) track.stop();
  }

  _applyMute() {
    for (const track of this.stream.getAudioTracks()) track.enabled = !this.audioMuted;
    for (const track of this.stream.getVideoTracks()) track.enabled = !this.videoMuted;
  }

  _changed() {
    this.dispatchEvent(new Event('change'));
  }
}

/** Fill camera and microphone pickers with the devices there are, the current one chosen. */
export async function fillDevicePickers(media, pickers) {
  const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  for (const [select, deviceKind, labelKey] of [
    [pickers.camera, 'videoinput', 'ui.call.camera'],
    [pickers.microphone, 'audioinput', 'ui.call.microphone'],
  ]) {
    if (!select) continue;
    const current = media.currentDevice(deviceKind);
    select.replaceChildren(...devices.filter((d) => d.kind === deviceKind).map((d, i) => {
      const option = new Option(d.label || `${t(labelKey)} ${i + 1}`, d.deviceId);
      option.selected = d.deviceId === current;
      return option;
    }));
    select.disabled = select.options.length < 2;
  }
}
