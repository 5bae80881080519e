// 0. The headline: how long until a folder is searchable. `memery index FOLDER` into a fresh
// catalog, as a whole process (node start, model load, walk, hash, decode, infer, SQLite, FAISS),
// against the obvious stack a user would write (scripts/bench/obvious-stack.mjs: sharp +
// onnxruntime-node, whole process), on the same corpus, model and threads. The two alternate
// (memery, obvious, memery int8, ...) and each keeps its best time, so a noisy moment on a shared
// machine hurts both alike. memery int8 is compared with the obvious stack's fp32.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { corpusSet } from './corpus.mjs';
import { ROOT, cpuSample, log, modelDir, otherLoad, round, visionModel } from './lib.mjs';

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
  for (let i = 0; i < rounds; i++) {
    for (const [key, fn] of [['memery', () => memery('fp32')], ['obvious', obvious], ['memeryInt8', () => memery('int8')]]) {
      const r = await fn();
      runs[key].push(r);
      log(`headline round ${i + 1}: ${key} ${r.seconds.toFixed(2)} s = ${(n / r.seconds).toFixed(2)} img/s (other load ${round((r.otherLoad ?? 0) * 100, 0)}%)`);
    }
  }
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
  };
  log(`headline: memery ${out.imagesPerSecond.memery.toFixed(2)} img/s, obvious stack ${out.imagesPerSecond.obvious.toFixed(2)} img/s: ${out.ratio.toFixed(2)}x; int8 ${out.ratioInt8.toFixed(2)}x`);
  return out;
}
