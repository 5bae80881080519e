/**
 * memery's home lists every indexed path: it is created 0700 with its files 0600, an existing
 * world-readable home is tightened on open (and that is said), and another account cannot read it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Memery } from '../ts/index.js';
import { CLI_BUILT, runColour } from './helpers/cli.js';
import { tempDir, writeColourSet } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';

function modes(root: string): Array<{ path: string; mode: number; dir: boolean }> {
  const out: Array<{ path: string; mode: number; dir: boolean }> = [];
  const visit = (p: string): void => {
    const st = lstatSync(p);
    out.push({ path: p, mode: st.mode & 0o777, dir: st.isDirectory() });
    if (st.isDirectory()) for (const n of readdirSync(p)) visit(join(p, n));
  };
  visit(root);
  return out;
}

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const HAS_SETPRIV = spawnSync('setpriv', ['--version']).status === 0;
const AS_NOBODY = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];

describe('the memery home is private', () => {
  it('a fresh home is 0700 and every file in it 0600 after an index run and a search', async () => {
    const parent = tempDir();
    const home = join(parent, 'new-home'); // memery creates it
    const folder = tempDir('memery-colours-');
    await writeColourSet(folder);
    const warnings: string[] = [];
    const m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: (w) => warnings.push(w) });
    await m.index(folder);
    expect((await m.search('red', { n: 1 })).length).toBe(1); // writes the FAISS file
    const during = modes(home);
    await m.close();
    const after = modes(home);
    for (const e of [...during, ...after]) {
      expect(`${e.path} ${e.mode.toString(8)}`).toBe(`${e.path} ${(e.dir ? 0o700 : 0o600).toString(8)}`);
    }
    expect(during.map((e) => e.path)).toEqual(expect.arrayContaining([join(home, 'catalog.db'), join(home, 'index')]));
    expect(during.some((e) => e.path.endsWith('.faiss'))).toBe(true);
    expect(warnings).toEqual([]); // nothing to tighten in a home memery made
    for (const d of [parent, folder]) rmSync(d, { recursive: true, force: true });
  });

  it('an existing 0755 home with a 0644 catalog.db is tightened on open, and that is reported', async () => {
    const home = tempDir();
    const folder = tempDir('memery-colours-');
    await writeColourSet(folder);
    let m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: () => {} });
    await m.index(folder);
    await m.search('red', { n: 1 });
    await m.close();
    chmodSync(home, 0o755);
    chmodSync(join(home, 'catalog.db'), 0o644);
    mkdirSync(join(home, 'index'), { recursive: true });
    chmodSync(join(home, 'index'), 0o755);
    for (const f of readdirSync(join(home, 'index'))) chmodSync(join(home, 'index', f), 0o644);

    const warnings: string[] = [];
    m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: (w) => warnings.push(w) });
    await m.close();
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(new RegExp(`tightened permissions of ${home} \\(was 0755\\)`));
    for (const e of modes(home)) expect(`${e.path} ${e.mode.toString(8)}`).toBe(`${e.path} ${(e.dir ? 0o700 : 0o600).toString(8)}`);

    // Said once: a second open finds nothing to do.
    const again: string[] = [];
    m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: (w) => again.push(w) });
    await m.close();
    expect(again).toEqual([]);
    for (const d of [home, folder]) rmSync(d, { recursive: true, force: true });
  });

  it.skipIf(!CLI_BUILT)('the CLI prints the warning on stderr', async () => {
    const home = tempDir();
    const folder = tempDir('memery-colours-');
    await writeColourSet(folder);
    expect((await runColour(['index', folder], { home })).code).toBe(0);
    chmodSync(home, 0o755);
    chmodSync(join(home, 'catalog.db'), 0o644);
    const r = await runColour(['status'], { home });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`memery: warning: tightened permissions of ${home} (was 0755)`);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, 'catalog.db')).mode & 0o777).toBe(0o600);
    for (const d of [home, folder]) rmSync(d, { recursive: true, force: true });
  });

  it.skipIf(!IS_ROOT || !HAS_SETPRIV)(
    `another account cannot list the home or read the catalog${IS_ROOT && HAS_SETPRIV ? '' : ' (skipped: needs root and setpriv to switch to nobody)'}`,
    async () => {
      const parent = tempDir();
      chmodSync(parent, 0o755); // so only the home's own mode keeps others out
      const home = join(parent, 'home');
      const folder = tempDir('memery-colours-');
      await writeColourSet(folder);
      const m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: () => {} });
      await m.index(folder);
      await m.close();
      // The check itself works: nobody can list a folder that is open to others.
      expect(spawnSync('setpriv', [...AS_NOBODY, 'ls', parent]).status).toBe(0);
      const ls = spawnSync('setpriv', [...AS_NOBODY, 'ls', home], { encoding: 'utf8' });
      expect(ls.status).not.toBe(0);
      expect(ls.stderr).toMatch(/Permission denied/);
      const cat = spawnSync('setpriv', [...AS_NOBODY, 'cat', join(home, 'catalog.db')], { encoding: 'utf8' });
      expect(cat.status).not.toBe(0);
      expect(cat.stdout).toBe('');
      for (const d of [parent, folder]) rmSync(d, { recursive: true, force: true });
    },
  );
});
