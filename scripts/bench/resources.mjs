// 7. Peak RSS while indexing (fp32; VmHWM of the indexing process, a child of its own) and the
// index size on disk per 10k images (catalog.db + the FAISS file). Taken from the pipeline and
// cold-query runs of this bench when they ran; measured here otherwise.
import { corpusSet } from './corpus.mjs';
import { log } from './lib.mjs';
import { makeCatalog } from './cold.mjs';
import { indexRun } from './pipeline.mjs';

export const name = 'resources';
export const title = 'Peak RSS and disk';

export async function run(ctx) {
  const out = {};
  const p = ctx.results.pipeline?.default;
  if (p?.peakRss) {
    out.rss = { peakRss: p.peakRss, images: p.images, source: `pipeline default run (${p.images} images)` };
  } else {
    const n = ctx.quick ? 100 : 400;
    const set = await corpusSet('full', n);
    const r = await indexRun(ctx, 'rss', set.dir, {}, { timeoutMs: 60_000 + n * 1000 });
    out.rss = { peakRss: r.peakRss, images: r.runs[0].new, source: `index of the first ${n} corpus images` };
  }
  const c = ctx.results.cold?.disk;
  if (c?.files) out.disk = { ...c, source: 'cold-query catalog' };
  else {
    const n = ctx.quick ? 2000 : 10000;
    const { fill } = await makeCatalog(ctx, n);
    out.disk = { files: fill.embeddings, catalogBytes: fill.catalogBytes, indexBytes: fill.indexBytes, source: `synthetic catalog of ${n} files` };
  }
  const per10k = (b) => (b / out.disk.files) * 10_000;
  out.disk.per10k = { catalog: per10k(out.disk.catalogBytes), index: per10k(out.disk.indexBytes), total: per10k(out.disk.catalogBytes + out.disk.indexBytes) };
  if (p?.catalogBytes) {
    out.diskFromPipeline = { images: p.images, per10k: ((p.catalogBytes + p.indexBytes) / p.images) * 10_000 };
  }
  log(`resources: peak RSS ${(out.rss.peakRss / 2 ** 20).toFixed(0)} MiB; disk per 10k ${(out.disk.per10k.total / 2 ** 20).toFixed(1)} MiB`);
  return out;
}
