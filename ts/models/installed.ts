/**
 * The models memery can use without downloading: registry models in the Hugging Face cache
 * (./hf-cache.ts, whoever put them there), and folders of an earlier memery's own layout,
 * `<home>/models/<name>`: used in place while complete, and moved into the cache by the next
 * download of that model (./download.ts). Nothing here opens a socket.
 */
import { lstat, readFile, readdir, readlink, rm, rmdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { MemeryError } from '../errors.js';
import {
  INCOMPLETE_SUFFIX,
  cachedCommit,
  contentMismatch,
  etagOf,
  hashContent,
  hubCacheDir,
  isDownloading,
  lockRepo,
  lookupCached,
  repoCacheDir,
  snapshotDir,
  type Env,
} from './hf-cache.js';
import { MODEL_REGISTRY, type ModelEntry } from './registry.js';

export interface InstalledModel {
  name: string;
  /** The model folder: snapshots/<commit> in the cache, or the earlier memery folder. */
  dir: string;
  where: 'hf-cache' | 'legacy';
  /** Every required file of the registry entry is there (false for folders not in the registry). */
  complete: boolean;
  /** Interrupted downloads are there (`*.incomplete` blobs, or an earlier memery's `*.part`). */
  partial: boolean;
  /** A download of the model's repository is running right now. */
  downloading: boolean;
  /** Bytes of the model's files (cache), or of everything in the folder (legacy). */
  bytes: number;
}

/** A copy as findInstalled finds it: without `downloading` (a lock probe only listInstalled makes). */
export type FoundModel = Omit<InstalledModel, 'downloading'>;

/** `<home>/models`: where an earlier memery kept models. */
export function modelsHome(home: string): string {
  return join(resolve(home), 'models');
}

/** `<home>/models/<name>`. */
export function legacyModelDir(home: string, name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes('..')) {
    throw new MemeryError('E_USAGE', `Expected a model name (letters, digits, ".", "_", "-") but received "${name}"`);
  }
  return join(modelsHome(home), name);
}

async function cacheCopy(entry: ModelEntry, cache: string): Promise<FoundModel | undefined> {
  const l = await lookupCached(entry, cache);
  const base = { name: entry.name, where: 'hf-cache' as const };
  if (l.found) return { ...base, dir: l.dir, complete: true, partial: false, bytes: l.files.reduce((n, f) => n + f.size, 0) };
  const partial = (await readdir(join(l.repoDir, 'blobs')).catch(() => [])).some((b) => b.endsWith(INCOMPLETE_SUFFIX));
  if (!l.present.length && !partial) return undefined;
  const dir = l.commit ? snapshotDir(l.repoDir, l.commit) : l.repoDir;
  return { ...base, dir, complete: false, partial, bytes: l.present.reduce((n, f) => n + f.size, 0) };
}

async function legacyCopy(home: string, name: string, entry: ModelEntry | undefined): Promise<FoundModel | undefined> {
  const dir = legacyModelDir(home, name);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) return undefined;
  let bytes = 0;
  let partial = false;
  for (const d of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!d.isFile()) continue;
    partial ||= d.name.endsWith('.part');
    bytes += (await stat(join(d.parentPath, d.name)).catch(() => undefined))?.size ?? 0;
  }
  let complete = entry !== undefined && !partial;
  for (const f of entry?.files ?? []) {
    if (complete && !f.optional) complete = (await stat(join(dir, ...f.path.split('/'))).catch(() => undefined))?.isFile() === true;
  }
  return { name, dir, where: 'legacy', complete, partial, bytes };
}

/** The complete copy of `entry`: the cache's, else an earlier memery folder's; undefined when neither is. */
export async function findInstalled(home: string, entry: ModelEntry, env: Env = process.env): Promise<FoundModel | undefined> {
  const c = await cacheCopy(entry, hubCacheDir(env));
  if (c?.complete) return c;
  const l = await legacyCopy(home, entry.name, entry);
  return l?.complete ? l : undefined;
}

/** Registry models found in the cache or `<home>/models`, and the other folders there, sorted by name. */
export async function listInstalled(home: string, env: Env = process.env): Promise<InstalledModel[]> {
  const cache = hubCacheDir(env);
  const out: InstalledModel[] = [];
  for (const e of MODEL_REGISTRY) {
    const [c, l] = [await cacheCopy(e, cache), await legacyCopy(home, e.name, e)];
    const pick = c?.complete ? c : l?.complete ? l : (c ?? l);
    // Only here is the download lock probed: findInstalled (every cold search) and verifyModel do not.
    if (pick) out.push({ ...pick, downloading: pick.where === 'hf-cache' && isDownloading(e.repo, cache) });
  }
  for (const d of await readdir(modelsHome(home), { withFileTypes: true }).catch(() => [])) {
    if (d.isDirectory() && !d.name.startsWith('.') && !out.some((m) => m.name === d.name) && !MODEL_REGISTRY.some((e) => e.name === d.name)) {
      const l = await legacyCopy(home, d.name, undefined);
      if (l) out.push({ ...l, downloading: false });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Removes model `name`: its files from the cache (keeping those another registry model of the
 * repository uses, and blobs other snapshots point to) and its earlier memery folder. Returns the
 * folders it removed from; E_NOT_FOUND when there was nothing, E_LOCKED while it downloads.
 */
export async function removeModel(home: string, name: string, env: Env = process.env): Promise<string[]> {
  const legacy = legacyModelDir(home, name);
  const entry = MODEL_REGISTRY.find((e) => e.name === name);
  const cache = hubCacheDir(env);
  const removed: string[] = [];
  if (entry && (await stat(repoCacheDir(cache, entry.repo)).catch(() => undefined))) {
    const release = await lockRepo(cache, entry.repo);
    try {
      const from = await removeFromCache(cache, entry);
      if (from) removed.push(from);
    } finally {
      release();
    }
  }
  if (await stat(legacy).catch(() => undefined)) {
    await rm(legacy, { recursive: true, force: true });
    removed.push(legacy);
  }
  if (!removed.length) {
    const installed = (await listInstalled(home, env)).map((m) => m.name);
    throw new MemeryError('E_NOT_FOUND', `Expected an installed model named "${name}" in ${cache} or ${modelsHome(home)} but found none`, {
      path: legacy,
      hint: installed.length ? `Installed: ${installed.join(', ')}` : 'No models are installed.',
    });
  }
  return removed;
}

async function removeFromCache(cache: string, entry: ModelEntry): Promise<string | undefined> {
  const repoDir = repoCacheDir(cache, entry.repo);
  const commit = await cachedCommit(repoDir, entry.revision);
  if (!commit) return undefined;
  const snap = snapshotDir(repoDir, commit);
  const shared = new Set(MODEL_REGISTRY.filter((e) => e !== entry && e.repo === entry.repo).flatMap((e) => e.files.map((f) => f.path)));
  let any = false;
  for (const f of entry.files) {
    const p = join(snap, ...f.path.split('/'));
    if (shared.has(f.path) || !(await lstat(p).catch(() => undefined))) continue;
    await rm(p, { force: true });
    any = true;
  }
  if (!any) return undefined;
  // Blobs that no snapshot points to any more, then empty folders; the repository when no snapshot is left.
  const used = new Set<string>();
  for (const d of await readdir(join(repoDir, 'snapshots'), { recursive: true, withFileTypes: true })) {
    if (d.isSymbolicLink()) used.add(basename(await readlink(join(d.parentPath, d.name))));
  }
  for (const b of await readdir(join(repoDir, 'blobs')).catch(() => [])) {
    if (!b.endsWith(INCOMPLETE_SUFFIX) && !used.has(b)) await rm(join(repoDir, 'blobs', b), { force: true });
  }
  await pruneEmpty(snap);
  if ((await readdir(join(repoDir, 'snapshots')).catch(() => [])).length === 0) {
    await rm(repoDir, { recursive: true, force: true });
    return repoDir;
  }
  if (!(await stat(snap).catch(() => undefined))) {
    for (const r of await readdir(join(repoDir, 'refs'), { withFileTypes: true }).catch(() => [])) {
      const p = join(repoDir, 'refs', r.name);
      if (r.isFile() && (await readFile(p, 'utf8')).trim() === commit) await rm(p, { force: true });
    }
  }
  return snap;
}

async function pruneEmpty(dir: string): Promise<void> {
  for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (d.isDirectory()) await pruneEmpty(join(dir, d.name));
  await rmdir(dir).catch(() => undefined); // fails unless empty
}

export interface VerifyFileResult {
  path: string;
  status: 'ok' | 'missing' | 'size-mismatch' | 'hash-mismatch';
}

export interface VerifyResult {
  ok: boolean;
  name: string;
  dir: string;
  where: InstalledModel['where'];
  files: VerifyFileResult[];
  /** What is wrong, one line each (empty when ok). */
  problems: string[];
}

/**
 * Re-hashes the files of registry model `name` where it is installed: against the registry's size
 * and sha256 when it has them, and in the cache against the blob's name (its sha256 or git sha1).
 * Reports mismatches; E_NOT_FOUND when it is not installed, E_MODEL for a folder not in the registry.
 */
export async function verifyModel(home: string, name: string, env: Env = process.env): Promise<VerifyResult> {
  const entry = MODEL_REGISTRY.find((e) => e.name === name);
  if (!entry) {
    throw new MemeryError('E_MODEL', `Expected a registry model to verify but "${name}" is not one`, {
      path: legacyModelDir(home, name),
      hint: 'Only registry models have checksums to compare with; a folder of your own is checked by loading it (--model-dir).',
    });
  }
  const c = await cacheCopy(entry, hubCacheDir(env));
  const copy = c?.complete ? c : ((await legacyCopy(home, name, entry)) ?? c);
  if (!copy) {
    throw new MemeryError('E_NOT_FOUND', `Expected model ${name} in ${hubCacheDir(env)} or ${modelsHome(home)} but it is not installed`, {
      hint: `Run \`memery models download ${name}\`.`,
    });
  }
  const files: VerifyFileResult[] = [];
  const problems: string[] = [];
  for (const f of entry.files) {
    const p = join(copy.dir, ...f.path.split('/'));
    const st = await stat(p).catch(() => undefined);
    let status: VerifyFileResult['status'] = 'ok';
    if (!st?.isFile()) {
      if (f.optional) continue;
      status = 'missing';
      problems.push(`${f.path}: missing`);
    } else if (f.size !== undefined && st.size !== f.size) {
      status = 'size-mismatch';
      problems.push(`${f.path}: expected ${f.size} bytes but found ${st.size}`);
    } else {
      const h = await hashContent(p, st.size);
      const etag = copy.where === 'hf-cache' ? ((await etagOf(p)) ?? '') : '';
      const problem = contentMismatch(h, { sha256: f.sha256, etag }, {
        sha256: (sha256) => `expected sha256 ${sha256} but found ${h.sha256}`,
        etag: (named) => `expected the content its blob is named by (${named}) but found sha256 ${h.sha256}, git sha1 ${h.gitSha1}`,
      });
      if (problem) {
        status = 'hash-mismatch';
        problems.push(`${f.path}: ${problem}`);
      }
    }
    files.push({ path: f.path, status });
  }
  if (!copy.complete && problems.length === 0) problems.push('the download did not finish; run it again to complete it');
  return { ok: problems.length === 0, name, dir: copy.dir, where: copy.where, files, problems };
}
