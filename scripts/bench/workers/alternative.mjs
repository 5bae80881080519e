// Worker: the obvious alternative to memery's pipeline, in its own process (its ONNX Runtime is
// onnxruntime-node's, never in the same process as memery's addon):
//   sharp: decode, resize the shorter side to 224 (bicubic) + centre crop (fit 'cover'), RGB
//   JS:    normalise with the CLIP mean/std into a [N,3,224,224] Float32Array
//   onnxruntime-node: InferenceSession.run on the batch (graph optimisation 'all', the same
//          intra-op threads as memery, its other defaults)
// prefetch: false is the straightforward loop (decode a batch with Promise.all, run it, repeat);
// prefetch: true starts decoding batch k+1 before batch k runs, so sharp's threads overlap
// inference (the stronger alternative). No walk/hash/SQLite: it only lists the folder.
//   { model, folder, threads, batchSize, prefetch, saveFirst?, saveTo? }
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { ROOT, log, memoryPeak, workerMain } from '../lib.mjs';

const require = createRequire(import.meta.url);
const pkgVersion = (name) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];
const S = 224;
const EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff']);

workerMain(async (cfg) => {
  const started = performance.now();
  const c0 = process.cpuUsage();
  const sharp = require('sharp');
  const ort = require('onnxruntime-node');
  const files = readdirSync(cfg.folder)
    .filter((f) => EXT.has(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(cfg.folder, f));
  const opts = { graphOptimizationLevel: 'all' };
  if (cfg.threads) opts.intraOpNumThreads = cfg.threads;
  const session = await ort.InferenceSession.create(cfg.model, opts);
  const loadSeconds = (performance.now() - started) / 1000;
  const input = session.inputNames[0];
  const output = session.outputNames[0];

  let failed = 0;
  const prep = async (path) => {
    try {
      const { data, info } = await sharp(path)
        .removeAlpha()
        .toColourspace('srgb')
        .resize(S, S, { fit: 'cover', position: 'centre', kernel: 'cubic' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 3 || info.width !== S || info.height !== S) throw new Error(`unexpected ${info.width}x${info.height}x${info.channels}`);
      return data;
    } catch {
      failed++;
      return undefined;
    }
  };
  const batchOf = (k) => Promise.all(files.slice(k, k + cfg.batchSize).map(prep));
  const saveN = Math.min(cfg.saveFirst ?? 0, files.length);
  const saved = new Float32Array(saveN * 512);

  let next = batchOf(0);
  for (let k = 0; k < files.length; k += cfg.batchSize) {
    const bufs = await next;
    const more = k + cfg.batchSize < files.length;
    if (more && cfg.prefetch) next = batchOf(k + cfg.batchSize);
    const n = bufs.length;
    const px = new Float32Array(n * 3 * S * S);
    const plane = S * S;
    bufs.forEach((b, i) => {
      if (!b) return;
      const base = i * 3 * plane;
      for (let p = 0, q = 0; p < plane; p++, q += 3) {
        px[base + p] = (b[q] / 255 - MEAN[0]) / STD[0];
        px[base + plane + p] = (b[q + 1] / 255 - MEAN[1]) / STD[1];
        px[base + 2 * plane + p] = (b[q + 2] / 255 - MEAN[2]) / STD[2];
      }
    });
    const out = await session.run({ [input]: new ort.Tensor('float32', px, [n, 3, S, S]) });
    if (more && !cfg.prefetch) next = batchOf(k + cfg.batchSize);
    const emb = out[output].data;
    for (let i = 0; i < n && k + i < saveN; i++) saved.set(emb.subarray(i * 512, (i + 1) * 512), (k + i) * 512);
    if ((k / cfg.batchSize) % 25 === 0 && k) log(`  alternative: ${k}/${files.length} (${(k / ((performance.now() - started) / 1000)).toFixed(2)} img/s)`);
  }
  const seconds = (performance.now() - started) / 1000;
  const c = process.cpuUsage(c0);
  if (cfg.saveTo && saveN) writeFileSync(cfg.saveTo, Buffer.from(saved.buffer));
  const r = {
    files: files.length,
    failed,
    seconds,
    loadSeconds,
    imagesPerSecond: (files.length - failed) / seconds,
    cpuMsPerImage: ((c.user + c.system) / 1000) / files.length,
    peakRss: memoryPeak().hwm,
    sharp: pkgVersion('sharp'),
    onnxruntimeNode: pkgVersion('onnxruntime-node'),
  };
  log(`  alternative${cfg.prefetch ? ' (prefetch)' : ''}: ${files.length} files in ${seconds.toFixed(1)} s: ${r.imagesPerSecond.toFixed(2)} img/s (${failed} failed)`);
  return r;
});
