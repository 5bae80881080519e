// Worker: memery's full index pipeline, Memery.index(folder) on a MEMERY_HOME (walk, stat, hash,
// decode, preprocess, infer, store in SQLite, update the FAISS file).
//   { home, folder, modelDir, options: { batchSize?, decodeThreads?, threads?, variant? }, runs }
// runs: how many times to call index() in this process (the 2nd and later see no changes).
// Reports each run's wall time (from the call to its return, model loading included), the
// summary counts, the peak RSS of this process (VmHWM), and the catalog + index file sizes.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileSize, lib, log, memoryPeak, workerMain } from '../lib.mjs';

function dirSize(d) {
  let n = 0;
  try {
    for (const f of readdirSync(d)) {
      const s = statSync(join(d, f));
      n += s.isDirectory() ? dirSize(join(d, f)) : s.size;
    }
  } catch {
    /* missing */
  }
  return n;
}

workerMain(async (cfg, partial) => {
  const { Memery } = await lib();
  const tOpen = performance.now();
  const m = await Memery.open({ home: cfg.home, modelDir: cfg.modelDir, ...cfg.options });
  const openSeconds = (performance.now() - tOpen) / 1000;
  const runs = [];
  try {
    for (let i = 0; i < (cfg.runs ?? 1); i++) {
      const t = performance.now();
      const c0 = process.cpuUsage();
      const s = await m.index(cfg.folder);
      const seconds = (performance.now() - t) / 1000;
      const c = process.cpuUsage(c0);
      const cpuSeconds = (c.user + c.system) / 1e6;
      const { errors, ...counts } = s;
      const encoded = s.new + s.reembedded;
      const r = { seconds, cpuSeconds, cpuMsPerImage: encoded ? (cpuSeconds * 1000) / encoded : undefined, ...counts, errorCount: errors.length, firstErrors: errors.slice(0, 3), imagesPerSecond: encoded / seconds };
      runs.push(r);
      log(`  index run ${i + 1}: found ${s.found}, new ${s.new}, unchanged ${s.unchanged}, failed ${s.failed} in ${seconds.toFixed(2)} s` + (encoded ? ` (${r.imagesPerSecond.toFixed(2)} img/s)` : ''));
      partial({ runs });
    }
  } finally {
    await m.close();
  }
  const mem = memoryPeak();
  const catalogBytes = fileSize(join(cfg.home, 'catalog.db')) + fileSize(join(cfg.home, 'catalog.db-wal'));
  return { openSeconds, runs, peakRss: mem.hwm, catalogBytes, indexBytes: dirSize(join(cfg.home, 'index')) };
});
