// The FAISS vector index against brute force, its file format (round trip and every kind of
// damage), and its argument checks.
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemeryError } from '../ts/errors.js';
import { VectorIndex, type IndexType, type SearchHits } from '../ts/native/index.js';
import { tempDir } from './helpers/images.js';

const DIM = 64;
const N = 10_000;
const NQ = 20;
const K = 10;

/** Deterministic PRNG (mulberry32) and Gaussian vectors, L2-normalised. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function randomUnitVectors(n: number, dim: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const g = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
      out[i * dim + j] = g;
      s += g * g;
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) out[i * dim + j]! *= inv;
  }
  return out;
}

const db = randomUnitVectors(N, DIM, 1);
const queries = randomUnitVectors(NQ, DIM, 2);
// ids are not 0..N-1: sparse, large (beyond 2^32) and in no particular order
const ids = Array.from({ length: N }, (_, i) => 5_000_000_000 + ((i * 7919) % N) * 3);

function bruteForce(q: number, k: number, exclude = new Set<number>()): SearchHits {
  const scored: Array<[number, number]> = [];
  for (let i = 0; i < N; i++) {
    if (exclude.has(ids[i]!)) continue;
    let s = 0;
    for (let j = 0; j < DIM; j++) s += queries[q * DIM + j]! * db[i * DIM + j]!;
    scored.push([ids[i]!, s]);
  }
  scored.sort((a, b) => b[1] - a[1]);
  const top = scored.slice(0, k);
  return { ids: top.map((t) => t[0]), scores: top.map((t) => t[1]) };
}
const truth = Array.from({ length: NQ }, (_, q) => bruteForce(q, K));

let hnsw: Promise<VectorIndex> | undefined;
/** The HNSW graph takes seconds to build on two cores: built once, shared by the tests that only read it. */
function sharedHnsw(): Promise<VectorIndex> {
  return (hnsw ??= build('hnsw'));
}

async function build(type: IndexType): Promise<VectorIndex> {
  const index = VectorIndex.create(DIM, { type });
  // two adds, to check that they append
  await index.add(ids.slice(0, 4000), db.subarray(0, 4000 * DIM));
  await index.add(ids.slice(4000), db.subarray(4000 * DIM));
  expect(index.size).toBe(N);
  expect(index.dim).toBe(DIM);
  expect(index.type).toBe(type);
  return index;
}

/** The same 64-bit checksum as native/vector_index.cc (to forge a file with a valid envelope). */
function checksum(p: Uint8Array, seed = 0x9e3779b97f4a7c15n): bigint {
  const M = (1n << 64n) - 1n;
  let h = seed;
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let i = 0;
  for (; i + 8 <= p.length; i += 8) {
    const w = view.getBigUint64(i, true);
    h ^= (w * 0xff51afd7ed558ccdn) & M;
    h = ((((h << 27n) | (h >> 37n)) & M) * 0xc4ceb9fe1a85ec53n) & M;
  }
  for (; i < p.length; i++) h = ((h ^ BigInt(p[i]!)) * 0x100000001b3n) & M;
  h ^= BigInt(p.length);
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & M;
  h ^= h >> 33n;
  return h;
}

/** Splits a saved index file into its parts (layout in native/vector_index.cc). */
function parseFile(buf: Buffer): { type: string; meta: Buffer; payload: Buffer } {
  expect(buf.subarray(0, 8).toString('latin1')).toBe('MEMERYIX');
  const typeLen = buf.readUInt32LE(12);
  const metaLen = buf.readUInt32LE(16);
  let pos = 20;
  const type = buf.subarray(pos, pos + typeLen).toString();
  pos += typeLen;
  const meta = buf.subarray(pos, pos + metaLen);
  pos += metaLen;
  const payloadLen = Number(buf.readBigUInt64LE(pos));
  pos += 8;
  const payload = buf.subarray(pos, pos + payloadLen);
  expect(pos + payloadLen + 8).toBe(buf.length);
  expect(buf.readBigUInt64LE(pos + payloadLen)).toBe(checksum(payload, checksum(meta)));
  return { type, meta, payload };
}
function makeFile(type: string, meta: Buffer, payload: Buffer): Buffer {
  const head = Buffer.alloc(20);
  head.write('MEMERYIX', 0, 'latin1');
  head.writeUInt32LE(1, 8);
  head.writeUInt32LE(Buffer.byteLength(type), 12);
  head.writeUInt32LE(meta.length, 16);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(payload.length));
  const sum = Buffer.alloc(8);
  sum.writeBigUInt64LE(checksum(payload, checksum(meta)));
  return Buffer.concat([head, Buffer.from(type), meta, len, payload, sum]);
}

async function expectIndexError(path: string, pattern: RegExp): Promise<void> {
  const e = await VectorIndex.load(path).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, path).toBeInstanceOf(MemeryError);
  expect(e).toMatchObject({ code: 'E_INDEX', path });
  expect((e as Error).message).toMatch(pattern);
}

let dir: string;
let flat: VectorIndex;
beforeAll(async () => {
  dir = tempDir('memery-index-');
  flat = await build('flat');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('search quality', () => {
  it("'flat' top-10 is exactly the brute-force top-10", async () => {
    const hits = await flat.search(queries, K);
    expect(hits).toHaveLength(NQ);
    hits.forEach((h, q) => {
      expect(h.ids).toEqual(truth[q]!.ids);
      h.scores.forEach((s, j) => expect(Math.abs(s - truth[q]!.scores[j]!)).toBeLessThan(1e-4));
      // best first
      for (let j = 1; j < h.scores.length; j++) expect(h.scores[j]!).toBeLessThanOrEqual(h.scores[j - 1]!);
    });
  });

  it("'flat-fp16' top-1 matches brute force for most queries, scores within fp16 rounding", async () => {
    const index = await build('flat-fp16');
    const hits = await index.search(queries, K);
    let same = 0;
    hits.forEach((h, q) => {
      if (h.ids[0] === truth[q]!.ids[0]) same++;
      expect(Math.abs(h.scores[0]! - truth[q]!.scores[0]!)).toBeLessThan(5e-3);
    });
    console.log(`flat-fp16: top-1 equal to brute force for ${same}/${NQ} queries`);
    expect(same).toBeGreaterThanOrEqual(NQ - 2);
  });

  it("'hnsw' recall@10 > 0.9", async () => {
    const index = await sharedHnsw();
    const recall = async () => {
      const hits = await index.search(queries, K);
      let found = 0;
      hits.forEach((h, q) => (found += h.ids.filter((id) => truth[q]!.ids.includes(id)).length));
      return found / (NQ * K);
    };
    const def = await recall();
    index.setSearchParams({ efSearch: 8 });
    const narrow = await recall();
    index.setSearchParams({ efSearch: 256 });
    const wide = await recall();
    console.log(`hnsw recall@10: ${def.toFixed(3)} (default efSearch), ${narrow.toFixed(3)} (efSearch 8), ${wide.toFixed(3)} (efSearch 256)`);
    expect(def).toBeGreaterThan(0.9);
    // setSearchParams reaches the graph search
    expect(narrow).toBeLessThan(def);
    expect(wide).toBeGreaterThanOrEqual(def);
    // removal is not supported: E_INDEX, and the index is unchanged
    const e = await index.remove([ids[0]!]).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(MemeryError);
    expect(e).toMatchObject({ code: 'E_INDEX' });
    expect((e as Error).message).toMatch(/Cannot remove from a 'hnsw' index/);
    expect(index.size).toBe(N);
  });

  it('k larger than the index returns what there is; k = 0 returns nothing', async () => {
    const small = VectorIndex.create(DIM);
    await small.add([7, 8, 9], db.subarray(0, 3 * DIM));
    const h = await small.search(queries.subarray(0, DIM), 50);
    expect(h[0]!.ids.sort()).toEqual([7, 8, 9]);
    const z = await small.search(queries.subarray(0, 2 * DIM), 0);
    expect(z).toEqual([
      { ids: [], scores: [] },
      { ids: [], scores: [] },
    ]);
    const empty = VectorIndex.create(DIM);
    expect(await empty.search(queries.subarray(0, DIM), 5)).toEqual([{ ids: [], scores: [] }]);
  });
});

describe('remove', () => {
  it.each(['flat', 'flat-fp16'] as const)("'%s': removed ids disappear from the results", async (type) => {
    const index = type === 'flat' ? await build('flat') : await build('flat-fp16');
    // remove each query's current top-3 and one id that is not there
    const gone = new Set(truth.flatMap((t) => t.ids.slice(0, 3)));
    const removed = await index.remove([...gone, 42]);
    expect(removed).toBe(gone.size);
    expect(index.size).toBe(N - gone.size);
    const hits = await index.search(queries, K);
    hits.forEach((h, q) => {
      for (const id of h.ids) expect(gone.has(id)).toBe(false);
      if (type === 'flat') expect(h.ids).toEqual(bruteForce(q, K, gone).ids);
    });
    // removing again removes nothing
    expect(await index.remove([...gone])).toBe(0);
  });
});

describe('save and load', () => {
  it.each(['flat', 'flat-fp16', 'hnsw'] as const)("'%s' round trip gives identical results and the meta string back", async (type) => {
    const index = type === 'flat' ? flat : type === 'hnsw' ? await sharedHnsw() : await build(type);
    const path = join(dir, `${type}.idx`);
    const meta = JSON.stringify({ model: 'colour-hf', note: 'ünïcödé ✓', n: N });
    await index.save(path, meta);
    const loaded = await VectorIndex.load(path);
    expect(loaded.meta).toBe(meta);
    expect(loaded.index.type).toBe(type);
    expect(loaded.index.dim).toBe(DIM);
    expect(loaded.index.size).toBe(N);
    expect(await loaded.index.search(queries, K)).toEqual(await index.search(queries, K));
    // The loaded index is live: it takes adds and (flat) removes.
    await loaded.index.add([1], queries.subarray(0, DIM));
    const top = await loaded.index.search(queries.subarray(0, DIM), 1);
    expect(top[0]!.ids).toEqual([1]);
    expect(top[0]!.scores[0]).toBeCloseTo(1, 2);
  });

  it('saving over an existing file replaces it atomically and leaves no temp file', async () => {
    const path = join(dir, 'replace.idx');
    const a = VectorIndex.create(DIM);
    await a.add([1, 2], db.subarray(0, 2 * DIM));
    await a.save(path, 'first');
    await a.add([3], db.subarray(2 * DIM, 3 * DIM));
    await a.save(path, 'second');
    const l = await VectorIndex.load(path);
    expect(l.meta).toBe('second');
    expect(l.index.size).toBe(3);
    expect(() => readFileSync(`${path}.tmp`)).toThrow();
  });

  describe('damaged files are E_INDEX, never a crash', () => {
    let good: Buffer;
    beforeAll(async () => {
      const path = join(dir, 'good.idx');
      await flat.save(path, 'meta');
      good = readFileSync(path);
    });

    it('a truncated file', async () => {
      for (const keep of [good.length - 1, Math.floor(good.length / 2), 30, 10]) {
        const p = join(dir, `truncated-${keep}.idx`);
        writeFileSync(p, good);
        truncateSync(p, keep);
        await expectIndexError(p, /is damaged: truncated/);
      }
    });

    it('a flipped byte in the payload, the meta or the checksum', async () => {
      // layout: magic(8) version(4) typeLen(4) metaLen(4) type('flat') meta('meta') payloadLen(8) payload sum(8)
      const metaAt = 20 + 'flat'.length + 1;
      for (const at of [Math.floor(good.length / 2), good.length - 100, 40, metaAt, good.length - 1]) {
        const bad = Buffer.from(good);
        bad[at]! ^= 0x10;
        const p = join(dir, `flipped-${at}.idx`);
        writeFileSync(p, bad);
        await expectIndexError(p, /checksum mismatch/);
      }
    });

    it('a zero-byte file, a file that is not an index, a missing file and a folder', async () => {
      const zero = join(dir, 'zero.idx');
      writeFileSync(zero, '');
      await expectIndexError(zero, /truncated \(0 bytes\)/);
      const text = join(dir, 'text.idx');
      writeFileSync(text, 'This is not an index file, just some text that is long enough.\n'.repeat(5));
      await expectIndexError(text, /not a memery index file/);
      const raw = join(dir, 'raw-faiss.idx');
      writeFileSync(raw, parseFile(good).payload);
      await expectIndexError(raw, /not a memery index file/);
      await expectIndexError(join(dir, 'missing.idx'), /Cannot open index file .*missing\.idx/);
      await expectIndexError(dir, /Cannot read index file .*: not a regular file/);
    });

    it('an unknown version, trailing bytes and lengths that point past the end', async () => {
      const v2 = Buffer.from(good);
      v2.writeUInt32LE(2, 8);
      writeFileSync(join(dir, 'v2.idx'), v2);
      await expectIndexError(join(dir, 'v2.idx'), /unsupported version 2/);
      writeFileSync(join(dir, 'trailing.idx'), Buffer.concat([good, Buffer.from([0])]));
      await expectIndexError(join(dir, 'trailing.idx'), /trailing bytes|checksum mismatch/);
      const huge = Buffer.from(good);
      huge.writeUInt32LE(0xffffffff, 16); // meta length
      writeFileSync(join(dir, 'huge-meta.idx'), huge);
      await expectIndexError(join(dir, 'huge-meta.idx'), /truncated/);
      const { type, meta, payload } = parseFile(good);
      const long = makeFile(type, meta, payload);
      long.writeBigUInt64LE(0xffffffffffffff00n, 20 + type.length + meta.length);
      writeFileSync(join(dir, 'huge-payload.idx'), long);
      await expectIndexError(join(dir, 'huge-payload.idx'), /truncated payload/);
    });

    it('a damaged FAISS payload inside a valid envelope (checksum recomputed)', async () => {
      const { type, meta, payload } = parseFile(good);
      // the envelope helpers agree with the native writer
      expect(makeFile(type, meta, payload).equals(good)).toBe(true);
      const cases: Record<string, Buffer> = {
        'cut-payload': payload.subarray(0, Math.floor(payload.length / 2)),
        'tiny-payload': payload.subarray(0, 3),
        'unknown-fourcc': Buffer.concat([Buffer.from('XXXX'), payload.subarray(4)]),
        'empty-payload': Buffer.alloc(0),
      };
      for (const [name, p] of Object.entries(cases)) {
        const path = join(dir, `${name}.idx`);
        writeFileSync(path, makeFile(type, meta, p));
        await expectIndexError(path, /is damaged/);
      }
    });
  });
});

describe('bad arguments', () => {
  it('k < 0, wrong vector lengths and mismatched ids are E_USAGE naming what was expected', async () => {
    const neg = await flat.search(queries.subarray(0, DIM), -1).catch((e: unknown) => e);
    expect(neg).toBeInstanceOf(MemeryError);
    expect(neg).toMatchObject({ code: 'E_USAGE', message: 'Expected k >= 0 but received -1' });
    const short = await flat.search(new Float32Array(DIM - 1), 5).catch((e: unknown) => e);
    expect(short).toMatchObject({ code: 'E_USAGE', message: `Expected a multiple of ${DIM} floats for queries` });
    const add = await flat.add([1, 2], new Float32Array(DIM + 1)).catch((e: unknown) => e);
    expect(add).toMatchObject({ code: 'E_USAGE', message: `Expected a multiple of ${DIM} floats for vectors` });
    const count = await flat.add([1, 2, 3], new Float32Array(2 * DIM)).catch((e: unknown) => e);
    expect(count).toMatchObject({ code: 'E_USAGE', message: 'Expected 3 vectors for 3 ids but received 2' });
    expect(flat.size).toBe(N);
  });

  it('a bad dimension or type is refused', () => {
    expect(() => VectorIndex.create(0)).toThrow(/Expected an integer dimension between 1 and 65536 but received 0/);
    expect(() => VectorIndex.create(DIM, { type: 'ivf' as 'flat' })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});

describe('search within a selection of ids (the folder filter, inside FAISS)', () => {
  const pick = (every: number): number[] => ids.filter((_, i) => i % every === 0);
  /** Brute force over the selected ids only. */
  const within = (q: number, sel: number[]): SearchHits => {
    const keep = new Set(sel);
    return bruteForce(q, K, new Set(ids.filter((id) => !keep.has(id))));
  };

  it.each(['flat', 'flat-fp16', 'hnsw'] as const)('%s: only selected ids, ranked as brute force ranks them', async (type) => {
    const index = type === 'hnsw' ? await sharedHnsw() : await build(type);
    for (const sel of [pick(7), pick(1).filter((_, i) => i % 10 !== 3)]) {
      const keep = new Set(sel);
      const hits = await index.search(queries, K, { within: sel });
      let found = 0;
      hits.forEach((h, q) => {
        expect(h.ids.every((id) => keep.has(id))).toBe(true);
        const want = within(q, sel);
        found += h.ids.filter((id) => want.ids.includes(id)).length;
        if (type !== 'hnsw') {
          expect(h.ids).toEqual(want.ids);
          h.scores.forEach((s, i) => expect(s).toBeCloseTo(want.scores[i]!, type === 'flat' ? 5 : 2));
        }
      });
      // hnsw: a small selection is ranked exactly; most of the index through the graph
      expect(found / (NQ * K)).toBeGreaterThanOrEqual(type === 'hnsw' && sel.length > 4096 ? 0.9 : 1);
    }
  });

  it('a selection of fewer ids than k gives those ids only; unknown ids are ignored; an empty one gives nothing', async () => {
    const index = await build('flat');
    const [few] = await index.search(queries.subarray(0, DIM), K, { within: [ids[5]!, ids[9]!, 12345] });
    expect([...few!.ids].sort()).toEqual([ids[5]!, ids[9]!].sort());
    const [none] = await index.search(queries.subarray(0, DIM), K, { within: [] });
    expect(none!.ids).toEqual([]);
    const [all] = await index.search(queries.subarray(0, DIM), K, { within: ids });
    expect(all!.ids).toEqual(truth[0]!.ids);
    await expect(index.search(queries.subarray(0, DIM), K, { within: [-1] })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
