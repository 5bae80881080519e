/**
 * The FAISS cache checks every vector it reads from SQLite: a damaged embedding (a flipped byte,
 * NaN, the wrong width) is never ranked, is deleted so the next index run re-encodes its file, and
 * is reported with the file's path.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Catalog, type FileRecord } from '../ts/catalog/catalog.js';
import { VectorCache, vectorFault } from '../ts/catalog/vector-cache.js';
import { VectorIndex } from '../ts/native/vector-index.js';
import { Memery } from '../ts/index.js';
import { tempDir, writeColourSet } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';
import { HAS_SHARED, SHARED_SKIP_REASON, shared } from './helpers/shared.js';

const DIM = 8;
const unit = (i: number): Float32Array => {
  const v = new Float32Array(DIM);
  v[i] = 1;
  return v;
};
const fileRec = (path: string, hash: string): FileRecord => ({ path, size: 1, mtimeMs: 1, hash, width: 1, height: 1, status: 'ok' });
const norm = (b: Buffer): number => {
  const v = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
};

/** Flips one bit of the exponent of one element so that `q . v` lands between 1.5 and 1000. */
function damage(blob: Buffer, q: Float32Array): Buffer {
  const v = new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
  for (let i = 0; i < v.length; i++) {
    for (const [byte, bit] of [[3, 0x01], [3, 0x02], [3, 0x04], [3, 0x08], [2, 0x80]] as const) {
      const b = Buffer.from(blob);
      b[i * 4 + byte]! ^= bit;
      const w = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      const score = w.reduce((s, x, j) => s + x * q[j]!, 0);
      if (Number.isFinite(score) && score > 1.5 && score < 1000) return b;
    }
  }
  throw new Error('no single-bit flip raises this score above 1.5');
}

describe('vectorFault', () => {
  it('accepts unit vectors and names what is wrong with the rest', () => {
    const b = (v: Float32Array): Uint8Array => new Uint8Array(v.buffer);
    expect(vectorFault(b(unit(2)), DIM, DIM)).toBeUndefined();
    expect(vectorFault(b(unit(2).map((x) => x * 5.12)), DIM, DIM)).toMatch(/norm 5\.12/);
    expect(vectorFault(b(unit(2).map((x, i) => (i === 3 ? NaN : x))), DIM, DIM)).toMatch(/element 3 is NaN/);
    expect(vectorFault(b(new Float32Array(4).fill(0.5)), 4, DIM)).toMatch(/width 4, expected 8/);
    expect(vectorFault(b(new Float32Array(4).fill(0.5)), DIM, DIM)).toMatch(/16 bytes, expected 32/);
  });
});

describe('VectorCache checks the vectors it reads from SQLite', () => {
  it('applyChanges leaves damaged new vectors out, deletes and reports them', async () => {
    const home = tempDir();
    const cat = Catalog.open(join(home, 'catalog.db'));
    const warnings: string[] = [];
    const cache = new VectorCache(cat, home, 'm', 'flat', { onWarning: (w) => warnings.push(w) });
    cat.commit(
      [
        { hash: 'a', modelId: 'm', vector: unit(0) },
        { hash: 'b', modelId: 'm', vector: unit(1) },
      ],
      [fileRec('/x/a.png', 'a'), fileRec('/x/b.png', 'b')],
    );
    expect((await cache.get())!.size).toBe(2);
    const before = cat.generation();
    const ids = cat.commit(
      [
        { hash: 'c', modelId: 'm', vector: unit(2) },
        { hash: 'big', modelId: 'm', vector: unit(0).map((x) => x * 5.12) },
        { hash: 'nan', modelId: 'm', vector: unit(0).map((x, i) => (i === 1 ? NaN : x)) },
        { hash: 'short', modelId: 'm', vector: new Float32Array([0.5, 0.5, 0.5, 0.5]) },
      ],
      [fileRec('/x/c.png', 'c'), fileRec('/x/big.png', 'big'), fileRec('/x/nan.png', 'nan'), fileRec('/x/short.png', 'short')],
    );
    await cache.applyChanges(before, ids, []);
    const index = (await cache.get())!;
    expect(index.size).toBe(3);
    const [hits] = await index.search(unit(0), 3);
    expect(hits!.scores[0]).toBeCloseTo(1, 5);
    expect(Math.max(...hits!.scores)).toBeLessThanOrEqual(1 + 1e-3);
    expect(cache.problems.map((p) => p.paths[0]).sort()).toEqual(['/x/big.png', '/x/nan.png', '/x/short.png']);
    expect(cache.problems.every((p) => p.deleted)).toBe(true);
    expect(warnings.join('\n')).toMatch(/damaged vector of \/x\/big\.png \(norm 5\.12/);
    // Deleted: the indexer sees content without a vector and encodes it again.
    for (const h of ['big', 'nan', 'short']) expect(cat.hasEmbedding(h, 'm')).toBe(false);
    expect(cat.hasEmbedding('c', 'm')).toBe(true);
    // The saved cache agrees with the catalog: a fresh cache loads it without a rebuild.
    const again = new VectorCache(cat, home, 'm', 'flat');
    expect((await again.get())!.size).toBe(3);
    expect(again.health).toBe('ok');
    cat.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('a cache file holding a damaged vector is caught by its impossible score and rebuilt from SQLite', async () => {
    const home = tempDir();
    const dir = tempDir('memery-colours-');
    const colours = await writeColourSet(dir);
    let m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: () => {} });
    await m.index(dir);
    const good = await m.search('red', { n: 8 });
    const modelId = (await m.model()).id;
    const q = await m.embedQuery('red');
    await m.close();
    // A cache file that matches the catalog (generation, count) but whose vectors are scaled x5.
    const db = new Database(join(home, 'catalog.db'));
    const generation = Number(db.prepare("SELECT value FROM meta WHERE key = 'generation'").pluck().get());
    const rows = db.prepare('SELECT id, vector FROM embeddings ORDER BY id').all() as Array<{ id: number; vector: Buffer }>;
    db.close();
    const bad = VectorIndex.create(q.length, { type: 'flat' });
    const vecs = new Float32Array(rows.length * q.length);
    rows.forEach((r, i) => vecs.set(new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength)).map((x) => x * 5), i * q.length));
    await bad.add(rows.map((r) => r.id), vecs);
    const file = join(home, 'index', `${modelId}-flat.faiss`);
    await bad.save(file, JSON.stringify({ modelId, type: 'flat', generation, count: rows.length, tombstones: 0 }));

    const warnings: string[] = [];
    m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: (w) => warnings.push(w) });
    const after = await m.search('red', { n: 8 });
    await m.close();
    expect(after.every((r) => r.score <= 1 + 1e-3)).toBe(true);
    expect(after.map((r) => r.path)).toEqual(good.map((r) => r.path));
    expect(after[0]!.path).toBe(colours.red);
    expect(warnings.join('\n')).toMatch(/impossible score/);
    for (const d of [home, dir]) rmSync(d, { recursive: true, force: true });
  });
});

describe.skipIf(!HAS_SHARED)(`a damaged embedding in the catalog ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  it('a flipped byte: never ranked above 1, reported by path, deleted, re-encoded by the next index run', async () => {
    const corpus = shared('corpus', 'memes');
    const home = tempDir();
    let m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: () => {} });
    await m.index(corpus);
    const q = await m.embedQuery('red');
    const before = await m.search('red', { n: 1000 });
    await m.close();

    // The top image's hash is unique, so exactly one file needs re-encoding.
    const db = new Database(join(home, 'catalog.db'));
    const victim = before.find(
      (r) => (db.prepare('SELECT COUNT(*) FROM files WHERE hash = (SELECT hash FROM files WHERE path = ?)').pluck().get(r.path) as number) === 1,
    )!;
    const row = db
      .prepare('SELECT e.id, e.hash, e.vector FROM embeddings e JOIN files f ON f.hash = e.hash WHERE f.path = ?')
      .get(victim.path) as { id: number; hash: string; vector: Buffer };
    const original = Buffer.from(row.vector);
    db.prepare('UPDATE embeddings SET vector = ? WHERE id = ?').run(damage(row.vector, q), row.id);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok'); // SQLite cannot tell
    db.close();
    for (const f of readdirSync(join(home, 'index'))) rmSync(join(home, 'index', f)); // rebuilt on the next search

    const warnings: string[] = [];
    m = await Memery.open({ home, modelDir: COLOUR_HF }, { onWarning: (w) => warnings.push(w) });
    const after = await m.search('red', { n: 1000 });
    expect(after.length).toBeGreaterThan(0);
    expect(Math.max(...after.map((r) => r.score))).toBeLessThanOrEqual(1 + 1e-3);
    expect(after.map((r) => r.path)).not.toContain(victim.path);
    expect(warnings.join('\n')).toContain(victim.path);
    const status = await m.status();
    expect(status.index.problems!.map((p) => p.paths).flat()).toContain(victim.path);

    const summary = await m.index(corpus);
    expect(summary.reembedded).toBe(1);
    expect(summary.new).toBe(0);
    const fixed = await m.search('red', { n: 1000 });
    expect(fixed.map((r) => r.path)).toContain(victim.path);
    expect(Math.max(...fixed.map((r) => r.score))).toBeLessThanOrEqual(1 + 1e-3);
    await m.close();
    const db2 = new Database(join(home, 'catalog.db'), { readonly: true });
    const v = db2.prepare('SELECT vector FROM embeddings WHERE hash = ?').pluck().get(row.hash) as Buffer;
    db2.close();
    expect(norm(v)).toBeCloseTo(1, 4);
    expect(v.equals(original)).toBe(true);
    rmSync(home, { recursive: true, force: true });
  });
});
