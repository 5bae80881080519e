import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Memery } from '../ts/index.js';
import { COLOURS, tempDir, writeColourSet, writeSolid } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';

describe('incremental, move-aware indexing', () => {
  let home: string;
  let dir: string;
  let files: Record<string, string>;
  let m: Memery;
  const N = Object.keys(COLOURS).length;
  beforeAll(async () => {
    home = tempDir();
    dir = tempDir('memery-inc-');
    files = await writeColourSet(dir);
    writeFileSync(join(dir, 'notes.txt'), 'not an image'); // ignored, not reported
    writeFileSync(join(dir, '.hidden.png'), 'hidden'); // hidden: skipped
    mkdirSync(join(dir, '.cache'));
    await writeSolid(join(dir, '.cache', 'thumb.png'), [255, 0, 0]);
    mkdirSync(join(dir, 'loop'));
    symlinkSync(dir, join(dir, 'loop', 'back')); // a symlink loop must not hang the walk
    m = await Memery.open({ home, modelDir: COLOUR_HF });
  });
  afterAll(async () => {
    await m.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('first run encodes every image, skipping hidden files, non-images, loops and memery\'s home', async () => {
    await m.close();
    m = await Memery.open({ home: join(dir, 'memery-home'), modelDir: COLOUR_HF });
    await writeSolid(join(dir, 'memery-home', 'thumb.png'), [0, 255, 0]);
    const s = await m.index(dir);
    expect(s).toMatchObject({ found: N, new: N, unchanged: 0, moved: 0, removed: 0, failed: 0 });
  });

  it('re-index of an unchanged folder encodes nothing', async () => {
    const s = await m.index(dir);
    expect(s).toMatchObject({ found: N, new: 0, unchanged: N, reembedded: 0, moved: 0, removed: 0 });
  });

  it('a changed file is re-encoded and ranks by its new content', async () => {
    await writeSolid(files.white!, [0, 0, 250], 90, 60); // "white.png" is now blue
    const s = await m.index(dir);
    expect(s).toMatchObject({ reembedded: 1, new: 0, unchanged: N - 1 });
    const r = await m.search('white', { n: 1 });
    expect(basename(r[0]!.path)).not.toBe('white.png');
  });

  it('a moved file is found at its new path without re-encoding', async () => {
    mkdirSync(join(dir, 'sub'));
    const to = join(dir, 'sub', 'moved-green.png');
    renameSync(files.green!, to);
    const s = await m.index(dir);
    expect(s).toMatchObject({ moved: 1, new: 0, reembedded: 0, removed: 0 });
    const r = await m.search('green', { n: 1 });
    expect(r[0]!.path).toBe(to);
  });

  it('a deleted file disappears from results', async () => {
    unlinkSync(files.red!);
    const s = await m.index(dir);
    expect(s).toMatchObject({ removed: 1, new: 0, moved: 0 });
    const r = await m.search('red', { n: 20 });
    expect(r.map((x) => x.path)).not.toContain(files.red);
  });

  it('a copy reuses the vector', async () => {
    const copy = join(dir, 'copy-of-blue.png');
    writeFileSync(copy, (await import('node:fs')).readFileSync(files.blue!));
    const s = await m.index(dir);
    expect(s).toMatchObject({ moved: 1, new: 0 });
    const r = await m.search('blue', { n: 3 });
    expect(r.slice(0, 3).map((x) => basename(x.path)).sort()).toEqual(['copy-of-blue.png', 'blue.png', 'white.png'].sort());
  });

  it('a corrupt image is reported with path and reason, and not retried until it changes', async () => {
    const bad = join(dir, 'broken.jpg');
    writeFileSync(bad, 'this is not a jpeg');
    let s = await m.index(dir);
    expect(s.failed).toBe(1);
    expect(s.errors).toEqual([{ path: bad, code: 'E_DECODE', message: expect.stringContaining(bad), reason: expect.stringMatching(/^Cannot decode: \S/) }]);
    expect(s.errors[0]!.reason).not.toContain(bad); // the message names the file; its reason does not
    s = await m.index(dir);
    expect(s).toMatchObject({ failed: 1, new: 0, reembedded: 0 }); // reported again, not decoded again
    await writeSolid(bad, [255, 255, 0]);
    s = await m.index(dir);
    expect(s).toMatchObject({ failed: 0, reembedded: 1 });
  });
});

describe('an hnsw catalog', () => {
  it('drops deleted files without rebuilding the index, and never reuses their ids', async () => {
    const home = tempDir();
    const dir = tempDir('memery-hnsw-');
    const files = await writeColourSet(dir);
    const m = await Memery.open({ home, modelDir: COLOUR_HF, indexType: 'hnsw' });
    await m.index(dir);
    expect(basename((await m.search('red', { n: 1 }))[0]!.path)).toBe('red.png');
    unlinkSync(files.red!);
    expect((await m.index(dir)).removed).toBe(1);
    const r = await m.search('red', { n: 8 });
    expect(r.map((x) => x.path)).not.toContain(files.red);
    expect(r.length).toBe(7);
    const st = await m.status();
    expect(st.index).toMatchObject({ type: 'hnsw', health: 'ok', vectors: 8 }); // 7 live + 1 tombstone
    // New content gets a new id: the tombstone cannot come back as a wrong match.
    await writeSolid(join(dir, 'new-red.png'), [250, 5, 5]);
    await m.index(dir);
    const again = await m.search('red', { n: 1 });
    expect(basename(again[0]!.path)).toBe('new-red.png');
    await m.close();
    for (const d of [home, dir]) rmSync(d, { recursive: true, force: true });
  });
});
