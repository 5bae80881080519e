// Worker: ImageEncoder.encodeFiles (decode + preprocess + infer, no walk/hash/store) on a list
// of files, with settings Memery does not expose: preprocessing spec (shrinkOnLoad,
// shrinkMargin) and ONNX Runtime spinning. Goes through the addon's raw binding for that.
//   { model, files, threads, spinning, spec: {...}, batchSize, decodeThreads, thumbnailSize, chunk, saveTo? }
// chunk: files per encodeFiles call (Memery.index uses max(32, 4 x batchSize)); 0 = one call.
// saveTo: write the embeddings (float32, row i = files[i]) there, for comparisons.
import { writeFileSync } from 'node:fs';
import { lib, log, memoryPeak, workerMain } from '../lib.mjs';

workerMain(async (cfg) => {
  const { native } = await lib();
  const spec = native.PreprocessSpecSchema.parse(cfg.spec ?? {});
  const t0 = performance.now();
  const enc = await native.loadBinding().ImageEncoder.load(cfg.model, native.SessionOptionsSchema.parse({ provider: 'cpu', threads: cfg.threads ?? 0, spinning: !!cfg.spinning }), spec);
  const loadSeconds = (performance.now() - t0) / 1000;
  const files = cfg.files;
  const chunk = cfg.chunk || files.length;
  let dim = 0;
  let failed = 0;
  let embeddings;
  const started = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < files.length; i += chunk) {
    const part = files.slice(i, i + chunk);
    const r = await enc.encodeFiles(part, native.EncodeFilesOptionsSchema.parse({ batchSize: cfg.batchSize ?? 16, decodeThreads: cfg.decodeThreads ?? 0, thumbnailSize: cfg.thumbnailSize ?? 0 }));
    dim = r.dim;
    failed += r.errors.length;
    embeddings ??= new Float32Array(files.length * dim);
    embeddings.set(r.embeddings, i * dim);
  }
  const seconds = (performance.now() - started) / 1000;
  const c = process.cpuUsage(c0);
  const cpuSeconds = (c.user + c.system) / 1e6;
  enc.close();
  if (cfg.saveTo) writeFileSync(cfg.saveTo, Buffer.from(embeddings.buffer, embeddings.byteOffset, embeddings.byteLength));
  const r = { spec: { shrinkOnLoad: spec.shrinkOnLoad, shrinkMargin: spec.shrinkMargin }, files: files.length, failed, seconds, imagesPerSecond: (files.length - failed) / seconds, cpuMsPerImage: (cpuSeconds * 1000) / files.length, loadSeconds, dim, peakRss: memoryPeak().hwm };
  log(`  encodeFiles ${files.length} files: ${r.imagesPerSecond.toFixed(2)} img/s (${failed} failed)`);
  return r;
});
