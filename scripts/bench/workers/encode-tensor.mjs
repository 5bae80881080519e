// Worker: raw inference speed on pre-made [N,3,224,224] tensors (no decoding): the ceiling.
//   { engine: 'memery' | 'ort-node', model, threads, spinning?, batches: [..], minSeconds, minRuns }
// engine 'memery' uses the addon's ImageEncoder.encodeTensor (memery's ONNX Runtime, session
// options as memery sets them: inter-op 1, graph optimisation all, spinning off unless asked);
// engine 'ort-node' uses onnxruntime-node's InferenceSession (the alternative's runtime, its
// default session options but the same intra-op threads). One engine per process.
import { lib, log, rng, workerMain } from '../lib.mjs';

function tensor(n, size = 224) {
  const r = rng(42);
  const data = new Float32Array(n * 3 * size * size);
  for (let i = 0; i < data.length; i++) data[i] = (r() - 0.45) / 0.27;
  return data;
}

async function memeryEngine(cfg) {
  const { native } = await lib();
  const spec = native.PreprocessSpecSchema.parse({});
  const enc = await native.loadBinding().ImageEncoder.load(cfg.model, native.SessionOptionsSchema.parse({ provider: 'cpu', threads: cfg.threads ?? 0, spinning: !!cfg.spinning }), spec);
  return { run: (px) => enc.encodeTensor(px), close: () => enc.close() };
}

async function ortEngine(cfg) {
  const { createRequire } = await import('node:module');
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const opts = { graphOptimizationLevel: 'all' };
  if (cfg.threads) opts.intraOpNumThreads = cfg.threads;
  const s = await ort.InferenceSession.create(cfg.model, opts);
  const input = s.inputNames[0];
  return {
    run: async (px) => {
      const n = px.length / (3 * 224 * 224);
      const out = await s.run({ [input]: new ort.Tensor('float32', px, [n, 3, 224, 224]) });
      return out[s.outputNames[0]].data;
    },
    close: () => s.release?.(),
  };
}

workerMain(async (cfg, partial) => {
  const t0 = performance.now();
  const engine = cfg.engine === 'ort-node' ? await ortEngine(cfg) : await memeryEngine(cfg);
  const loadSeconds = (performance.now() - t0) / 1000;
  const results = [];
  for (const b of cfg.batches) {
    const px = tensor(b);
    await engine.run(px); // warm-up (first run allocates and tunes)
    let images = 0;
    let runs = 0;
    const start = performance.now();
    const c0 = process.cpuUsage();
    while (runs < (cfg.minRuns ?? 2) || performance.now() - start < (cfg.minSeconds ?? 3) * 1000) {
      const out = await engine.run(px);
      if (out.length !== b * 512) throw new Error(`expected ${b * 512} outputs, got ${out.length}`);
      images += b;
      runs++;
    }
    const seconds = (performance.now() - start) / 1000;
    const c = process.cpuUsage(c0);
    const r = { batch: b, threads: cfg.threads, spinning: !!cfg.spinning, engine: cfg.engine, imagesPerSecond: images / seconds, cpuMsPerImage: (c.user + c.system) / 1000 / images, runs, seconds };
    log(`  ceiling ${cfg.engine} ${cfg.model.split('/').slice(-3, -2)[0]} batch ${b} threads ${cfg.threads}${cfg.spinning ? ' spin' : ''}: ${r.imagesPerSecond.toFixed(1)} img/s`);
    results.push(r);
    partial({ results, loadSeconds });
  }
  engine.close();
  return { results, loadSeconds };
});
