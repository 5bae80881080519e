import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync, statfsSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../util/sqlite.js';
import type { IndexFileError } from '../api/schemas.js';
import { fileFailure, MemeryError } from '../errors.js';
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

/**
 * Whether a catalog record still describes a file seen (stat) with this size and mtime: memery's
 * one "unchanged" rule (the indexer skips such a file; its vector, text and thumbnail still hold).
 */
export function recordMatches(row: Pick<FileRow, 'size' | 'mtime_ms'>, seen: { size: number; mtimeMs: number }): boolean {
  return row.size === seen.size && row.mtime_ms === seen.mtimeMs;
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

/** Free bytes on the disk holding `dir` (undefined when it cannot be told). */
export function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** An I/O error with less than this free is taken for a full disk (SQLite reports some as SQLITE_IOERR_*). */
const LOW_SPACE_BYTES = 16 * 1024 * 1024;

/**
 * A SQLite (or file-system) error met while `action`ing the catalog at `path`, as the MemeryError a
 * user can act on: E_DISK_FULL (free space), E_CATALOG_DAMAGED (`memery doctor --repair`), E_IO,
 * E_CATALOG. Other errors are returned unchanged. Never suggests throwing a healthy catalog away.
 */
export function catalogError(err: unknown, path: string, action: 'open' | 'read' | 'write' = 'write'): unknown {
  if (err instanceof MemeryError) {
    // E.g. the lock file could not be written: say that the disk is full, when it is.
    const inner = err.code === 'E_IO' && err.cause !== undefined ? catalogError(err.cause, path, action) : undefined;
    return inner instanceof MemeryError && inner.code === 'E_DISK_FULL' ? inner : err;
  }
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
  const message = err instanceof Error ? err.message : String(err);
  const home = dirname(path);
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new MemeryError('E_CATALOG_DAMAGED', `The catalog ${path} is damaged (${message})`, {
      path,
      cause: err,
      hint: 'Run `memery doctor --repair`: it keeps every readable row and sets the damaged file aside.',
    });
  }
  const free = freeBytes(home);
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || (code.startsWith('SQLITE_IOERR') && free !== undefined && free < LOW_SPACE_BYTES)) {
    return new MemeryError('E_DISK_FULL', `The disk holding ${home} is full (${free ?? 'unknown'} bytes free)`, {
      path: home,
      cause: err,
      hint: 'Free some space on that disk and run the command again. The catalog is intact: work committed so far is kept.',
    });
  }
  if (!code.startsWith('SQLITE_') && code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS' && code !== 'EIO') return err;
  const what = `Cannot ${action} the catalog ${path}: ${message}`;
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') {
    return new MemeryError('E_IO', what, { path, cause: err, hint: 'A disk or file-system error. `memery doctor` checks the catalog.' });
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new MemeryError('E_CATALOG', what, { path, cause: err, hint: `Check that ${home} and the files in it are yours and writable (\`memery doctor\`).` });
  }
  return new MemeryError('E_CATALOG', what, { path, cause: err, hint: '`memery doctor` checks the catalog and says what to do.' });
}

/** Removes group and other permission bits from the catalog files SQLite created with the umask. */
function privateFiles(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const m = statSync(f).mode;
      if (m & 0o077) chmodSync(f, m & 0o700);
    } catch {
      /* not there */
    }
  }
}

/** The SQLite catalog (WAL): folders, files, embeddings keyed by (content hash, model id). */
export class Catalog {
  readonly db: Database.Database;
  readonly path: string;
  /** Set when the catalog could only be opened for reading (e.g. a full disk): why writes are refused. */
  readonly writeError: MemeryError | undefined;
  /**
   * The schema version this open upgraded the catalog from (0: the catalog was created now);
   * undefined when it was already current. Lets the caller do a migration's work outside SQLite
   * once (schema.ts: version 3 removes the legacy thumbnail folder).
   */
  readonly upgradedFrom: number | undefined;
  #checked = false;

  private constructor(db: Database.Database, path: string, writeError?: MemeryError, upgradedFrom?: number) {
    this.db = db;
    this.path = path;
    this.writeError = writeError;
    this.upgradedFrom = upgradedFrom;
  }

  /**
   * Opens (creating it, mode 0600) the catalog. When it cannot be opened normally because the disk
   * is full or failing, it is opened for reading only — a search needs no space: SQLite cannot create
   * its shared-memory file on a full disk, so the fallback uses exclusive locking mode, which keeps
   * the WAL index in memory. Writes then fail with `writeError` (see assertWritable).
   */
  static open(path: string): Catalog {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Created here with mode 0600: SQLite gives the -wal and -shm files the database file's mode.
    if (!existsSync(path)) {
      try {
        closeSync(openSync(path, 'a', 0o600));
      } catch {
        /* SQLite reports it below */
      }
    }
    let db: Database.Database | undefined;
    let upgradedFrom: number | undefined;
    try {
      db = openDatabase(path, { timeout: 10_000 });
      // 16 KiB pages hold 512-d vectors (2 KiB) without wasting half of each page; applies to new catalogs.
      db.pragma('page_size = 16384');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      const v = db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get() as string | undefined;
      if (v === undefined) {
        db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
        upgradedFrom = 0;
      } else if (Number(v) > SCHEMA_VERSION) {
        throw new MemeryError('E_CATALOG', `Catalog ${path} was written by a newer memery (schema ${v})`, { path, hint: 'Upgrade memery.' });
      } else if (Number(v) < SCHEMA_VERSION) {
        // Older catalogs only lack tables, created by SCHEMA above (v1 -> v2: texts; v2 -> v3: thumbnails).
        db.prepare("UPDATE meta SET value = ? WHERE key = 'schema'").run(String(SCHEMA_VERSION));
        upgradedFrom = Number(v);
      }
    } catch (err) {
      try {
        db?.close();
      } catch {
        /* closing a half-open handle */
      }
      if (err instanceof MemeryError) throw err;
      const mapped = catalogError(err, path, 'open');
      if (mapped instanceof MemeryError && (mapped.code === 'E_DISK_FULL' || mapped.code === 'E_IO')) {
        const ro = Catalog.#openForReading(path, mapped);
        if (ro) return ro;
      }
      if (mapped instanceof MemeryError) throw mapped;
      throw new MemeryError('E_CATALOG', `Cannot open the catalog ${path}: ${(err as Error).message}`, {
        path,
        cause: err,
        hint: '`memery doctor` checks the catalog and says what to do.',
      });
    }
    privateFiles(path);
    return new Catalog(db, path, undefined, upgradedFrom);
  }

  static #openForReading(path: string, why: MemeryError): Catalog | undefined {
    let db: Database.Database | undefined;
    try {
      db = openDatabase(path, { timeout: 10_000, fileMustExist: true });
      db.pragma('locking_mode = EXCLUSIVE'); // before the first read: no -shm file needed
      db.pragma('foreign_keys = ON');
      db.prepare("SELECT value FROM meta WHERE key = 'schema'").get();
      return new Catalog(db, path, why);
    } catch {
      try {
        db?.close();
      } catch {
        /* ignore */
      }
      return undefined;
    }
  }

  /**
   * Before writing (index, forget): refuses a catalog opened for reading only, and one that fails
   * `PRAGMA quick_check` (checked once per open) — writing more into a damaged file spreads the damage.
   */
  assertWritable(): void {
    if (this.writeError) throw this.writeError;
    if (this.#checked) return;
    let result: string;
    try {
      result = (this.db.pragma('quick_check') as Array<{ quick_check: string }>).map((r) => r.quick_check).join('; ');
    } catch (err) {
      const mapped = catalogError(err, this.path, 'read');
      if (mapped instanceof MemeryError && mapped.code !== 'E_CATALOG_DAMAGED') throw mapped;
      result = (err as Error).message;
    }
    if (result !== 'ok') {
      throw new MemeryError('E_CATALOG_DAMAGED', `The catalog ${this.path} is damaged (quick_check: ${result.slice(0, 300)}); refusing to write to it`, {
        path: this.path,
        hint: 'Run `memery doctor` to see what is wrong and `memery doctor --repair` to recover the readable rows into a new catalog (the damaged file is kept beside it).',
      });
    }
    this.#checked = true;
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

  /** Sizes of files with known content: a new file of another size cannot be a copy of one. */
  knownSizes(): Set<number> {
    return new Set(this.db.prepare("SELECT DISTINCT size FROM files WHERE status = 'ok' AND hash IS NOT NULL").pluck().all() as number[]);
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

  /**
   * One transaction: new embeddings and file rows. Returns ids of embeddings it inserted;
   * `onInserted` gets each with its record (the indexer hands the vectors to the FAISS cache).
   */
  commit(embeddings: EmbeddingRecord[], files: FileRecord[], onInserted?: (id: number, e: EmbeddingRecord) => void): number[] {
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
        if (r.changes) {
          ids.push(Number(r.lastInsertRowid));
          onInserted?.(Number(r.lastInsertRowid), e);
        }
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
      // Texts (OCR) go with the embeddings: when no ok file has their content any more.
      this.db.prepare("DELETE FROM texts WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.hash = texts.hash AND f.status = 'ok')").run();
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

  /** Raw rows of a model's embeddings, in chunks (the vector cache checks each one before use). */
  *iterateEmbeddingRows(modelId: string, chunk = 4096): Generator<Array<{ id: number; dim: number; vector: Buffer }>> {
    let after = -1;
    const stmt = this.db.prepare('SELECT id, dim, vector FROM embeddings WHERE model_id = ? AND id > ? ORDER BY id LIMIT ?');
    for (;;) {
      const rows = stmt.all(modelId, after, chunk) as Array<{ id: number; dim: number; vector: Buffer }>;
      if (!rows.length) return;
      yield rows;
      after = rows[rows.length - 1]!.id;
    }
  }

  embeddingRowsById(ids: number[], modelId: string): Array<{ id: number; dim: number; vector: Buffer }> {
    return this.db
      .prepare('SELECT id, dim, vector FROM embeddings WHERE id IN (SELECT value FROM json_each(?)) AND model_id = ? ORDER BY id')
      .all(JSON.stringify(ids), modelId) as Array<{ id: number; dim: number; vector: Buffer }>;
  }

  /** The embedding width most of a model's vectors have (undefined when it has none). */
  commonDim(modelId: string): number | undefined {
    return this.db
      .prepare('SELECT dim FROM embeddings WHERE model_id = ? GROUP BY dim ORDER BY COUNT(*) DESC, dim LIMIT 1')
      .pluck()
      .get(modelId) as number | undefined;
  }

  /** Content hash and file paths (any status) of embeddings. */
  embeddingOwners(ids: number[]): Array<{ id: number; hash: string; paths: string[] }> {
    const rows = this.db
      .prepare(
        `SELECT e.id, e.hash, f.path FROM embeddings e LEFT JOIN files f ON f.hash = e.hash
         WHERE e.id IN (SELECT value FROM json_each(?)) ORDER BY e.id, f.path`,
      )
      .all(JSON.stringify(ids)) as Array<{ id: number; hash: string; path: string | null }>;
    const out = new Map<number, { id: number; hash: string; paths: string[] }>();
    for (const r of rows) {
      const o = out.get(r.id) ?? { id: r.id, hash: r.hash, paths: [] };
      if (r.path !== null) o.paths.push(r.path);
      out.set(r.id, o);
    }
    return [...out.values()];
  }

  /**
   * Deletes embeddings (damaged ones: their files are re-encoded by the next index run, which treats
   * content without a vector as new). Returns the generation before and after.
   */
  deleteEmbeddings(ids: number[]): { before: number; after: number } {
    let before = 0;
    let after = 0;
    this.db.transaction(() => {
      before = this.generation();
      const del = this.db.prepare('DELETE FROM embeddings WHERE id = ?');
      let n = 0;
      for (const id of ids) n += del.run(id).changes;
      if (n) this.bumpGeneration();
      after = this.generation();
    })();
    return { before, after };
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

  /**
   * Embedding ids (of a model) of the ok files inside any of `folders` (absolute paths): the
   * selection a folder-filtered search ranks within. A range on the path index per folder.
   */
  embeddingIdsUnder(folders: string[], modelId: string): number[] {
    // Warm searches ask again and again: kept until this connection or another one writes.
    const version = `${this.db.pragma('data_version', { simple: true })}:${this.db.prepare('SELECT total_changes()').pluck().get()}`;
    const key = JSON.stringify([modelId, folders]);
    const memo = this.#idsUnder;
    if (memo && memo.version === version && memo.key === key) return memo.ids;
    const stmt = this.db.prepare(
      // CROSS JOIN keeps files outer: a range on its path index, then one (hash, model) lookup per file.
      `SELECT e.id FROM files f CROSS JOIN embeddings e ON e.hash = f.hash AND e.model_id = ?
       WHERE f.path >= ? AND f.path < ? AND f.status = 'ok'`,
    );
    const ids = new Set<number>();
    for (const folder of folders) {
      const prefix = folderPrefix(folder);
      // Every path that starts with the prefix sorts (bytewise) between it and the prefix with its
      // last character (the separator) moved on by one.
      const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      for (const id of stmt.pluck().all(modelId, prefix, end) as number[]) ids.add(id);
    }
    this.#idsUnder = { version, key, ids: [...ids] };
    return this.#idsUnder.ids;
  }
  #idsUnder: { version: string; key: string; ids: number[] } | undefined;

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

  /** The files that failed (under `folder`), by path: each with its code, message and reason (fileFailure). */
  failedFiles(folder?: string): IndexFileError[] {
    const prefix = folder === undefined ? '' : folderPrefix(folder);
    const rows = this.db
      .prepare(
        "SELECT path, error_code AS code, error_message AS message FROM files WHERE status = 'error' AND substr(path, 1, ?) = ? ORDER BY path",
      )
      .all(prefix.length, prefix) as Array<{ path: string; code: string; message: string }>;
    return rows.map(fileFailure);
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
