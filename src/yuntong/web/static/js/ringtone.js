// Ring and ring-back tones made with a WebAudio oscillator: no audio files to ship.

const PATTERNS = {
  // incoming: two-tone warble, 1 s on, 2 s off
  ring: { freqs: [440, 480], on: 1.0, period: 3.0, gain: 0.18 },
  // outgoing ring-back (China: 450 Hz, 1 s on, 4 s off)
  ringback: { freqs: [450], on: 1.0, period: 5.0, gain: 0.08 },
  // call waiting: a short soft beep while in another call (China: 450 Hz, 0.4 s on, 4 s off)
  waiting: { freqs: [450], on: 0.4, period: 4.0, gain: 0.06 },
};

export class Tone {
  constructor() {
    this.ctx = null;
    this.timer = null;
    this.playing = null; // pattern name while sounding
  }

  start(name = 'ring') {
    this.stop();
    const pattern = PATTERNS[name];
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    this.ctx = new Ctx();
    this.ctx.resume().catch(() => {}); // may stay suspended until a user gesture
    this.playing = name;
    const burst = () => {
      const ctx = this.ctx;
      if (!ctx) return;
      const now = ctx.currentTime;
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0, now);
      gain.gain.linearRampToValueAtTime(pattern.gain, now + 0.03);
      gain.gain.setValueAtTime(pattern.gain, now + pattern.on - 0.05);
      gain.gain.linearRampToValueAtTime(0, now + pattern.on);
      gain.connect(ctx.destination);
      for (const freq of pattern.freqs) {
        const osc = ctx.createOscillator();
        osc.type = 'sine';
        osc.frequency.value = freq;
        osc.connect(gain);
        osc.start(now);
        osc.stop(now + pattern.on);
      }
    };
    burst();
    this.timer = setInterval(burst, pattern.period * 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.playing = null;
    if (this.ctx) {
      this.ctx.close().catch(() => {});
      this.ctx = null;
    }
  }
}
