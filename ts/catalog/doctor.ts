/**
 * `memery doctor [--repair]`: checks a memery home and, when asked, repairs what it can.
 *
 * Checks: the home's permissions (private to its owner), free disk space, the catalog's
 * `PRAGMA integrity_check`, every stored vector (finite, unit length, the model's width),
 * embeddings no file refers to, and each FAISS cache file (loads, agrees with the catalog, and a
 * sample of catalog vectors finds itself in it).
 *
 * Repairs: permissions are tightened; a catalog failing integrity_check is recovered into a new
 * file (VACUUM INTO, else a row-by-row copy that skips unreadable pages), the damaged file is kept
 * as `catalog.db.damaged-<time>`; damaged vectors and orphan embeddings are deleted (the next
 * index run re-encodes those files); cache files are rebuilt from the catalog.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../util/sqlite.js';
import { HOME_MODE, looseEntries, notOurs, octal, tighten } from '../config/home.js';
import { isMemeryError } from '../errors.js';
import { VectorIndex, type IndexType } from '../native/vector-index.js';
import { Catalog, freeBytes } from './catalog.js';
import { acquireLock } from '../util/lock.js';
import { SCHEMA } from './schema.js';
import { VectorCache, vectorFault } from './vector-cache.js';

export type CheckStatus = 'ok' | 'problem' | 'repaired';

export interface DoctorCheck {
  name: 'permissions' | 'disk' | 'catalog' | 'vectors' | 'orphans' | 'index';
  status: CheckStatus;
  /** One line: what was found. */
  summary: string;
  /** Details: files, rows, what was done. */
  details: string[];
}

export interface DoctorReport {
  home: string;
  healthy: boolean;
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  repair?: boolean;
  /** How long a repair waits for an index run to finish (ms). */
  lockTimeoutMs?: number;
}

/** Under this much free space the disk check is a problem (indexing would stop). */
const MIN_FREE_BYTES = 16 * 1024 * 1024;
// Texts are read again by the next index run; thumbnails' rows are kept (their files stay in the store).
const TABLES = ['meta', 'folders', 'files', 'embeddings', 'thumbnails'] as const;
const INDEX_TYPES: IndexType[] = ['flat-fp16', 'flat', 'hnsw'];

function check(name: DoctorCheck['name'], ok: boolean, summary: string, details: string[] = []): DoctorCheck {
  return { name, status: ok ? 'ok' : 'problem', summary, details };
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

function checkPermissions(home: string, repair: boolean): DoctorCheck {
  const loose = looseEntries(home);
  if (!loose.length) return check('permissions', true, `${home} and everything in it are private (${octal(HOME_MODE)})`);
  const details = loose.map((e) => `${e.path} is ${octal(e.mode)}`);
  const summary = `${loose.length} item${loose.length === 1 ? '' : 's'} readable by other users`;
  if (!repair) return check('permissions', false, summary, details);
  const why = loose.some((e) => e.path === home) ? notOurs(statSync(home)) : undefined;
  if (why) return check('permissions', false, `${summary}; not changed because ${why}`, details);
  const n = tighten(loose);
  const left = looseEntries(home);
  return {
    name: 'permissions',
    status: left.length ? 'problem' : 'repaired',
    summary: left.length ? `${left.length} item(s) could not be tightened` : `tightened ${n} item${n === 1 ? '' : 's'} (home 0700, files 0600)`,
    details,
  };
}

function checkDisk(home: string): DoctorCheck {
  const free = freeBytes(home);
  if (free === undefined) return check('disk', true, 'free space unknown');
  const mib = (free / 1048576).toFixed(1);
  return check('disk', free >= MIN_FREE_BYTES, free >= MIN_FREE_BYTES ? `${mib} MiB free` : `only ${free} bytes free: indexing will stop; free some space`);
}

/**
 * integrity_check's answer. `damaged` only when SQLite says the file is (a full disk or an I/O
 * error is not damage: then `ok` is false and `damaged` false).
 */
function integrity(path: string): { ok: boolean; damaged: boolean; result: string } {
  let last = '';
  for (const exclusive of [false, true]) {
    let db: Database.Database | undefined;
    try {
      db = openDatabase(path, { fileMustExist: true, timeout: 10_000 });
      // On a full disk SQLite cannot create the -shm file; exclusive mode reads without it.
      if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
      const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
      const result = rows.map((r) => r.integrity_check).join('; ');
      return { ok: result === 'ok', damaged: result !== 'ok', result };
    } catch (err) {
      const code = String((err as { code?: unknown }).code ?? '');
      last = (err as Error).message;
      if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return { ok: false, damaged: true, result: last };
    } finally {
      try {
        db?.close();
      } catch {
        /* ignore */
      }
    }
  }
  return { ok: false, damaged: false, result: last };
}

/**
 * Copies every readable row of `src` into a new catalog at `dst`. Each table is read in rowid
 * order one row at a time; a row that cannot be read (a damaged page) is skipped by probing
 * further rowids (doubling, then narrowing back), so the rows after the damage are kept.
 */
function copyReadableRows(src: Database.Database, dst: Database.Database): { copied: Record<string, number>; lost: string[] } {
  const copied: Record<string, number> = {};
  const lost: string[] = [];
  for (const table of TABLES) {
    copied[table] = 0;
    let columns: string[];
    try {
      columns = (dst.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
      const have = new Set((src.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name));
      if (!have.size && table === 'thumbnails') continue; // a catalog from before the store has none
      columns = columns.filter((c) => have.has(c));
      if (!columns.length) throw new Error('no columns');
    } catch (err) {
      lost.push(`${table}: unreadable (${(err as Error).message})`);
      continue;
    }
    let next: Database.Statement;
    try {
      next = src.prepare(`SELECT rowid AS __rowid, ${columns.join(', ')} FROM ${table} NOT INDEXED WHERE rowid >= ? ORDER BY rowid LIMIT 1`);
    } catch (err) {
      lost.push(`${table}: unreadable (${(err as Error).message})`);
      continue;
    }
    const insert = dst.prepare(`INSERT OR IGNORE INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
    const read = (from: number): { row?: Record<string, unknown>; error?: boolean } => {
      try {
        return { row: next.get(from) as Record<string, unknown> | undefined };
      } catch {
        return { error: true };
      }
    };
    let from = Number.MIN_SAFE_INTEGER;
    let skipped = 0;
    dst.transaction(() => {
      for (;;) {
        const r = read(from);
        if (r.row) {
          insert.run(...columns.map((c) => r.row![c]));
          copied[table]!++;
          from = Number(r.row.__rowid) + 1;
          continue;
        }
        if (!r.error) return; // the end
        // A damaged page: find the first readable rowid beyond it.
        skipped++;
        let bad = from;
        let step = 1;
        let good: number | undefined;
        while (bad + step < 2 ** 53) {
          const probe = read(bad + step);
          if (!probe.error) {
            good = bad + step;
            break;
          }
          bad += step;
          step *= 2;
        }
        if (good === undefined) return;
        let lo = bad; // fails
        let hi = good; // reads
        while (hi - lo > 1) {
          const mid = lo + Math.floor((hi - lo) / 2);
          if (read(mid).error) lo = mid;
          else hi = mid;
        }
        from = hi;
      }
    })();
    if (skipped) lost.push(`${table}: ${skipped} damaged stretch${skipped === 1 ? '' : 'es'} skipped`);
  }
  try {
    const seq = src.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'embeddings'").pluck().get() as number | undefined;
    if (seq !== undefined) dst.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'embeddings'").run(seq);
  } catch {
    /* ids stay unique anyway: the cache files are rebuilt */
  }
  return { copied, lost };
}

/** Recovers the readable rows of a damaged catalog into a new file and swaps it in, keeping the old one. */
function recoverCatalog(path: string): { ok: boolean; details: string[] } {
  const details: string[] = [];
  const stamp = timestamp();
  const fresh = `${path}.recovering-${stamp}`;
  const kept = `${path}.damaged-${stamp}`;
  let src: Database.Database | undefined;
  try {
    src = openDatabase(path, { fileMustExist: true, timeout: 10_000 });
  } catch (err) {
    details.push(`cannot open the damaged file at all (${(err as Error).message}): starting an empty catalog`);
  }
  let method = '';
  if (src) {
    try {
      src.prepare('VACUUM INTO ?').run(fresh);
      if (integrity(fresh).ok) method = 'VACUUM INTO';
      else rmSync(fresh, { force: true });
    } catch {
      rmSync(fresh, { force: true });
    }
  }
  if (!method) {
    const dst = openDatabase(fresh);
    dst.pragma('page_size = 16384');
    dst.pragma('journal_mode = WAL');
    dst.exec(SCHEMA);
    if (src) {
      const { copied, lost } = copyReadableRows(src, dst);
      details.push(`copied the readable rows: ${Object.entries(copied).map(([t, n]) => `${n} ${t}`).join(', ')}`);
      details.push(...lost);
    }
    dst.close();
    method = 'row-by-row copy';
  } else {
    details.push('copied every row with VACUUM INTO (the damage was in an index, rebuilt in the copy)');
  }
  try {
    src?.close();
  } catch {
    /* ignore */
  }
  const after = integrity(fresh);
  if (!after.ok) {
    rmSync(fresh, { force: true });
    details.push(`the recovered copy fails integrity_check too (${after.result}); the catalog was left as it is`);
    return { ok: false, details };
  }
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, kept + suffix);
  }
  renameSync(fresh, path);
  for (const suffix of ['-wal', '-shm']) rmSync(fresh + suffix, { force: true });
  details.push(`recovered by ${method}; the damaged catalog is kept as ${kept}`);
  return { ok: true, details };
}

function faissFiles(home: string): Array<{ file: string; modelId: string; type: IndexType }> {
  const dir = join(home, 'index');
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<{ file: string; modelId: string; type: IndexType }> = [];
  for (const n of names) {
    if (!n.endsWith('.faiss')) continue;
    const type = INDEX_TYPES.find((t) => n.endsWith(`-${t}.faiss`));
    if (!type) continue;
    out.push({ file: join(dir, n), modelId: n.slice(0, -`-${type}.faiss`.length), type });
  }
  return out;
}

function checkVectors(catalog: Catalog, repair: boolean): DoctorCheck {
  const models = catalog.db.prepare('SELECT DISTINCT model_id FROM embeddings').pluck().all() as string[];
  const bad: Array<{ id: number; reason: string }> = [];
  let total = 0;
  for (const model of models) {
    const dim = catalog.commonDim(model)!;
    for (const rows of catalog.iterateEmbeddingRows(model)) {
      total += rows.length;
      for (const r of rows) {
        const fault = vectorFault(r.vector, r.dim, dim);
        if (fault) bad.push({ id: r.id, reason: fault });
      }
    }
  }
  if (!bad.length) return check('vectors', true, `${total} vector${total === 1 ? '' : 's'}, all finite and unit length`);
  const owners = new Map(catalog.embeddingOwners(bad.map((b) => b.id)).map((o) => [o.id, o]));
  const details = bad.map((b) => `${owners.get(b.id)?.paths.join(', ') || `embedding ${b.id}`}: ${b.reason}`);
  if (!repair) return check('vectors', false, `${bad.length} damaged vector${bad.length === 1 ? '' : 's'} (never used: left out of the index)`, details);
  catalog.deleteEmbeddings(bad.map((b) => b.id));
  return { name: 'vectors', status: 'repaired', summary: `deleted ${bad.length} damaged vector${bad.length === 1 ? '' : 's'}: the next \`memery index\` re-encodes those files`, details };
}

function checkOrphans(catalog: Catalog, repair: boolean, keep: boolean): DoctorCheck {
  const n = catalog.db
    .prepare("SELECT COUNT(*) FROM embeddings e WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.hash = e.hash AND f.status = 'ok')")
    .pluck()
    .get() as number;
  if (!n) return check('orphans', true, 'every embedding belongs to a file');
  const summary = `${n} embedding${n === 1 ? '' : 's'} no file refers to`;
  if (keep) {
    return { name: 'orphans', status: 'ok', summary: `${summary}: kept after the recovery (the next index run reuses them for files it finds again, then drops the rest)`, details: [] };
  }
  // Harmless (never shown: a result needs a file) and deleted by the next index run; after a
  // recovery they are what lets that run skip re-encoding files whose rows were lost.
  if (!repair) return check('orphans', true, `${summary} (harmless: the next index run deletes them; --repair does now)`);
  catalog.deleteOrphanEmbeddings();
  return { name: 'orphans', status: 'repaired', summary: `deleted ${summary}`, details: [] };
}

async function checkIndexFiles(home: string, catalog: Catalog, repair: boolean, rebuildAll: boolean): Promise<DoctorCheck> {
  const files = faissFiles(home);
  if (!files.length) return check('index', true, 'no index files (built on the next search)');
  const problems: Array<{ file: string; modelId: string; type: IndexType; why: string }> = [];
  const details: string[] = [];
  const generation = catalog.generation();
  for (const f of files) {
    if (rebuildAll) {
      problems.push({ ...f, why: 'written from the damaged catalog' });
      continue;
    }
    let loaded: { index: VectorIndex; meta: string };
    try {
      loaded = await VectorIndex.load(f.file);
    } catch (err) {
      problems.push({ ...f, why: isMemeryError(err) ? err.message : String(err) });
      continue;
    }
    let meta: { modelId?: string; generation?: number; count?: number; tombstones?: number } = {};
    try {
      meta = JSON.parse(loaded.meta) as typeof meta;
    } catch {
      problems.push({ ...f, why: 'unreadable metadata' });
      continue;
    }
    const count = catalog.embeddingCount(f.modelId);
    if (meta.modelId !== f.modelId) {
      problems.push({ ...f, why: `holds model ${meta.modelId}` });
      continue;
    }
    if (meta.generation !== generation || meta.count !== count || loaded.index.size !== count + (meta.tombstones ?? 0)) {
      details.push(`${f.file}: out of date (rebuilt on the next search; not a problem)`);
      continue;
    }
    // A sample of the catalog's vectors must find themselves in the index.
    const rows = catalog.db
      .prepare('SELECT id, dim, vector FROM embeddings WHERE model_id = ? ORDER BY random() LIMIT 64')
      .all(f.modelId) as Array<{ id: number; dim: number; vector: Buffer }>;
    let mismatches = 0;
    for (const r of rows) {
      if (vectorFault(r.vector, r.dim, loaded.index.dim)) continue;
      const v = new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength));
      const [hits] = await loaded.index.search(v, Math.min(10, loaded.index.size));
      const top = hits!.scores[0] ?? 0;
      if (!hits!.ids.includes(r.id) && top < 1 - 1e-3) mismatches++;
      if (Math.abs(top) > 1 + 1e-3) mismatches++;
    }
    if (mismatches) problems.push({ ...f, why: `${mismatches} of ${rows.length} sampled vectors do not match the catalog` });
    else details.push(`${f.file}: ${loaded.index.size} vectors, matches the catalog`);
  }
  if (!problems.length) return check('index', true, `${files.length} index file${files.length === 1 ? '' : 's'} ok`, details);
  details.push(...problems.map((p) => `${p.file}: ${p.why}`));
  if (!repair) return check('index', false, `${problems.length} index file${problems.length === 1 ? '' : 's'} damaged (rebuilt on the next search)`, details);
  for (const p of problems) {
    rmSync(p.file, { force: true });
    if (catalog.embeddingCount(p.modelId) > 0) {
      await new VectorCache(catalog, home, p.modelId, p.type).rebuild();
      details.push(`${p.file}: rebuilt from the catalog`);
    } else details.push(`${p.file}: deleted (the catalog has no vectors of that model)`);
  }
  return { name: 'index', status: 'repaired', summary: `rebuilt ${problems.length} index file${problems.length === 1 ? '' : 's'}`, details };
}

/** Checks the home (and repairs what it can with `repair`). Never throws for what it finds. */
export async function doctor(home: string, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const repair = opts.repair === true;
  const checks: DoctorCheck[] = [];
  if (!existsSync(home)) {
    return { home, healthy: true, checks: [check('catalog', true, `${home} does not exist yet (nothing indexed)`)] };
  }
  checks.push(checkPermissions(home, repair));
  checks.push(checkDisk(home));
  const path = join(home, 'catalog.db');
  if (!existsSync(path)) {
    checks.push(check('catalog', true, 'no catalog yet (nothing indexed)'));
    return { home, healthy: checks.every((c) => c.status !== 'problem'), checks };
  }
  // A repair rewrites files an index run would be writing: wait for it.
  const release = repair ? await acquireLock(join(home, 'index.lock'), opts.lockTimeoutMs ?? 10_000) : undefined;
  try {
    let recovered = false;
    const first = integrity(path);
    if (first.ok) checks.push(check('catalog', true, `${path}: integrity_check ok`));
    else if (!first.damaged) {
      checks.push(check('catalog', false, `cannot read ${path}: ${first.result} (not damage: check the disk and its free space)`));
      return { home, healthy: false, checks };
    } else if (!repair) {
      checks.push(check('catalog', false, `${path} is damaged: integrity_check says ${first.result.slice(0, 300)}`, ['`memery doctor --repair` copies the readable rows into a new catalog and keeps the damaged file']));
    } else {
      const r = recoverCatalog(path);
      recovered = r.ok;
      checks.push({ name: 'catalog', status: r.ok ? 'repaired' : 'problem', summary: r.ok ? `${path} was damaged and has been recovered` : `${path} is damaged and could not be recovered`, details: [`integrity_check: ${first.result.slice(0, 300)}`, ...r.details] });
      if (!r.ok) return { home, healthy: false, checks };
    }
    if (!first.ok && !recovered) return { home, healthy: false, checks };
    let catalog: Catalog;
    try {
      catalog = Catalog.open(path);
    } catch (err) {
      checks.push(check('catalog', false, `cannot open ${path}: ${(err as Error).message}`));
      return { home, healthy: false, checks };
    }
    try {
      if (recovered) {
        // Cache files describe the old file: never reuse them.
        catalog.db.prepare("INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1").run();
      }
      checks.push(checkVectors(catalog, repair));
      checks.push(checkOrphans(catalog, repair, recovered));
      checks.push(await checkIndexFiles(home, catalog, repair, recovered));
    } finally {
      catalog.close();
    }
    if (repair) {
      // What the repair created (a new catalog, cache files) is private too.
      const again = looseEntries(home);
      if (again.length) tighten(again);
    }
  } finally {
    release?.();
  }
  return { home, healthy: checks.every((c) => c.status !== 'problem'), checks };
}
