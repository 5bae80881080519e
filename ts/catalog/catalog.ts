import { mkdirSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import Database from 'better-sqlite3';
import { MemeryError } from '../errors.js';
import { SCHEMA, SCHEMA_VERSION } from './schema.js';

export interface FileRow {
  id: number;
  path: string;
  size: number;
  mtime_ms: number;
  hash: string | null;
  width: number | null;
  height: number | null;
  status: 'ok' | 'error';
  error_code: string | null;
  error_message: string | null;
}

export interface FileRecord {
  path: string;
  size: number;
  mtimeMs: number;
  hash: string | null;
  width: number | null;
  height: number | null;
  status: 'ok' | 'error';
  errorCode?: string | null;
  errorMessage?: string | null;
}

export interface EmbeddingRecord {
  hash: string;
  modelId: string;
  vector: Float32Array;
}

export interface HitRow {
  file_id: number;
  embedding_id: number;
  path: string;
  size: number;
  mtime_ms: number;
  width: number | null;
  height: number | null;
}

/** A prefix that matches files inside `folder` (and not `folder-other`). */
export function folderPrefix(folder: string): string {
  return folder.endsWith(sep) ? folder : folder + sep;
}

function vectorBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function blobVector(b: Buffer): Float32Array {
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

/** The SQLite catalog (WAL): folders, files, embeddings keyed by (content hash, model id). */
export class Catalog {
  readonly db: Database.Database;
  readonly path: string;

  private constructor(db: Database.Database, path: string) {
    this.db = db;
    this.path = path;
  }

  static open(path: string): Catalog {
    mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 10_000 });
      // 16 KiB pages hold 512-d vectors (2 KiB) without wasting half of each page; applies to new catalogs.
      db.pragma('page_size = 16384');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      const v = db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get() as string | undefined;
      if (v === undefined) db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
      else if (Number(v) > SCHEMA_VERSION) {
        throw new MemeryError('E_CATALOG', `Catalog ${path} was written by a newer memery (schema ${v})`, { path, hint: 'Upgrade memery.' });
      }
    } catch (err) {
      if (err instanceof MemeryError) throw err;
      throw new MemeryError('E_CATALOG', `Cannot open the catalog ${path}: ${(err as Error).message}`, {
        path,
        cause: err,
        hint: 'If the file is damaged, move it away; `memery index` rebuilds it (re-encoding images).',
      });
    }
    return new Catalog(db, path);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  generation(): number {
    const v = this.db.prepare("SELECT value FROM meta WHERE key = 'generation'").pluck().get() as string | undefined;
    return v ? Number(v) : 0;
  }

  private bumpGeneration(): void {
    this.db
      .prepare(
        "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
      )
      .run();
  }

  ensureFolder(path: string): number {
    this.db.prepare('INSERT OR IGNORE INTO folders (path, added_at) VALUES (?, ?)').run(path, Date.now());
    return this.db.prepare('SELECT id FROM folders WHERE path = ?').pluck().get(path) as number;
  }

  markFolderIndexed(path: string): void {
    this.db.prepare('UPDATE folders SET indexed_at = ? WHERE path = ?').run(Date.now(), path);
  }

  folders(): Array<{ path: string; added_at: number; indexed_at: number | null; files: number; failed: number }> {
    return this.db
      .prepare(
        `SELECT f.path, f.added_at, f.indexed_at,
           (SELECT COUNT(*) FROM files WHERE substr(path, 1, length(f.path) + 1) = f.path || ? AND status = 'ok') AS files,
           (SELECT COUNT(*) FROM files WHERE substr(path, 1, length(f.path) + 1) = f.path || ? AND status = 'error') AS failed
         FROM folders f ORDER BY f.path`,
      )
      .all(sep, sep) as Array<{ path: string; added_at: number; indexed_at: number | null; files: number; failed: number }>;
  }

  hasFolder(path: string): boolean {
    return this.db.prepare('SELECT 1 FROM folders WHERE path = ?').get(path) !== undefined;
  }

  filesUnder(folder: string): Map<string, FileRow> {
    const prefix = folderPrefix(folder);
    const rows = this.db
      .prepare('SELECT * FROM files WHERE substr(path, 1, ?) = ?')
      .all(prefix.length, prefix) as FileRow[];
    return new Map(rows.map((r) => [r.path, r]));
  }

  hasEmbedding(hash: string, modelId: string): boolean {
    return this.db.prepare('SELECT 1 FROM embeddings WHERE hash = ? AND model_id = ?').get(hash, modelId) !== undefined;
  }

  embeddingByHash(hash: string, modelId: string): { id: number; vector: Float32Array } | undefined {
    const r = this.db.prepare('SELECT id, vector FROM embeddings WHERE hash = ? AND model_id = ?').get(hash, modelId) as
      | { id: number; vector: Buffer }
      | undefined;
    return r ? { id: r.id, vector: blobVector(r.vector) } : undefined;
  }

  /** One transaction: new embeddings and file rows. Returns ids of embeddings it inserted. */
  commit(embeddings: EmbeddingRecord[], files: FileRecord[]): number[] {
    const insE = this.db.prepare('INSERT OR IGNORE INTO embeddings (hash, model_id, dim, vector) VALUES (?, ?, ?, ?)');
    const upF = this.db.prepare(
      `INSERT INTO files (path, size, mtime_ms, hash, width, height, status, error_code, error_message, indexed_at)
       VALUES (@path, @size, @mtimeMs, @hash, @width, @height, @status, @errorCode, @errorMessage, @now)
       ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, hash = excluded.hash,
         width = excluded.width, height = excluded.height, status = excluded.status, error_code = excluded.error_code,
         error_message = excluded.error_message, indexed_at = excluded.indexed_at`,
    );
    const ids: number[] = [];
    this.db.transaction(() => {
      for (const e of embeddings) {
        const r = insE.run(e.hash, e.modelId, e.vector.length, vectorBlob(e.vector));
        if (r.changes) ids.push(Number(r.lastInsertRowid));
      }
      const now = Date.now();
      for (const f of files) {
        upF.run({ ...f, errorCode: f.errorCode ?? null, errorMessage: f.errorMessage ?? null, now });
      }
      if (ids.length) this.bumpGeneration();
    })();
    return ids;
  }

  removeFiles(paths: string[]): void {
    const del = this.db.prepare('DELETE FROM files WHERE path = ?');
    this.db.transaction(() => {
      for (const p of paths) del.run(p);
    })();
  }

  /** Deletes embeddings no file refers to any more; returns their ids by model. */
  deleteOrphanEmbeddings(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    this.db.transaction(() => {
      const rows = this.db
        .prepare(
          "SELECT id, model_id FROM embeddings e WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.hash = e.hash AND f.status = 'ok')",
        )
        .all() as Array<{ id: number; model_id: string }>;
      const del = this.db.prepare('DELETE FROM embeddings WHERE id = ?');
      for (const r of rows) {
        del.run(r.id);
        const list = out.get(r.model_id) ?? [];
        list.push(r.id);
        out.set(r.model_id, list);
      }
      if (rows.length) this.bumpGeneration();
    })();
    return out;
  }

  embeddingCount(modelId: string): number {
    return this.db.prepare('SELECT COUNT(*) FROM embeddings WHERE model_id = ?').pluck().get(modelId) as number;
  }

  /** All (id, vector) of a model, in chunks, for rebuilding the FAISS index. */
  *iterateEmbeddings(modelId: string, chunk = 4096): Generator<{ ids: number[]; vectors: Float32Array; dim: number }> {
    let after = -1;
    const stmt = this.db.prepare('SELECT id, dim, vector FROM embeddings WHERE model_id = ? AND id > ? ORDER BY id LIMIT ?');
    for (;;) {
      const rows = stmt.all(modelId, after, chunk) as Array<{ id: number; dim: number; vector: Buffer }>;
      if (!rows.length) return;
      const dim = rows[0]!.dim;
      const vectors = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => vectors.set(blobVector(r.vector), i * dim));
      yield { ids: rows.map((r) => r.id), vectors, dim };
      after = rows[rows.length - 1]!.id;
    }
  }

  embeddingsById(ids: number[], modelId: string): { ids: number[]; vectors: Float32Array } {
    const rows = this.db
      .prepare('SELECT id, dim, vector FROM embeddings WHERE id IN (SELECT value FROM json_each(?)) AND model_id = ? ORDER BY id')
      .all(JSON.stringify(ids), modelId) as Array<{ id: number; dim: number; vector: Buffer }>;
    const dim = rows[0]?.dim ?? 0;
    const vectors = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => vectors.set(blobVector(r.vector), i * dim));
    return { ids: rows.map((r) => r.id), vectors };
  }

  dimsForHash(hash: string): { width: number | null; height: number | null } {
    return (
      (this.db.prepare('SELECT width, height FROM files WHERE hash = ? AND width IS NOT NULL LIMIT 1').get(hash) as
        | { width: number; height: number }
        | undefined) ?? { width: null, height: null }
    );
  }

  /** Files (status ok) whose content has one of these embedding ids. */
  filesForEmbeddings(ids: number[], modelId: string): HitRow[] {
    if (!ids.length) return [];
    const out: HitRow[] = [];
    const stmt = this.db.prepare(
      `SELECT f.id AS file_id, e.id AS embedding_id, f.path, f.size, f.mtime_ms, f.width, f.height
       FROM embeddings e JOIN files f ON f.hash = e.hash
       WHERE e.id IN (SELECT value FROM json_each(?)) AND e.model_id = ? AND f.status = 'ok'`,
    );
    out.push(...(stmt.all(JSON.stringify(ids), modelId) as HitRow[]));
    return out;
  }

  fileById(id: number): FileRow | undefined {
    return this.db.prepare('SELECT * FROM files WHERE id = ?').get(id) as FileRow | undefined;
  }

  fileByPath(path: string): FileRow | undefined {
    return this.db.prepare('SELECT * FROM files WHERE path = ?').get(path) as FileRow | undefined;
  }

  counts(): { files: number; failed: number; embeddings: number; folders: number } {
    return this.db
      .prepare(
        `SELECT (SELECT COUNT(*) FROM files WHERE status = 'ok') AS files,
                (SELECT COUNT(*) FROM files WHERE status = 'error') AS failed,
                (SELECT COUNT(*) FROM embeddings) AS embeddings,
                (SELECT COUNT(*) FROM folders) AS folders`,
      )
      .get() as { files: number; failed: number; embeddings: number; folders: number };
  }

  failedFiles(folder?: string): Array<{ path: string; code: string; message: string }> {
    const prefix = folder === undefined ? '' : folderPrefix(folder);
    return this.db
      .prepare(
        "SELECT path, error_code AS code, error_message AS message FROM files WHERE status = 'error' AND substr(path, 1, ?) = ? ORDER BY path",
      )
      .all(prefix.length, prefix) as Array<{ path: string; code: string; message: string }>;
  }

  /** Removes a folder and its files (unless another indexed folder contains them). */
  forgetFolder(folder: string): number {
    let removed = 0;
    this.db.transaction(() => {
      const others = (this.db.prepare('SELECT path FROM folders WHERE path != ?').pluck().all(folder) as string[]).filter((o) =>
        folder.startsWith(folderPrefix(o)),
      );
      if (!others.length) {
        const prefix = folderPrefix(folder);
        removed = this.db.prepare('DELETE FROM files WHERE substr(path, 1, ?) = ?').run(prefix.length, prefix).changes;
      }
      this.db.prepare('DELETE FROM folders WHERE path = ?').run(folder);
    })();
    return removed;
  }
}
