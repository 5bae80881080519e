// 0. The headline: how long until a folder is searchable. `memery index FOLDER` into a fresh
// catalog, as a whole process (node start, model load, walk, hash, decode, infer, SQLite, FAISS),
// against the obvious stack a user would write (scripts/bench/obvious-stack.mjs: sharp +
// onnxruntime-node, whole process), on the same corpus, model and threads. The two alternate
// (memery, obvious, memery int8, ...) and each keeps its best time, so a noisy moment on a shared
// machine hurts both alike. memery int8 is compared with the obvious stack's fp32.
//
// Then, in the same run, the floor those ratios stand on: the CPU time per image that no index of
// this corpus at the default fidelity can go below, i.e. the model alone (ONNX Runtime on ready
// tensors, one thread, batch 16: its most CPU-thrifty setting) plus memery's decode, preprocess and
// thumbnail alone (encodeFiles with the tiny colour test model, whose inference is ~nothing). With
// every core busy all the time and hashing, SQLite, FAISS and start-up free, memery could index at
// most cores x 1000 / (model + decode) images per second.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { corpusSet } from './corpus.mjs';
import { ROOT, colourModelDir, cpuSample, log, modelDir, otherLoad, round, runWorker, visionModel } from './lib.mjs';

export const name = 'headline';
export const title = 'Headline: memery index vs the obvious stack (whole process, alternated)';

function timed(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const a = cpuSample();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}: ${err.slice(-500)}`));
      else resolve({ seconds, stdout: out, stderr: err, otherLoad: otherLoad(a, cpuSample()) });
    });
  });
}

export async function run(ctx) {
  const n = ctx.quick ? 100 : 300;
  const rounds = ctx.quick ? 2 : 3;
  const set = await corpusSet('full', n);
  const threads = ctx.cores;
  const runs = { memery: [], obvious: [], memeryInt8: [] };
  const memery = async (variant) => {
    const home = mkdtempSync(join(ctx.tmp, 'headline-home-'));
    try {
      const r = await timed(process.execPath, [join(ROOT, 'bin', 'memery.js'), 'index', set.dir, '--json', '--no-ocr', '--model-dir', modelDir(variant), '--threads', String(threads)], {
        MEMERY_HOME: home,
        NO_COLOR: '1',
      });
      const s = JSON.parse(r.stdout);
      if (s.new + s.failed !== n) throw new Error(`memery indexed ${s.new} + ${s.failed} failed of ${n}`);
      return { seconds: r.seconds, otherLoad: r.otherLoad, failed: s.failed };
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  };
  const obvious = async () => {
    const r = await timed(process.execPath, [join(ROOT, 'scripts', 'bench', 'obvious-stack.mjs'), visionModel('fp32'), set.dir, String(threads)]);
    const s = JSON.parse(r.stdout.trim().split('\n').pop());
    return { seconds: r.seconds, otherLoad: r.otherLoad, failed: s.failed };
  };
  const worker = (name, cfg) =>
    runWorker(new URL(`./workers/${name}.mjs`, import.meta.url).pathname, cfg, { timeoutMs: 300_000, workDir: ctx.tmp });
  const { THUMB_SIZE } = await import('@memery/client/protocol');
  const parts = { fp32: [], int8: [], decode: [] };
  for (let i = 0; i < rounds; i++) {
    for (const [key, fn] of [['memery', () => memery('fp32')], ['obvious', obvious], ['memeryInt8', () => memery('int8')]]) {
      const r = await fn();
      runs[key].push(r);
      log(`headline round ${i + 1}: ${key} ${r.seconds.toFixed(2)} s = ${(n / r.seconds).toFixed(2)} img/s (other load ${round((r.otherLoad ?? 0) * 100, 0)}%)`);
    }
    // The floor's parts, in every round beside the timings (the best of each is kept, like theirs).
    for (const v of ['fp32', 'int8']) {
      const r = await worker('encode-tensor', { engine: 'memery', model: visionModel(v), threads: 1, batches: [16], minSeconds: ctx.quick ? 2 : 3, minRuns: 2 });
      parts[v].push(r.results[0].cpuMsPerImage);
    }
    const prep = await worker('encode-files', { model: join(colourModelDir(), 'onnx', 'vision_model.onnx'), files: set.files, threads: 1, decodeThreads: threads, thumbnailSize: THUMB_SIZE });
    parts.decode.push(prep.cpuMsPerImage);
  }
  const least = (a) => Math.min(...a);
  const floorOf = (v) => (threads * 1000) / (least(parts[v]) + least(parts.decode));
  const floor = {
    modelCpuMs: { fp32: least(parts.fp32), int8: least(parts.int8) },
    decodeCpuMs: least(parts.decode),
    parts,
    imagesPerSecond: { memery: floorOf('fp32'), memeryInt8: floorOf('int8') },
  };
  log(`headline floor: model alone ${floor.modelCpuMs.fp32.toFixed(1)} (fp32) / ${floor.modelCpuMs.int8.toFixed(1)} (int8) CPU-ms per image, decode + preprocess + thumbnail ${floor.decodeCpuMs.toFixed(1)}: at most ${floor.imagesPerSecond.memery.toFixed(1)} / ${floor.imagesPerSecond.memeryInt8.toFixed(1)} img/s on ${threads} cores`);
  const best = (k) => Math.min(...runs[k].map((r) => r.seconds));
  const out = {
    files: n,
    mix: set.mix,
    bytes: set.bytes,
    threads,
    rounds,
    runs,
    bestSeconds: { memery: best('memery'), obvious: best('obvious'), memeryInt8: best('memeryInt8') },
    imagesPerSecond: { memery: n / best('memery'), obvious: n / best('obvious'), memeryInt8: n / best('memeryInt8') },
    ratio: best('obvious') / best('memery'),
    ratioInt8: best('obvious') / best('memeryInt8'),
    floor: { ...floor, ratio: floor.imagesPerSecond.memery / (n / best('obvious')), ratioInt8: floor.imagesPerSecond.memeryInt8 / (n / best('obvious')) },
  };
  log(`headline: memery ${out.imagesPerSecond.memery.toFixed(2)} img/s, obvious stack ${out.imagesPerSecond.obvious.toFixed(2)} img/s: ${out.ratio.toFixed(2)}x; int8 ${out.ratioInt8.toFixed(2)}x`);
  return out;
}
