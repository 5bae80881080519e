// Worker: where a cold query's time goes, step by step, in a fresh process (the steps a
// `memery search --no-index` runs): importing the library, opening the catalog, loading the
// tokenizer, creating the text model's ONNX Runtime session, encoding the query, loading the
// FAISS file, searching. Also the int8 text model's session creation, for comparison.
//   { home, modelDir, int8ModelDir, query }
import { join } from 'node:path';
import { DIST, lib, workerMain } from '../lib.mjs';

workerMain(async (cfg) => {
  const steps = {};
  const t = () => performance.now();
  steps.processToHere = t(); // performance.now() counts from process start
  let s = t();
  const { native, ClipTokenizer, models } = await lib();
  const { Catalog } = await import(join(DIST, 'catalog', 'catalog.js'));
  steps.importLibrary = t() - s;
  s = t();
  const layout = await models.detectLayout(cfg.modelDir);
  steps.detectModel = t() - s;
  s = t();
  const catalog = Catalog.open(join(cfg.home, 'catalog.db'));
  catalog.generation();
  steps.openCatalog = t() - s;
  s = t();
  const tok = await ClipTokenizer.fromDir(cfg.modelDir);
  steps.loadTokenizer = t() - s;
  s = t();
  const text = await native.TextEncoder.load(layout.textModel, {});
  steps.loadTextModel = t() - s;
  s = t();
  const v = await text.encode([tok.encode(cfg.query)]);
  steps.encodeQuery = t() - s;
  s = t();
  const { index } = await native.VectorIndex.load(join(cfg.home, 'index', `${layout.id}-flat.faiss`));
  steps.loadIndex = t() - s;
  s = t();
  const hits = await index.search(v, 20);
  steps.search = t() - s;
  s = t();
  catalog.filesForEmbeddings(hits[0].ids, layout.id);
  steps.lookupPaths = t() - s;
  text.close();
  catalog.close();
  if (cfg.int8ModelDir) {
    const l8 = await models.detectLayout(cfg.int8ModelDir);
    s = t();
    const t8 = await native.TextEncoder.load(l8.textModel, {});
    steps.loadTextModelInt8 = t() - s;
    t8.close();
  }
  return { steps };
});
