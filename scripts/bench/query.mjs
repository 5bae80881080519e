// 5. Warm query latency through the library: tokenize + text encode (bench ViT-B/32 text model)
// + rank in a VectorIndex, p50/p99, at 10k, 100k and 1M synthetic 512-d vectors (--quick: 10k,
// 100k), for flat, flat-fp16 and hnsw, for a short query (< 10 tokens) and a 77-token one; with
// hnsw's recall@10 against exact search. One process per catalog size.
// Building hnsw over 1M vectors takes far longer than this bench may run on two cores, so it is
// built once (npm run bench -- --only query --build-hnsw) and cached in
// $HOME/.cache/memery-bench-vectors; without the cache the 1M hnsw rows are skipped, with a note.
import { VECTOR_CACHE, log, modelDir, runWorker } from './lib.mjs';

const WORKER = new URL('./workers/query.mjs', import.meta.url).pathname;

export const name = 'query';
export const title = 'Warm query latency (library)';

const SUBJECTS = ['dog', 'cat', 'car', 'beach', 'mountain', 'pizza', 'birthday cake', 'bicycle', 'sunset', 'baby', 'horse', 'rocket', 'coffee cup', 'couple', 'pumpkin', 'snow', 'city street', 'forest', 'boat', 'keyboard'];
const MODIFIERS = ['red', 'happy', 'old', 'small', 'sleeping', 'funny', 'blue', 'wet', 'tiny', 'giant'];
const PLACES = ['on a beach', 'in the snow', 'at night', 'in a kitchen', 'on a table', 'in the rain', 'at a party', 'in a park', 'on the road', 'in space'];

export function shortQueries(n = 200) {
  const out = [];
  for (let i = 0; out.length < n; i++) {
    const s = SUBJECTS[i % SUBJECTS.length];
    const m = MODIFIERS[Math.floor(i / SUBJECTS.length) % MODIFIERS.length];
    const p = PLACES[(i * 7) % PLACES.length];
    out.push(i % 3 === 0 ? `${m} ${s}` : i % 3 === 1 ? `a ${m} ${s} ${p}` : `${s} ${p}`);
  }
  return out;
}

export function longQueries(n = 50) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const parts = [];
    for (let j = 0; j < 12; j++) {
      const k = i * 12 + j;
      parts.push(`a ${MODIFIERS[k % MODIFIERS.length]} ${SUBJECTS[(k * 3) % SUBJECTS.length]} ${PLACES[(k * 7) % PLACES.length]}`);
    }
    out.push(`a photograph showing ${parts.join(', and ')}, taken with a wide lens in soft natural light`);
  }
  return out;
}

export async function run(ctx) {
  const sizes = ctx.quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  const out = { sizes: {} };
  for (const size of sizes) {
    const big = size >= 1_000_000;
    const cfg = {
      size,
      types: ['flat', 'flat-fp16', 'hnsw'],
      textModelDir: modelDir('fp32'),
      short: shortQueries(200),
      long: longQueries(50),
      maxQueries: ctx.quick ? 40 : 200,
      maxSeconds: ctx.quick ? 5 : big ? 20 : 30,
      seed: 1,
      hnswCache: VECTOR_CACHE,
      hnswBuild: !big || ctx.opts.buildHnsw ? 'always' : 'if-cached',
      recallQueries: ctx.quick ? 50 : 100,
    };
    try {
      out.sizes[size] = await runWorker(WORKER, cfg, { timeoutMs: big && ctx.opts.buildHnsw ? 4 * 3600_000 : ctx.quick ? 600_000 : 900_000, workDir: ctx.tmp });
    } catch (e) {
      log(`query ${size}: ${e.message}`);
      out.sizes[size] = { ...(e.partial ?? {}), error: e.message };
    }
  }
  return out;
}
