// 8. int8 against fp32: the pipeline's images/s with the int8 (dynamically quantised) model on
// the whole corpus, and the mean cosine similarity between the int8 and fp32 embeddings of the
// same images (the first 200; --quick: 40), both from ImageEncoder.encodeFiles.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusSet } from './corpus.mjs';
import { log } from './lib.mjs';
import { encodeRun, indexRun } from './pipeline.mjs';

export const name = 'int8';
export const title = 'int8 (dynamic quantisation) vs fp32';

export function readRows(file, dim = 512) {
  const b = readFileSync(file);
  const a = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const rows = [];
  for (let i = 0; i < a.length / dim; i++) rows.push(a.subarray(i * dim, (i + 1) * dim));
  return rows;
}

export function cosine(a, b) {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? d / Math.sqrt(na * nb) : NaN;
}

/**
 * Cosine between row i of two embedding files, over the first n rows: raw, and centred (the
 * mean of A's rows subtracted from both: with random weights part of every embedding is the
 * same for all images, and centring shows how well the image-dependent part agrees).
 */
export function cosineStats(fileA, fileB, n) {
  const A = readRows(fileA).slice(0, n);
  const B = readRows(fileB).slice(0, n);
  const m = Math.min(A.length, B.length);
  const mean = new Float64Array(A[0]?.length ?? 0);
  for (let i = 0; i < m; i++) for (let j = 0; j < mean.length; j++) mean[j] += A[i][j] / m;
  const raw = [];
  const centred = [];
  for (let i = 0; i < m; i++) {
    const c = cosine(A[i], B[i]);
    if (!Number.isFinite(c)) continue;
    raw.push(c);
    centred.push(cosine(A[i].map((x, j) => x - mean[j]), B[i].map((x, j) => x - mean[j])));
  }
  const stats = (cs) => {
    const s = [...cs].sort((x, y) => x - y);
    return { mean: s.reduce((t, x) => t + x, 0) / s.length, min: s[0], p5: s[Math.floor(s.length * 0.05)] };
  };
  const r = stats(raw);
  return { n: raw.length, ...r, centred: stats(centred) };
}

export async function run(ctx) {
  const n = ctx.quick ? 100 : 2000;
  const cmpN = ctx.quick ? 40 : 200;
  const full = await corpusSet('full', n);
  const cmp = await corpusSet('full', cmpN);
  const out = {};
  const r = await indexRun(ctx, 'full-int8', full.dir, {}, { variant: 'int8', timeoutMs: 120_000 + n * 1000 });
  out.pipeline = { images: r.runs[0].new, seconds: r.seconds, imagesPerSecond: r.imagesPerSecond, peakRss: r.peakRss };
  log(`int8 pipeline on ${n}: ${r.imagesPerSecond.toFixed(2)} img/s`);

  const cfg = { batchSize: 16, decodeThreads: 0, threads: 0, chunk: 64 };
  let fp32File = ctx.results.pipeline?.embeddings?.file;
  if (!fp32File || ctx.results.pipeline.embeddings.files.length < cmpN) {
    fp32File = join(ctx.tmp, 'emb-fp32-cmp.f32');
    await encodeRun(ctx, 'fp32 for cosine', cmp.files, { ...cfg, saveTo: fp32File }, { timeoutMs: 60_000 + cmpN * 1000 });
  }
  const int8File = join(ctx.tmp, 'emb-int8-cmp.f32');
  const e8 = await encodeRun(ctx, 'int8 for cosine', cmp.files, { ...cfg, saveTo: int8File }, { variant: 'int8', timeoutMs: 60_000 + cmpN * 1000 });
  out.encodeFiles = [{ label: `encodeFiles default (shrinkMargin ${e8.spec.shrinkMargin})`, images: cmpN, imagesPerSecond: e8.imagesPerSecond, cpuMsPerImage: e8.cpuMsPerImage }];
  // decoding is the int8 pipeline's bottleneck: the same with more JPEG shrink-on-load
  const m = e8.spec.shrinkMargin === 2 ? 1 : 2;
  try {
    const e = await encodeRun(ctx, `int8 shrinkMargin ${m}`, cmp.files, { ...cfg, spec: { shrinkMargin: m } }, { variant: 'int8', timeoutMs: 60_000 + cmpN * 1000 });
    out.encodeFiles.push({ label: `shrinkMargin ${m}`, images: cmpN, imagesPerSecond: e.imagesPerSecond, cpuMsPerImage: e.cpuMsPerImage });
  } catch (e) {
    log(`int8 shrinkMargin ${m}: ${e.message}`);
  }
  out.cosine = cosineStats(fp32File, int8File, cmpN);
  log(`int8 vs fp32 cosine over ${out.cosine.n} images: mean ${out.cosine.mean.toFixed(4)}, min ${out.cosine.min.toFixed(4)}`);
  return out;
}
