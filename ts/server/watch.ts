/**
 * `--watch`: @parcel/watcher subscriptions on the indexed folders. Events are debounced per folder
 * (a quiet period, `debounceMs`, capped at `maxWaitMs` during a long burst); each settled burst
 * becomes one incremental index run of the folder, queued behind other jobs. The indexer works out
 * what was added, changed, moved or deleted, so the watcher only needs to know which folder moved.
 */
import { stat } from 'node:fs/promises';
import { extname, relative, sep } from 'node:path';
import type { AsyncSubscription, Event } from '@parcel/watcher';
import { isImagePath } from '../catalog/walk.js';

export interface WatcherOptions {
  /** Quiet time after the last change before indexing, ms. */
  debounceMs?: number;
  /** Longest a folder waits while changes keep coming, ms. */
  maxWaitMs?: number;
  /** Called with a folder whose changes have settled. */
  onSettled: (folder: string) => void;
  log?: (line: string) => void;
}

interface Watched {
  sub: AsyncSubscription | undefined;
  ready: Promise<void>;
  timer: NodeJS.Timeout | undefined;
  firstEventAt: number | undefined;
}

type WatcherModule = typeof import('@parcel/watcher');
let watcherModule: Promise<WatcherModule> | undefined;
function loadWatcher(): Promise<WatcherModule> {
  watcherModule ??= import('@parcel/watcher').then((m) => ((m as { default?: WatcherModule }).default ?? m) as WatcherModule);
  return watcherModule;
}

export class FolderWatcher {
  readonly #opts: Required<Omit<WatcherOptions, 'log'>> & { log: (line: string) => void };
  readonly #folders = new Map<string, Watched>();
  #closed = false;

  constructor(opts: WatcherOptions) {
    this.#opts = { debounceMs: 500, maxWaitMs: 5_000, log: () => {}, ...opts };
  }

  /** Watched folders (subscriptions in place). */
  folders(): string[] {
    return [...this.#folders].filter(([, w]) => w.sub !== undefined).map(([f]) => f).sort();
  }

  /** Folders with changes waiting for their quiet period. */
  pending(): string[] {
    return [...this.#folders].filter(([, w]) => w.timer !== undefined).map(([f]) => f).sort();
  }

  /** Starts watching `folder` (absolute); a no-op when already watched. */
  async add(folder: string): Promise<void> {
    if (this.#closed) return;
    const existing = this.#folders.get(folder);
    if (existing) return existing.ready;
    const w: Watched = { sub: undefined, ready: Promise.resolve(), timer: undefined, firstEventAt: undefined };
    this.#folders.set(folder, w);
    w.ready = (async () => {
      try {
        const watcher = await loadWatcher();
        const sub = await watcher.subscribe(folder, (err, events) => {
          if (err) this.#opts.log(`watch ${folder}: ${err.message}`);
          else void this.#onEvents(folder, events);
        });
        if (this.#closed || this.#folders.get(folder) !== w) await sub.unsubscribe();
        else w.sub = sub;
      } catch (err) {
        this.#folders.delete(folder);
        this.#opts.log(`Cannot watch ${folder}: ${(err as Error).message}`);
      }
    })();
    return w.ready;
  }

  async remove(folder: string): Promise<void> {
    const w = this.#folders.get(folder);
    if (!w) return;
    this.#folders.delete(folder);
    clearTimeout(w.timer);
    await w.ready;
    await w.sub?.unsubscribe().catch(() => {});
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#folders.keys()].map((f) => this.remove(f)));
  }

  /** Whether an event can change what the folder's index holds. */
  async #relevant(folder: string, e: Event): Promise<boolean> {
    const rel = relative(folder, e.path);
    if (!rel || rel.startsWith('..')) return false;
    if (rel.split(sep).some((part) => part.startsWith('.'))) return false; // hidden: not indexed
    if (isImagePath(e.path) || e.type === 'delete' || extname(e.path) === '') return true;
    // A created or renamed folder with a dot in its name brings its images with it.
    const st = await stat(e.path).catch(() => undefined);
    return st?.isDirectory() ?? false;
  }

  async #onEvents(folder: string, events: Event[]): Promise<void> {
    let relevant = false;
    for (const e of events) {
      if (await this.#relevant(folder, e)) {
        relevant = true;
        break;
      }
    }
    const w = this.#folders.get(folder);
    if (!relevant || !w || this.#closed) return;
    const now = Date.now();
    w.firstEventAt ??= now;
    clearTimeout(w.timer);
    const wait = Math.max(0, Math.min(this.#opts.debounceMs, w.firstEventAt + this.#opts.maxWaitMs - now));
    w.timer = setTimeout(() => {
      w.timer = undefined;
      w.firstEventAt = undefined;
      if (!this.#closed && this.#folders.get(folder) === w) this.#opts.onSettled(folder);
    }, wait);
  }
}
