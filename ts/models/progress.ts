/**
 * A small byte-progress reporter (bytes, total, rate, ETA). On a TTY it redraws one line with '\r'
 * (colour unless NO_COLOR is set); elsewhere it prints plain lines, throttled. It is injected (give
 * it a stream, usually process.stderr), never global.
 */
import type { DownloadProgressEvent } from './download.js';

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressReporterOptions {
  stream: ProgressStream;
  /** Defaults to process.env; only NO_COLOR is read. */
  env?: Record<string, string | undefined>;
  /** Override TTY detection (defaults to stream.isTTY). */
  tty?: boolean;
  /** Clock in ms (for tests). */
  now?: () => number;
  /** Minimum ms between redraws on a TTY (default 100). */
  ttyIntervalMs?: number;
  /** Minimum ms between plain lines (default 5000). */
  plainIntervalMs?: number;
}

export interface ProgressSnapshot {
  label: string;
  bytes: number;
  total?: number;
  /** Bytes per second over the last few seconds (0 until measurable). */
  rate: number;
  /** Seconds left, when total and rate are known. */
  etaSeconds?: number;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 512 -> "512 B", 1536 -> "1.5 KB", 200 * 2**20 -> "200 MB" (binary units, one decimal below 100). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v < 100 ? v.toFixed(1) : Math.round(v)} ${UNITS[i]}`;
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (x: number) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

const RATE_WINDOW_MS = 5000;

export class ProgressReporter {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly color: boolean;
  private readonly now: () => number;
  private readonly ttyInterval: number;
  private readonly plainInterval: number;

  private label = '';
  private bytes = 0;
  private total: number | undefined;
  private samples: Array<{ t: number; b: number }> = [];
  private lastDraw = -Infinity;
  private lastLineLen = 0;
  private active = false;

  constructor(options: ProgressReporterOptions) {
    this.stream = options.stream;
    this.tty = options.tty ?? options.stream.isTTY === true;
    const env = options.env ?? process.env;
    // https://no-color.org: any non-empty value disables colour.
    this.color = this.tty && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
    this.now = options.now ?? (() => Date.now());
    this.ttyInterval = options.ttyIntervalMs ?? 100;
    this.plainInterval = options.plainIntervalMs ?? 5000;
  }

  /** Starts a new item (e.g. one file). `startBytes` is where a resumed transfer starts. */
  start(label: string, total?: number, startBytes = 0): void {
    if (this.active) this.finish();
    this.label = label;
    this.total = total;
    this.bytes = startBytes;
    this.samples = [{ t: this.now(), b: startBytes }];
    this.active = true;
    this.lastDraw = -Infinity;
    this.draw(true);
  }

  /** Absolute byte count so far (and the total if it became known). */
  update(bytes: number, total?: number): void {
    if (!this.active) this.start(this.label, total);
    this.bytes = bytes;
    if (total !== undefined) this.total = total;
    const t = this.now();
    this.samples.push({ t, b: bytes });
    while (this.samples.length > 2 && t - this.samples[0]!.t > RATE_WINDOW_MS) this.samples.shift();
    this.draw(false);
  }

  /** Prints a message on its own line without breaking the bar. */
  log(message: string): void {
    if (this.tty && this.active && this.lastLineLen > 0) {
      this.stream.write(`\r${' '.repeat(this.lastLineLen)}\r`);
      this.lastLineLen = 0;
    }
    this.stream.write(`${message}\n`);
    if (this.active && this.tty) this.draw(true);
  }

  /** Ends the current item; the final line stays (TTY) or is printed (plain). */
  finish(message?: string): void {
    if (!this.active) {
      if (message) this.stream.write(`${message}\n`);
      return;
    }
    if (this.total === undefined) this.total = this.bytes;
    this.draw(true, true);
    this.active = false;
    if (this.tty) {
      this.stream.write('\n');
      this.lastLineLen = 0;
    }
    if (message) this.stream.write(`${message}\n`);
  }

  snapshot(): ProgressSnapshot {
    const s: ProgressSnapshot = { label: this.label, bytes: this.bytes, rate: this.rate() };
    if (this.total !== undefined) s.total = this.total;
    if (this.total !== undefined && s.rate > 0) s.etaSeconds = Math.max(0, (this.total - this.bytes) / s.rate);
    return s;
  }

  private rate(): number {
    if (this.samples.length < 2) return 0;
    const a = this.samples[0]!;
    const b = this.samples[this.samples.length - 1]!;
    const dt = (b.t - a.t) / 1000;
    return dt > 0 ? Math.max(0, (b.b - a.b) / dt) : 0;
  }

  private paint(code: string, s: string): string {
    return this.color ? `\x1b[${code}m${s}\x1b[0m` : s;
  }

  private draw(force: boolean, final = false): void {
    const t = this.now();
    const interval = this.tty ? this.ttyInterval : this.plainInterval;
    if (!force && t - this.lastDraw < interval) return;
    // Plain output: no line for every start, only progress lines and the final one.
    if (!this.tty && !final && this.bytes === 0 && force) {
      this.lastDraw = t;
      return;
    }
    this.lastDraw = t;
    const snap = this.snapshot();
    const parts: string[] = [];
    const pct = snap.total ? Math.min(100, Math.floor((snap.bytes / snap.total) * 100)) : undefined;
    const amount = snap.total !== undefined ? `${formatBytes(snap.bytes)}/${formatBytes(snap.total)}` : formatBytes(snap.bytes);
    const rate = snap.rate > 0 ? `${formatBytes(snap.rate)}/s` : '';
    const eta = final ? '' : snap.etaSeconds !== undefined ? `ETA ${formatDuration(snap.etaSeconds)}` : '';

    if (this.tty) {
      const cols = Math.max(40, this.stream.columns ?? 100) - 1;
      const width = cols >= 90 ? 24 : 12;
      const filled = pct !== undefined ? Math.round((pct / 100) * width) : 0;
      const tail = [pct !== undefined ? `${String(pct).padStart(3)}%` : '', amount, rate, eta].filter(Boolean).join('  ');
      // Fit the line in the terminal (so '\r' redraws one line) by shortening the label.
      const room = Math.max(8, cols - (width + 2) - tail.length - 4);
      const label = snap.label.length > room ? `${snap.label.slice(0, room - 1)}\u2026` : snap.label;
      const bar =
        pct !== undefined
          ? `[${filled > 0 ? this.paint('32', '#'.repeat(filled)) : ''}${'-'.repeat(width - filled)}]`
          : `[${'?'.repeat(width)}]`;
      const line = `${this.paint('1', label)}  ${bar}  ${tail}`;
      const len = label.length + 2 + width + 2 + 2 + tail.length;
      const pad = this.lastLineLen > len ? ' '.repeat(this.lastLineLen - len) : '';
      this.stream.write(`\r${line}${pad}`);
      this.lastLineLen = len;
    } else {
      parts.push(snap.label, pct !== undefined ? `${pct}%` : '', amount, rate, eta, final ? 'done' : '');
      this.stream.write(`${parts.filter(Boolean).join(' ')}\n`);
    }
  }
}

/** Adapts a ProgressReporter to downloadModel's onProgress callback. */
export function downloadProgress(reporter: ProgressReporter): (e: DownloadProgressEvent) => void {
  return (e) => {
    if (e.phase === 'plan') {
      const files = `${e.count} file${e.count === 1 ? '' : 's'}`;
      reporter.log(e.count ? `${e.model}: downloading ${formatBytes(e.bytes)} (${files}) from ${e.endpoint} into ${e.dir}` : `${e.model}: nothing to download`);
      return;
    }
    const label = `${e.file} (${e.index + 1}/${e.count})`;
    switch (e.phase) {
      case 'start':
        reporter.start(label, e.total, e.bytes);
        break;
      case 'progress':
        reporter.update(e.bytes, e.total);
        break;
      case 'retry':
        reporter.log(`${e.file}: ${e.message ?? 'connection lost'}; retrying (attempt ${e.attempt ?? '?'})`);
        break;
      case 'skip':
        reporter.finish(`${label}: already present`);
        break;
      case 'done':
        reporter.update(e.bytes, e.total);
        reporter.finish();
        break;
    }
  };
}
