import { z } from 'zod';
import { loadBinding } from './binding.js';
import { MemeryError } from '../errors.js';
import { fromNative, native } from './native-error.js';
import type { NativeVectorIndex } from './types.js';
import { parseOptions } from './validate.js';
import { IndexTypeSchema, type IndexType } from '@memery/client/schemas';

/** The index kinds are part of the status the server sends: defined with the wire's schemas. */
export { IndexTypeSchema, type IndexType };

const CreateSchema = z.object({
  type: IndexTypeSchema.default('flat'),
  /** HNSW graph degree. */
  hnswM: z.number().int().min(4).max(128).default(32),
});

function checkIds(ids: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(ids);
  for (const id of out) {
    if (!Number.isSafeInteger(id) || id < 0) throw new MemeryError('E_USAGE', `Expected non-negative integer ids but received ${id}`);
  }
  return out;
}

export interface SearchHits {
  ids: number[];
  scores: number[];
}

/**
 * FAISS inner-product index over L2-normalised vectors with integer ids. Exact (`flat`) by
 * default; `hnsw` is approximate for very large catalogs. Files carry a header and checksum: a
 * damaged file is an `E_INDEX` error, never a wrong answer.
 */
export class VectorIndex {
  readonly #native: NativeVectorIndex;
  private constructor(n: NativeVectorIndex) {
    this.#native = n;
  }

  static create(dim: number, options: z.input<typeof CreateSchema> = {}): VectorIndex {
    const o = parseOptions(CreateSchema, options, 'index options');
    if (!Number.isInteger(dim) || dim < 1 || dim > 65536) {
      throw new MemeryError('E_USAGE', `Expected an integer dimension between 1 and 65536 but received ${dim}`);
    }
    try {
      return new VectorIndex(new (loadBinding().VectorIndex)(dim, o));
    } catch (err) {
      throw fromNative(err);
    }
  }

  static async load(path: string): Promise<{ index: VectorIndex; meta: string }> {
    const r = await native(() => loadBinding().VectorIndex.load(path));
    return { index: new VectorIndex(r.index), meta: r.meta };
  }

  get size(): number {
    return this.#native.size();
  }
  get dim(): number {
    return this.#native.dim();
  }
  get type(): IndexType {
    return this.#native.type() as IndexType;
  }

  async add(ids: ArrayLike<number>, vectors: Float32Array): Promise<void> {
    await native(() => this.#native.add(checkIds(ids), vectors));
  }

  async remove(ids: ArrayLike<number>): Promise<number> {
    return native(() => this.#native.remove(checkIds(ids)));
  }

  /**
   * Top-k for each query row; scores are inner products (cosine for normalised vectors). With
   * `within`, only those ids are ranked (inside FAISS: no other id is a candidate).
   */
  async search(queries: Float32Array, k: number, options: { within?: ArrayLike<number> } = {}): Promise<SearchHits[]> {
    const within = options.within === undefined ? undefined : checkIds(options.within);
    const r = await native(() => this.#native.search(queries, k, within));
    const nq = queries.length / this.dim;
    const out: SearchHits[] = [];
    for (let q = 0; q < nq; q++) {
      const hits: SearchHits = { ids: [], scores: [] };
      for (let j = 0; j < r.k; j++) {
        const id = r.ids[q * r.k + j]!;
        if (id < 0) continue;
        hits.ids.push(id);
        hits.scores.push(r.scores[q * r.k + j]!);
      }
      out.push(hits);
    }
    return out;
  }

  setSearchParams(p: { efSearch?: number }): void {
    this.#native.setSearchParams(p);
  }

  async save(path: string, meta = ''): Promise<void> {
    await native(() => this.#native.save(path, meta));
  }
}
