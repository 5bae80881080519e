/**
 * The thumbnail store, with real components (colour-CLIP test model, SQLite, libvips, the HTTP
 * server): thumbnails are made while indexing (by the encoder, from the decode that feeds CLIP),
 * stored under the home keyed by content hash and size and listed in the catalog, carried by search
 * results (`thumb`), made on demand by Memery.thumbnail and GET /api/thumb/:id, served by the server
 * from the store, pruned when their content leaves the catalog (forget, a changed or deleted file),
 * and kept under the budget, least recently used first. The legacy `<home>/thumbs` cache is removed
 * once, when the catalog is upgraded.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchResultSchema } from '@memery/client/schemas';
import { Memery } from '../ts/index.js';
import { imageInfo } from '../ts/native/index.js';
import { raw, serverFixture, type ServerFixture } from './helpers/browser.js';
import { COLOURS, tempDir, writeColourSet, writeSolid } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';

const MIB = 1024 * 1024;

interface Row {
  hash: string;
  size: number;
  bytes: number;
  used_at: number;
}

/** The catalog's thumbnail rows (a second, read-only connection). */
function thumbRows(home: string): Row[] {
  const db = new Database(join(home, 'catalog.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT hash, size, bytes, used_at FROM thumbnails ORDER BY hash, size').all() as Row[];
  } finally {
    db.close();
  }
}

/** The catalog's content hash of each file: path -> hash. */
function fileHashes(home: string): Map<string, string> {
  const db = new Database(join(home, 'catalog.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT path, hash FROM files WHERE status = 'ok'").all() as Array<{ path: string; hash: string }>;
    return new Map(rows.map((r) => [r.path, r.hash]));
  } finally {
    db.close();
  }
}

const storePath = (home: string, hash: string, size = 256) => join(home, 'thumbnails', hash.slice(0, 2), `${hash}-${size}.jpg`);

/** Every file under the store, relative to it. */
function storeFiles(home: string): string[] {
  const root = join(home, 'thumbnails');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

const mode = (p: string) => statSync(p).mode & 0o777;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('thumbnails made while indexing, in the store, in search results, pruned', () => {
  let home: string;
  let dir: string;
  let files: Record<string, string>;
  let m: Memery;

  beforeAll(async () => {
    home = tempDir('memery-thumbs-home-');
    dir = tempDir('memery-thumbs-');
    files = await writeColourSet(dir);
    files.wide = join(dir, 'wide.png');
    files.tall = join(dir, 'tall.jpg');
    await writeSolid(files.wide, [200, 100, 50], 600, 400);
    await writeSolid(files.tall, [50, 100, 200], 300, 900);
    m = await Memery.open({ home, modelDir: COLOUR_HF, ocr: false });
    const s = await m.index(dir);
    expect(s).toMatchObject({ new: 10, failed: 0 });
  });
  afterAll(async () => {
    await m?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('index stores a JPEG of each content, keyed by hash and size, 0600 in 0700 folders, listed with its bytes', async () => {
    const hashes = fileHashes(home);
    const rows = thumbRows(home);
    expect(rows.map((r) => r.hash).sort()).toEqual([...new Set(hashes.values())].sort());
    expect(rows.every((r) => r.size === 256)).toBe(true);
    expect(mode(join(home, 'thumbnails'))).toBe(0o700);
    for (const r of rows) {
      const p = storePath(home, r.hash);
      expect(existsSync(p), p).toBe(true);
      expect(statSync(p).size).toBe(r.bytes);
      expect(mode(p)).toBe(0o600);
      expect(mode(join(p, '..'))).toBe(0o700);
      expect([...readFileSync(p).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    }
    // Fits inside 256 x 256 with the aspect ratio; smaller images are never enlarged; all decode.
    const size = async (name: string) => {
      const info = await imageInfo(storePath(home, hashes.get(files[name]!)!));
      expect(info.format).toBe('jpeg');
      return [info.width, info.height];
    };
    expect(await size('wide')).toEqual([256, 171]);
    expect(await size('tall')).toEqual([85, 256]);
    expect(await size('red')).toEqual([110, 60]); // writeColourSet: 80 + 10 * name length wide, 60 high
    expect(storeFiles(home).filter((f) => !f.endsWith('-256.jpg'))).toEqual([]); // no temp files left
  });

  it('search results carry `thumb`: the stored thumbnail of their content', async () => {
    const hashes = fileHashes(home);
    const results = await m.search('red', { n: 10 });
    expect(results).toHaveLength(10);
    for (const r of results) {
      expect(SearchResultSchema.parse(r)).toEqual(r);
      expect(r.thumb, r.path).toBe(storePath(home, hashes.get(r.path)!));
    }
    const image = await m.search({ image: files.blue! }, { n: 1 });
    expect(image[0]!.thumb).toBe(storePath(home, hashes.get(files.blue!)!));
  });

  it('thumbnail(id | path) returns the stored file, and makes and stores another size', async () => {
    const hashes = fileHashes(home);
    const [red] = await m.search('red', { n: 1 });
    expect(await m.thumbnail(red!.id)).toBe(red!.thumb);
    expect(await m.thumbnail(files.red!)).toBe(red!.thumb);
    const small = await m.thumbnail(red!.id, { size: 32 });
    expect(small).toBe(storePath(home, hashes.get(files.red!)!, 32));
    expect(await imageInfo(small)).toMatchObject({ width: 32, height: 17, format: 'jpeg' });
    expect(thumbRows(home).filter((r) => r.hash === hashes.get(files.red!)).map((r) => r.size)).toEqual([32, 256]);
    expect(await m.thumbnail(files.red!, { size: 32 })).toBe(small); // stored: the same file
    await expect(m.thumbnail(987654)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(m.thumbnail(join(dir, 'nope.png'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(m.thumbnail(red!.id, { size: 5000 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('a file whose content changes is re-indexed: its old thumbnails go, its new content gets one', async () => {
    const before = fileHashes(home).get(files.red!)!;
    expect(existsSync(storePath(home, before, 32))).toBe(true);
    await writeSolid(files.red!, [255, 40, 40], 130, 70);
    const s = await m.index(dir);
    expect(s).toMatchObject({ reembedded: 1, failed: 0 });
    const after = fileHashes(home).get(files.red!)!;
    expect(after).not.toBe(before);
    expect(thumbRows(home).filter((r) => r.hash === before)).toEqual([]);
    expect(existsSync(storePath(home, before))).toBe(false);
    expect(existsSync(storePath(home, before, 32))).toBe(false);
    expect(existsSync(storePath(home, after))).toBe(true);
    expect(await imageInfo(storePath(home, after))).toMatchObject({ width: 130, height: 70 });
  });

  it('copies share one thumbnail: it stays while any file has the content, and goes with the last', async () => {
    const sub = join(dir, 'copies');
    mkdirSync(sub);
    const copy = join(sub, 'yellow-copy.png');
    copyFileSync(files.yellow!, copy);
    const hash = fileHashes(home).get(files.yellow!)!;
    const count = thumbRows(home).length;
    expect((await m.index(dir)).moved).toBe(1); // known content: no encode, no new thumbnail
    expect(thumbRows(home)).toHaveLength(count);
    rmSync(files.yellow!);
    await m.index(dir);
    expect(existsSync(storePath(home, hash))).toBe(true); // the copy still has it
    expect((await m.search('yellow', { n: 1 }))[0]!.thumb).toBe(storePath(home, hash));
    rmSync(copy);
    expect((await m.index(dir)).removed).toBe(1);
    expect(existsSync(storePath(home, hash))).toBe(false);
    expect(thumbRows(home).filter((r) => r.hash === hash)).toEqual([]);
  });

  it("forget removes the folder's thumbnails: files, rows and emptied folders", async () => {
    expect(thumbRows(home).length).toBeGreaterThan(0);
    expect(await m.forget(dir)).toBeGreaterThan(0);
    expect(thumbRows(home)).toEqual([]);
    expect(storeFiles(home)).toEqual([]);
    expect(readdirSync(join(home, 'thumbnails'))).toEqual([]);
  });
});

describe('the budget: past it, the least recently used thumbnails go', () => {
  let home: string;
  let dir: string;
  let m: Memery | undefined;

  beforeAll(async () => {
    home = tempDir('memery-thumbs-budget-home-');
    dir = tempDir('memery-thumbs-budget-');
    let i = 0;
    for (const [name, rgb] of Object.entries(COLOURS).slice(0, 6)) await writeSolid(join(dir, `${name}.png`), rgb, 300 + i++, 200);
  });
  afterAll(async () => {
    await m?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the two used last when the budget holds only them', async () => {
    m = await Memery.open({ home, modelDir: COLOUR_HF, ocr: false });
    await m.index(dir);
    const rows = thumbRows(home);
    expect(rows).toHaveLength(6);
    const total = rows.reduce((n, r) => n + r.bytes, 0);
    // Used after indexing: a thumbnail asked for, and one in a search result.
    await sleep(20);
    const hashes = fileHashes(home);
    const [a, b] = [join(dir, 'green.png'), join(dir, 'blue.png')];
    await m.thumbnail(a);
    await sleep(5);
    expect((await m.search({ image: b }, { n: 1 }))[0]!.path).toBe(b);
    await m.close(); // writes the uses
    m = undefined;
    const used = thumbRows(home).filter((r) => r.hash === hashes.get(a) || r.hash === hashes.get(b));
    expect(used).toHaveLength(2);
    expect(Math.min(...used.map((r) => r.used_at))).toBeGreaterThan(Math.max(...rows.map((r) => r.used_at)));
    const keep = used[0]!.bytes + used[1]!.bytes;
    // Room for those two under the low-water mark (90% of the budget), not for a third.
    const budget = Math.ceil(keep / 0.9) + 16;
    const smallestOther = Math.min(...rows.filter((r) => !used.some((u) => u.hash === r.hash)).map((r) => r.bytes));
    expect(Math.floor(budget * 0.9)).toBeLessThan(keep + smallestOther);
    expect(budget).toBeLessThan(total);

    m = await Memery.open({ home, modelDir: COLOUR_HF, ocr: false, thumbnailBudget: budget / MIB });
    expect((await m.index(dir)).unchanged).toBe(6); // an index run keeps the store within its budget
    const left = thumbRows(home);
    expect(left.map((r) => r.hash).sort()).toEqual(used.map((r) => r.hash).sort());
    expect(storeFiles(home)).toHaveLength(2);
    expect(left.reduce((n, r) => n + r.bytes, 0)).toBeLessThanOrEqual(budget);
    // Search results no longer carry the ones that went; thumbnail() makes them again.
    const red = join(dir, 'red.png');
    const [hit] = await m.search({ image: red }, { n: 1 });
    expect(hit!.thumb).toBeNull();
    expect(await m.thumbnail(hit!.id)).toBe(storePath(home, hashes.get(red)!));
  });
});

describe('thumbnails: false, and the legacy <home>/thumbs', () => {
  it('with thumbnails off, indexing makes none; thumbnail() makes and stores one when asked', async () => {
    const home = tempDir('memery-thumbs-off-home-');
    const dir = tempDir('memery-thumbs-off-');
    const files = await writeColourSet(dir);
    const m = await Memery.open({ home, modelDir: COLOUR_HF, ocr: false, thumbnails: false });
    try {
      await m.index(dir);
      expect(thumbRows(home)).toEqual([]);
      const [red] = await m.search('red', { n: 1 });
      expect(red!.path).toBe(files.red);
      expect(red!.thumb).toBeNull();
      const p = await m.thumbnail(red!.id);
      expect(p).toBe(storePath(home, fileHashes(home).get(files.red!)!));
      expect((await m.search('red', { n: 1 }))[0]!.thumb).toBe(p);
    } finally {
      await m.close();
      rmSync(home, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('removes the launchers\' old <home>/thumbs cache once, when the catalog is upgraded', async () => {
    const home = tempDir('memery-thumbs-legacy-home-');
    try {
      await (await Memery.open({ home, modelDir: COLOUR_HF })).close();
      const legacy = join(home, 'thumbs');
      mkdirSync(legacy, { mode: 0o700 });
      writeFileSync(join(legacy, '1-1700000000000.jpg'), 'old', { mode: 0o600 });
      const db = new Database(join(home, 'catalog.db'));
      db.prepare("UPDATE meta SET value = '2' WHERE key = 'schema'").run(); // before the store
      db.close();
      await (await Memery.open({ home, modelDir: COLOUR_HF })).close();
      expect(existsSync(legacy)).toBe(false);
      // Once: a folder of that name made later is left alone.
      mkdirSync(legacy, { mode: 0o700 });
      await (await Memery.open({ home, modelDir: COLOUR_HF })).close();
      expect(existsSync(legacy)).toBe(true);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('the server serves thumbnails by catalog id from the store', () => {
  let fx: ServerFixture;
  beforeAll(async () => {
    fx = await serverFixture({ memery: { ocr: false } });
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  const via = () => ({ port: fx.port, token: fx.token });
  const search = async (query: string) =>
    (await raw({ ...via(), path: '/api/search', body: { query, n: 1 } })).json<{ results: Array<{ id: number; path: string; thumb: string | null }> }>().results[0]!;

  it('answers with the stored file, an ETag naming the content, and 304 when it is unchanged', async () => {
    const red = await search('red');
    const hash = fileHashes(fx.home).get(red.path)!;
    expect(red.thumb).toBe(storePath(fx.home, hash));
    const r = await raw({ ...via(), path: `/api/thumb/${red.id}` });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/jpeg');
    expect(r.body.equals(readFileSync(red.thumb!))).toBe(true);
    expect(r.headers.etag).toBe(`W/"t${hash}-256"`);
    expect(r.headers['cache-control']).toBe('private, no-cache');
    const again = await raw({ ...via(), path: `/api/thumb/${red.id}`, headers: { 'if-none-match': r.headers.etag! } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('makes and stores another size on demand, then serves it from the store', async () => {
    const blue = await search('blue');
    const hash = fileHashes(fx.home).get(blue.path)!;
    const small = storePath(fx.home, hash, 48);
    expect(existsSync(small)).toBe(false);
    const r = await raw({ ...via(), path: `/api/thumb/${blue.id}?size=48` });
    expect(r.status).toBe(200);
    expect(existsSync(small)).toBe(true);
    expect(r.body.equals(readFileSync(small))).toBe(true);
    expect(thumbRows(fx.home).some((t) => t.hash === hash && t.size === 48)).toBe(true);
    const again = await raw({ ...via(), path: `/api/thumb/${blue.id}?size=48` });
    expect(again.body.equals(r.body)).toBe(true);
  });

  it('a file changed since it was indexed gets the thumbnail of what it holds now, not stored', async () => {
    const green = await search('green');
    const hash = fileHashes(fx.home).get(green.path)!;
    const stored = readFileSync(storePath(fx.home, hash));
    await writeSolid(green.path, [250, 0, 250], 64, 64); // not re-indexed
    const r = await raw({ ...via(), path: `/api/thumb/${green.id}` });
    expect(r.status).toBe(200);
    expect(r.body.equals(stored)).toBe(false);
    expect(r.headers.etag).not.toBe(`W/"t${hash}-256"`);
    const tmp = join(fx.home, 'changed.jpg');
    writeFileSync(tmp, r.body);
    expect(await imageInfo(tmp)).toMatchObject({ width: 64, height: 64 });
    // Stored only under a content the catalog has: nothing new in the store.
    expect(new Set(thumbRows(fx.home).map((t) => t.hash)).size).toBe(8);
  });
});
