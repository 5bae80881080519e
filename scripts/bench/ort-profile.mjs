#!/usr/bin/env node
// Where a vision model's inference time goes, per ONNX Runtime operator type: onnxruntime-node's
// profiler (enableProfiling) over N runs of one batch, kernel time summed by op type, per run and
// as a share. For the fp32 model it also prints the MatMul throughput (FLOPs of ViT-B/32's matrix
// products, 4.3 GMAC per image, over the MatMul kernel time and the threads).
//
//   node scripts/bench/ort-profile.mjs MODEL.onnx [--batch 16] [--threads 2] [--runs 6]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { batch: { type: 'string', default: '16' }, threads: { type: 'string', default: '2' }, runs: { type: 'string', default: '6' } },
});
const [model] = positionals;
if (!model) throw new Error('Expected a model path: node scripts/bench/ort-profile.mjs MODEL.onnx');
const B = Number(args.batch);
const threads = Number(args.threads);
const runs = Number(args.runs);
const dir = mkdtempSync(join(tmpdir(), 'memery-ort-profile-'));
try {
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, enableProfiling: true, profileFilePrefix: join(dir, 'profile') });
  const x = new Float32Array(B * 3 * 224 * 224);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 1.5;
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', x, [B, 3, 224, 224]) };
  for (let i = 0; i < runs; i++) await s.run(feeds);
  await s.endProfiling();
  const file = readdirSync(dir).find((f) => f.endsWith('.json'));
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byOp = new Map();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur);
    total += e.dur;
  }
  // (the first run is counted too: it is a warm session's run, not a load)
  console.log(`${model}: batch ${B}, ${threads} threads, ${runs} runs, ${(total / 1000 / runs).toFixed(1)} ms of kernels per run`);
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1])) {
    if (us / total < 0.001) continue;
    console.log(`${op.padEnd(28)} ${(us / 1000 / runs).toFixed(1).padStart(8)} ms/run ${((100 * us) / total).toFixed(1).padStart(5)}%`);
  }
  const mm = byOp.get('MatMul');
  if (mm && mm / total > 0.5) { // the fp32 model (in the int8 one, MatMul is only the attention's)
    const gflop = (4.3e9 * 2 * B) / 1e9;
    console.log(`MatMul: ${(gflop / (mm / 1e6 / runs) / threads).toFixed(0)} GFLOP/s per thread (ViT-B/32's 4.3 GMAC per image, over MatMul's kernel time)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
