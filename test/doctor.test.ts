/**
 * A damaged catalog is never written to (index and forget refuse, naming `memery doctor`), and
 * `memery doctor [--repair]` reports and fixes: a damaged catalog (recovered into a new file with
 * every readable row, the old one kept), damaged vectors, damaged index files, loose permissions.
 */
import { chmodSync, closeSync, existsSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Catalog, type EmbeddingRecord, type FileRecord } from '../ts/catalog/catalog.js';
import { doctor } from '../ts/catalog/doctor.js';
import { Memery, isMemeryError } from '../ts/index.js';
import { CLI_BUILT, runColour, runCli } from './helpers/cli.js';
import { tempDir, writeColourSet } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';
import { HAS_SHARED, SHARED_SKIP_REASON, shared } from './helpers/shared.js';

/** Overwrites page `pageno` of a closed SQLite file with garbage (a damaged disk sector). */
function smashPage(db: string, pageno: number): void {
  const d = new Database(db, { readonly: true });
  const pageSize = d.pragma('page_size', { simple: true }) as number;
  d.close();
  const fd = openSync(db, 'r+');
  writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (pageno - 1) * pageSize);
  closeSync(fd);
}

function pagesOf(db: string, table: string): Array<{ pageno: number; pagetype: string; ncell: number }> {
  const d = new Database(db, { readonly: true });
  const rows = d.prepare('SELECT pageno, pagetype, ncell FROM dbstat WHERE name = ? ORDER BY pageno').all(table) as Array<{ pageno: number; pagetype: string; ncell: number }>;
  d.close();
  return rows;
}

function count(db: string, table: string): number {
  const d = new Database(db, { readonly: true });
  const n = d.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
  d.close();
  return n;
}

function integrity(db: string): string {
  const d = new Database(db, { readonly: true });
  try {
    return (d.pragma('integrity_check') as Array<{ integrity_check: string }>).map((x) => x.integrity_check).join('; ');
  } catch (err) {
    return (err as Error).message;
  } finally {
    d.close();
  }
}

describe('a damaged catalog', () => {
  it('index refuses to write into it; doctor reports it; doctor --repair keeps every readable row and the damaged file', async () => {
    const home = tempDir();
    const folder = tempDir('memery-colours-');
    await writeColourSet(folder);
    const db = join(home, 'catalog.db');
    // 3000 files: the files table spans many pages, and one of them in the middle gets damaged.
    const cat = Catalog.open(db);
    cat.ensureFolder('/pics');
    const embeddings: EmbeddingRecord[] = [];
    const files: FileRecord[] = [];
    for (let i = 0; i < 3000; i++) {
      const hash = String(i).padStart(64, '0');
      const v = new Float32Array(8);
      v[i % 8] = 1;
      embeddings.push({ hash, modelId: 'm', vector: v });
      files.push({ path: `/pics/some/longer/folder/name/image-${String(i).padStart(5, '0')}.jpg`, size: 1000 + i, mtimeMs: i, hash, width: 10, height: 10, status: 'ok' });
    }
    cat.commit(embeddings, files);
    cat.close();
    const leaves = pagesOf(db, 'files').filter((p) => p.pagetype === 'leaf');
    expect(leaves.length).toBeGreaterThan(4);
    const victim = leaves[Math.floor(leaves.length / 2)]!;
    smashPage(db, victim.pageno);

    // Writing is refused with the way out.
    const m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: () => {} });
    const err = await m.index(folder).catch((e: unknown) => e);
    await m.close();
    expect(isMemeryError(err, 'E_CATALOG_DAMAGED')).toBe(true);
    expect((err as Error).message).toMatch(/damaged/);
    expect((err as { hint: string }).hint).toMatch(/memery doctor/);
    expect(count(db, 'folders')).toBe(1); // nothing was written

    const report = await doctor(home);
    expect(report.healthy).toBe(false);
    expect(report.checks.find((c) => c.name === 'catalog')!.status).toBe('problem');

    const repaired = await doctor(home, { repair: true });
    expect(repaired.checks.find((c) => c.name === 'catalog')!.status).toBe('repaired');
    expect(repaired.healthy).toBe(true);
    expect(integrity(db)).toBe('ok');
    // Every row but those of the damaged page.
    expect(count(db, 'files')).toBe(3000 - victim.ncell);
    expect(count(db, 'embeddings')).toBe(3000);
    expect(count(db, 'folders')).toBe(1);
    const kept = readdirSync(home).filter((n) => n.startsWith('catalog.db.damaged-'));
    expect(kept.length).toBe(1);
    expect(integrity(join(home, kept[0]!))).not.toBe('ok');
    expect((await doctor(home)).healthy).toBe(true);

    // And it is writable again.
    const m2 = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: () => {} });
    const s = await m2.index(folder);
    expect(s.new).toBe(8);
    await m2.close();
    for (const d of [home, folder]) rmSync(d, { recursive: true, force: true });
  });

  it.skipIf(!HAS_SHARED || !CLI_BUILT)(`CLI with real images: index refuses with the doctor hint, doctor exits 1, --repair exits 0 and keeps the rows ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, async () => {
    const home = tempDir();
    const corpus = shared('corpus', 'memes');
    const first = await runColour(['index', corpus, '--json'], { home });
    expect(first.code, first.stderr).toBe(0);
    const db = join(home, 'catalog.db');
    const files = count(db, 'files');
    const embeddings = count(db, 'embeddings');
    // The page of the files_hash index sits in the middle of the file.
    smashPage(db, pagesOf(db, 'files_hash')[0]!.pageno);

    const refused = await runColour(['index', corpus], { home });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/damaged/);
    expect(refused.stderr).toMatch(/hint: .*memery doctor/);

    const check = await runCli(['doctor', '--json'], { home });
    expect(check.code).toBe(1);
    const report = JSON.parse(check.stdout) as { healthy: boolean; checks: Array<{ name: string; status: string }> };
    expect(report.healthy).toBe(false);
    expect(report.checks.find((c) => c.name === 'catalog')!.status).toBe('problem');

    const fix = await runCli(['doctor', '--repair'], { home });
    expect(fix.code, fix.stdout + fix.stderr).toBe(0);
    expect(fix.stdout).toMatch(/repaired\s+catalog/);
    expect(fix.stdout).toMatch(/catalog\.db\.damaged-/);
    expect(integrity(db)).toBe('ok');
    expect(count(db, 'files')).toBe(files);
    expect(count(db, 'embeddings')).toBe(embeddings);

    const again = await runColour(['index', corpus, '--json'], { home });
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout) as { new: number; reembedded: number; unchanged: number };
    expect(summary.new + summary.reembedded).toBe(0); // nothing re-encoded: the rows survived
    expect((await runCli(['doctor'], { home })).code).toBe(0);
    rmSync(home, { recursive: true, force: true });
  });
});

describe.skipIf(!CLI_BUILT)('memery doctor', () => {
  it('finds a damaged vector, a damaged index file and loose permissions; --repair fixes them all', async () => {
    const home = tempDir();
    const folder = tempDir('memery-colours-');
    const colours = await writeColourSet(folder);
    expect((await runColour(['search', folder, 'red', '--json'], { home })).code).toBe(0); // builds the index file
    expect((await runCli(['doctor'], { home })).code).toBe(0);

    const db = join(home, 'catalog.db');
    const d = new Database(db);
    const id = d.prepare('SELECT e.id FROM embeddings e JOIN files f ON f.hash = e.hash WHERE f.path = ?').pluck().get(colours.green) as number;
    d.prepare('UPDATE embeddings SET vector = ? WHERE id = ?').run(Buffer.from(new Float32Array(8).fill(NaN).buffer), id);
    d.close();
    const indexFile = join(home, 'index', readdirSync(join(home, 'index'))[0]!);
    writeFileSync(indexFile, 'garbage');
    chmodSync(home, 0o755);
    chmodSync(db, 0o644);

    const check = await runCli(['doctor'], { home });
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/PROBLEM\s+permissions/);
    expect(check.stdout).toMatch(/PROBLEM\s+vectors/);
    expect(check.stdout).toContain(colours.green);
    expect(check.stdout).toMatch(/PROBLEM\s+index/);
    expect(check.stdout).toMatch(/PROBLEM\s+orphans|ok\s+orphans/);

    const fix = await runCli(['doctor', '--repair', '--json'], { home });
    expect(fix.code, fix.stdout).toBe(0);
    const report = JSON.parse(fix.stdout) as { healthy: boolean; checks: Array<{ name: string; status: string }> };
    expect(report.healthy).toBe(true);
    expect(Object.fromEntries(report.checks.map((c) => [c.name, c.status]))).toMatchObject({ permissions: 'repaired', vectors: 'repaired', index: 'repaired' });
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(statSync(db).mode & 0o777).toBe(0o600);
    expect(existsSync(indexFile)).toBe(true);
    expect((await runCli(['doctor'], { home })).code).toBe(0);

    // The deleted vector is re-encoded by the next index run.
    const idx = await runColour(['index', folder, '--json'], { home });
    expect((JSON.parse(idx.stdout) as { reembedded: number }).reembedded).toBe(1);
    for (const x of [home, folder]) rmSync(x, { recursive: true, force: true });
  });
});
