import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isMemeryError } from '../errors.js';
import { VectorIndex, type IndexType } from '../native/vector-index.js';
import type { Catalog } from './catalog.js';

/** Stored vectors are L2-normalised: one whose norm is further than this from 1 is damaged. */
export const NORM_TOLERANCE = 1e-3;
/** A cosine score beyond 1 + this (or not finite) cannot come from unit vectors. */
export const SCORE_EPSILON = 1e-3;

/** Why a stored vector cannot be used, or undefined for a finite unit vector of `dim` floats. */
export function vectorFault(blob: Uint8Array, declaredDim: number, dim: number): string | undefined {
  if (declaredDim !== dim) return `width ${declaredDim}, expected ${dim}`;
  if (blob.byteLength !== dim * 4) return `${blob.byteLength} bytes, expected ${dim * 4} for ${dim} floats`;
  const v = new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) return `element ${i} is ${x}`;
    n += x * x;
  }
  const norm = Math.sqrt(n);
  if (!(Math.abs(norm - 1) <= NORM_TOLERANCE)) return `norm ${norm.toPrecision(6)}, expected 1`;
  return undefined;
}

/** A stored vector that was found damaged (left out of the index and deleted from the catalog). */
export interface VectorProblem {
  embeddingId: number;
  hash: string | null;
  /** The files with that content. */
  paths: string[];
  reason: string;
  /** Deleted from the catalog (so the next index run re-encodes it); false when the catalog could not be written. */
  deleted: boolean;
  message: string;
}

type Row = { id: number; dim: number; vector: Buffer };

/** A vector just committed to the catalog, with its embedding id. */
export interface AddedVector {
  id: number;
  vector: Float32Array;
}

/** Splits rows into usable (ids + packed vectors) and damaged ones. */
function screen(rows: Row[], dim: number): { ids: number[]; vectors: Float32Array; bad: Array<{ id: number; reason: string }> } {
  const ids: number[] = [];
  const bad: Array<{ id: number; reason: string }> = [];
  const vectors = new Float32Array(rows.length * dim);
  for (const r of rows) {
    const fault = vectorFault(r.vector, r.dim, dim);
    if (fault) {
      bad.push({ id: r.id, reason: fault });
      continue;
    }
    vectors.set(new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength)), ids.length * dim);
    ids.push(r.id);
  }
  return { ids, vectors: vectors.subarray(0, ids.length * dim), bad };
}

interface IndexFileMeta {
  modelId: string;
  type: IndexType;
  generation: number;
  /** Embeddings of the model in the catalog. */
  count: number;
  /** Ids still in an hnsw index whose embeddings are gone (hnsw cannot remove; search skips them). */
  tombstones?: number;
}

/** An hnsw index is rebuilt once removed-but-present vectors pass this share of it. */
const MAX_TOMBSTONE_SHARE = 0.2;

export type IndexHealth = 'ok' | 'rebuilt-missing' | 'rebuilt-stale' | 'rebuilt-damaged' | 'empty' | 'not-loaded';

/**
 * The FAISS index of one model, cached in a file beside the catalog and always consistent with
 * it: a file that is missing, stale (generation or count differ) or damaged (E_INDEX: bad header
 * or checksum) is rebuilt from SQLite, never used.
 *
 * Every vector read from SQLite into the index (a rebuild, or new ids after an index run) is
 * checked: finite, unit length (|norm - 1| <= NORM_TOLERANCE), the model's width. A damaged one is
 * left out, deleted from the catalog (so the next index run re-encodes its file) and reported in
 * `problems` and through `onWarning`. A cache file that loads (checksum, generation, count) is
 * trusted without re-reading SQLite: damage to SQLite after it was written leaves the cached
 * (good) copy in use until the next rebuild, which then catches it. A score no unit vector can
 * give is caught at search time (see Memery.search), which rebuilds from SQLite.
 */
export class VectorCache {
  #index: VectorIndex | undefined;
  #generation = -1;
  #tombstones = 0;
  #saveWarned = false;
  health: IndexHealth = 'not-loaded';
  lastProblem: string | undefined;
  /** Damaged vectors found since this cache was made. */
  readonly problems: VectorProblem[] = [];

  constructor(
    private readonly catalog: Catalog,
    private readonly home: string,
    readonly modelId: string,
    readonly type: IndexType,
    private readonly hooks: { onWarning?: (message: string) => void } = {},
  ) {}

  /** Forgets the index in memory: the next get() loads or rebuilds it. */
  invalidate(): void {
    this.#index = undefined;
    this.#generation = -1;
  }

  /** Leaves damaged vectors out: deletes them from the catalog (when it can be written) and reports them. */
  #quarantine(bad: Array<{ id: number; reason: string }>): { before: number; after: number } | undefined {
    if (!bad.length) return undefined;
    let owners: Array<{ id: number; hash: string; paths: string[] }> = [];
    try {
      owners = this.catalog.embeddingOwners(bad.map((b) => b.id));
    } catch {
      /* reported without paths */
    }
    let generations: { before: number; after: number } | undefined;
    try {
      if (!this.catalog.writeError) generations = this.catalog.deleteEmbeddings(bad.map((b) => b.id));
    } catch {
      generations = undefined;
    }
    for (const b of bad) {
      const o = owners.find((x) => x.id === b.id);
      const paths = o?.paths ?? [];
      const what = paths.length ? paths.join(', ') : `embedding ${b.id}`;
      const message = generations
        ? `damaged vector of ${what} (${b.reason}): left out of the index and deleted; the next \`memery index\` re-encodes it`
        : `damaged vector of ${what} (${b.reason}): left out of the index (the catalog cannot be written now; \`memery doctor --repair\` deletes it)`;
      const p: VectorProblem = { embeddingId: b.id, hash: o?.hash ?? null, paths, reason: b.reason, deleted: generations !== undefined, message };
      this.problems.push(p);
      this.lastProblem = message;
      this.hooks.onWarning?.(message);
    }
    return generations;
  }

  get file(): string {
    return join(this.home, 'index', `${this.modelId}-${this.type}.faiss`);
  }

  /** The index, consistent with the catalog; undefined when the model has no embeddings. */
  async get(): Promise<VectorIndex | undefined> {
    const generation = this.catalog.generation();
    if (this.#index && this.#generation === generation) return this.#index;
    const count = this.catalog.embeddingCount(this.modelId);
    if (count === 0) {
      this.#index = undefined;
      this.health = 'empty';
      return undefined;
    }
    const loaded = await this.#tryLoad(generation, count);
    if (loaded) {
      this.#index = loaded.index;
      this.#tombstones = loaded.tombstones;
      this.#generation = generation;
      this.health = 'ok';
      return loaded.index;
    }
    return this.rebuild();
  }

  async #tryLoad(generation: number, count: number): Promise<{ index: VectorIndex; tombstones: number } | undefined> {
    let r: { index: VectorIndex; meta: string };
    try {
      r = await VectorIndex.load(this.file);
    } catch (err) {
      if (isMemeryError(err, 'E_INDEX') && /damaged/.test((err as Error).message)) {
        this.health = 'rebuilt-damaged';
        this.lastProblem = (err as Error).message;
      } else {
        this.health = 'rebuilt-missing';
        this.lastProblem = `no index file at ${this.file}`;
      }
      return undefined;
    }
    let meta: IndexFileMeta | undefined;
    try {
      meta = JSON.parse(r.meta) as IndexFileMeta;
    } catch {
      meta = undefined;
    }
    const tombstones = meta?.tombstones ?? 0;
    if (
      !meta ||
      meta.modelId !== this.modelId ||
      meta.type !== this.type ||
      meta.generation !== generation ||
      meta.count !== count ||
      r.index.size !== count + tombstones
    ) {
      this.health = 'rebuilt-stale';
      this.lastProblem = `index file ${this.file} is out of date`;
      return undefined;
    }
    return { index: r.index, tombstones };
  }

  /** Rebuilds from the catalog (checking every vector) and saves. */
  async rebuild(): Promise<VectorIndex | undefined> {
    let generation = this.catalog.generation();
    const dim = this.catalog.commonDim(this.modelId);
    let index: VectorIndex | undefined;
    const bad: Array<{ id: number; reason: string }> = [];
    if (dim !== undefined) {
      for (const rows of this.catalog.iterateEmbeddingRows(this.modelId)) {
        const s = screen(rows, dim);
        bad.push(...s.bad);
        if (!s.ids.length) continue;
        index ??= VectorIndex.create(dim, { type: this.type });
        await index.add(s.ids, s.vectors);
      }
    }
    const g = this.#quarantine(bad);
    // Our own deletion moved the generation on; anything else did too, and makes this index stale.
    if (g && g.before === generation) generation = g.after;
    this.#index = index;
    this.#tombstones = 0;
    this.#generation = generation;
    if (index) await this.#save(index, generation);
    else this.health = 'empty';
    return index;
  }

  /**
   * Writes the cache file (mode 0600). A failure (full disk, read-only home) is reported once and
   * otherwise ignored: the index in memory is right, and the file is only a cache.
   */
  async #save(index: VectorIndex, generation: number): Promise<void> {
    const meta: IndexFileMeta = {
      modelId: this.modelId,
      type: this.type,
      generation,
      count: index.size - this.#tombstones,
      tombstones: this.#tombstones,
    };
    try {
      mkdirSync(join(this.home, 'index'), { recursive: true, mode: 0o700 });
      await index.save(this.file, JSON.stringify(meta));
      chmodSync(this.file, 0o600);
    } catch (err) {
      this.lastProblem = `cannot save the index file ${this.file}: ${(err as Error).message}`;
      if (!this.#saveWarned) {
        this.#saveWarned = true;
        this.hooks.onWarning?.(`${this.lastProblem} (searching with the index in memory)`);
      }
    }
  }

  /**
   * After an index run: apply added/removed embedding ids to the index that was valid at
   * `generationBefore` (in memory or on disk) and save; otherwise leave it for `get()` to rebuild.
   * An added entry with its vector (the indexer has it in memory) is not read back from SQLite; it
   * is checked the same way.
   */
  async applyChanges(generationBefore: number, addedEntries: Array<number | AddedVector>, removed: number[]): Promise<void> {
    const added = addedEntries.map((a) => (typeof a === 'number' ? a : a.id));
    if (!added.length && !removed.length) return;
    if (!this.#index || this.#generation !== generationBefore) {
      this.#index = undefined;
      const before = this.catalog.embeddingCount(this.modelId) - added.length + removed.length;
      if (before > 0) {
        const loaded = await this.#tryLoad(generationBefore, before).catch(() => undefined);
        if (loaded) {
          this.#index = loaded.index;
          this.#tombstones = loaded.tombstones;
          this.#generation = generationBefore;
        }
      }
    }
    const index = this.#index;
    if (!index) return;
    if (removed.length) {
      if (this.type === 'hnsw') {
        // hnsw cannot remove: leave the vectors as tombstones (search drops ids with no file)
        // until they are a fifth of the index, then rebuild.
        this.#tombstones += removed.length;
        if (this.#tombstones > MAX_TOMBSTONE_SHARE * (index.size + added.length)) {
          this.#index = undefined;
          return;
        }
      } else {
        await index.remove(removed);
      }
    }
    if (added.length) {
      const inMemory: Row[] = [];
      const toRead: number[] = [];
      for (const a of addedEntries) {
        if (typeof a === 'number') toRead.push(a);
        else inMemory.push({ id: a.id, dim: a.vector.length, vector: Buffer.from(a.vector.buffer, a.vector.byteOffset, a.vector.byteLength) });
      }
      const rows = toRead.length ? [...inMemory, ...this.catalog.embeddingRowsById(toRead, this.modelId)] : inMemory;
      const s = screen(rows, index.dim);
      if (s.ids.length) await index.add(s.ids, s.vectors);
      this.#quarantine(s.bad);
    }
    const generation = this.catalog.generation();
    if (index.size - this.#tombstones !== this.catalog.embeddingCount(this.modelId)) {
      this.#index = undefined; // something else changed meanwhile: rebuild on next use
      return;
    }
    this.#generation = generation;
    this.health = 'ok';
    await this.#save(index, generation);
  }

  close(): void {
    this.#index = undefined;
  }
}
