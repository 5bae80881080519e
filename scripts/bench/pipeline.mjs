// 2. memery's full index pipeline: Memery.index on a fresh MEMERY_HOME over the generated corpus
// (walk, stat, hash, decode, preprocess, infer, store), images/s and ratio to the ceiling.
//   a) settings sweep on a prefix of the corpus (200 images; --quick: 40), each in its own process:
//      Memery options (batchSize, decodeThreads, threads) and, through ImageEncoder.encodeFiles
//      (what Memery does not expose), ORT spinning, shrinkMargin / shrinkOnLoad, one call vs
//      Memery's chunks;
//   b) the default settings on the whole corpus (2,000; --quick: 100), with its peak RSS;
//   c) the best Memery setting of the sweep on the whole corpus too, when it beat the default
//      by more than 5% on the prefix.
import { join } from 'node:path';
import { corpusSet } from './corpus.mjs';
import { ensureDir, log, modelDir, runWorker, visionModel } from './lib.mjs';

const INDEX = new URL('./workers/index-run.mjs', import.meta.url).pathname;
const ENCODE = new URL('./workers/encode-files.mjs', import.meta.url).pathname;

export const name = 'pipeline';
export const title = "memery's index pipeline (fp32)";

export const MEMERY_DEFAULTS = { batchSize: 16, decodeThreads: 0, threads: 0 };

export async function indexRun(ctx, label, folder, options, { variant = 'fp32', runs = 1, timeoutMs } = {}) {
  const home = ensureDir(join(ctx.tmp, 'homes', `${label}-${Date.now()}`));
  const r = await runWorker(INDEX, { home, folder, modelDir: modelDir(variant), options, runs }, { timeoutMs, workDir: ctx.tmp });
  return { label, options, home, ...r, imagesPerSecond: r.runs[0].imagesPerSecond, seconds: r.runs[0].seconds, cpuMsPerImage: r.runs[0].cpuMsPerImage };
}

export async function encodeRun(ctx, label, files, cfg, { variant = 'fp32', timeoutMs } = {}) {
  const r = await runWorker(ENCODE, { model: visionModel(variant), files, ...cfg }, { timeoutMs, workDir: ctx.tmp });
  return { label, settings: cfg, ...r };
}

export async function run(ctx) {
  const q = ctx.quick;
  const subsetN = q ? 40 : 200;
  const fullN = q ? 100 : 2000;
  const subset = await corpusSet('full', subsetN);
  const full = await corpusSet('full', fullN);
  const perImageBudget = 1000; // ms: a generous bound (fp32 runs ~0.05-0.1 s per image here)
  const subTimeout = 60_000 + subsetN * perImageBudget;
  const out = { corpus: { full: { count: full.count, bytes: full.bytes, mix: full.mix }, subset: { count: subset.count, bytes: subset.bytes, mix: subset.mix } } };

  // a) sweep
  const memeryConfigs = q
    ? [
        ['default', {}],
        ['batch 32', { batchSize: 32 }],
        ['decodeThreads 1', { decodeThreads: 1 }],
      ]
    : [
        ['default', {}],
        ['batch 8', { batchSize: 8 }],
        ['batch 32', { batchSize: 32 }],
        ['decodeThreads 1', { decodeThreads: 1 }],
        [`decodeThreads ${ctx.cores * 2}`, { decodeThreads: ctx.cores * 2 }],
        ['threads 1', { threads: 1 }],
      ];
  out.sweep = [];
  for (const [label, options] of memeryConfigs) {
    try {
      const r = await indexRun(ctx, `sweep-${label.replace(/\W+/g, '-')}`, subset.dir, options, { timeoutMs: subTimeout });
      out.sweep.push({ label, options, imagesPerSecond: r.imagesPerSecond, cpuMsPerImage: r.cpuMsPerImage, seconds: r.seconds, failed: r.runs[0].failed, peakRss: r.peakRss });
      log(`pipeline sweep ${label}: ${r.imagesPerSecond.toFixed(2)} img/s`);
    } catch (e) {
      log(`pipeline sweep ${label}: ${e.message}`);
      out.sweep.push({ label, options, error: e.message });
    }
  }
  const chunk = Math.max(32, 4 * MEMERY_DEFAULTS.batchSize);
  const efBase = { batchSize: MEMERY_DEFAULTS.batchSize, decodeThreads: 0, threads: 0, chunk };
  const encodeConfigs = q
    ? [
        ['encodeFiles default', {}],
        ['spinning on', { spinning: true }],
        ...[ctx.defaultSpec?.shrinkMargin === 2 ? 1 : 2].map((m) => [`shrinkMargin ${m}`, { spec: { shrinkMargin: m } }]),
      ]
    : [
        ['encodeFiles default', {}],
        ['spinning on', { spinning: true }],
        ['one call (no chunks)', { chunk: 0 }],
        ...[1, 2, 3, 4]
          .filter((m) => m !== ctx.defaultSpec?.shrinkMargin)
          .map((m) => [`shrinkMargin ${m}`, { spec: { shrinkMargin: m } }]),
        ['shrinkOnLoad off', { spec: { shrinkOnLoad: false } }],
      ];
  out.encodeSweep = [];
  for (const [label, cfg] of encodeConfigs) {
    try {
      const saveTo = label === 'encodeFiles default' ? join(ctx.tmp, 'emb-memery-fp32.f32') : undefined;
      const r = await encodeRun(ctx, label, subset.files, { ...efBase, ...cfg, saveTo }, { timeoutMs: subTimeout });
      out.encodeSweep.push({ label: label === 'encodeFiles default' ? `encodeFiles default (shrinkMargin ${r.spec.shrinkMargin})` : label, default: label === 'encodeFiles default', spec: r.spec, settings: { ...efBase, ...cfg }, imagesPerSecond: r.imagesPerSecond, cpuMsPerImage: r.cpuMsPerImage, seconds: r.seconds, failed: r.failed });
      if (saveTo) out.embeddings = { file: saveTo, files: subset.files };
      log(`pipeline encodeFiles ${label}: ${r.imagesPerSecond.toFixed(2)} img/s`);
    } catch (e) {
      log(`pipeline encodeFiles ${label}: ${e.message}`);
      out.encodeSweep.push({ label, settings: { ...efBase, ...cfg }, error: e.message });
    }
  }

  // b) default on the whole corpus
  const fullTimeout = 120_000 + fullN * perImageBudget;
  const def = await indexRun(ctx, 'full-default', full.dir, {}, { timeoutMs: fullTimeout });
  out.default = {
    settings: MEMERY_DEFAULTS,
    images: def.runs[0].new,
    failed: def.runs[0].failed,
    seconds: def.seconds,
    imagesPerSecond: def.imagesPerSecond,
    cpuMsPerImage: def.cpuMsPerImage,
    peakRss: def.peakRss,
    catalogBytes: def.catalogBytes,
    indexBytes: def.indexBytes,
  };
  log(`pipeline default on ${full.count}: ${def.imagesPerSecond.toFixed(2)} img/s, peak RSS ${(def.peakRss / 2 ** 20).toFixed(0)} MiB`);

  // c) best sweep setting on the whole corpus
  const ok = out.sweep.filter((s) => s.imagesPerSecond);
  const sweepDefault = ok.find((s) => s.label === 'default');
  const bestSweep = ok.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a), ok[0]);
  out.best = { ...out.default, label: 'default' };
  if (bestSweep && sweepDefault && bestSweep !== sweepDefault && bestSweep.imagesPerSecond > sweepDefault.imagesPerSecond * 1.05) {
    if (ctx.timeLeft() > fullN / Math.max(1, bestSweep.imagesPerSecond) + 60) {
      try {
        const b = await indexRun(ctx, 'full-best', full.dir, bestSweep.options, { timeoutMs: fullTimeout });
        out.bestFull = { label: bestSweep.label, options: bestSweep.options, imagesPerSecond: b.imagesPerSecond, cpuMsPerImage: b.cpuMsPerImage, seconds: b.seconds, peakRss: b.peakRss };
        if (b.imagesPerSecond > out.default.imagesPerSecond) out.best = { ...out.bestFull, settings: { ...MEMERY_DEFAULTS, ...bestSweep.options } };
        log(`pipeline ${bestSweep.label} on ${full.count}: ${b.imagesPerSecond.toFixed(2)} img/s`);
      } catch (e) {
        log(`pipeline best on full: ${e.message}`);
      }
    } else {
      log(`pipeline: no time left to run "${bestSweep.label}" on the whole corpus`);
    }
  }
  return out;
}
