/**
 * The server's catalog writers, serialised: index runs (from the API, the watcher) and forgets run
 * one at a time, in order. Watcher runs of a folder that is already waiting are merged.
 */
import { EventEmitter } from 'node:events';
import type { Memery } from '../api/memery.js';
import type { IndexProgress, IndexSummary } from '../api/schemas.js';
import { isMemeryError, MemeryError } from '../errors.js';

export type JobSource = 'api' | 'watch' | 'startup';

export interface JobEvents {
  progress: [{ folder: string; source: JobSource } & IndexProgress];
  done: [{ folder: string; source: JobSource; summary: IndexSummary }];
  error: [{ folder: string; source: JobSource; code: string; message: string }];
  forgotten: [{ folder: string; removed: number }];
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

  constructor(memery: Memery) {
    super();
    this.#memery = memery;
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

  /** Indexes `folder` (absolute), queued behind other jobs. */
  index(folder: string, opts: { source: JobSource; onProgress?: (p: IndexProgress) => void; signal?: AbortSignal }): Promise<IndexSummary> {
    return this.#enqueue(
      folder,
      opts.source,
      async (signal) => {
        try {
          const summary = await this.#memery.index(folder, {
            signal,
            onProgress: (p) => {
              opts.onProgress?.(p);
              this.emit('progress', { folder, source: opts.source, ...p });
            },
          });
          this.emit('done', { folder, source: opts.source, summary });
          return summary;
        } catch (err) {
          const code = isMemeryError(err) ? err.code : (err as Error)?.name === 'AbortError' ? 'E_ABORTED' : 'E_INDEX';
          this.emit('error', { folder, source: opts.source, code, message: (err as Error)?.message ?? String(err) });
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
    if (this.#waiting.some((w) => w.folder === folder && w.source === 'watch')) return;
    this.index(folder, { source: 'watch' }).catch(() => {
      /* reported as an 'error' event */
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
    for (const w of this.#waiting.splice(0)) w.cancel(new MemeryError('E_ABORTED', 'The server is shutting down'));
    this.#running?.abort.abort(new MemeryError('E_ABORTED', 'The server is shutting down'));
    await this.#current;
  }
}
