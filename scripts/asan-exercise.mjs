// Exercises every native entry point once or a few times, good and bad inputs, then exits cleanly:
// run by scripts/test-asan.sh under AddressSanitizer with leak detection on, so that anything the
// addon allocates and never frees is reported at exit. Plain JS on the raw binding (no build step).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync, readFileSync, symlinkSync, truncateSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const bindingPath = process.env.MEMERY_NATIVE_BINDING ?? join(root, 'build', 'native', 'Release', 'memery.node');
const b = require(bindingPath);
const models = join(root, '.cache', 'test-models');
const shared = process.env.MEMERY_SHARED ?? resolve(root, '..', 'shared');
// The binding reads every option key (the TS wrappers fill the defaults): full objects here.
const spec = {
  size: 224,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
  shrinkOnLoad: true,
  shrinkMargin: 2,
  maxPixels: 268402689,
  autorotate: false,
};
const SESSION = { provider: 'cpu', threads: 0, spinning: false, optimizedPath: '', optimization: 'all', prepack: true };
// Thumbnails on: every encode also makes one from the same decode (thumbnail.cc).
const ENC = { batchSize: 16, decodeThreads: 0, maxFileBytes: 256 * 1024 * 1024, thumbnailSize: 256, thumbnailQuality: 80 };
const THUMB = { size: 256, format: 'jpeg', quality: 80, maxPixels: 268402689, maxFileBytes: 256 * 1024 * 1024 };
const INDEX = { type: 'flat', hnswM: 32 };

let failures = 0;
function check(cond, what) {
  if (!cond) {
    failures++;
    console.error(`asan-exercise: FAILED: ${what}`);
  }
}
async function rejects(p, code, what) {
  try {
    await p;
    check(false, `${what}: expected ${code}, resolved`);
  } catch (e) {
    check(e?.code === code, `${what}: expected ${code}, got ${e?.code}: ${e?.message}`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'memery-asan-'));
try {
  // images
  const colours = { red: [255, 0, 0], green: [0, 255, 0], blue: [0, 0, 255] };
  const paths = [];
  for (const [name, rgb] of Object.entries(colours)) {
    for (const [ext, w, h] of [['png', 300, 200], ['jpg', 900, 1200], ['webp', 50, 30]]) {
      const data = new Uint8Array(w * h * 3);
      for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = (rgb[c] + i) & 255;
      const p = join(dir, `${name}-${w}.${ext}`);
      await b.saveRgb(data, w, h, p);
      paths.push(p);
    }
  }
  const bad = [join(dir, 'missing.png'), join(dir, 'text.jpg'), join(dir, 'empty.png'), dir];
  writeFileSync(bad[1], 'not an image\n'.repeat(10));
  writeFileSync(bad[2], '');
  const loop = join(dir, 'loop.jpg');
  symlinkSync(join(dir, 'loop2.jpg'), loop);
  symlinkSync(loop, join(dir, 'loop2.jpg'));
  const huge = join(dir, 'huge.jpg');
  writeFileSync(huge, readFileSync(paths[1]));
  truncateSync(huge, 300 * 2 ** 20);
  let corpus = [];
  if (existsSync(join(shared, 'corpus'))) {
    for (const d of ['memes', 'photos']) corpus.push(...readdirSync(join(shared, 'corpus', d)).map((f) => join(shared, 'corpus', d, f)));
  }

  // image encoders, both layouts, with all kinds of input
  for (const [vision, text] of [
    ['colour-hf/onnx/vision_model.onnx', 'colour-hf/onnx/text_model.onnx'],
    ['colour-openclip/visual/model.onnx', 'colour-openclip/textual/model.onnx'],
  ]) {
    const enc = await b.ImageEncoder.load(join(models, vision), SESSION, spec);
    for (const batchSize of [1, 4, 16]) {
      const r = await enc.encodeFiles([...paths, ...bad], { ...ENC, batchSize, decodeThreads: 2 });
      check(r.errors.length === bad.length, 'encodeFiles reports the bad files');
    }
    const r = await enc.encodeFiles(corpus, { ...ENC, batchSize: 8 });
    check(r.errors.length <= 3, `corpus: ${r.errors.map((e) => e.message).join('; ')}`);
    corpus.forEach((p, i) => {
      const want = createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 32);
      check(r.hashes[i] === want, `corpus hash of ${p}`);
    });
    // read-once paths: over the size limit (also a 300 MiB sparse file), a read error, a symlink loop
    const small = await enc.encodeFiles([...paths.slice(0, 3), '/proc/self/mem', loop, huge], { ...ENC, maxFileBytes: 1000, decodeThreads: 2 });
    check(small.errors.some((e) => e.code === 'E_TOO_LARGE') && small.errors.some((e) => e.code === 'E_IO'), 'size limit and read errors');
    const big = await enc.encodeFiles([huge, paths[0]], ENC);
    check(big.errors.length === 1 && big.errors[0].code === 'E_TOO_LARGE', 'sparse 300 MiB file refused');
    const t = await enc.encodeTensor(new Float32Array(2 * 3 * 224 * 224));
    check(t.length === 2 * enc.info().dim, 'encodeTensor');
    enc.close();
    const te = await b.TextEncoder.load(join(models, text), { ...SESSION, contextLength: 77 });
    const e = await te.encode([[49406, 736, 49407], [49406, 1901, 1746, 49407], Int32Array.from([49406, 49407])]);
    check(e.length === 3 * te.info().dim, 'text encode');
    await rejects(te.encode([new Array(200).fill(1)]), 'E_USAGE', 'more ids than the context length');
    // typed arrays of the wrong element type (a Uint8Array used to be read past its end)
    for (const bad of [Uint8Array.from([1, 2, 3]), Int16Array.from([1, 2]), Float64Array.from([1])]) {
      await Promise.resolve().then(() => te.encode([bad])).then(() => check(false, 'text ids of a wrong typed array'), () => {});
    }
    te.close();
  }
  await rejects(b.ImageEncoder.load(join(models, 'colour-hf/onnx/vision_model.onnx'), { ...SESSION, provider: 'cuda' }, spec), 'E_MODEL', 'cuda provider');

  // bad models
  for (const m of ['bad/not-onnx.onnx', 'bad/empty.onnx', 'bad/wrong-shape/onnx/vision_model.onnx', 'bad/wrong-rank/onnx/vision_model.onnx', 'colour-hf/onnx/text_model.onnx', 'nope.onnx']) {
    await rejects(b.ImageEncoder.load(join(models, m), SESSION, spec), 'E_MODEL', `image model ${m}`);
  }
  await rejects(b.TextEncoder.load(join(models, 'colour-hf/onnx/vision_model.onnx'), { ...SESSION, contextLength: 77 }), 'E_MODEL', 'text model given an image model');
  await rejects(b.TextEncoder.load(join(models, 'bad/not-onnx.onnx'), { ...SESSION, contextLength: 77 }), 'E_MODEL', 'text model not onnx');

  // image ops
  const d = await b.decodeForModel([...paths, ...bad, ...corpus.slice(0, 20)], { ...spec, output: 'rgb', threads: 2 });
  check(d.errors.length >= bad.length, 'decodeForModel errors');
  await b.decodeForModel(paths.slice(0, 3), { ...spec, output: 'float', threads: 0 });
  for (const p of [...paths.slice(0, 4), ...corpus.slice(0, 10)]) {
    for (const format of ['jpeg', 'png', 'webp']) {
      try {
        const t = await b.thumbnail(p, { ...THUMB, size: 96, format });
        check(t.data.length > 0, 'thumbnail');
      } catch (e) {
        check(e.code === 'E_DECODE', `thumbnail ${p}: ${e.message}`);
      }
    }
    try {
      await b.imageInfo(p);
    } catch (e) {
      check(e.code === 'E_DECODE', `imageInfo ${p}: ${e.message}`);
    }
  }
  // thumbnails from bytes in memory: good images, garbage, empty, truncated, a copy with an offset
  for (const p of [...paths.slice(0, 4), ...corpus.slice(0, 6)]) {
    const bytes = readFileSync(p);
    const view = Buffer.concat([Buffer.alloc(5), bytes]).subarray(5);
    for (const input of [bytes, view, bytes.subarray(0, bytes.length >> 1), bytes.subarray(0, 40)]) {
      try {
        const t = await b.thumbnail(input, { ...THUMB, size: 64, format: 'webp' });
        check(t.data.length > 0, 'thumbnail from bytes');
      } catch (e) {
        check(e.code === 'E_DECODE', `thumbnail from bytes of ${p}: ${e.message}`);
      }
    }
  }
  for (const input of [Buffer.alloc(0), randomBytes(3000), Buffer.from('not an image')]) {
    await b.thumbnail(input, THUMB).then(() => check(false, 'thumbnail of garbage bytes'), (e) => check(e.code === 'E_DECODE', `garbage bytes: ${e.code}`));
  }
  await rejects(b.thumbnail(huge, THUMB), 'E_TOO_LARGE', 'thumbnail of a 300 MiB file');
  await rejects(b.thumbnail(loop, THUMB), 'E_IO', 'thumbnail of a symlink loop');
  for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 2 ** 20]) {
    const data = randomBytes(n);
    const want = createHash('sha256').update(data).digest('hex');
    for (const impl of ['auto', 'portable', ...(b.sha256Impl() === 'sha-ni' ? ['sha-ni'] : [])]) check(b.sha256Hex(data, impl) === want, `sha256 ${impl} ${n}`);
  }
  for (const p of bad) {
    await b.thumbnail(p, THUMB).then(() => check(false, `thumbnail ${p}`), () => {});
    await b.imageInfo(p).then(() => check(false, `imageInfo ${p}`), () => {});
  }

  for (const bad of [new Float32Array(12), new Uint16Array(12)]) {
    await Promise.resolve().then(() => b.saveRgb(bad, 2, 2, join(dir, 'x.png'))).then(() => check(false, 'saveRgb of a wrong typed array'), () => {});
  }

  // vector index
  const dim = 32;
  const n = 2000;
  const vec = new Float32Array(n * dim).map((_, i) => Math.sin(i * 12.9898) * 0.5);
  const ids = Float64Array.from({ length: n }, (_, i) => i * 3 + 1);
  for (const type of ['flat', 'flat-fp16', 'hnsw']) {
    const ix = new b.VectorIndex(dim, { type, hnswM: 16 });
    await ix.add(ids, vec);
    const s = await ix.search(vec.subarray(0, 5 * dim), 10);
    check(s.ids.length === 50, `${type} search`);
    // within a selection (ids not in the index are ignored): a small one and most of the index
    const few = await ix.search(vec.subarray(0, 5 * dim), 10, Float64Array.from([1, 4, 7, 100000]));
    check(few.k === 3 && [...few.ids].every((id) => [1, 4, 7].includes(id)), `${type} search within a few ids`);
    const most = await ix.search(vec.subarray(0, 2 * dim), 10, ids.subarray(0, 1900));
    check([...most.ids].every((id) => id < 0 || id < 1900 * 3), `${type} search within most ids`);
    if (type !== 'hnsw') check((await ix.remove(ids.subarray(0, 100))) === 100, `${type} remove`);
    else await rejects(ix.remove(ids.subarray(0, 1)), 'E_INDEX', 'hnsw remove');
    ix.setSearchParams({ efSearch: 32 });
    const file = join(dir, `${type}.idx`);
    await ix.save(file, `meta-${type}`);
    const l = await b.VectorIndex.load(file);
    check(l.meta === `meta-${type}` && l.index.size() === ix.size(), `${type} load`);
    // damage
    const buf = readFileSync(file);
    const flip = Buffer.from(buf);
    flip[Math.floor(buf.length / 2)] ^= 1;
    writeFileSync(join(dir, 'flip.idx'), flip);
    await rejects(b.VectorIndex.load(join(dir, 'flip.idx')), 'E_INDEX', 'flipped');
    writeFileSync(join(dir, 'cut.idx'), buf.subarray(0, buf.length >> 1));
    await rejects(b.VectorIndex.load(join(dir, 'cut.idx')), 'E_INDEX', 'truncated');
  }
  await rejects(b.VectorIndex.load(dir), 'E_INDEX', 'index is a folder');
  await rejects(b.VectorIndex.load(join(dir, 'none.idx')), 'E_INDEX', 'index missing');

  // a worker thread with its own instance of the addon, ended while the main thread goes on
  const { Worker } = await import('node:worker_threads');
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const b = require(workerData.bindingPath);
     (async () => {
       const enc = await b.ImageEncoder.load(workerData.model, workerData.session, workerData.spec);
       const r = await enc.encodeFiles(workerData.paths, workerData.enc);
       const ix = new b.VectorIndex(r.dim, { type: 'flat', hnswM: 32 });
       await ix.add(Float64Array.from(workerData.paths, (_, i) => i), r.embeddings);
       parentPort.postMessage((await ix.search(r.embeddings, 1)).ids.length);
     })().catch((e) => parentPort.postMessage(String(e)));`,
    { eval: true, workerData: { bindingPath, model: join(models, 'colour-hf/onnx/vision_model.onnx'), spec, session: SESSION, enc: ENC, paths: paths.slice(0, 3) } },
  );
  const got = await new Promise((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  });
  check(got === 3, `worker thread: ${got}`);
  await w.terminate();
  const after = new b.VectorIndex(4, INDEX);
  check(after.size() === 0, 'main thread after the worker ended');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
// Let finalizers of the wrapped objects run before exit.
for (let i = 0; i < 3; i++) {
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 50));
}
if (failures) {
  console.error(`asan-exercise: ${failures} check(s) failed`);
  process.exit(1);
}
console.log('asan-exercise: all native entry points exercised');
