// 3. The obvious alternative, in the same run, over the same corpus: sharp (decode, resize,
// crop) + normalisation in JS + onnxruntime-node's InferenceSession (same fp32 model, same
// threads, batch 16 like memery's default), in its own process (see workers/alternative.mjs).
// Two variants: the straightforward loop (decode a batch, run it, repeat) and one that decodes
// the next batch while the current one runs (prefetch); memery is compared with both.
import { join } from 'node:path';
import { corpusSet } from './corpus.mjs';
import { cosineStats } from './int8.mjs';
import { log, runWorker, visionModel } from './lib.mjs';

const WORKER = new URL('./workers/alternative.mjs', import.meta.url).pathname;

export const name = 'alternative';
export const title = 'Alternative: sharp + onnxruntime-node';

export async function run(ctx) {
  const n = ctx.quick ? 100 : 2000;
  const set = await corpusSet('full', n);
  const saveFirst = ctx.quick ? 40 : 200;
  const out = { files: n, batchSize: 16, threads: ctx.cores };
  for (const prefetch of [false, true]) {
    const key = prefetch ? 'prefetch' : 'sequential';
    const saveTo = join(ctx.tmp, `emb-alternative-${key}.f32`);
    try {
      const r = await runWorker(
        WORKER,
        { model: visionModel('fp32'), folder: set.dir, threads: ctx.cores, batchSize: 16, prefetch, saveFirst, saveTo },
        { timeoutMs: 120_000 + n * 1000, workDir: ctx.tmp },
      );
      log(`alternative (${key}): ${r.imagesPerSecond.toFixed(2)} img/s over ${r.files}`);
      // how close its embeddings are to memery's for the same files (JSON only: the random-weight
      // model amplifies the small differences between the two resizers)
      const mine = ctx.results.pipeline?.embeddings;
      if (mine?.file) {
        const k = Math.min(saveFirst, mine.files.length);
        if (mine.files.slice(0, k).every((f, i) => f.split('/').pop() === set.files[i].split('/').pop())) r.fidelity = cosineStats(mine.file, saveTo, k);
      }
      out[key] = r;
    } catch (e) {
      log(`alternative (${key}): ${e.message}`);
      out[key] = { error: e.message };
    }
  }
  if (!out.sequential?.imagesPerSecond && !out.prefetch?.imagesPerSecond) throw new Error(`both variants failed: ${out.sequential?.error}`);
  return out;
}
