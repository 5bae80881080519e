import { mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Memery, isMemeryError } from '../ts/index.js';
import { COLOURS, tempDir, writeColourSet } from './helpers/images.js';
import { COLOUR_HF, COLOUR_OPENCLIP } from './helpers/memery.js';

const names = (rs: Array<{ path: string }>): string[] => rs.map((r) => basename(r.path).replace(/\.\w+$/, ''));

describe.each([
  ['Hugging Face layout', COLOUR_HF],
  ['OpenCLIP layout', COLOUR_OPENCLIP],
])('colour-CLIP rankings, %s', (_name, modelDir) => {
  let home: string;
  let dir: string;
  let files: Record<string, string>;
  let m: Memery;
  beforeAll(async () => {
    home = tempDir();
    dir = tempDir('memery-colours-');
    files = await writeColourSet(dir);
    m = await Memery.open({ home, modelDir });
    const s = await m.index(dir);
    expect(s.new).toBe(Object.keys(COLOURS).length);
  });
  afterAll(async () => {
    await m.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('ranks each colour word first for its image', async () => {
    for (const colour of Object.keys(COLOURS)) {
      const r = await m.search(colour, { n: 3 });
      expect(names(r)[0], colour).toBe(colour);
      expect(r[0]!.score).toBeGreaterThan(r[1]!.score);
    }
  });

  it('answers image queries, with the image itself first', async () => {
    const r = await m.search({ image: files.purple! }, { n: 2 });
    expect(names(r)[0]).toBe('purple');
    expect(r[0]!.score).toBeGreaterThan(0.99);
  });

  it('combines text and image: red + yellow is orange', async () => {
    const r = await m.search({ text: 'red', image: files.yellow! }, { n: 3 });
    expect(names(r)[0]).toBe('orange');
  });

  it('negative queries push away: white minus yellow sinks yellow', async () => {
    const plain = names(await m.search('white', { n: 8 }));
    const neg = names(await m.search({ text: 'white', negativeText: 'yellow' }, { n: 8 }));
    expect(plain[0]).toBe('white');
    expect(plain.indexOf('yellow')).toBeLessThan(3);
    expect(neg.indexOf('yellow')).toBeGreaterThanOrEqual(3);
    expect(neg.indexOf('yellow')).toBeGreaterThan(plain.indexOf('yellow') + 1);
    const negImage = names(await m.search({ text: 'white', negativeImage: files.yellow! }, { n: 8 }));
    expect(negImage.indexOf('yellow')).toBeGreaterThanOrEqual(3);
  });

  it('weights matter: a heavy image weight wins over the text', async () => {
    const r = await m.search({ text: 'red', image: files.blue!, weights: { text: 0.1, image: 5 } }, { n: 1 });
    expect(names(r)[0]).toBe('blue');
  });

  it('threshold keeps only results at or above it', async () => {
    const all = await m.search('red', { n: 8 });
    const cut = (all[0]!.score + all[1]!.score) / 2;
    const r = await m.search('red', { n: 8, threshold: cut });
    expect(names(r)).toEqual(['red']);
    for (const x of r) expect(x.score).toBeGreaterThanOrEqual(cut);
  });

  it('results carry path, size and dimensions', async () => {
    const [r] = await m.search('green', { n: 1 });
    expect(r!.path).toBe(files.green);
    expect(r!.bytes).toBeGreaterThan(0);
    expect(r!.width).toBe(80 + 'green'.length * 10);
    expect(r!.height).toBe(60);
    expect(m.file(r!.id)?.path).toBe(files.green);
  });

  it('rejects bad queries and options with E_USAGE', async () => {
    await expect(m.search({} as never)).rejects.toSatisfy((e: unknown) => isMemeryError(e, 'E_USAGE'));
    await expect(m.search('red', { n: 0 })).rejects.toThrow(/n/);
    await expect(m.search({ image: join(dir, 'nope.png') })).rejects.toSatisfy((e: unknown) => isMemeryError(e, 'E_NOT_FOUND'));
  });
});

describe('catalog scope', () => {
  it('filters by folder and keys vectors by model', async () => {
    const home = tempDir();
    const a = tempDir('memery-a-');
    const b = tempDir('memery-b-');
    await writeColourSet(a);
    await writeColourSet(b, 'jpg');
    let m = await Memery.open({ home, modelDir: COLOUR_HF });
    await m.index(a);
    await m.index(b);
    const onlyB = await m.search('red', { folders: [b], n: 50 });
    expect(onlyB.length).toBe(8);
    expect(onlyB.every((r) => r.path.startsWith(b))).toBe(true);
    const both = await m.search('red', { n: 50 });
    expect(both.length).toBe(16);
    await m.close();
    // Same catalog, another model: its own vectors; nothing mixed.
    m = await Memery.open({ home, modelDir: COLOUR_OPENCLIP });
    expect((await m.search('red', { n: 5 })).length).toBe(0);
    const s = await m.index(a);
    expect(s.reembedded).toBe(8); // known files, new model: encoded again, for this model only
    const r = await m.search('red', { n: 50 });
    expect(r.length).toBe(8);
    expect(names(r)[0]).toBe('red');
    const st = await m.status();
    expect(st.counts.embeddings).toBe(8 + 16);
    await m.close();
    for (const d of [home, a, b]) rmSync(d, { recursive: true, force: true });
  });

  it('forget removes a folder and its files', async () => {
    const home = tempDir();
    const a = tempDir('memery-a-');
    mkdirSync(join(a, 'sub'));
    await writeColourSet(join(a, 'sub'));
    const m = await Memery.open({ home, modelDir: COLOUR_HF });
    await m.index(a);
    expect(await m.forget(a)).toBe(8);
    expect(await m.search('red')).toEqual([]);
    await expect(m.forget(a)).rejects.toSatisfy((e: unknown) => isMemeryError(e, 'E_NOT_FOUND'));
    await m.close();
    for (const d of [home, a]) rmSync(d, { recursive: true, force: true });
  });
});
