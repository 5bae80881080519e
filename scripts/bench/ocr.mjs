#!/usr/bin/env node
// OCR benchmark: memery's native OCR (OcrEngine) against @gutenye/ocr-node (the same PP-OCRv4
// ONNX models, run by sharp + onnxruntime-node + opencv.js) on the same memes, in one process,
// alternating image by image (and which of the two goes first), both with 2 ONNX Runtime threads.
// Prints ms/image for each, the ratio, and the character error rate of each on the
// hand-transcribed captions (scripts/bench/ocr-captions.mjs).
//
//   npm run build:ts && node scripts/bench/ocr.mjs [--n 20] [--threads 2] [--rounds 1] [--json FILE]
//
// Needs ../shared/corpus/memes and the devDependency @gutenye/ocr-node. MEMERY_NATIVE_BINDING
// picks another build of the addon.
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CAPTIONS, captionCer } from './ocr-captions.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '1' },
    json: { type: 'string' },
    memes: { type: 'string', default: process.env.MEMERY_SHARED ? join(process.env.MEMERY_SHARED, 'corpus', 'memes') : join(ROOT, '..', 'shared', 'corpus', 'memes') },
  },
});
const N = Number(args.n);
const THREADS = Number(args.threads);
const ROUNDS = Number(args.rounds);

// The hand-transcribed memes first, then other memes in name order.
const all = readdirSync(args.memes).filter((f) => f.startsWith('Wholesome-Meme')).sort();
const files = [...Object.keys(CAPTIONS), ...all.filter((f) => !(f in CAPTIONS))].slice(0, N).map((f) => join(args.memes, f));

const { OcrEngine } = await import(pathToFileURL(join(ROOT, 'dist', 'ts', 'native', 'index.js')).href);
const { default: GutenOcr } = await import('@gutenye/ocr-node');

const tLoad0 = performance.now();
const memery = await OcrEngine.load({ threads: THREADS });
const tLoad1 = performance.now();
const guten = await GutenOcr.create({ onnxOptions: { intraOpNumThreads: THREADS, interOpNumThreads: 1 } });
const tLoad2 = performance.now();
console.log(`load: memery ${(tLoad1 - tLoad0).toFixed(0)} ms, @gutenye/ocr-node ${(tLoad2 - tLoad1).toFixed(0)} ms`);

// Warm-up: one image each (first-run allocations, lazy initialisation).
await memery.read([files[0]]);
await guten.detect(files[0]);

// CPU time: process.cpuUsage() around each call (every thread of the process; the calls do not
// overlap), so a machine shared with other work inflates wall time more than this.
const cpuMs = (c) => {
  const u = process.cpuUsage(c);
  return (u.user + u.system) / 1000;
};
const runMemery = async (f) => {
  const c = process.cpuUsage();
  const t = performance.now();
  const [r] = await memery.read([f], { decodeThreads: 1 });
  const ms = performance.now() - t;
  const cpu = cpuMs(c);
  if (!r.ok) throw new Error(`memery failed on ${f}: ${r.code} ${r.message}`);
  return { ms, cpu, text: r.text, lines: r.lines.length };
};
const runGuten = async (f) => {
  const c = process.cpuUsage();
  const t = performance.now();
  const lines = await guten.detect(f);
  const ms = performance.now() - t;
  const cpu = cpuMs(c);
  return { ms, cpu, text: lines.map((l) => l.text).join('\n'), lines: lines.length };
};

const times = { memery: [], guten: [] };
const cpus = { memery: [], guten: [] };
const texts = { memery: {}, guten: {} };
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    const order = (i + round) % 2 === 0 ? ['memery', 'guten'] : ['guten', 'memery'];
    const res = {};
    for (const who of order) res[who] = who === 'memery' ? await runMemery(f) : await runGuten(f);
    for (const who of order) {
      times[who].push(res[who].ms);
      cpus[who].push(res[who].cpu);
      texts[who][f.split('/').pop()] = res[who].text;
    }
    if (round === 0)
      console.log(
        `${f.split('/').pop().padEnd(24)} memery ${res.memery.ms.toFixed(0).padStart(5)} ms (${res.memery.lines} lines)` +
          `   guten ${res.guten.ms.toFixed(0).padStart(5)} ms (${res.guten.lines} lines)   x${(res.guten.ms / res.memery.ms).toFixed(1)}`,
      );
  }
}

// memery's batch mode (the way an indexer calls it): all files in one read, decoding overlapped.
const cb = process.cpuUsage();
const tb = performance.now();
const batch = await memery.read(files);
const batchMs = (performance.now() - tb) / files.length;
const batchCpu = cpuMs(cb) / files.length;
if (!batch.every((r) => r.ok)) throw new Error('memery batch: some images failed');

// The floor: ONNX Runtime's Run alone (detector + recogniser), one thread, each image on its own,
// i.e. the CPU time the two models need per image whatever runs them. On THREADS cores no OCR of
// these model files can take less than this / THREADS per image, so @gutenye/ocr-node's time over
// that bounds the ratio; over the whole meme folder it bounds what OCR adds to an index run.
// Each image of the folder is read once; the bench's memes (a subset) give the per-image floor.
const one = await OcrEngine.load({ threads: 1 });
const folderFiles = readdirSync(args.memes).filter((f) => /\.(jpe?g|png|gif|webp|tiff?)$/i.test(f)).map((f) => join(args.memes, f));
const modelMs = new Map(); // file -> { det, rec } ms
for (const f of folderFiles) {
  const [r] = await one.read([f], { profile: true, decodeThreads: 1 });
  if (r.ok) modelMs.set(f, { det: r.timings.detectRun, rec: r.timings.recognizeRun });
}
one.close();
const floorOf = (list) => {
  const got = list.map((f) => modelMs.get(f)).filter((t) => t !== undefined);
  const det = got.reduce((s, t) => s + t.det, 0) / got.length;
  const rec = got.reduce((s, t) => s + t.rec, 0) / got.length;
  return { files: got.length, detMs: det, recMs: rec, msPerImage: det + rec };
};
const floor = floorOf(files);
const floorAll = floorOf(folderFiles);

const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const m = mean(times.memery);
const g = mean(times.guten);
const cm = captionCer(texts.memery);
const cg = captionCer(texts.guten);
console.log('');
console.log(`${files.length} memes x ${ROUNDS} round(s), ${THREADS} ONNX Runtime threads each, alternating`);
const mc = mean(cpus.memery);
const gc = mean(cpus.guten);
console.log(`memery OCR           ${m.toFixed(1)} ms/image wall (median ${median(times.memery).toFixed(1)}), ${mc.toFixed(1)} ms/image CPU`);
console.log(`@gutenye/ocr-node    ${g.toFixed(1)} ms/image wall (median ${median(times.guten).toFixed(1)}), ${gc.toFixed(1)} ms/image CPU`);
console.log(`ratio                memery is ${(g / m).toFixed(2)}x faster per image (median ${(median(times.guten) / median(times.memery)).toFixed(2)}x), ${(gc / mc).toFixed(2)}x less CPU`);
console.log(`memery batch read    ${batchMs.toFixed(1)} ms/image wall, ${batchCpu.toFixed(1)} ms/image CPU (one read() of ${files.length}; ${(g / batchMs).toFixed(2)}x wall, ${(gc / batchCpu).toFixed(2)}x CPU)`);
console.log(`CER (${Object.keys(cm.per).length} hand-transcribed captions, ${cm.chars} chars): memery ${(cm.cer * 100).toFixed(2)}%, @gutenye/ocr-node ${(cg.cer * 100).toFixed(2)}%`);
console.log(`CER counting the spaces between words (${cm.spaced.chars} chars): memery ${(cm.spaced.cer * 100).toFixed(2)}%, @gutenye/ocr-node ${(cg.spaced.cer * 100).toFixed(2)}%`);
console.log(
  `inference floor      ONNX Runtime's Run alone, one thread: ${floor.msPerImage.toFixed(1)} ms/image (detector ${floor.detMs.toFixed(1)}, recogniser ${floor.recMs.toFixed(1)}); ` +
    `on ${THREADS} cores at least ${(floor.msPerImage / THREADS).toFixed(1)} ms/image, so at most ${(g / (floor.msPerImage / THREADS)).toFixed(2)}x @gutenye/ocr-node's time`,
);
console.log(`                     whole meme folder (${floorAll.files} images): ${floorAll.msPerImage.toFixed(1)} ms/image, ${((floorAll.msPerImage * floorAll.files) / 1000).toFixed(1)} s of model time in all`);
if (args.json) {
  writeFileSync(args.json, JSON.stringify({
    files: files.length, rounds: ROUNDS, threads: THREADS,
    memery: { msPerImage: m, medianMs: median(times.memery), cpuMsPerImage: mc, batchMsPerImage: batchMs, batchCpuMsPerImage: batchCpu, cer: cm.cer, cerSpaced: cm.spaced.cer },
    gutenye: { msPerImage: g, medianMs: median(times.guten), cpuMsPerImage: gc, cer: cg.cer, cerSpaced: cg.spaced.cer },
    ratio: g / m, ratioBatch: g / batchMs, cerChars: cm.chars,
    floor: { ...floor, bestRatio: g / (floor.msPerImage / THREADS) },
    floorFolder: { ...floorAll, totalMs: floorAll.msPerImage * floorAll.files },
  }));
}
memery.close();
