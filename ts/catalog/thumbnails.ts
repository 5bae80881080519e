/**
 * The thumbnail store: JPEG thumbnails under memery's home, one file per (content hash, edge in
 * pixels), `<home>/thumbnails/<hash[0:2]>/<hash>-<size>.jpg`, written atomically (a temp file
 * renamed into place) with mode 0600 in folders 0700, like the rest of the home. The catalog's
 * `thumbnails` table indexes them (bytes, last use), so the store is never listed:
 *
 * - made while indexing (the encoder makes each one from the decode that feeds CLIP), or on demand
 *   (Memery.thumbnail, GET /api/thumb/:id) for content indexed before, or at another size;
 * - pruned when no ok catalog file has their content any more (forget, a file changed or gone);
 * - kept under a byte budget (config `thumbnailBudget`): past it, the least recently used go until
 *   LOW_WATER of it is left. A use is a search result carrying the path, a thumbnail served or asked
 *   for; uses are written to the catalog in batches, at most every TOUCH_DELAY_MS.
 *
 * Keyed by content, a thumbnail is shared by copies and survives moves, like vectors and texts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FILE_MODE, HOME_MODE } from '../config/home.js';
import type { Catalog } from './catalog.js';
import { HASH_HEX_CHARS } from './hash.js';

/** The store's folder in the home. */
export const THUMBNAILS_DIR = 'thumbnails';
/** The launchers' own thumbnail cache before the store (`<home>/thumbs/<id>-<mtime>.jpg`), removed once. */
export const LEGACY_THUMBS_DIR = 'thumbs';
/** Past the budget, the least recently used thumbnails go until this share of it is used. */
export const LOW_WATER = 0.9;
/** Uses (last-use times) wait this long to be written, in one transaction. */
const TOUCH_DELAY_MS = 2000;

const HASH = new RegExp(`^[0-9a-f]{${HASH_HEX_CHARS}}$`);
const MIB = 1024 * 1024;

/** A thumbnail to store: the content hash of the image it shows, and its JPEG bytes. */
export interface ThumbnailData {
  hash: string;
  data: Uint8Array;
}

export interface ThumbnailStoreOptions {
  /** The most bytes of thumbnails kept (config thumbnailBudget, MiB). */
  budgetBytes: number;
  /** Told once when thumbnails cannot be written (e.g. the home is read-only): they are then not stored. */
  onWarning?: (message: string) => void;
}

/** Removes the legacy `<home>/thumbs` folder (only ever throwaway cache files). */
export async function removeLegacyThumbs(home: string): Promise<void> {
  await rm(join(home, LEGACY_THUMBS_DIR), { recursive: true, force: true }).catch(() => {});
}

/** Writes `data` to `path` through a temp file beside it: readers see the whole file or none. */
async function writeAtomic(path: string, data: Uint8Array, again = true): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: HOME_MODE });
  const tmp = `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode: FILE_MODE, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    // Its (empty) folder was just removed by a prune: make it again, once.
    if (again && (err as NodeJS.ErrnoException).code === 'ENOENT') return writeAtomic(path, data, false);
    throw err;
  }
}

export class ThumbnailStore {
  /** `<home>/thumbnails`. */
  readonly dir: string;
  readonly budgetBytes: number;
  readonly #catalog: Catalog;
  readonly #onWarning: ((message: string) => void) | undefined;
  /** Bytes stored: as last counted, plus what was put since (undefined: count before relying on it). */
  #estimate: number | undefined;
  readonly #uses = new Map<string, { hash: string; size: number; at: number }>();
  #timer: NodeJS.Timeout | undefined;
  #warned = false;

  constructor(catalog: Catalog, dir: string, options: ThumbnailStoreOptions) {
    this.#catalog = catalog;
    this.dir = dir;
    this.budgetBytes = Math.max(1, Math.floor(options.budgetBytes));
    this.#onWarning = options.onWarning;
  }

  /** The store's file of content `hash` at `size`. */
  pathOf(hash: string, size: number): string {
    if (!HASH.test(hash) || !Number.isInteger(size) || size < 1) throw new TypeError(`Expected a content hash and a size but received ${JSON.stringify(hash)}, ${size}`);
    return join(this.dir, hash.slice(0, 2), `${hash}-${size}.jpg`);
  }

  /** The stored thumbnail of content `hash` at `size`: its path when the catalog lists it and the file is there. A use. */
  find(hash: string, size: number): string | undefined {
    if (!this.#catalog.db.prepare('SELECT 1 FROM thumbnails WHERE hash = ? AND size = ?').get(hash, size)) return undefined;
    const path = this.pathOf(hash, size);
    if (!existsSync(path)) return undefined;
    this.#touch(hash, size);
    return path;
  }

  /** Stored thumbnails at `size` of catalog files `ids` (ok ones): file id -> path. Uses. */
  forFiles(ids: number[], size: number): Map<number, string> {
    const out = new Map<number, string>();
    if (!ids.length) return out;
    const rows = this.#catalog.db
      .prepare(
        `SELECT f.id, t.hash FROM files f JOIN thumbnails t ON t.hash = f.hash AND t.size = ?
         WHERE f.id IN (SELECT value FROM json_each(?)) AND f.status = 'ok'`,
      )
      .all(size, JSON.stringify(ids)) as Array<{ id: number; hash: string }>;
    for (const r of rows) {
      const path = this.pathOf(r.hash, size);
      if (!existsSync(path)) continue;
      out.set(r.id, path);
      this.#touch(r.hash, size);
    }
    return out;
  }

  /**
   * Writes thumbnails at `size` (atomically) and records them (made now: just used). Returns hash ->
   * path of those stored. One that cannot be written is not stored (told once through onWarning);
   * nothing is stored in a catalog opened for reading only. A catalog error is thrown.
   */
  async put(items: ThumbnailData[], size: number): Promise<Map<string, string>> {
    const stored = new Map<string, string>();
    if (!items.length || this.#catalog.writeError) return stored;
    const written: Array<{ hash: string; bytes: number; path: string }> = [];
    await Promise.all(
      items.map(async ({ hash, data }) => {
        const path = this.pathOf(hash, size);
        try {
          await writeAtomic(path, data);
          written.push({ hash, bytes: data.byteLength, path });
        } catch (err) {
          this.#warnOnce(`cannot store thumbnails in ${this.dir} (${(err as Error).message}); they are made when shown instead`);
        }
      }),
    );
    if (!written.length) return stored;
    const now = Date.now();
    const upsert = this.#catalog.db.prepare(
      `INSERT INTO thumbnails (hash, size, bytes, used_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(hash, size) DO UPDATE SET bytes = excluded.bytes, used_at = excluded.used_at`,
    );
    this.#catalog.db.transaction(() => {
      for (const w of written) upsert.run(w.hash, size, w.bytes, now);
    })();
    for (const w of written) stored.set(w.hash, w.path);
    if (this.#estimate !== undefined) this.#estimate += written.reduce((n, w) => n + w.bytes, 0);
    // Never the ones just stored: their paths are being handed out.
    if ((this.#estimate ?? Infinity) > this.budgetBytes) await this.enforceBudget(new Set(written.map((w) => `${w.hash}-${size}`)));
    return stored;
  }

  /** Removes the thumbnails whose content no ok catalog file has any more. Returns how many went. */
  async prune(): Promise<number> {
    if (this.#catalog.writeError) return 0;
    const orphans = `NOT EXISTS (SELECT 1 FROM files f WHERE f.hash = thumbnails.hash AND f.status = 'ok')`;
    const rows = this.#catalog.db.prepare(`SELECT id, hash, size FROM thumbnails WHERE ${orphans}`).all() as Array<{ id: number; hash: string; size: number }>;
    if (!rows.length) return 0;
    await this.#removeFiles(rows);
    const del = this.#catalog.db.prepare(`DELETE FROM thumbnails WHERE id = ? AND ${orphans}`);
    this.#catalog.db.transaction(() => {
      for (const r of rows) del.run(r.id);
    })();
    this.#estimate = undefined;
    return rows.length;
  }

  /** How many thumbnails the store lists, and their bytes. */
  totals(): { count: number; bytes: number } {
    const r = this.#catalog.db.prepare('SELECT count(*) AS count, total(bytes) AS bytes FROM thumbnails').get() as { count: number; bytes: number };
    return { count: r.count, bytes: Math.round(r.bytes) };
  }

  /**
   * Keeps the store within its budget: when the thumbnails' bytes pass it, the least recently used
   * go until LOW_WATER of it is used, except those in `keep` (`<hash>-<size>`). Returns how many went.
   */
  async enforceBudget(keep: ReadonlySet<string> = new Set()): Promise<number> {
    if (this.#catalog.writeError) return 0;
    this.flush();
    const total = this.#catalog.db.prepare('SELECT total(bytes) FROM thumbnails').pluck().get() as number;
    this.#estimate = total;
    if (total <= this.budgetBytes) return 0;
    const goal = total - Math.floor(this.budgetBytes * LOW_WATER);
    const victims: Array<{ id: number; hash: string; size: number }> = [];
    let freed = 0;
    for (const r of this.#catalog.db.prepare('SELECT id, hash, size, bytes FROM thumbnails ORDER BY used_at, id').iterate() as IterableIterator<{
      id: number;
      hash: string;
      size: number;
      bytes: number;
    }>) {
      if (freed >= goal) break;
      if (keep.has(`${r.hash}-${r.size}`)) continue;
      victims.push(r);
      freed += r.bytes;
    }
    await this.#removeFiles(victims);
    const del = this.#catalog.db.prepare('DELETE FROM thumbnails WHERE id = ?');
    this.#catalog.db.transaction(() => {
      for (const v of victims) del.run(v.id);
    })();
    this.#estimate = total - freed;
    return victims.length;
  }

  /**
   * Writes the pending uses (last-use times), without waiting for another process's write (a
   * search must not block on an index run): when the catalog is busy they wait for the next try.
   * Never throws: a use is a hint for the budget.
   */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#uses.size || this.#catalog.writeError || !this.#catalog.db.open) return;
    const uses = [...this.#uses.values()];
    this.#uses.clear();
    const db = this.#catalog.db;
    const wait = db.pragma('busy_timeout', { simple: true }) as number;
    db.pragma('busy_timeout = 0');
    try {
      const up = db.prepare('UPDATE thumbnails SET used_at = max(used_at, ?) WHERE hash = ? AND size = ?');
      db.transaction(() => {
        for (const u of uses) up.run(u.at, u.hash, u.size);
      })();
    } catch (err) {
      if (String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY')) {
        for (const u of uses) if (!this.#uses.has(`${u.hash}-${u.size}`)) this.#uses.set(`${u.hash}-${u.size}`, u);
        this.#timer = setTimeout(() => this.flush(), TOUCH_DELAY_MS).unref();
      }
      /* otherwise (read-only, damaged): the uses are lost, nothing else */
    } finally {
      db.pragma(`busy_timeout = ${Number(wait) || 0}`);
    }
  }

  /** Writes the pending uses (those the catalog is too busy for are dropped); call before closing the catalog. */
  close(): void {
    this.flush();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#uses.clear();
  }

  #touch(hash: string, size: number): void {
    this.#uses.set(`${hash}-${size}`, { hash, size, at: Date.now() });
    this.#timer ??= setTimeout(() => this.flush(), TOUCH_DELAY_MS).unref();
  }

  async #removeFiles(rows: Array<{ hash: string; size: number }>): Promise<void> {
    const dirs = new Set<string>();
    await Promise.all(
      rows.map(async (r) => {
        const path = this.pathOf(r.hash, r.size);
        dirs.add(dirname(path));
        await rm(path, { force: true }).catch(() => {});
      }),
    );
    // Emptied hash-prefix folders go too (rmdir refuses one that still holds files).
    await Promise.all([...dirs].map((d) => rmdir(d).catch(() => {})));
  }

  #warnOnce(message: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#onWarning?.(message);
  }
}

/** Config thumbnailBudget (MiB) in bytes. */
export function budgetBytes(mib: number): number {
  return Math.floor(mib * MIB);
}
