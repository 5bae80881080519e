import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { acquireLock } from '../ts/util/lock.js';
import { Memery, isMemeryError } from '../ts/index.js';
import { tempDir, writeColourSet } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';
import { HAS_SHARED, ROOT, SHARED_SKIP_REASON, shared } from './helpers/shared.js';

const CHILD = join(ROOT, 'test', 'helpers', 'index-child.mjs');

function snapshot(home: string): { files: string[]; embeddings: string[]; integrity: string } {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  const files = (db.prepare('SELECT path, hash, status, size FROM files ORDER BY path').all() as object[]).map((r) => JSON.stringify(r));
  const embeddings = (
    db.prepare('SELECT hash, model_id, hex(vector) AS v FROM embeddings ORDER BY hash').all() as Array<{ hash: string; model_id: string; v: string }>
  ).map((r) => `${r.hash} ${r.model_id} ${r.v.slice(0, 48)}`);
  const integrity = db.pragma('integrity_check', { simple: true }) as string;
  db.close();
  return { files, embeddings, integrity };
}

describe.skipIf(!HAS_SHARED)(`crash safety ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  it('SIGKILL at 10 random points, then a final run: the catalog equals a clean run', async () => {
    const corpus = shared('corpus');
    const clean = tempDir();
    const r = spawnSync(process.execPath, [CHILD, clean, COLOUR_HF, corpus], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const cleanSnap = snapshot(clean);
    expect(cleanSnap.files.length).toBe(96);

    const home = tempDir();
    let killedMidway = 0;
    for (let i = 0; i < 10; i++) {
      // Kill after 1-3 committed chunks, at a random moment inside the next one.
      const child = spawn(process.execPath, [CHILD, home, COLOUR_HF, corpus], { stdio: ['ignore', 'ignore', 'pipe'] });
      const after = 1 + Math.floor(Math.random() * 3);
      const exited = await new Promise<boolean>((resolve) => {
        let chunks = 0;
        child.stderr!.on('data', (d: Buffer) => {
          chunks += d.toString().split('chunk').length - 1;
          if (chunks >= after) setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 30));
        });
        child.on('exit', (code, sig) => resolve(sig !== 'SIGKILL'));
      });
      if (!exited) killedMidway++;
      if (existsSync(join(home, 'catalog.db'))) expect(snapshot(home).integrity).toBe('ok');
    }
    console.log(`crash test: ${killedMidway} of 10 runs killed before finishing`);
    const fin = spawnSync(process.execPath, [CHILD, home, COLOUR_HF, corpus], { encoding: 'utf8' });
    expect(fin.status, fin.stderr).toBe(0);
    const finalSnap = snapshot(home);
    expect(finalSnap.integrity).toBe('ok');
    expect(finalSnap.files).toEqual(cleanSnap.files);
    expect(finalSnap.embeddings).toEqual(cleanSnap.embeddings);
    for (const d of [clean, home]) rmSync(d, { recursive: true, force: true });
  }, 180_000);
});

describe('the FAISS file is a cache of the catalog', () => {
  it.each([
    ['truncated', (f: string) => truncateSync(f, 100)],
    ['flipped byte', (f: string) => {
      const b = readFileSync(f);
      b[b.length - 20] ^= 0xff;
      writeFileSync(f, b);
    }],
    ['deleted', (f: string) => rmSync(f)],
    ['garbage', (f: string) => writeFileSync(f, 'garbage')],
  ])('a %s index file is detected and rebuilt; answers stay right', async (_name, damage) => {
    const home = tempDir();
    const dir = tempDir('memery-colours-');
    await writeColourSet(dir);
    let m = await Memery.open({ home, modelDir: COLOUR_HF });
    await m.index(dir);
    const before = await m.search('red', { n: 8 });
    expect((await m.status()).index.health).toMatch(/ok|rebuilt-missing/);
    await m.close();
    const indexDir = join(home, 'index');
    const [file] = readdirSync(indexDir).filter((f) => f.endsWith('.faiss'));
    damage(join(indexDir, file!));
    m = await Memery.open({ home, modelDir: COLOUR_HF });
    const after = await m.search('red', { n: 8 });
    expect(after).toEqual(before);
    const st = await m.status();
    expect(st.index.vectors).toBe(8);
    await m.close();
    // The rebuilt file is valid again.
    m = await Memery.open({ home, modelDir: COLOUR_HF });
    await m.search('red', { n: 1 });
    expect((await m.status()).index.health).toBe('ok');
    await m.close();
    for (const d of [home, dir]) rmSync(d, { recursive: true, force: true });
  });

  it('a stale index file (catalog changed behind it) is rebuilt', async () => {
    const home = tempDir();
    const dir = tempDir('memery-colours-');
    const files = await writeColourSet(dir);
    let m = await Memery.open({ home, modelDir: COLOUR_HF });
    await m.index(dir);
    await m.search('red');
    const stale = readFileSync(readdirSync(join(home, 'index')).map((f) => join(home, 'index', f))[0]!);
    rmSync(files.red!);
    await m.index(dir);
    await m.close();
    writeFileSync(readdirSync(join(home, 'index')).map((f) => join(home, 'index', f))[0]!, stale); // old but valid file
    m = await Memery.open({ home, modelDir: COLOUR_HF });
    const r = await m.search('red', { n: 10 });
    expect(r.map((x) => x.path)).not.toContain(files.red);
    expect(r.length).toBe(7);
    await m.close();
    for (const d of [home, dir]) rmSync(d, { recursive: true, force: true });
  });
});

describe('one indexer per catalog', () => {
  it('a second indexer waits, then fails clearly with E_LOCKED; nothing is corrupted', async () => {
    const home = tempDir();
    const dir = tempDir('memery-colours-');
    await writeColourSet(dir);
    const a = await Memery.open({ home, modelDir: COLOUR_HF });
    const b = await Memery.open({ home, modelDir: COLOUR_HF, lockTimeout: 0 });
    // Deterministic: while the lock is held, a second indexer with lockTimeout 0 is refused.
    const release = await acquireLock(join(home, 'index.lock'), 0);
    await expect(b.index(dir)).rejects.toSatisfy(
      (e: unknown) => isMemeryError(e, 'E_LOCKED') && /pid \d+/.test((e as Error).message),
    );
    release();
    // Racing: whichever takes the lock first indexes everything; the other either ran after it (nothing
    // new) or, with lockTimeout 0, was refused with E_LOCKED naming the holder.
    const runs = await Promise.allSettled([a.index(dir), b.index(dir)]);
    let encoded = 0;
    for (const r of runs) {
      if (r.status === 'fulfilled') encoded += r.value.new;
      else {
        expect(isMemeryError(r.reason, 'E_LOCKED')).toBe(true);
        expect((r.reason as Error).message).toMatch(/pid \d+/);
      }
    }
    expect(encoded).toBe(8);
    const c = await Memery.open({ home, modelDir: COLOUR_HF, lockTimeout: 5 });
    expect((await c.index(dir)).unchanged).toBe(8);
    expect((await c.status()).integrity).toBe('ok');
    for (const x of [a, b, c]) await x.close();
    for (const d of [home, dir]) rmSync(d, { recursive: true, force: true });
  });
});
