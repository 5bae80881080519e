// 1. Ceiling: raw ONNX Runtime images/s on pre-made 224x224 tensors (no decoding), through
// memery's own runtime (ImageEncoder.encodeTensor), for batch sizes x intra-op threads; the best
// is the ceiling the pipeline is compared with. Also, for context: spinning on, onnxruntime-node
// on the same tensors (the alternative's runtime), and the int8 model.
import { log, runWorker, visionModel } from './lib.mjs';

const WORKER = new URL('./workers/encode-tensor.mjs', import.meta.url).pathname;

export const name = 'ceiling';
export const title = 'Ceiling: raw inference on pre-made tensors';

const best = (rows) => rows.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a), rows[0]);

export async function run(ctx) {
  const cores = ctx.cores;
  const threads = ctx.quick ? [cores] : [...new Set([1, cores])];
  const batches = ctx.quick ? [1, 16] : [1, 8, 16, 32];
  const minSeconds = ctx.quick ? 1.5 : 3;
  const timeoutMs = ctx.quick ? 120_000 : 300_000;
  const w = (cfg) => runWorker(WORKER, { minSeconds, minRuns: 2, ...cfg }, { timeoutMs, workDir: ctx.tmp });

  const fp32 = [];
  for (const t of threads) fp32.push(...(await w({ engine: 'memery', model: visionModel('fp32'), threads: t, batches })).results);
  const bestPlain = best(fp32);
  const out = { fp32: { runs: fp32 } };
  try {
    out.spinning = (await w({ engine: 'memery', model: visionModel('fp32'), threads: cores, batches: [bestPlain.batch], spinning: true })).results[0];
  } catch (e) {
    log(`ceiling: spinning run failed: ${e.message}`);
  }
  out.fp32.best = best([...fp32, ...(out.spinning ? [out.spinning] : [])]);
  try {
    const b = [...new Set([16, out.fp32.best.batch])];
    const r = await w({ engine: 'ort-node', model: visionModel('fp32'), threads: cores, batches: b });
    out.ortNode = { runs: r.results, best: best(r.results) };
  } catch (e) {
    log(`ceiling: onnxruntime-node run failed: ${e.message}`);
  }
  try {
    const r = await w({ engine: 'memery', model: visionModel('int8'), threads: cores, batches: ctx.quick ? [16] : [16, 32] });
    out.int8 = { runs: r.results, best: best(r.results) };
  } catch (e) {
    log(`ceiling: int8 run failed: ${e.message}`);
  }
  log(`ceiling: fp32 ${out.fp32.best.imagesPerSecond.toFixed(2)} img/s (batch ${out.fp32.best.batch}, ${out.fp32.best.threads} threads${out.fp32.best.spinning ? ', spinning' : ''})`);
  return out;
}
