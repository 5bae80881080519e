/**
 * The indexer (ts/catalog/indexer.ts, walk.ts, hash.ts): what it does with files it cannot read,
 * names it cannot represent, files that change while it works, and files too large to read.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { contentHash } from '../ts/catalog/hash.js';
import { Memery, type IndexSummary } from '../ts/index.js';
import { tempDir, writeSolid } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';
import { ROOT } from './helpers/shared.js';

const CHILD = join(ROOT, 'test', 'helpers', 'index-summary-child.mjs');
const IS_ROOT = process.getuid?.() === 0;
const HAS_SETPRIV = existsSync('/usr/bin/setpriv');
// As root, permissions do not stop reads: the unreadable-file tests index as `nobody` instead.
const CAN_DENY = !IS_ROOT || HAS_SETPRIV;

const cleanups: string[] = [];
afterEach(() => {
  for (const d of cleanups.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(prefix?: string): string {
  const d = tempDir(prefix);
  cleanups.push(d);
  return d;
}

function chownTree(path: string, uid: number, gid: number): void {
  spawnSync('chown', ['-R', `${uid}:${gid}`, path]);
}

/** Indexes `folder` in a child process; as `nobody` when running as root (so chmod 000 means something). */
function indexUnprivileged(home: string, folder: string): IndexSummary {
  const args = [CHILD, home, COLOUR_HF, folder];
  const r = IS_ROOT
    ? spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args], { encoding: 'utf8' })
    : spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`index child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as IndexSummary;
}

function prepareForNobody(...paths: string[]): void {
  if (!IS_ROOT) return;
  for (const p of paths) {
    chmodSync(p, 0o755);
    chownTree(p, 65534, 65534);
  }
}

describe.skipIf(!CAN_DENY)('unreadable folders and files', () => {
  it('an unreadable subfolder keeps its files in the catalog, is reported, and is not re-encoded later', async () => {
    const home = temp('memery-home-');
    const dir = temp('memery-walk-');
    mkdirSync(join(dir, 'sub'));
    await writeSolid(join(dir, 'sub', 'red.png'), [255, 0, 0]);
    await writeSolid(join(dir, 'sub', 'blue.png'), [0, 0, 255], 70);
    await writeSolid(join(dir, 'green.png'), [0, 255, 0], 90);
    prepareForNobody(home, dir);
    expect(indexUnprivileged(home, dir)).toMatchObject({ found: 3, new: 3 });

    chmodSync(join(dir, 'sub'), 0o000);
    const s = indexUnprivileged(home, dir);
    expect(s.removed).toBe(0);
    expect(s.skipped).toEqual([expect.objectContaining({ path: join(dir, 'sub'), code: 'E_IO' })]);
    expect(s.skipped[0]!.message).toMatch(/EACCES/);
    expect(s.skipped[0]!.message).toContain(join(dir, 'sub'));
    expect(s.skipped[0]!.reason).toBe('Cannot read the folder (EACCES: permission denied); its files are kept as they were');

    const m = await Memery.open({ home, modelDir: COLOUR_HF });
    const top = await m.search('red', { n: 1 });
    expect(top[0]!.path).toBe(join(dir, 'sub', 'red.png'));
    await m.close();

    chmodSync(join(dir, 'sub'), 0o755);
    const again = indexUnprivileged(home, dir);
    expect(again).toMatchObject({ found: 3, new: 0, reembedded: 0, unchanged: 3, removed: 0, skipped: [] });
  });

  it('a file that failed with an I/O error is retried on the next run, though its size and time are the same', async () => {
    const home = temp('memery-home-');
    const dir = temp('memery-walk-');
    await writeSolid(join(dir, 'red.png'), [255, 0, 0]);
    await writeSolid(join(dir, 'blue.png'), [0, 0, 255], 70);
    prepareForNobody(home, dir);
    chmodSync(join(dir, 'red.png'), 0o000);
    const s = indexUnprivileged(home, dir);
    expect(s).toMatchObject({ found: 2, new: 1, failed: 1 });
    expect(s.errors).toEqual([expect.objectContaining({ path: join(dir, 'red.png'), code: 'E_IO' })]);
    expect(s.errors[0]!.message).toContain(join(dir, 'red.png'));
    expect(s.errors[0]!.reason).toMatch(/^Cannot read: \S/);

    chmodSync(join(dir, 'red.png'), 0o644); // size and mtime unchanged
    const again = indexUnprivileged(home, dir);
    expect(again).toMatchObject({ found: 2, new: 0, reembedded: 1, unchanged: 1, failed: 0, errors: [] });
  });
});

describe('names and sizes', () => {
  it('a file name that is not valid UTF-8 is reported, not skipped silently', async () => {
    const home = temp('memery-home-');
    const dir = temp('memery-walk-');
    await writeSolid(join(dir, 'red.png'), [255, 0, 0]);
    const bad = Buffer.concat([Buffer.from(join(dir, 'caf')), Buffer.from([0xe9]), Buffer.from('.png')]);
    writeFileSync(bad, readFileSync(join(dir, 'red.png')));
    const m = await Memery.open({ home, modelDir: COLOUR_HF });
    const s = await m.index(dir);
    expect(s).toMatchObject({ found: 1, new: 1 });
    expect(s.skipped).toEqual([
      {
        path: join(dir, 'caf\\xe9.png'),
        code: 'E_FILENAME',
        message: expect.stringMatching(/not valid UTF-8/),
        reason: 'Cannot index the file: its name is not valid UTF-8 (rename it to index it)',
      },
    ]);
    await m.close();
  });

  it('a file over maxFileBytes is refused before it is read, with its size and the limit', async () => {
    const home = temp('memery-home-');
    const dir = temp('memery-walk-');
    await writeSolid(join(dir, 'red.png'), [255, 0, 0]);
    const big = join(dir, 'huge.jpg');
    writeFileSync(big, '');
    truncateSync(big, 300 * 1024 * 1024); // sparse: 300 MiB that cost no disk
    const m = await Memery.open({ home, modelDir: COLOUR_HF });
    const rssBefore = process.memoryUsage().rss;
    const s = await m.index(dir);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
    expect(s).toMatchObject({ found: 2, new: 1, failed: 1 });
    expect(s.errors[0]).toMatchObject({ path: big, code: 'E_TOO_LARGE' });
    expect(s.errors[0]!.message).toMatch(/at most 256 MiB but .*huge\.jpg is 300 MiB/);
    // Its reason is the same without the path: the message names the file, the reason does not.
    expect(s.errors[0]!.message).toContain(big);
    expect(s.errors[0]!.reason).toBe('Expected an image of at most 256 MiB but the file is 300 MiB');
    await m.close();
  });

  it('contentHash streams: hashing a 200 MiB file does not hold it in memory', async () => {
    const dir = temp('memery-walk-');
    const p = join(dir, 'zeros.png');
    writeFileSync(p, '');
    truncateSync(p, 200 * 1024 * 1024);
    const before = process.memoryUsage().rss;
    const h = await contentHash(p);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    const expected = createHash('sha256');
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 200; i++) expected.update(zeros);
    expect(h).toBe(expected.digest('hex').slice(0, 32));
  });
});

describe('a file replaced while it is being indexed', () => {
  it("binds the new picture's vector to the new content's hash, never the old one", async () => {
    const home = temp('memery-home-');
    const dir = temp('memery-race-');
    const spare = temp('memery-spare-');
    const x = join(dir, 'x.png');
    const y = join(dir, 'y.png');
    await writeSolid(x, [255, 0, 0]);
    copyFileSync(x, y); // same size: both are hashed before encoding; y is x's duplicate
    await writeSolid(join(dir, 'green.png'), [0, 255, 0], 90);
    await writeSolid(join(spare, 'blue.png'), [0, 0, 255], 120, 90);
    const blue = readFileSync(join(spare, 'blue.png'));
    const m = await Memery.open({ home, modelDir: COLOUR_HF });
    let replaced = false;
    await m.index(dir, {
      onProgress: (p) => {
        if (p.phase === 'encode' && p.done === 0 && !replaced) {
          replaced = true;
          writeFileSync(x, blue); // after x was hashed as red, before it is decoded
        }
      },
    });
    expect(replaced).toBe(true);
    await m.index(dir); // settles whatever the first run left for later
    // Every catalog entry's hash is the hash of the bytes on disk.
    const db = new Database(join(home, 'catalog.db'), { readonly: true });
    const rows = db.prepare("SELECT path, hash FROM files WHERE status = 'ok' ORDER BY path").all() as Array<{ path: string; hash: string }>;
    db.close();
    expect(rows.map((r) => r.path)).toEqual([join(dir, 'green.png'), x, y]);
    for (const r of rows) expect(r.hash, r.path).toBe(await contentHash(r.path));
    // y (still red) is found by "red", x (now blue) by "blue".
    const red = await m.search('red', { n: 3 });
    expect(red[0]!.path).toBe(y);
    // Had y inherited the vector decoded from x's new (blue) bytes, both would score the same.
    expect(red[0]!.score - red.find((r) => r.path === x)!.score).toBeGreaterThan(0.1);
    expect((await m.search('blue', { n: 1 }))[0]!.path).toBe(x);
    await m.close();
  });
});
