// Worker: a MEMERY_HOME whose catalog holds `count` files of `folder` with synthetic 512-d
// embeddings for the model in `modelDir` (id from detectLayout(dir).id), written through the
// library's Catalog (the tables of ts/catalog/schema.ts), and its FAISS file built and saved.
// Real paths, sizes, mtimes and content hashes, so the catalog is what an index run would leave
// (only the vectors are made up).
//   { home, folder, files, modelDir, seed }
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, fileSize, lib, rng, workerMain } from '../lib.mjs';

workerMain(async (cfg) => {
  const { models } = await lib();
  const { Catalog } = await import(join(DIST, 'catalog', 'catalog.js'));
  const { VectorCache } = await import(join(DIST, 'catalog', 'vector-cache.js'));
  const { contentHash } = await import(join(DIST, 'catalog', 'hash.js'));
  const layout = await models.detectLayout(cfg.modelDir);
  const catalog = Catalog.open(join(cfg.home, 'catalog.db'));
  catalog.ensureFolder(cfg.folder);
  const r = rng(cfg.seed ?? 3);
  const D = 512;
  const started = performance.now();
  for (let i = 0; i < cfg.files.length; i += 1000) {
    const embeddings = [];
    const records = [];
    for (const path of cfg.files.slice(i, i + 1000)) {
      const st = statSync(path);
      const hash = await contentHash(path);
      const v = new Float32Array(D);
      let s = 0;
      for (let j = 0; j < D; j++) {
        v[j] = r() - 0.5;
        s += v[j] * v[j];
      }
      for (let j = 0; j < D; j++) v[j] /= Math.sqrt(s);
      embeddings.push({ hash, modelId: layout.id, vector: v });
      records.push({ path, size: st.size, mtimeMs: st.mtimeMs, hash, width: 64, height: 64, status: 'ok' });
    }
    catalog.commit(embeddings, records);
  }
  catalog.markFolderIndexed(cfg.folder);
  const cache = new VectorCache(catalog, cfg.home, layout.id, 'flat');
  const index = await cache.rebuild();
  const count = catalog.embeddingCount(layout.id);
  catalog.close();
  return {
    modelId: layout.id,
    embeddings: count,
    vectors: index?.size ?? 0,
    seconds: (performance.now() - started) / 1000,
    catalogBytes: fileSize(join(cfg.home, 'catalog.db')) + fileSize(join(cfg.home, 'catalog.db-wal')),
    indexFile: cache.file,
    indexBytes: fileSize(cache.file),
  };
});
