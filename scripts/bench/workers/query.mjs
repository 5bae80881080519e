// Worker: warm query latency through the library: tokenize + TextEncoder.encode (the bench
// ViT-B/32 text model) + VectorIndex.search (top 20), per query, over `size` synthetic 512-d
// L2-normalised vectors, for each index type; and recall@10 of hnsw against exact search.
//   { size, types, textModelDir, short: [..], long: [..], maxQueries, maxSeconds, seed,
//     hnswCache, hnswBuild: 'always' | 'if-cached' , efSearch: [..], recallQueries }
// The vectors are clustered like real embeddings (see generator), generated deterministically
// chunk by chunk, so a cached hnsw file matches them.
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, lib, log, memoryPeak, percentile, rng, workerMain } from '../lib.mjs';

const D = 512;
const CENTRES = 4096;
const CHUNK = 65536;
const VERSION = 'v3';
const U = Math.sqrt(12); // (r() - 0.5) * U has unit variance

/**
 * The synthetic catalog's generator. Real CLIP embeddings are far from isotropic: their variance
 * falls off across principal directions (a few tens of effective dimensions) and they cluster.
 * Both searches here are rotation-invariant, so the vectors are drawn directly in that principal
 * basis: component j has standard deviation 1/sqrt(j+1) (participation ratio ~28). A vector is
 * one of 4,096 cluster centres plus a deviation drawn the same way (cosine ~0.75 to its centre),
 * normalised. Isotropic 512-d noise would make all neighbours about equally far, which no real
 * catalog does, and would make approximate search needlessly hard.
 */
function generator(seed) {
  const r = rng(seed);
  const sig = Float32Array.from({ length: D }, (_, j) => 1 / Math.sqrt(j + 1));
  const cent = new Float32Array(CENTRES * D);
  for (let i = 0; i < cent.length; i++) cent[i] = (r() - 0.5) * U * sig[i % D];
  return { cent, sig, seed };
}

/** Vectors [from, to) of the synthetic catalog (deterministic per start index). */
function vectors(gen, seed, from, to) {
  const { cent, sig } = gen;
  const n = to - from;
  const out = new Float32Array(n * D);
  const r = rng(seed * 1000003 + from);
  for (let i = 0; i < n; i++) {
    const o = i * D;
    const c = Math.floor(r() * CENTRES) * D;
    let s = 0;
    for (let j = 0; j < D; j++) {
      const x = cent[c + j] + (r() - 0.5) * U * 0.88 * sig[j];
      out[o + j] = x;
      s += x * x;
    }
    s = 1 / Math.sqrt(s);
    for (let j = 0; j < D; j++) out[o + j] *= s;
  }
  return out;
}

function recallAt(exact, approx, k) {
  let hit = 0;
  let total = 0;
  exact.forEach((e, q) => {
    const want = new Set(e.ids.slice(0, k));
    total += want.size;
    for (const id of approx[q].ids.slice(0, k)) if (want.has(id)) hit++;
  });
  return total ? hit / total : NaN;
}

workerMain(async (cfg, partial) => {
  const { native, ClipTokenizer } = await lib();
  const { VectorIndex, TextEncoder } = native;
  const N = cfg.size;
  const out = { size: N, cases: [], builds: {}, recall: {} };

  // text side
  const tTok = performance.now();
  const tok = await ClipTokenizer.fromDir(cfg.textModelDir);
  const text = await TextEncoder.load(join(cfg.textModelDir, 'onnx', 'text_model.onnx'), {});
  out.textLoadSeconds = (performance.now() - tTok) / 1000;
  const embed = async (q) => text.encode([tok.encode(q)]);
  for (const q of [...cfg.short.slice(0, 3), ...cfg.long.slice(0, 2)]) await embed(q); // warm-up
  out.tokens = {
    short: Math.max(...cfg.short.map((q) => tok.encode(q).length)),
    long: Math.min(...cfg.long.map((q) => tok.encode(q).length)),
  };

  // vector side
  const gen = generator(cfg.seed);
  const ids = (from, to) => Float64Array.from({ length: to - from }, (_, i) => from + i);
  const indexes = {};
  const tGen = performance.now();
  const needBuild = cfg.types.filter((t) => t !== 'hnsw');
  let hnswFile;
  if (cfg.types.includes('hnsw')) {
    ensureDir(cfg.hnswCache);
    hnswFile = join(cfg.hnswCache, `hnsw-${VERSION}-seed${cfg.seed}-n${N}-M32.faiss`);
    if (existsSync(hnswFile)) {
      const t = performance.now();
      const r = await VectorIndex.load(hnswFile);
      indexes.hnsw = r.index;
      out.builds.hnsw = { cached: true, loadSeconds: (performance.now() - t) / 1000, ...JSON.parse(r.meta || '{}') };
      log(`  query ${N}: hnsw loaded from cache ${hnswFile} (built in ${out.builds.hnsw.buildSeconds?.toFixed(0)} s)`);
    } else if (cfg.hnswBuild === 'always') {
      needBuild.push('hnsw');
    } else {
      out.builds.hnsw = { skipped: `not cached (${hnswFile}); build it with npm run bench -- --only query --build-hnsw` };
      log(`  query ${N}: hnsw ${out.builds.hnsw.skipped}`);
    }
  }
  for (const t of needBuild) {
    indexes[t] = VectorIndex.create(D, { type: t });
    out.builds[t] = { seconds: 0 };
  }
  if (needBuild.length) {
    for (let from = 0; from < N; from += CHUNK) {
      const to = Math.min(N, from + CHUNK);
      const v = vectors(gen, cfg.seed, from, to);
      for (const t of needBuild) {
        const t0 = performance.now();
        await indexes[t].add(ids(from, to), v);
        out.builds[t].seconds += (performance.now() - t0) / 1000;
      }
      if (needBuild.includes('hnsw') && (to / CHUNK) % 2 === 0) log(`  query ${N}: hnsw build ${to}/${N} (${out.builds.hnsw.seconds.toFixed(0)} s)`);
    }
    out.generateSeconds = (performance.now() - tGen) / 1000 - Object.values(out.builds).reduce((a, b) => a + (b.seconds ?? 0), 0);
    if (needBuild.includes('hnsw')) {
      out.builds.hnsw.buildSeconds = out.builds.hnsw.seconds;
      const tmp = `${hnswFile}.tmp-${process.pid}`;
      await indexes.hnsw.save(tmp, JSON.stringify({ buildSeconds: out.builds.hnsw.seconds, builtAt: new Date().toISOString(), size: N }));
      renameSync(tmp, hnswFile);
      log(`  query ${N}: hnsw built in ${out.builds.hnsw.seconds.toFixed(0)} s, cached in ${hnswFile}`);
    }
  }
  partial(out);

  // recall@10 of hnsw vs exact (flat), for the short text queries and for in-distribution
  // queries (new points drawn like the catalog's)
  if (indexes.hnsw && indexes.flat) {
    const nq = cfg.recallQueries ?? 100;
    const textQ = new Float32Array(nq * D);
    for (let i = 0; i < nq; i++) textQ.set(await embed(cfg.short[i % cfg.short.length]), i * D);
    const distQ = vectors(gen, cfg.seed + 7777, 0, nq);
    const exactText = await indexes.flat.search(textQ, 10);
    const exactDist = await indexes.flat.search(distQ, 10);
    const sweep = [];
    for (const ef of cfg.efSearch ?? [16, 32, 64, 128, 256]) {
      indexes.hnsw.setSearchParams({ efSearch: ef });
      const t = performance.now();
      const aDist = await indexes.hnsw.search(distQ, 10);
      const ms = (performance.now() - t) / nq;
      const aText = await indexes.hnsw.search(textQ, 10);
      sweep.push({ efSearch: ef, recallInDistribution: recallAt(exactDist, aDist, 10), recallTextQueries: recallAt(exactText, aText, 10), searchMsPerQuery: ms });
    }
    const chosen = sweep.find((s) => s.recallInDistribution >= 0.95) ?? sweep[sweep.length - 1];
    indexes.hnsw.setSearchParams({ efSearch: chosen.efSearch });
    out.recall = { sweep, chosen };
    log(`  query ${N}: hnsw efSearch ${chosen.efSearch}: recall@10 ${chosen.recallInDistribution.toFixed(3)} (in-distribution), ${chosen.recallTextQueries.toFixed(3)} (text queries)`);
  } else if (indexes.hnsw) {
    indexes.hnsw.setSearchParams({ efSearch: cfg.defaultEf ?? 64 });
  }

  // latency: per query, tokenize + encode + search
  for (const type of cfg.types) {
    const index = indexes[type];
    if (!index) continue;
    for (const kind of ['short', 'long']) {
      const qs = cfg[kind];
      await index.search(await embed(qs[0]), 20); // warm
      const total = [];
      const enc = [];
      const search = [];
      const started = performance.now();
      for (let i = 0; i < cfg.maxQueries; i++) {
        if (i >= 20 && performance.now() - started > cfg.maxSeconds * 1000) break;
        const t0 = performance.now();
        const v = await embed(qs[i % qs.length]);
        const t1 = performance.now();
        const hits = await index.search(v, 20);
        const t2 = performance.now();
        if (hits[0].ids.length !== Math.min(20, N)) throw new Error(`expected 20 hits, got ${hits[0].ids.length}`);
        total.push(t2 - t0);
        enc.push(t1 - t0);
        search.push(t2 - t1);
      }
      const c = {
        type,
        kind,
        queries: total.length,
        p50: percentile(total, 50),
        p99: percentile(total, 99),
        encodeP50: percentile(enc, 50),
        searchP50: percentile(search, 50),
        searchP99: percentile(search, 99),
        efSearch: type === 'hnsw' ? (out.recall.chosen?.efSearch ?? cfg.defaultEf ?? 64) : undefined,
      };
      out.cases.push(c);
      log(`  query ${N} ${type} ${kind}: p50 ${c.p50.toFixed(1)} ms, p99 ${c.p99.toFixed(1)} ms (encode ${c.encodeP50.toFixed(1)}, search ${c.searchP50.toFixed(1)}) over ${c.queries}`);
      partial(out);
    }
  }
  text.close();
  out.peakRss = memoryPeak().hwm;
  return out;
});
