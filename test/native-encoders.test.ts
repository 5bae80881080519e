// End to end through the native encoders with the generated "colour CLIP" models, in both the
// Hugging Face and the OpenCLIP layouts: images and colour words meet in one embedding space, so
// every colour word must rank the image of its own colour first.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemeryError } from '../ts/errors.js';
import { detectLayout, type ModelLayout } from '../ts/models/layout.js';
import {
  EncodeFilesOptionsSchema,
  ImageEncoder,
  PreprocessSpecSchema,
  SessionOptionsSchema,
  TextEncoder,
  VectorIndex,
  bindingCandidates,
  decodeCrops,
  imageInfo,
  loadBinding,
  saveRgb,
} from '../ts/native/index.js';
import { ClipTokenizer } from '../ts/tokenizer/index.js';
import { COLOURS, tempDir, withExifOrientation, writeColourSet, writeRgbaPng, writeSolid } from './helpers/images.js';
import { HAS_SHARED, shared, testModel } from './helpers/shared.js';

interface Manifest {
  models: Record<string, { embedDim: number; expectedEmbeddings: Record<string, number[]> }>;
}
const manifest = JSON.parse(readFileSync(testModel('manifest.json'), 'utf8')) as Manifest;

const WORDS = Object.keys(COLOURS);

function row(m: Float32Array, dim: number, i: number): Float32Array {
  return m.subarray(i * dim, (i + 1) * dim);
}
function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}
function expectRowsClose(a: Float32Array, b: Float32Array, tol = 1e-6): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  expect(worst).toBeLessThanOrEqual(tol);
}

let dir: string;
let images: Record<string, string>;

beforeAll(async () => {
  dir = tempDir('memery-encoders-');
  images = await writeColourSet(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LAYOUTS = [
  { name: 'colour-hf', kind: 'hf', dim: 8, sequenceLength: -1, mask: 'attention_mask' },
  { name: 'colour-openclip', kind: 'openclip', dim: 6, sequenceLength: 77, mask: null },
] as const;

describe.each(LAYOUTS)('colour CLIP, $kind layout', ({ name, kind, dim, sequenceLength, mask }) => {
  let layout: ModelLayout;
  let image: ImageEncoder;
  let text: TextEncoder;
  let tok: ClipTokenizer;

  beforeAll(async () => {
    layout = await detectLayout(testModel(name));
    expect(layout.kind).toBe(kind);
    const { size, mean, std } = layout.preprocess;
    image = await ImageEncoder.load(layout.visionModel, { provider: 'cpu' }, { size, mean, std });
    text = await TextEncoder.load(layout.textModel, { provider: 'cpu', contextLength: layout.contextLength });
    // HF: vocab.json + merges.txt at the top; OpenCLIP: textual/tokenizer.json, found in the subfolder.
    tok = await ClipTokenizer.fromDir(testModel(name));
  });
  afterAll(() => {
    image?.close();
    text?.close();
  });

  it('reports its inputs, outputs, dims and provider', () => {
    expect(image.info).toMatchObject({ size: 224, dim, provider: 'cpu' });
    expect(text.info).toMatchObject({ dim, provider: 'cpu', sequenceLength, mask });
    expect(layout.contextLength).toBe(77);
  });

  it('each colour word ranks the image of its own colour first', async () => {
    const paths = WORDS.map((w) => images[w]!);
    const img = await image.encodeFiles(paths, { batchSize: 3 });
    expect(img.errors).toEqual([]);
    expect(Array.from(img.ok)).toEqual(WORDS.map(() => 1));
    expect(img.dim).toBe(dim);
    expect(img.embeddings.length).toBe(WORDS.length * dim);

    const ids = WORDS.map((w) => tok.encode(w));
    // [<|startoftext|>, <colour>, <|endoftext|>]: one BPE token per colour word.
    for (const t of ids) expect(t).toHaveLength(3);
    const txt = await text.encode(ids);
    expect(txt.length).toBe(WORDS.length * dim);

    const ranking: string[] = [];
    WORDS.forEach((w, i) => {
      const q = row(txt, dim, i);
      const scores = WORDS.map((_, j) => dot(q, row(img.embeddings, dim, j)));
      const best = scores.indexOf(Math.max(...scores));
      ranking.push(`${w}->${WORDS[best]} (${scores[best]!.toFixed(3)})`);
      expect(WORDS[best], `${w}: ${scores.map((s) => s.toFixed(3)).join(' ')}`).toBe(w);
    });
    console.log(`${kind}: ${ranking.join(', ')}`);
  });

  it('embeddings are L2-normalised and the text side matches the model generator', async () => {
    const img = await image.encodeFiles(WORDS.map((w) => images[w]!));
    for (let i = 0; i < WORDS.length; i++) expect(norm(row(img.embeddings, dim, i))).toBeCloseTo(1, 5);
    const txt = await text.encode(WORDS.map((w) => tok.encode(w)));
    WORDS.forEach((w, i) => {
      const r = row(txt, dim, i);
      expect(norm(r)).toBeCloseTo(1, 5);
      const e = manifest.models[name]!.expectedEmbeddings[w]!;
      const n = norm(e);
      expectRowsClose(r, Float32Array.from(e, (v) => v / n), 1e-5);
    });
  });

  it('encodeFiles reports failed files by index and leaves the good rows untouched', async () => {
    const bad = join(dir, `bad-${kind}`);
    mkdirSync(bad, { recursive: true });
    const missing = join(bad, 'missing.png');
    const notImage = join(bad, 'notes.jpg');
    writeFileSync(notImage, 'this is a text file, not a JPEG\n');
    const empty = join(bad, 'empty.png');
    writeFileSync(empty, '');
    const good = [images.red!, images.blue!, images.orange!];
    const paths = [missing, good[0]!, notImage, good[1]!, bad, empty, good[2]!];

    const r = await image.encodeFiles(paths, { batchSize: 2, decodeThreads: 2 });
    expect(Array.from(r.ok)).toEqual([0, 1, 0, 1, 0, 0, 1]);
    expect(r.errors.map((e) => [e.index, e.path, e.code])).toEqual([
      [0, missing, 'E_NOT_FOUND'],
      [2, notImage, 'E_DECODE'],
      [4, bad, 'E_DECODE'],
      [5, empty, 'E_DECODE'],
    ]);
    for (const e of r.errors) expect(e.message).toContain(e.path);
    for (const i of [0, 2, 4, 5]) expect(Array.from(row(r.embeddings, dim, i))).toEqual(new Array(dim).fill(0));

    const alone = await image.encodeFiles(good);
    expectRowsClose(row(r.embeddings, dim, 1), row(alone.embeddings, dim, 0));
    expectRowsClose(row(r.embeddings, dim, 3), row(alone.embeddings, dim, 1));
    expectRowsClose(row(r.embeddings, dim, 6), row(alone.embeddings, dim, 2));

    // Nothing at all to encode: an empty result, not an error.
    const none = await image.encodeFiles([missing]);
    expect(none.ok[0]).toBe(0);
    expect(none.errors).toHaveLength(1);
    const zero = await image.encodeFiles([]);
    expect(zero.embeddings.length).toBe(0);
    expect(zero.errors).toEqual([]);
  });
});

describe('text encoder sequence handling', () => {
  let hf: TextEncoder;
  let oc: TextEncoder;
  let tok: ClipTokenizer;
  beforeAll(async () => {
    hf = await TextEncoder.load(testModel('colour-hf', 'onnx', 'text_model.onnx'), { contextLength: 77 });
    oc = await TextEncoder.load(testModel('colour-openclip', 'textual', 'model.onnx'), { contextLength: 77 });
    tok = await ClipTokenizer.fromDir(testModel('colour-hf'));
  });
  afterAll(() => {
    hf?.close();
    oc?.close();
  });

  it('HF (dynamic length): unpadded ids give the same embedding as ids zero-padded to 77', async () => {
    const ids = tok.encode('a red car next to a blue house');
    expect(ids.length).toBeLessThan(77);
    const padded = Array.from(tok.pad(ids, 77));
    const a = await hf.encode([ids]);
    const b = await hf.encode([padded]);
    expectRowsClose(a, b, 1e-6);
  });

  it('HF: a batch of texts of different lengths equals encoding each alone', async () => {
    const texts = ['red', 'a photo of a green apple on a white table', 'blue', 'purple and orange and yellow stripes'];
    const ids = texts.map((t) => tok.encode(t));
    expect(new Set(ids.map((i) => i.length)).size).toBeGreaterThan(2);
    const batch = await hf.encode(ids);
    const dim = hf.info.dim;
    for (let i = 0; i < texts.length; i++) {
      const alone = await hf.encode([ids[i]!]);
      expectRowsClose(row(batch, dim, i), alone, 1e-6);
    }
    // The texts are different: the rows are not all the same vector.
    expect(dot(row(batch, dim, 0), row(batch, dim, 2))).toBeLessThan(0.9);
  });

  it('OpenCLIP (fixed length 77): pads short texts, refuses more than 77 ids with E_USAGE', async () => {
    const ids = tok.encode('red');
    const a = await oc.encode([ids]);
    const b = await oc.encode([Array.from(tok.pad(ids, 77))]);
    expectRowsClose(a, b, 1e-6);
    const long = new Array<number>(78).fill(tok.sot);
    const err = await oc.encode([long]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemeryError);
    expect(err).toMatchObject({ code: 'E_USAGE' });
    expect((err as Error).message).toMatch(/at most 77 tokens but received 78/);
  });

  it('HF (dynamic length): more ids than the context length is E_USAGE too', async () => {
    const ids = [tok.sot, ...new Array<number>(76).fill(736), tok.eot];
    const err = await hf.encode([ids]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemeryError);
    expect(err).toMatchObject({ code: 'E_USAGE', message: 'Expected at most 77 tokens but received 78' });
    // 77 is fine
    expect((await hf.encode([ids.slice(1)])).length).toBe(8);
  });

  it('ids may be an Int32Array; typed arrays of another element type are refused (no out-of-bounds read)', async () => {
    const ids = tok.encode('green');
    const a = await hf.encode([ids]);
    const b = await hf.encode([Int32Array.from(ids) as unknown as number[]]);
    expect(Array.from(b)).toEqual(Array.from(a));
    for (const bad of [Uint8Array.from([1, 2, 3]), Int16Array.from(ids), Float64Array.from(ids)]) {
      await expect(hf.encode([bad as unknown as number[]])).rejects.toThrow(/Expected an Int32Array or an array of numbers/);
    }
  });

  it('an empty id list is a usage error', async () => {
    await expect(hf.encode([[]])).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('execution providers', () => {
  const vision = testModel('colour-hf', 'onnx', 'vision_model.onnx');

  it("'cuda' either loads on CUDA or fails with E_MODEL naming the provider; 'auto' falls back to cpu", async () => {
    let cudaWorks: boolean;
    try {
      const enc = await ImageEncoder.load(vision, { provider: 'cuda' });
      expect(enc.info.provider).toBe('cuda');
      enc.close();
      cudaWorks = true;
    } catch (e) {
      expect(e).toBeInstanceOf(MemeryError);
      expect(e).toMatchObject({ code: 'E_MODEL', path: vision });
      expect((e as Error).message).toMatch(/Cannot use provider 'cuda': libonnxruntime_providers_cuda.so .+ are not in \/.+ \(use provider 'auto' or 'cpu'\)/);
      cudaWorks = false;
    }
    const auto = await ImageEncoder.load(vision, { provider: 'auto' });
    expect(auto.info.provider).toBe(cudaWorks ? 'cuda' : 'cpu');
    // The fallback session works.
    const r = await auto.encodeTensor(new Float32Array(3 * 224 * 224));
    expect(r.length).toBe(8);
    auto.close();
    console.log(`provider 'cuda' ${cudaWorks ? 'works here' : 'is unavailable here (E_MODEL, as expected)'}`);
  });

  it('an unknown provider is refused before reaching the addon', async () => {
    await expect(ImageEncoder.load(vision, { provider: 'tpu' as 'cpu' })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('a closed encoder refuses work with E_MODEL', async () => {
    const enc = await ImageEncoder.load(vision);
    enc.close();
    await expect(enc.encodeFiles([vision])).rejects.toMatchObject({ code: 'E_MODEL' });
  });
});

describe('worker threads', () => {
  it('the addon works in a worker thread and in the main thread of the same process', async () => {
    const binding = bindingCandidates().find((f) => existsSync(f))!;
    const vision = testModel('colour-hf', 'onnx', 'vision_model.onnx');
    const file = images.green!;
    // CommonJS on the raw binding: the worker has no TypeScript loader.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const b = require(workerData.binding);
      (async () => {
        const enc = await b.ImageEncoder.load(workerData.vision, workerData.session, workerData.spec);
        const r = await enc.encodeFiles([workerData.file], workerData.encode);
        const ix = new b.VectorIndex(r.dim, { type: 'flat', hnswM: 32 });
        await ix.add([7], r.embeddings);
        const s = await ix.search(r.embeddings, 1);
        parentPort.postMessage({ embedding: Array.from(r.embeddings), hit: s.ids[0] });
      })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
    const worker = new Worker(code, { eval: true, workerData: {
        binding,
        vision,
        file,
        // the binding reads every option key: the schemas' defaults, as the wrappers pass them
        session: SessionOptionsSchema.parse({}),
        spec: PreprocessSpecSchema.parse({}),
        encode: EncodeFilesOptionsSchema.parse({}),
      },
    });
    const fromWorker = await new Promise<{ embedding?: number[]; hit?: number; error?: string }>((res, rej) => {
      worker.once('message', res);
      worker.once('error', rej);
    });
    expect(fromWorker.error).toBeUndefined();
    expect(fromWorker.hit).toBe(7);
    // The main thread's classes are its own (each environment has its own constructors).
    const enc = await ImageEncoder.load(vision);
    const r = await enc.encodeFiles([file]);
    expect(Array.from(r.embeddings)).toEqual(fromWorker.embedding);
    const ix = VectorIndex.create(8);
    await ix.add([1], r.embeddings);
    await worker.terminate();
    // ... and keep working after the worker's environment is gone.
    expect((await ix.search(r.embeddings, 1))[0]!.ids).toEqual([1]);
    expect((await enc.encodeFiles([file])).ok[0]).toBe(1);
    enc.close();
  });
});

/** What catalog/hash.ts `contentHash` stores: SHA-256 of the file's bytes, hex, first 32 chars. */
function contentHashOf(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 32);
}

describe('SHA-256 (native/sha256.cc)', () => {
  const b = loadBinding();
  const impls = (['auto', 'portable', 'sha-ni'] as const).filter((i) => i !== 'sha-ni' || b.sha256Impl() === 'sha-ni');

  it('matches node:crypto at the block and padding edges and on 1 MiB of random bytes, in every implementation', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 2 ** 20, 2 ** 20 + 17]) {
      const data = randomBytes(n);
      const want = createHash('sha256').update(data).digest('hex');
      for (const impl of impls) expect(b.sha256Hex(data, impl), `${impl}, ${n} bytes`).toBe(want);
    }
    // A view that starts inside its ArrayBuffer.
    const big = randomBytes(1000);
    expect(b.sha256Hex(big.subarray(3, 900))).toBe(createHash('sha256').update(big.subarray(3, 900)).digest('hex'));
    console.log(`sha256: encodeFiles uses ${b.sha256Impl()}; checked ${impls.join(', ')}`);
  });

  it.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('uses SHA-NI exactly when the CPU has it', () => {
    const hasShaNi = /\bsha_ni\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
    expect(b.sha256Impl()).toBe(hasShaNi ? 'sha-ni' : 'portable');
  });
});

describe('encodeFiles: content hashes and file stats from the one read', () => {
  let enc: ImageEncoder;
  beforeAll(async () => {
    enc = await ImageEncoder.load(testModel('colour-hf', 'onnx', 'vision_model.onnx'));
  });
  afterAll(() => enc?.close());

  it('hashes[i] is contentHash of the file and stats[i] its fs.stat size and mtimeMs', async () => {
    const paths = WORDS.map((w) => images[w]!);
    const r = await enc.encodeFiles(paths, { batchSize: 3, decodeThreads: 2 });
    expect(r.errors).toEqual([]);
    expect(r.hashes).toHaveLength(paths.length);
    expect(r.stats).toBeInstanceOf(Float64Array);
    expect(r.stats).toHaveLength(2 * paths.length);
    paths.forEach((p, i) => {
      expect(r.hashes[i]).toMatch(/^[0-9a-f]{32}$/);
      expect(r.hashes[i], p).toBe(contentHashOf(p));
      const st = statSync(p);
      expect(r.stats[2 * i], p).toBe(st.size);
      expect(r.stats[2 * i + 1], p).toBe(st.mtimeMs); // exact, sub-millisecond part included
    });
    expect(new Set(r.hashes).size).toBe(paths.length);
  });

  it.skipIf(!HAS_SHARED)('on the real corpus: every file that can be read has its contentHash, decodable or not', async () => {
    const files = ['memes', 'photos'].flatMap((d) => readdirSync(shared('corpus', d)).sort().map((f) => shared('corpus', d, f)));
    const r = await enc.encodeFiles(files, { batchSize: 8 });
    expect(r.errors.length).toBeGreaterThan(0); // corrupted-file.jpeg, truncated.jpg, ...
    files.forEach((p, i) => {
      expect(r.hashes[i], p).toBe(contentHashOf(p));
      expect(r.stats[2 * i]).toBe(statSync(p).size);
      expect(r.stats[2 * i + 1]).toBe(statSync(p).mtimeMs);
    });
  });

  it('a file replaced between two calls gets the new hash, stats and embedding', async () => {
    const sub = join(dir, 'replaced');
    mkdirSync(sub, { recursive: true });
    const p = join(sub, 'photo.png');
    await writeSolid(p, [250, 10, 10], 90, 60);
    const first = await enc.encodeFiles([p]);
    expect(first.hashes[0]).toBe(contentHashOf(p));
    const next = join(sub, 'next.png');
    await writeSolid(next, [10, 10, 250], 91, 60);
    renameSync(next, p);
    const second = await enc.encodeFiles([p]);
    expect(second.errors).toEqual([]);
    expect(second.hashes[0]).toBe(contentHashOf(p));
    expect(second.hashes[0]).not.toBe(first.hashes[0]);
    expect(second.stats[0]).toBe(statSync(p).size);
    expect(Array.from(second.sizes)).toEqual([91, 60]);
    expect(Array.from(second.embeddings)).not.toEqual(Array.from(first.embeddings));
  });
});

describe('encodeFiles: thumbnails from the same decode (thumbnailSize)', () => {
  let enc: ImageEncoder;
  let sub: string;
  beforeAll(async () => {
    enc = await ImageEncoder.load(testModel('colour-hf', 'onnx', 'vision_model.onnx'));
    sub = join(dir, 'thumbs');
    mkdirSync(sub, { recursive: true });
  });
  afterAll(() => enc?.close());

  /** [width, height] of JPEG bytes, and their pixels as an S x S centre crop (decodeCrops). */
  async function look(jpeg: Buffer, name: string, S = 8): Promise<{ size: [number, number]; rgb: Uint8Array }> {
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    const p = join(sub, `${name}.jpg`);
    writeFileSync(p, jpeg);
    const info = await imageInfo(p);
    expect(info.format).toBe('jpeg');
    const crop = await decodeCrops([p], { size: S });
    expect(crop.errors).toEqual([]);
    return { size: [info.width, info.height], rgb: crop.data };
  }

  it('fits inside the size, keeps the aspect ratio, never enlarges; the embeddings are the same as without', async () => {
    const wide = join(sub, 'wide.png');
    const tall = join(sub, 'tall.jpg');
    const small = join(sub, 'small.png');
    await writeSolid(wide, [250, 20, 20], 600, 400);
    await writeSolid(tall, [20, 20, 250], 300, 1200);
    await writeSolid(small, [20, 250, 20], 40, 30);
    const paths = [wide, tall, small];
    const r = await enc.encodeFiles(paths, { thumbnailSize: 128 });
    const none = await enc.encodeFiles(paths);
    expect(r.errors).toEqual([]);
    expect(none.thumbnails).toEqual([null, null, null]);
    expect(Array.from(r.embeddings)).toEqual(Array.from(none.embeddings));
    expect((await look(r.thumbnails[0]!, 'wide')).size).toEqual([128, 85]);
    expect((await look(r.thumbnails[1]!, 'tall')).size).toEqual([32, 128]);
    expect((await look(r.thumbnails[2]!, 'small')).size).toEqual([40, 30]);
    // The colours survive (centre crop of the thumbnail).
    const red = (await look(r.thumbnails[0]!, 'wide')).rgb;
    expect(red[0]).toBeGreaterThan(200);
    expect(red[2]).toBeLessThan(60);
    await expect(enc.encodeFiles(paths, { thumbnailSize: -1 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(enc.encodeFiles(paths, { thumbnailSize: 64, thumbnailQuality: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('turns the thumbnail upright by its EXIF orientation (the crop for CLIP stays as stored)', async () => {
    // Left half red, right half blue; orientation 6: shown turned 90 degrees clockwise (red on top).
    const w = 120;
    const h = 60;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(y * w + x) * 3 + (x < w / 2 ? 0 : 2)] = 255;
    const plain = join(sub, 'plain.jpg');
    await saveRgb(data, w, h, plain);
    const turned = join(sub, 'turned.jpg');
    writeFileSync(turned, withExifOrientation(readFileSync(plain), 6));
    expect((await imageInfo(turned)).orientation).toBe(6);
    const r = await enc.encodeFiles([turned, plain], { thumbnailSize: 32 });
    expect(r.errors).toEqual([]);
    expect(Array.from(r.sizes)).toEqual([120, 60, 120, 60]); // as stored
    expect(Array.from(r.embeddings.subarray(0, r.dim))).toEqual(Array.from(r.embeddings.subarray(r.dim)));
    const t = await look(r.thumbnails[0]!, 'turned-thumb');
    expect(t.size).toEqual([16, 32]);
    const top = t.rgb.subarray(0, 3);
    const bottom = t.rgb.subarray(7 * 8 * 3, 7 * 8 * 3 + 3);
    expect(top[0]).toBeGreaterThan(200); // red
    expect(top[2]).toBeLessThan(60);
    expect(bottom[2]).toBeGreaterThan(200); // blue
    expect(bottom[0]).toBeLessThan(60);
    expect((await look(r.thumbnails[1]!, 'plain-thumb')).size).toEqual([32, 16]);
  });

  it('composites alpha over white (RGBA: transparent black shows white)', async () => {
    const p = join(sub, 'clear.png');
    writeRgbaPng(p, 64, 48, (x) => (x < 32 ? [0, 0, 0, 0] : [0, 0, 0, 255]));
    const r = await enc.encodeFiles([p], { thumbnailSize: 32 });
    expect(r.errors).toEqual([]);
    const t = await look(r.thumbnails[0]!, 'clear', 8);
    expect(t.size).toEqual([32, 24]);
    expect(t.rgb[0]).toBeGreaterThan(240); // left: transparent -> white
    expect(t.rgb[7 * 3]).toBeLessThan(15); // right: opaque black
  });

  it.skipIf(!HAS_SHARED)('on the real corpus: a thumbnail for every file encoded, none for failures, the same embeddings', async () => {
    const files = ['memes', 'photos'].flatMap((d) => readdirSync(shared('corpus', d)).sort().map((f) => shared('corpus', d, f)));
    const r = await enc.encodeFiles(files, { thumbnailSize: 256, decodeThreads: 2 });
    const none = await enc.encodeFiles(files, { decodeThreads: 2 });
    expect(Array.from(r.embeddings)).toEqual(Array.from(none.embeddings));
    expect(Array.from(r.ok)).toEqual(Array.from(none.ok));
    for (let i = 0; i < files.length; i++) {
      const t = r.thumbnails[i];
      if (!r.ok[i]) {
        expect(t, files[i]).toBeNull();
        continue;
      }
      expect(t, files[i]).toBeInstanceOf(Buffer);
      const [w, h] = [r.sizes[2 * i]!, r.sizes[2 * i + 1]!];
      const { size } = await look(t!, `corpus-${i}`, 8);
      const long = Math.max(w, h);
      expect(Math.max(...size), files[i]).toBe(Math.min(256, long));
      expect(Math.abs(size[0] / size[1] - w / h), files[i]).toBeLessThan(0.05 + 2 / Math.min(...size));
    }
  });
});
