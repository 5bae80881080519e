/**
 * The catalog on a full disk, or with an index file it cannot write: indexing stops with
 * E_DISK_FULL (never "move the catalog away") and loses nothing; searching and status keep working.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Memery, isMemeryError } from '../ts/index.js';
import { CLI_BUILT, runColour } from './helpers/cli.js';
import { COLOURS, tempDir, writeColourSet, writeSolid } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';

function rows(home: string): { files: string[]; embeddings: number; integrity: string } {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  const files = (db.prepare('SELECT path, hash FROM files ORDER BY path').all() as Array<{ path: string; hash: string }>).map((r) => `${r.path} ${r.hash}`);
  const embeddings = db.prepare('SELECT COUNT(*) FROM embeddings').pluck().get() as number;
  const integrity = db.pragma('integrity_check', { simple: true }) as string;
  db.close();
  return { files, embeddings, integrity };
}

/** Writes to `path` until the disk is full. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  // Then the last few bytes.
  try {
    for (;;) writeSync(fd, Buffer.alloc(512, 1));
  } catch {
    /* full */
  }
  closeSync(fd);
}

async function moreImages(folder: string): Promise<void> {
  let i = 0;
  for (const rgb of Object.values(COLOURS)) await writeSolid(join(folder, `more-${i++}.png`), rgb.map((c) => 255 - c) as [number, number, number], 70, 50);
}

describe('search without writing', () => {
  it('the index file cannot be written (a directory in its place): search uses the index in memory and warns once', async () => {
    const home = tempDir();
    const folder = tempDir('memery-colours-');
    const colours = await writeColourSet(folder);
    let m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: () => {} });
    await m.index(folder);
    const good = await m.search('red', { n: 8 });
    await m.close();
    const dir = join(home, 'index');
    for (const f of readdirSync(dir)) {
      rmSync(join(dir, f));
      mkdirSync(join(dir, f)); // neither the file nor its .tmp can be written
      mkdirSync(join(dir, `${f}.tmp`));
    }
    const warnings: string[] = [];
    m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: (w) => warnings.push(w) });
    const r1 = await m.search('red', { n: 8 });
    const r2 = await m.search('blue', { n: 1 });
    const status = await m.status();
    await m.close();
    expect(r1.map((r) => r.path)).toEqual(good.map((r) => r.path));
    expect(r1[0]!.path).toBe(colours.red);
    expect(r2[0]!.path).toBe(colours.blue);
    expect(status.counts.files).toBe(8);
    expect(status.index.vectors).toBe(8);
    expect(warnings.filter((w) => /cannot save the index file/.test(w)).length).toBe(1);
    for (const d of [home, folder]) rmSync(d, { recursive: true, force: true });
  });
});

describe('a full disk', () => {
  it('index stops with E_DISK_FULL and loses nothing; search and status keep working (library and CLI)', async (ctx) => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      console.warn('skipped: mounting a small tmpfs to fill needs root');
      return ctx.skip();
    }
    const mnt = tempDir('memery-tmpfs-');
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      console.warn(`skipped: cannot mount a tmpfs (${mounted.stderr.trim()})`);
      rmSync(mnt, { recursive: true, force: true });
      return ctx.skip();
    }
    const folder = tempDir('memery-colours-');
    let m: Memery | undefined;
    try {
      const home = join(mnt, 'home');
      const colours = await writeColourSet(folder);
      const quiet = { onWarning: () => {} };
      m = await Memery.open({ home, modelDir: COLOUR_HF }, quiet);
      await m.index(folder);
      await m.search('red', { n: 1 });
      await m.close();
      const before = rows(home);
      expect(before.files.length).toBe(8);

      await moreImages(folder);
      // The disk fills while a catalog is open: the next commit fails.
      m = await Memery.open({ home, modelDir: COLOUR_HF }, quiet);
      fill(join(mnt, 'filler'));
      const err1 = await m.index(folder).catch((e: unknown) => e);
      expect(isMemeryError(err1, 'E_DISK_FULL'), String(err1)).toBe(true);
      expect((err1 as Error).message).toMatch(new RegExp(`The disk holding ${home} is full \\(\\d+ bytes free\\)`));
      expect((err1 as { hint: string }).hint).toMatch(/Free some space/);
      expect((err1 as { hint: string }).hint).not.toMatch(/move it away/);
      expect((await m.search('red', { n: 1 }))[0]!.path).toBe(colours.red);
      await m.close();

      // Opened on a full disk (SQLite cannot create its -shm file): reading still works.
      m = await Memery.open({ home, modelDir: COLOUR_HF }, quiet);
      expect((await m.search('blue', { n: 1 }))[0]!.path).toBe(colours.blue);
      const status = await m.status();
      expect(status.counts.files).toBe(8);
      const err2 = await m.index(folder).catch((e: unknown) => e);
      expect(isMemeryError(err2, 'E_DISK_FULL'), String(err2)).toBe(true);
      await m.close();

      if (CLI_BUILT) {
        const s = await runColour(['search', folder, 'green', '--json'], { home });
        expect(s.code, s.stderr).toBe(0);
        expect(s.stderr).toMatch(/is full .*searching the catalog as it is/);
        expect(s.stderr).not.toMatch(/move it away/);
        const results = (JSON.parse(s.stdout) as { results: Array<{ path: string }> }).results;
        expect(results[0]!.path).toBe(colours.green);
        const st = await runColour(['status', '--json'], { home });
        expect(st.code, st.stderr).toBe(0);
        const idx = await runColour(['index', folder], { home });
        expect(idx.code).toBe(1);
        expect(idx.stderr).toMatch(/is full/);
        expect(idx.stderr).toMatch(/hint: Free some space/);
        expect(idx.stderr).not.toMatch(/move it away/);
      }

      // Nothing was lost; with space again, indexing goes on.
      rmSync(join(mnt, 'filler'));
      const after = rows(home);
      expect(after.integrity).toBe('ok');
      expect(after.files).toEqual(before.files);
      expect(after.embeddings).toBe(before.embeddings);
      m = await Memery.open({ home, modelDir: COLOUR_HF }, quiet);
      const summary = await m.index(folder);
      expect(summary.new).toBe(8);
      await m.close();
    } finally {
      await m?.close();
      spawnSync('umount', ['-l', mnt]);
      rmSync(mnt, { recursive: true, force: true });
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
