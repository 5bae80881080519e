import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isMemeryError } from '../errors.js';
import { VectorIndex, type IndexType } from '../native/vector-index.js';
import type { Catalog } from './catalog.js';

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
 */
export class VectorCache {
  #index: VectorIndex | undefined;
  #generation = -1;
  #tombstones = 0;
  health: IndexHealth = 'not-loaded';
  lastProblem: string | undefined;

  constructor(
    private readonly catalog: Catalog,
    private readonly home: string,
    readonly modelId: string,
    readonly type: IndexType,
  ) {}

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

  /** Rebuilds from the catalog and saves. */
  async rebuild(): Promise<VectorIndex | undefined> {
    const generation = this.catalog.generation();
    let index: VectorIndex | undefined;
    for (const chunk of this.catalog.iterateEmbeddings(this.modelId)) {
      index ??= VectorIndex.create(chunk.dim, { type: this.type });
      await index.add(chunk.ids, chunk.vectors);
    }
    this.#index = index;
    this.#tombstones = 0;
    this.#generation = generation;
    if (index) await this.#save(index, generation);
    else this.health = 'empty';
    return index;
  }

  async #save(index: VectorIndex, generation: number): Promise<void> {
    mkdirSync(join(this.home, 'index'), { recursive: true });
    const meta: IndexFileMeta = {
      modelId: this.modelId,
      type: this.type,
      generation,
      count: index.size - this.#tombstones,
      tombstones: this.#tombstones,
    };
    await index.save(this.file, JSON.stringify(meta));
  }

  /**
   * After an index run: apply added/removed embedding ids to the index that was valid at
   * `generationBefore` (in memory or on disk) and save; otherwise leave it for `get()` to rebuild.
   */
  async applyChanges(generationBefore: number, added: number[], removed: number[]): Promise<void> {
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
      const rows = this.catalog.embeddingsById(added, this.modelId);
      if (rows.ids.length) await index.add(rows.ids, rows.vectors);
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
