// The benchmark corpus, generated once from ../shared/corpus and cached outside the repository
// ($HOME/.cache/memery-bench-corpus, or MEMERY_BENCH_CORPUS):
//   v1/full/      2,000 real-size images (see workers/make-corpus.mjs for the mix)
//   v1/tiny/      10,000 64x64 JPEGs (the re-index and cold-query catalogs)
//   v1/sets/NAME/ hard links to a prefix of one of them (a folder with exactly n files)
import { existsSync, linkSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS_CACHE, SHARED, ensureDir, log, runWorker } from './lib.mjs';

const VERSION = 'v1';
const WORKER = new URL('./workers/make-corpus.mjs', import.meta.url).pathname;

export function fileName(i, kind) {
  const k = i % 20;
  const ext = kind === 'tiny' ? 'jpg' : k === 3 || k === 13 ? 'png' : 'jpg';
  return `${String(i).padStart(5, '0')}.${ext}`;
}

export function sourceImages() {
  const out = [];
  for (const sub of ['memes', 'photos']) {
    const d = join(SHARED, 'corpus', sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).sort()) out.push(join(d, f));
  }
  return out;
}

/** Makes sure the first `count` files of `kind` exist (generating what is missing). */
export async function ensureGenerated(kind, count, timeoutMs) {
  const dir = join(CORPUS_CACHE, VERSION, kind === 'tiny' ? 'tiny' : 'full');
  const sources = sourceImages();
  if (!sources.length) throw new Error(`no source images under ${SHARED}/corpus (set MEMERY_SHARED)`);
  const have = existsSync(dir) ? new Set(readdirSync(dir)) : new Set();
  let missing = 0;
  for (let i = 0; i < count; i++) if (!have.has(fileName(i, kind))) missing++;
  if (missing) await runWorker(WORKER, { kind, dir, count, sources }, { timeoutMs });
  return dir;
}

/** The folder corpusSet(kind, count) fills. */
export const setDir = (kind, count) => join(CORPUS_CACHE, VERSION, 'sets', `${kind}-${count}`);

/**
 * A folder holding exactly the first `count` files of `kind` (hard links into the cache), so
 * Memery.index sees just those. Returns { dir, files, bytes, mix }.
 */
export async function corpusSet(kind, count, { timeoutMs = 30 * 60_000 } = {}) {
  const src = await ensureGenerated(kind, count, timeoutMs);
  const dir = setDir(kind, count);
  const names = Array.from({ length: count }, (_, i) => fileName(i, kind));
  const have = existsSync(dir) ? readdirSync(dir) : [];
  const want = new Set(names);
  if (have.length !== count || have.some((n) => !want.has(n))) {
    rmSync(dir, { recursive: true, force: true });
    ensureDir(dir);
    for (const n of names) linkSync(join(src, n), join(dir, n));
    log(`corpus set ${dir}: ${count} files (hard links)`);
  }
  let bytes = 0;
  const mix = { jpeg: 0, png: 0, large: 0 };
  names.forEach((n, i) => {
    bytes += statSync(join(dir, n)).size;
    if (n.endsWith('.png')) mix.png++;
    else if (kind !== 'tiny' && i % 20 === 7) mix.large++;
    else mix.jpeg++;
  });
  return { dir, files: names.map((n) => join(dir, n)), count, bytes, mix };
}
