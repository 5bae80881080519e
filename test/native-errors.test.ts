// Every way a file or a model can be bad reaches JS as a MemeryError with a stable code and the
// path it concerns, and none of them takes the process down.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemeryError } from '../ts/errors.js';
import { ImageEncoder, TextEncoder, decodeForModel, imageInfo, saveRgb, thumbnail } from '../ts/native/index.js';
import { tempDir, writePngBomb, writeSolid } from './helpers/images.js';
import { HAS_SHARED, shared, testModel } from './helpers/shared.js';

const VISION = testModel('colour-hf', 'onnx', 'vision_model.onnx');
const TEXT = testModel('colour-hf', 'onnx', 'text_model.onnx');

/** The rejection of `p`, which must be a MemeryError with `code` (and `path`, when given). */
async function failure(p: Promise<unknown>, code: string, path?: string): Promise<MemeryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, `expected a rejection with ${code}`).toBeInstanceOf(MemeryError);
  const err = e as MemeryError;
  expect(err.code, err.message).toBe(code);
  if (path !== undefined) {
    expect(err.path).toBe(path);
    expect(err.message).toContain(path);
  }
  return err;
}

let dir: string;
let good: string;
let goodJpeg: string;
let missing: string;
let folder: string;
let empty: string;
let textJpg: string;
let bomb: string;
let encoder: ImageEncoder;

beforeAll(async () => {
  dir = tempDir('memery-errors-');
  good = join(dir, 'good.png');
  await writeSolid(good, [200, 30, 30], 120, 80);
  goodJpeg = join(dir, 'good.jpg');
  await writeSolid(goodJpeg, [30, 30, 200], 300, 500);
  missing = join(dir, 'does-not-exist.png');
  folder = join(dir, 'a-folder.jpg');
  mkdirSync(folder);
  empty = join(dir, 'empty.jpg');
  writeFileSync(empty, '');
  textJpg = join(dir, 'text.jpg');
  writeFileSync(textJpg, 'Dear diary, today I renamed a text file to .jpg.\n'.repeat(20));
  bomb = join(dir, 'bomb.png');
  writePngBomb(bomb);
  encoder = await ImageEncoder.load(VISION);
});
afterAll(() => {
  encoder?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('bad image files', () => {
  it('a missing file is E_NOT_FOUND naming the path', async () => {
    const r = await encoder.encodeFiles([missing]);
    expect(r.errors).toEqual([{ index: 0, path: missing, code: 'E_NOT_FOUND', message: expect.stringContaining(missing) }]);
    expect(r.errors[0]!.message).toMatch(/No such file or directory/);
    await failure(imageInfo(missing), 'E_NOT_FOUND', missing);
    await failure(thumbnail(missing), 'E_NOT_FOUND', missing);
  });

  it('a directory, an empty file and a text file named .jpg are E_DECODE with a reason', async () => {
    const r = await encoder.encodeFiles([folder, empty, textJpg]);
    expect(Array.from(r.ok)).toEqual([0, 0, 0]);
    expect(r.errors.map((e) => [e.index, e.path, e.code])).toEqual([
      [0, folder, 'E_DECODE'],
      [1, empty, 'E_DECODE'],
      [2, textJpg, 'E_DECODE'],
    ]);
    expect(r.errors[0]!.message).toMatch(/is a directory/);
    expect(r.errors[1]!.message).toMatch(/the file is empty/);
    expect(r.errors[2]!.message).toMatch(/not a supported image format/);

    for (const p of [folder, empty, textJpg]) {
      await failure(imageInfo(p), 'E_DECODE', p);
      await failure(thumbnail(p), 'E_DECODE', p);
    }
    const d = await decodeForModel([textJpg, good]);
    expect(d.errors.map((e) => [e.index, e.code])).toEqual([[0, 'E_DECODE']]);
  });

  it('a decompression bomb is refused by the pixel limit, quickly and without decoding it', async () => {
    // The header says 30000 x 30000 (2.7 GB of RGB); reading the header is fine.
    const info = await imageInfo(bomb);
    expect(info).toMatchObject({ width: 30000, height: 30000, format: 'png' });

    const gc = globalThis.gc;
    gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const r = await encoder.encodeFiles([bomb, good]);
    const ms = performance.now() - t0;
    const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
    console.log(`bomb refused in ${ms.toFixed(0)} ms, RSS +${grew.toFixed(1)} MiB`);
    expect(Array.from(r.ok)).toEqual([0, 1]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ index: 0, path: bomb, code: 'E_DECODE' });
    expect(r.errors[0]!.message).toMatch(/30000 x 30000 pixels is over the limit of 268402689 pixels/);
    expect(grew).toBeLessThan(100);

    const t = await failure(thumbnail(bomb), 'E_DECODE', bomb);
    expect(t.message).toMatch(/over the pixel limit/);
    const d = await decodeForModel([bomb]);
    expect(d.errors[0]).toMatchObject({ code: 'E_DECODE', message: expect.stringMatching(/over the limit/) });
  });

  it('the pixel limit is configurable', async () => {
    // good.png is 120 x 80 = 9600 pixels.
    const d = await decodeForModel([good], { maxPixels: 9599 });
    expect(d.errors[0]).toMatchObject({ code: 'E_DECODE', message: expect.stringMatching(/120 x 80 pixels is over the limit of 9599/) });
    const ok = await decodeForModel([good], { maxPixels: 9600 });
    expect(ok.errors).toEqual([]);
  });
});

describe('bad models', () => {
  it('a missing model and a directory are E_MODEL naming the path', async () => {
    const m = join(dir, 'nope.onnx');
    const e1 = await failure(ImageEncoder.load(m), 'E_MODEL', m);
    expect(e1.message).toMatch(/No such file or directory/);
    await failure(TextEncoder.load(m), 'E_MODEL', m);
    const e2 = await failure(ImageEncoder.load(dir), 'E_MODEL', dir);
    expect(e2.message).toMatch(/is not a file/);
  });

  it('a file that is not ONNX and an empty file are E_MODEL', async () => {
    const notOnnx = testModel('bad', 'not-onnx.onnx');
    const e1 = await failure(ImageEncoder.load(notOnnx), 'E_MODEL', notOnnx);
    expect(e1.message).toMatch(/Cannot load ONNX model/);
    await failure(TextEncoder.load(notOnnx), 'E_MODEL', notOnnx);
    const emptyModel = testModel('bad', 'empty.onnx');
    const e2 = await failure(ImageEncoder.load(emptyModel), 'E_MODEL', emptyModel);
    expect(e2.message).toMatch(/the file is empty/);
  });

  it('a vision model with the wrong input shape or rank is E_MODEL "Expected image input ... but received ..."', async () => {
    const shape = testModel('bad', 'wrong-shape', 'onnx', 'vision_model.onnx');
    const e1 = await failure(ImageEncoder.load(shape), 'E_MODEL', shape);
    expect(e1.message).toMatch(/Expected image input 'pixel_values' of shape \[batch,3,224,224\] in .* but received \[\?,3,100,100\]/);
    const rank = testModel('bad', 'wrong-rank', 'onnx', 'vision_model.onnx');
    const e2 = await failure(ImageEncoder.load(rank), 'E_MODEL', rank);
    expect(e2.message).toMatch(/Expected image input .* but received \[\?,150528\]/);
    // The same model is fine when the spec says 100 x 100.
    const small = await ImageEncoder.load(shape, {}, { size: 100 });
    expect(small.info.size).toBe(100);
    const r = await small.encodeFiles([good]);
    expect(r.errors).toEqual([]);
    small.close();
  });

  it('a text model where an image model is expected (and the reverse) is E_MODEL', async () => {
    const e1 = await failure(ImageEncoder.load(TEXT), 'E_MODEL', TEXT);
    expect(e1.message).toMatch(/Expected one float image input/);
    const e2 = await failure(TextEncoder.load(VISION), 'E_MODEL', VISION);
    expect(e2.message).toMatch(/Expected a text model with integer token ids/);
  });

  it('bad options are E_USAGE before reaching the addon', async () => {
    const e = await failure(ImageEncoder.load(VISION, {}, { size: 2 }), 'E_USAGE');
    expect(e.message).toMatch(/preprocessing spec: size/);
    await failure(encoder.encodeFiles([good], { batchSize: 0 }), 'E_USAGE');
    await failure(encoder.encodeTensor(new Float32Array(10)), 'E_USAGE');
  });
});

describe('after all the failures', () => {
  it('the process still encodes', async () => {
    const r = await encoder.encodeFiles([good, goodJpeg]);
    expect(r.errors).toEqual([]);
    expect(Array.from(r.ok)).toEqual([1, 1]);
    const fresh = await ImageEncoder.load(VISION);
    const r2 = await fresh.encodeFiles([good]);
    expect(Array.from(r2.embeddings)).toEqual(Array.from(r.embeddings.subarray(0, 8)));
    fresh.close();
  });
});

describe('thumbnail and imageInfo', () => {
  it('thumbnail() is a JPEG inside the size box, keeping the aspect ratio', async () => {
    const t = await thumbnail(goodJpeg, { size: 128 });
    expect(t.format).toBe('jpeg');
    expect(t.data[0]).toBe(0xff);
    expect(t.data[1]).toBe(0xd8);
    expect(t.data[t.data.length - 2]).toBe(0xff);
    expect(t.data[t.data.length - 1]).toBe(0xd9);
    // 300 x 500 -> fits 128 x 128
    expect(t.height).toBe(128);
    expect(t.width).toBeGreaterThanOrEqual(76);
    expect(t.width).toBeLessThanOrEqual(77);
    // ... and is itself a readable image of that size
    const out = join(dir, 'thumb.jpg');
    writeFileSync(out, t.data);
    expect(await imageInfo(out)).toMatchObject({ width: t.width, height: t.height, format: 'jpeg' });

    // Small images are not enlarged.
    const small = await thumbnail(good, { size: 1000 });
    expect([small.width, small.height]).toEqual([120, 80]);
    const png = await thumbnail(good, { size: 64, format: 'png' });
    expect(Array.from(png.data.subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect([png.width, png.height]).toEqual([64, 43]);
  });

  it('saveRgb() wants exactly width*height*3 bytes in a Uint8Array', async () => {
    const out = join(dir, 'saved.png');
    await expect(saveRgb(new Float32Array(4 * 4 * 3) as unknown as Uint8Array, 4, 4, out)).rejects.toThrow(/Expected a Uint8Array of RGB pixels/);
    await expect(saveRgb(new Uint8Array(4 * 4 * 3 - 1), 4, 4, out)).rejects.toMatchObject({ code: 'E_USAGE' });
    await saveRgb(new Uint8Array(4 * 4 * 3).fill(9), 4, 4, out);
    expect(await imageInfo(out)).toMatchObject({ width: 4, height: 4, bands: 3, format: 'png' });
    await expect(saveRgb(new Uint8Array(12), 2, 2, join(dir, 'no-such-folder', 'x.png'))).rejects.toMatchObject({ code: 'E_IO' });
  });

  it('imageInfo() reads the header', async () => {
    expect(await imageInfo(good)).toEqual({
      width: 120,
      height: 80,
      bands: 3,
      hasAlpha: false,
      pages: 1,
      orientation: 1,
      format: 'png',
    });
    expect(await imageInfo(goodJpeg)).toMatchObject({ width: 300, height: 500, bands: 3, format: 'jpeg' });
  });
});

describe('reading files: one open, a size limit, read errors apart from decode errors', () => {
  it('a file over maxFileBytes is E_TOO_LARGE naming the path, its size and the limit; at the limit it is fine', async () => {
    const size = statSync(goodJpeg).size;
    expect(size).toBeGreaterThan(1000);
    const r = await encoder.encodeFiles([goodJpeg, good], { maxFileBytes: 1000 });
    expect(r.errors).toHaveLength(r.ok[1] ? 1 : 2);
    expect(r.errors[0]).toMatchObject({ index: 0, path: goodJpeg, code: 'E_TOO_LARGE' });
    expect(r.errors[0]!.message).toMatch(new RegExp(`^Expected an image of at most 1000 bytes but ${goodJpeg} is \\d+(\\.\\d)? KiB$`));
    expect(r.ok[0]).toBe(0);
    // refused before reading: no hash, but the fstat is reported
    expect(r.hashes[0]).toBe('');
    expect(r.stats[0]).toBe(size);
    // exactly at the limit passes, one byte under fails
    const at = await encoder.encodeFiles([goodJpeg], { maxFileBytes: size });
    expect(at.errors).toEqual([]);
    expect(at.ok[0]).toBe(1);
    const under = await encoder.encodeFiles([goodJpeg], { maxFileBytes: size - 1 });
    expect(under.errors[0]?.code).toBe('E_TOO_LARGE');

    const t = await failure(thumbnail(goodJpeg, { maxFileBytes: 1000 }), 'E_TOO_LARGE', goodJpeg);
    expect(t.message).toMatch(/at most 1000 bytes/);
    expect((await thumbnail(goodJpeg, { maxFileBytes: size })).width).toBeGreaterThan(0);
  });

  it('a 300 MiB (sparse) file is refused by the default 256 MiB limit before anything is read', async () => {
    const big = join(dir, 'huge.jpg');
    writeFileSync(big, readFileSync(goodJpeg));
    truncateSync(big, 300 * 2 ** 20);
    const rss0 = process.memoryUsage().rss;
    const peak0 = process.resourceUsage().maxRSS * 1024;
    const t0 = performance.now();
    const r = await encoder.encodeFiles([big, good]);
    const ms = performance.now() - t0;
    const peak1 = process.resourceUsage().maxRSS * 1024;
    console.log(`300 MiB file refused in ${ms.toFixed(0)} ms; peak RSS ${(peak0 / 2 ** 20).toFixed(0)} -> ${(peak1 / 2 ** 20).toFixed(0)} MiB`);
    expect(Array.from(r.ok)).toEqual([0, 1]);
    expect(r.errors).toEqual([
      { index: 0, path: big, code: 'E_TOO_LARGE', message: `Expected an image of at most 256 MiB but ${big} is 300 MiB` },
    ]);
    expect(r.hashes[0]).toBe('');
    expect(r.hashes[1]).toMatch(/^[0-9a-f]{32}$/);
    expect(r.stats[0]).toBe(300 * 2 ** 20);
    // Reading it would have put 300 MiB into the peak RSS (unless the peak was already that high).
    expect(peak1).toBeLessThanOrEqual(Math.max(peak0, rss0 + 100 * 2 ** 20));
    expect(ms).toBeLessThan(5000);

    await failure(thumbnail(big), 'E_TOO_LARGE', big);
    const d = await decodeForModel([big]);
    expect(d.errors[0]).toMatchObject({ code: 'E_TOO_LARGE', path: big });
    rmSync(big);
  });

  it('read errors are E_IO with the reason, not E_DECODE; nothing is hashed', async () => {
    // A symlink loop fails in open() (ELOOP) for any user, root included.
    const loopA = join(dir, 'loop-a.jpg');
    const loopB = join(dir, 'loop-b.jpg');
    symlinkSync(loopB, loopA);
    symlinkSync(loopA, loopB);
    const paths = [loopA, good];
    const expected: Array<[string, RegExp]> = [[loopA, /Too many levels of symbolic links/]];
    // Permission denied, where chmod can deny (not as root).
    const locked = join(dir, 'locked.png');
    await writeSolid(locked, [1, 2, 3]);
    chmodSync(locked, 0o000);
    const root = process.getuid?.() === 0;
    if (!root) {
      paths.push(locked);
      expected.push([locked, /Permission denied/]);
    }
    // A read() that fails after open and fstat succeeded: /proc/self/mem at offset 0 is EIO.
    if (process.platform === 'linux') {
      paths.push('/proc/self/mem');
      expected.push(['/proc/self/mem', /Input\/output error/]);
    }
    const r = await encoder.encodeFiles(paths);
    expect(r.ok[1]).toBe(1);
    expect(r.errors.map((e) => [e.path, e.code])).toEqual(expected.map(([p]) => [p, 'E_IO']));
    r.errors.forEach((e, k) => {
      expect(e.message).toMatch(expected[k]![1]);
      expect(e.message).toContain(`Cannot read ${e.path}: `);
      expect(r.hashes[e.index]).toBe('');
    });
    await failure(thumbnail(loopA), 'E_IO', loopA);
    const d = await decodeForModel([loopA]);
    expect(d.errors[0]).toMatchObject({ code: 'E_IO', path: loopA });
    if (root) console.log('running as root: the chmod 000 case is not checked (root reads it anyway)');
    chmodSync(locked, 0o644);
  });

  it.skipIf(process.platform === 'win32')('a FIFO is refused as not a regular file, without waiting for a writer', async () => {
    const fifo = join(dir, 'pipe.jpg');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      console.log('mkfifo unavailable: skipped');
      return;
    }
    const r = await encoder.encodeFiles([fifo, good]);
    expect(Array.from(r.ok)).toEqual([0, 1]);
    expect(r.errors).toEqual([{ index: 0, path: fifo, code: 'E_DECODE', message: `Expected an image file but ${fifo} is not a regular file` }]);
    expect(r.hashes[0]).toBe('');
    expect([r.stats[0], r.stats[1]]).toEqual([0, 0]);
    await failure(thumbnail(fifo), 'E_DECODE', fifo);
  }, 10_000);

  it('bytes that read fine but do not decode keep their hash and stats; a missing file has neither', async () => {
    const r = await encoder.encodeFiles([textJpg, empty, missing, folder]);
    expect(r.errors.map((e) => e.code)).toEqual(['E_DECODE', 'E_DECODE', 'E_NOT_FOUND', 'E_DECODE']);
    const { createHash } = await import('node:crypto');
    expect(r.hashes[0]).toBe(createHash('sha256').update(readFileSync(textJpg)).digest('hex').slice(0, 32));
    expect(r.hashes[1]).toBe('e3b0c44298fc1c149afbf4c8996fb924'); // SHA-256 of no bytes
    expect(r.hashes.slice(2)).toEqual(['', '']);
    expect(r.stats[0]).toBe(statSync(textJpg).size);
    expect(r.stats[1]).toBe(statSync(textJpg).mtimeMs);
    expect([r.stats[2], r.stats[3]]).toEqual([0, statSync(empty).mtimeMs]);
    expect(Array.from(r.stats.subarray(4))).toEqual([0, 0, 0, 0]);
  });

  it('maxFileBytes is validated before the addon', async () => {
    for (const maxFileBytes of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2]) {
      const e = await failure(encoder.encodeFiles([good], { maxFileBytes }), 'E_USAGE');
      expect(e.message).toMatch(/encodeFiles options: maxFileBytes/);
    }
    await failure(thumbnail(good, { maxFileBytes: 0 }), 'E_USAGE');
  });
});

describe('thumbnail from bytes in memory', () => {
  const FORMATS = ['jpeg', 'png', 'webp'] as const;

  it('a Buffer of a jpeg, png, gif or webp gives the same thumbnail as the path, byte for byte', async () => {
    const sources: string[] = [goodJpeg, good];
    for (const ext of ['gif', 'webp']) {
      const p = join(dir, `source.${ext}`);
      await writeSolid(p, [40, 160, 90], 200, 150);
      sources.push(p);
    }
    if (HAS_SHARED) sources.push(shared('corpus', 'photos', 'no_time_for_that_tiny.gif'), shared('corpus', 'photos', 'rocket.jpg'));
    const formats = new Set<string>();
    for (const src of sources) {
      const bytes = readFileSync(src);
      formats.add((await imageInfo(src)).format);
      for (const format of FORMATS) {
        const a = await thumbnail(src, { size: 96, format });
        const b = await thumbnail(bytes, { size: 96, format });
        expect(b.format).toBe(format);
        expect([b.width, b.height], `${src} ${format}`).toEqual([a.width, a.height]);
        expect(b.data.equals(a.data), `${src} ${format}`).toBe(true);
      }
      // A Uint8Array view that does not start at the beginning of its ArrayBuffer.
      const padded = new Uint8Array(bytes.length + 7);
      padded.set(bytes, 7);
      const view = padded.subarray(7);
      const c = await thumbnail(view, { size: 64 });
      expect(c.data.equals((await thumbnail(src, { size: 64 })).data)).toBe(true);
    }
    // imageInfo names libvips' loaders: nsgif is its GIF loader
    expect([...formats].sort()).toEqual(['jpeg', 'nsgif', 'png', 'webp']);
  });

  it('garbage, empty and truncated bytes are E_DECODE with the same reason as the file', async () => {
    const garbage = readFileSync(textJpg);
    const e1 = await failure(thumbnail(garbage), 'E_DECODE');
    expect(e1.message).toBe('Cannot decode the image buffer: not a supported image format');
    const f1 = await failure(thumbnail(textJpg), 'E_DECODE', textJpg);
    expect(f1.message).toBe(`Cannot decode ${textJpg}: not a supported image format`);

    const e2 = await failure(thumbnail(Buffer.alloc(0)), 'E_DECODE');
    expect(e2.message).toMatch(/the buffer is empty/);

    // A JPEG cut after its first 300 bytes: the loader is found, the data ends early.
    const cut = join(dir, 'cut.jpg');
    const head = readFileSync(goodJpeg).subarray(0, 300);
    writeFileSync(cut, head);
    const e3 = await failure(thumbnail(head), 'E_DECODE');
    expect(e3.message).toBe('Cannot make a thumbnail of the image buffer: VipsJpeg: premature end of JPEG image');
    const f3 = await failure(thumbnail(cut), 'E_DECODE', cut);
    expect(f3.message).toBe(`Cannot make a thumbnail of ${cut}: VipsJpeg: premature end of JPEG image`);

    const e4 = await failure(thumbnail(readFileSync(bomb)), 'E_DECODE');
    expect(e4.message).toMatch(/30000 x 30000 pixels is over the pixel limit/);
  });

  it('anything else is refused in TypeScript with E_USAGE', async () => {
    const cases: Array<[unknown, string]> = [
      [42, 'number'],
      [null, 'null'],
      [undefined, 'undefined'],
      [new Float32Array(4), 'Float32Array'],
      [[1, 2], 'an array'],
    ];
    for (const [input, kind] of cases) {
      const e = await failure(thumbnail(input as string), 'E_USAGE');
      expect(e.message).toBe(`Expected a path (string) or a Buffer for input but received ${kind}`);
    }
    await failure(thumbnail(good, { format: 'gif' as 'png' }), 'E_USAGE');
    await failure(thumbnail(good, { size: 0 }), 'E_USAGE');
  });
});

describe('the binding reads every option key (defaults live in the TypeScript schemas)', () => {
  it('a missing key is a TypeError naming it', async () => {
    const { loadBinding } = await import('../ts/native/index.js');
    const b = loadBinding();
    expect(() => new b.VectorIndex(4, {} as never)).toThrow(/^Expected a string for type but received undefined$/);
    expect(() => b.thumbnail('/nope.png', { size: 8 } as never)).toThrow(TypeError);
    expect(() => b.thumbnail('/nope.png', { size: 8 } as never)).toThrow(/Expected a number for maxFileBytes but received undefined/);
    expect(() => b.decodeForModel([], { size: 8 } as never)).toThrow(/Expected a string for output but received undefined/);
    expect(() => b.TextEncoder.load(TEXT, undefined as never)).toThrow(/Expected an object for options but received undefined/);
    const { SessionOptionsSchema, PreprocessSpecSchema } = await import('../ts/native/index.js');
    expect(() => b.ImageEncoder.load(VISION, { ...SessionOptionsSchema.parse({}), prepack: undefined } as never, PreprocessSpecSchema.parse({}))).toThrow(
      /Expected a boolean for prepack but received undefined/,
    );
    const enc = await b.ImageEncoder.load(VISION, SessionOptionsSchema.parse({}), PreprocessSpecSchema.parse({}));
    expect(() => enc.encodeFiles([], { decodeThreads: 0, maxFileBytes: 1 } as never)).toThrow(/^Expected a number for batchSize but received undefined$/);
    enc.close();
  });
});
