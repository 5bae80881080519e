/**
 * The server's catalog writers, serialised: index runs (from the API, the watcher) and forgets run
 * one at a time, in order. Watcher runs of a folder that is already waiting are merged.
 *
 * A watcher run that finds the index lock held by another process (`memery index` in a terminal)
 * does not wait in the queue, and is not dropped: it steps aside and the folder is tried again
 * after a backoff (0.5 s, doubling, at most 5 s) until the lock is free, while other jobs run.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { acquireLock } from '../util/lock.js';
import type { Memery } from '../api/memery.js';
import type { ForgottenEvent, IndexErrorEvent, IndexProgress, IndexProgressEvent, IndexSummary, JobSource } from '@memery/client/schemas';
import { isMemeryError, MemeryError, type ErrorCode } from '../errors.js';

export type { JobSource };

/** The queue's events; what the server streams is their payload (the wire's event schemas). */
export interface JobEvents {
  progress: [IndexProgressEvent & { source: JobSource; run: number }];
  done: [{ folder: string; source: JobSource; run: number; summary: IndexSummary }];
  error: [IndexErrorEvent & { source: JobSource; run: number }];
  forgotten: [ForgottenEvent];
  /** A watcher run found the index locked by another process; it is tried again in `retryInMs`. */
  locked: [{ folder: string; attempt: number; retryInMs: number; message: string }];
  /** After any job that changed (or may have changed) the catalog. */
  changed: [];
}

interface Waiting {
  folder: string | undefined;
  source: JobSource | 'forget';
  start: () => Promise<void>;
  cancel: (err: Error) => void;
}

export class JobQueue extends EventEmitter<JobEvents> {
  readonly #memery: Memery;
  readonly #waiting: Waiting[] = [];
  #running: { folder: string | undefined; abort: AbortController } | undefined;
  #current: Promise<void> | undefined;
  #closed = false;
  /** Watcher runs waiting for another process's index lock: folder -> retry timer. */
  readonly #retries = new Map<string, NodeJS.Timeout>();
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  /** The next index run's number (RunIdSchema). */
  #nextRun = 1;

  constructor(memery: Memery, opts: { retryBaseMs?: number; retryMaxMs?: number } = {}) {
    super();
    this.#memery = memery;
    this.#retryBaseMs = opts.retryBaseMs ?? 500;
    this.#retryMaxMs = opts.retryMaxMs ?? 5_000;
  }

  /** Whether another process (or another Memery of this one) holds the index lock now. */
  async #lockedElsewhere(): Promise<MemeryError | undefined> {
    try {
      const release = await acquireLock(join(this.#memery.home, 'index.lock'), 0);
      release();
      return undefined;
    } catch (err) {
      return isMemeryError(err, 'E_LOCKED') ? err : undefined; // other trouble: let the run report it
    }
  }

  /** The folder being indexed now. */
  get current(): string | null {
    return this.#running?.folder ?? null;
  }

  #enqueue<T>(folder: string | undefined, source: Waiting['source'], run: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(new MemeryError('E_ABORTED', 'The server is shutting down'));
    return new Promise<T>((resolve, reject) => {
      const w: Waiting = {
        folder,
        source,
        start: async () => {
          const abort = new AbortController();
          const onAbort = () => abort.abort(signal?.reason);
          signal?.addEventListener('abort', onAbort, { once: true });
          this.#running = { folder, abort };
          try {
            if (signal?.aborted) throw new MemeryError('E_ABORTED', 'The request was cancelled');
            resolve(await run(abort.signal));
          } catch (err) {
            reject(err);
          } finally {
            signal?.removeEventListener('abort', onAbort);
            this.#running = undefined;
          }
        },
        cancel: reject,
      };
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.#waiting.indexOf(w);
          if (i >= 0) {
            this.#waiting.splice(i, 1);
            reject(new MemeryError('E_ABORTED', 'The request was cancelled'));
          }
        },
        { once: true },
      );
      this.#waiting.push(w);
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#current || !this.#waiting.length) return;
    const next = this.#waiting.shift()!;
    this.#current = next.start().finally(() => {
      this.#current = undefined;
      this.#pump();
    });
  }

  /**
   * Indexes `folder` (absolute), queued behind other jobs. `onQueued` is told the run's number at
   * once; the queue's events carry it too.
   */
  index(
    folder: string,
    opts: { source: JobSource; onQueued?: (run: number) => void; onProgress?: (p: IndexProgress) => void; signal?: AbortSignal; ocr?: boolean },
  ): Promise<IndexSummary> {
    const run = this.#nextRun++;
    opts.onQueued?.(run);
    return this.#enqueue(
      folder,
      opts.source,
      async (signal) => {
        if (opts.source === 'watch') {
          // Don't hold up the queue for lockTimeout behind another process: step aside, retry later.
          const locked = await this.#lockedElsewhere();
          if (locked) throw locked;
        }
        try {
          const summary = await this.#memery.index(folder, {
            signal,
            ...(opts.ocr !== undefined ? { ocr: opts.ocr } : {}),
            onProgress: (p) => {
              opts.onProgress?.(p);
              this.emit('progress', { folder, source: opts.source, run, ...p });
            },
          });
          this.emit('done', { folder, source: opts.source, run, summary });
          return summary;
        } catch (err) {
          const code: ErrorCode = isMemeryError(err) ? err.code : (err as Error)?.name === 'AbortError' ? 'E_ABORTED' : 'E_INDEX';
          // A watcher run locked out is retried (requestIndex), not reported as a failure.
          if (!(opts.source === 'watch' && code === 'E_LOCKED')) {
            this.emit('error', { folder, source: opts.source, run, code, message: (err as Error)?.message ?? String(err) });
          }
          throw err;
        } finally {
          this.emit('changed');
        }
      },
      opts.signal,
    );
  }

  /**
   * A watcher's request: indexes `folder` unless a watcher run of it is already waiting (a burst
   * of changes becomes one run). Errors are reported through the 'error' event.
   */
  requestIndex(folder: string): void {
    // A run waiting for the lock covers this change too (it indexes whatever changed by then).
    if (this.#retries.has(folder)) return;
    this.#requestIndex(folder, 0);
  }

  #requestIndex(folder: string, attempt: number): void {
    if (this.#closed) return;
    if (this.#waiting.some((w) => w.folder === folder && w.source === 'watch')) return;
    this.index(folder, { source: 'watch' }).catch((err: unknown) => {
      // Other errors are reported as an 'error' event; E_LOCKED: try again once the lock is free.
      if (!isMemeryError(err, 'E_LOCKED') || this.#closed || this.#retries.has(folder)) return;
      const retryInMs = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** Math.min(attempt, 20));
      this.emit('locked', { folder, attempt, retryInMs, message: err.message });
      const timer = setTimeout(() => {
        this.#retries.delete(folder);
        this.#requestIndex(folder, attempt + 1);
      }, retryInMs);
      timer.unref();
      this.#retries.set(folder, timer);
    });
  }

  forget(folder: string): Promise<number> {
    return this.#enqueue(folder, 'forget', async () => {
      try {
        const removed = await this.#memery.forget(folder);
        this.emit('forgotten', { folder, removed });
        return removed;
      } finally {
        this.emit('changed');
      }
    });
  }

  /** Cancels waiting jobs, aborts the running one and waits for it to stop. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#retries.values()) clearTimeout(t);
    this.#retries.clear();
    for (const w of this.#waiting.splice(0)) w.cancel(new MemeryError('E_ABORTED', 'The server is shutting down'));
    this.#running?.abort.abort(new MemeryError('E_ABORTED', 'The server is shutting down'));
    await this.#current;
  }
}
