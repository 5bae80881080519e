/**
 * Index progress on stderr. On a TTY: one line redrawn with '\r' (a bar, files done/total, files/s
 * and ETA); elsewhere: plain lines, throttled (a line when encoding starts, then at most one every
 * few seconds). `transient` erases the bar when done (used by `search`, which indexes quietly).
 */
import type { IndexProgress } from '../api/schemas.js';
import { formatDuration } from '../models/progress.js';
import { paint, type TextStream } from './context.js';

export interface IndexProgressViewOptions {
  stream: TextStream;
  /** Shown before the bar (usually the folder). */
  label: string;
  tty?: boolean;
  color?: boolean;
  /** Only draw on a TTY and erase the line at the end. */
  transient?: boolean;
  now?: () => number;
  plainIntervalMs?: number;
}

const PHASE_WORD: Record<IndexProgress['phase'], string> = {
  scan: 'scanning',
  hash: 'checking',
  encode: 'encoding',
  finish: 'finishing',
  ocr: 'reading text',
};

/** Phases that count files (a bar, a rate, an ETA). */
const counted = (phase: IndexProgress['phase']): boolean => phase === 'encode' || phase === 'ocr';

export class IndexProgressView {
  private readonly stream: TextStream;
  private readonly label: string;
  private readonly tty: boolean;
  private readonly color: boolean;
  private readonly transient: boolean;
  private readonly now: () => number;
  private readonly plainInterval: number;
  private lastDraw = -Infinity;
  private lastLen = 0;
  private phase: IndexProgress['phase'] | undefined;
  private samples: Array<{ t: number; done: number }> = [];

  constructor(o: IndexProgressViewOptions) {
    this.stream = o.stream;
    this.label = o.label;
    this.tty = o.tty ?? o.stream.isTTY === true;
    this.color = o.color ?? false;
    this.transient = o.transient ?? false;
    this.now = o.now ?? (() => Date.now());
    this.plainInterval = o.plainIntervalMs ?? 5000;
  }

  /** The library's onProgress callback. */
  readonly update = (p: IndexProgress): void => {
    const t = this.now();
    const phaseChanged = p.phase !== this.phase;
    if (phaseChanged) {
      this.phase = p.phase;
      this.samples = [];
    }
    if (counted(p.phase)) {
      this.samples.push({ t, done: p.done });
      while (this.samples.length > 2 && t - this.samples[0]!.t > 10_000) this.samples.shift();
    }
    if (this.tty) {
      if (!phaseChanged && t - this.lastDraw < 100 && p.done < p.total) return;
      this.lastDraw = t;
      this.drawTty(p);
    } else if (!this.transient) {
      const first = phaseChanged && counted(p.phase);
      if (!counted(p.phase) || (!first && t - this.lastDraw < this.plainInterval && p.done < p.total)) return;
      if (!first && p.done === p.total) return; // the summary line follows
      this.lastDraw = t;
      this.stream.write(`${this.label}: ${this.describe(p)}\n`);
    }
  };

  /** Prints a line without breaking the bar. */
  log(message: string): void {
    this.clear();
    this.stream.write(`${message}\n`);
  }

  /** Ends the bar (erased on a TTY: the summary line replaces it). */
  done(): void {
    this.clear();
  }

  private clear(): void {
    if (this.tty && this.lastLen > 0) {
      this.stream.write(`\r${' '.repeat(this.lastLen)}\r`);
      this.lastLen = 0;
    }
  }

  private rate(): number {
    if (this.samples.length < 2) return 0;
    const a = this.samples[0]!;
    const b = this.samples[this.samples.length - 1]!;
    const dt = (b.t - a.t) / 1000;
    return dt > 0.2 ? (b.done - a.done) / dt : 0;
  }

  private describe(p: IndexProgress): string {
    if (!counted(p.phase)) return `${PHASE_WORD[p.phase]}${p.phase === 'hash' && p.total ? ` ${p.done}/${p.total}` : ''}`;
    const rate = this.rate();
    const parts = [`${PHASE_WORD[p.phase]} ${p.done}/${p.total} files`];
    if (rate > 0) {
      parts.push(`${rate >= 10 ? Math.round(rate) : rate.toFixed(1)} files/s`);
      if (p.done < p.total) parts.push(`ETA ${formatDuration((p.total - p.done) / rate)}`);
    }
    return parts.join(', ');
  }

  private drawTty(p: IndexProgress): void {
    const cols = Math.max(40, this.stream.columns ?? 80) - 1;
    let line: string;
    let len: number;
    if (counted(p.phase) && p.total > 0) {
      const width = cols >= 100 ? 30 : 16;
      const frac = Math.min(1, p.done / p.total);
      const filled = Math.round(frac * width);
      const rate = this.rate();
      const tail = [
        p.phase === 'ocr' ? PHASE_WORD.ocr : '',
        `${String(Math.floor(frac * 100)).padStart(3)}%`,
        `${p.done}/${p.total}`,
        rate > 0 ? `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)} files/s` : '',
        rate > 0 && p.done < p.total ? `ETA ${formatDuration((p.total - p.done) / rate)}` : '',
      ]
        .filter(Boolean)
        .join('  ');
      const room = Math.max(8, cols - width - 4 - tail.length - 2);
      const label = this.label.length > room ? `\u2026${this.label.slice(this.label.length - room + 1)}` : this.label;
      const bar = `[${filled > 0 ? paint(this.color, '32', '#'.repeat(filled)) : ''}${'-'.repeat(width - filled)}]`;
      line = `${paint(this.color, '1', label)}  ${bar}  ${tail}`;
      len = label.length + 2 + width + 2 + 2 + tail.length;
    } else {
      const text = this.describe(p);
      const room = Math.max(8, cols - text.length - 2);
      const label = this.label.length > room ? `\u2026${this.label.slice(this.label.length - room + 1)}` : this.label;
      line = `${paint(this.color, '1', label)}  ${text}`;
      len = label.length + 2 + text.length;
    }
    const pad = this.lastLen > len ? ' '.repeat(this.lastLen - len) : '';
    this.stream.write(`\r${line}${pad}`);
    this.lastLen = len;
  }
}
