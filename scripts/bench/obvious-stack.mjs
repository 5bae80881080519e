#!/usr/bin/env node
// The obvious stack, as a user would write it in an afternoon: sharp decodes and resizes
// (fit 'cover', cubic), JS normalises, onnxruntime-node runs batches of 16, with a pool of 4
// batch preparations in flight so decoding overlaps session.run. Whole process: the headline
// comparison times it from spawn to exit, exactly as it times `memery index`.
//   node scripts/bench/obvious-stack.mjs MODEL.onnx FOLDER [THREADS]
// Prints one JSON line: { files, failed, seconds } (seconds inside the process, for reference).
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';

const require = createRequire(import.meta.url);
const started = performance.now();
const [model, folder, threadsArg] = process.argv.slice(2);
const sharp = require('sharp');
const ort = require('onnxruntime-node');
const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];
const S = 224;
const BATCH = 16;
const POOL = 4;
const EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff']);
const files = readdirSync(folder).filter((f) => EXT.has(extname(f).toLowerCase())).sort().map((f) => join(folder, f));
const opts = { graphOptimizationLevel: 'all' };
if (Number(threadsArg)) opts.intraOpNumThreads = Number(threadsArg);
const session = await ort.InferenceSession.create(model, opts);
const input = session.inputNames[0];
const output = session.outputNames[0];
let failed = 0;

async function prepare(path) {
  try {
    const { data } = await sharp(path).removeAlpha().toColourspace('srgb').resize(S, S, { fit: 'cover', kernel: 'cubic' }).raw().toBuffer({ resolveWithObject: true });
    return data;
  } catch {
    failed++;
    return undefined;
  }
}

async function batch(k) {
  const bufs = (await Promise.all(files.slice(k, k + BATCH).map(prepare))).filter(Boolean);
  const px = new Float32Array(bufs.length * 3 * S * S);
  const plane = S * S;
  bufs.forEach((b, i) => {
    const base = i * 3 * plane;
    for (let p = 0, q = 0; p < plane; p++, q += 3) {
      px[base + p] = (b[q] / 255 - MEAN[0]) / STD[0];
      px[base + plane + p] = (b[q + 1] / 255 - MEAN[1]) / STD[1];
      px[base + 2 * plane + p] = (b[q + 2] / 255 - MEAN[2]) / STD[2];
    }
  });
  return { px, n: bufs.length };
}

const vectors = [];
let nextStart = 0;
const prepared = [];
const fill = () => {
  while (prepared.length < POOL && nextStart < files.length) {
    prepared.push(batch(nextStart));
    nextStart += BATCH;
  }
};
fill();
while (prepared.length) {
  const { px, n } = await prepared.shift();
  fill();
  if (!n) continue;
  const out = await session.run({ [input]: new ort.Tensor('float32', px, [n, 3, S, S]) });
  vectors.push(out[output].data);
}
process.stdout.write(JSON.stringify({ files: files.length, failed, seconds: (performance.now() - started) / 1000 }) + '\n');
