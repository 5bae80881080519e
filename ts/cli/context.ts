/**
 * What every command shares: the global options, the memery home, opening the library (lazily, so a
 * command only loads what it uses), colour detection and stdout writing.
 */
import { resolve } from 'node:path';
import type { Memery } from '../api/memery.js';
import type { MemeryOptions } from '../api/schemas.js';

export type ProviderName = 'cpu' | 'cuda' | 'auto';

/** Options accepted by every command (before or after the command name). */
export interface GlobalOptions {
  home?: string;
  model?: string;
  modelDir?: string;
  provider?: ProviderName;
  threads?: number;
  debug?: boolean;
  color?: ColorMode;
}

export interface TextStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ColorMode = 'auto' | 'always' | 'never';
let colorMode: ColorMode = 'auto';

/** --color auto|always|never (the global option; set before a command runs). */
export function setColorMode(mode: ColorMode | undefined): void {
  colorMode = mode ?? 'auto';
}

/**
 * Whether to colour `stream`: --color always|never decides; with auto (the default), a
 * FORCE_COLOR other than 0/false turns colour on even in a pipe (FORCE_COLOR=0 turns it off), then a
 * non-empty NO_COLOR (https://no-color.org) turns it off, and otherwise a TTY that is not TERM=dumb
 * gets colour. (FORCE_COLOR over NO_COLOR, as in Node.js itself.)
 */
export function useColor(stream: TextStream, env: NodeJS.ProcessEnv = process.env, mode: ColorMode = colorMode): boolean {
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force.toLowerCase() === 'false') return false;
    return true; // '' , '1', '2', '3', 'true': on
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export function paint(on: boolean, code: string, s: string): string {
  return on ? `\x1b[${code}m${s}\x1b[0m` : s;
}

/** The library's options from the global CLI options (paths made absolute). */
export function memeryOptions(g: GlobalOptions): MemeryOptions {
  const o: MemeryOptions = {};
  if (g.home) o.home = resolve(g.home);
  if (g.model) o.model = g.model;
  if (g.modelDir) o.modelDir = resolve(g.modelDir);
  if (g.provider) o.provider = g.provider;
  if (g.threads !== undefined) o.threads = g.threads;
  return o;
}

/** --home, else MEMERY_HOME, else the platform data folder. */
export async function resolveHome(g: GlobalOptions): Promise<string> {
  if (g.home) return resolve(g.home);
  const { defaultHome } = await import('../config/load.js');
  return defaultHome();
}

/**
 * Opens the library. A registry model that is not installed yet is downloaded on first use, with
 * a progress bar on stderr.
 */
export async function openMemery(g: GlobalOptions, extras: { oneShot?: boolean } = {}): Promise<Memery> {
  const [{ Memery }, { ProgressReporter, downloadProgress }] = await Promise.all([
    import('../api/memery.js'),
    import('../models/progress.js'),
  ]);
  let onDownloadProgress: ReturnType<typeof downloadProgress> | undefined;
  const progress = (e: Parameters<ReturnType<typeof downloadProgress>>[0]): void => {
    // The first event ('plan', before any byte) prints the model's name, size, source and destination.
    onDownloadProgress ??= downloadProgress(new ProgressReporter({ stream: process.stderr }));
    onDownloadProgress(e);
  };
  const onWarning = (message: string): void => {
    process.stderr.write(`memery: warning: ${message}\n`);
  };
  return Memery.open(memeryOptions(g), { onDownloadProgress: progress, oneShot: extras.oneShot, onWarning });
}

/** Writes to stdout and resolves once the chunk is handed to the OS (before process.exit). */
export function writeOut(text: string): Promise<void> {
  return new Promise((res) => {
    if (text === '') return res();
    process.stdout.write(text, () => res());
  });
}

/**
 * Runs `fn` with an AbortSignal that Ctrl-C (SIGINT) or SIGTERM fires. A second Ctrl-C exits at
 * once with 130.
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>, onFirst?: () => void): Promise<T> {
  const ctrl = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (ctrl.signal.aborted) process.exit(130);
    onFirst?.();
    process.stderr.write(`\nmemery: ${sig === 'SIGINT' ? 'interrupted' : 'terminated'}; finishing the current batch (Ctrl-C again to quit now)\n`);
    ctrl.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    return await fn(ctrl.signal);
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  }
}
