import { join, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { Catalog, catalogError, folderPrefix } from '../catalog/catalog.js';
import { assertFolder, indexFolder, type IndexRunOptions } from '../catalog/indexer.js';
import { acquireLock } from '../catalog/lock.js';
import { SCORE_EPSILON, VectorCache, vectorFault } from '../catalog/vector-cache.js';
import { ensurePrivateHome } from '../config/home.js';
import { defaultHome, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { MemeryError } from '../errors.js';
import type { ModelLayout } from '../models/layout.js';
import type { DownloadProgressEvent } from '../models/download.js';
import { ImageEncoder } from '../native/image-encoder.js';
import { thumbnail, type Thumbnail } from '../native/image-ops.js';
import { TextEncoder } from '../native/text-encoder.js';
import { parseOptions } from '../native/validate.js';
import { ClipTokenizer } from '../tokenizer/index.js';
import { resolveModel } from './model-resolver.js';
import { combine, parseQuery } from './query.js';
import {
  MemeryOptionsSchema,
  SearchOptionsSchema,
  type IndexSummary,
  type MemeryOptions,
  type SearchOptions,
  type SearchQuery,
  type SearchResult,
  type Status,
} from './schemas.js';

export interface OpenExtras {
  /** Called while a registry model downloads (first use). */
  onDownloadProgress?: (e: DownloadProgressEvent) => void;
  /**
   * This process answers a query or two and exits (the CLI): load the text model without
   * pre-packing its weights, ~150 ms faster to load, ~14 ms slower per query. Keep it off for
   * anything that stays up.
   */
  oneShot?: boolean;
  /**
   * Something the user should know that did not stop the work: permissions of the home tightened,
   * damaged vectors left out, the index file not saved. Default: process.emitWarning.
   */
  onWarning?: (message: string) => void;
}

const defaultWarning = (message: string): void => {
  process.emitWarning(message, 'MemeryWarning');
};

/**
 * The memery library: one catalog (SQLite under `home`), one model, loaded lazily: a text search
 * never loads the vision model, indexing never loads the text model.
 */
export class Memery {
  readonly home: string;
  readonly config: Config;
  readonly #catalog: Catalog;
  readonly #extras: OpenExtras;
  #layout: Promise<ModelLayout> | undefined;
  #tokenizer: Promise<ClipTokenizer> | undefined;
  #text: Promise<TextEncoder> | undefined;
  #image: Promise<ImageEncoder> | undefined;
  #cache: VectorCache | undefined;
  #closed = false;

  private constructor(home: string, config: Config, catalog: Catalog, extras: OpenExtras) {
    this.home = home;
    this.config = config;
    this.#catalog = catalog;
    this.#extras = extras;
  }

  static async open(options: MemeryOptions = {}, extras: OpenExtras = {}): Promise<Memery> {
    const o = parseOptions(MemeryOptionsSchema, options, 'Memery.open options');
    const home = resolve(o.home ?? defaultHome());
    const { home: _h, ...overrides } = o;
    const warn = extras.onWarning ?? defaultWarning;
    // Private before anything is written into it (the catalog lists every indexed path).
    for (const w of ensurePrivateHome(home)) warn(w);
    const config = loadConfig(home, overrides);
    const catalog = Catalog.open(join(home, 'catalog.db'));
    return new Memery(home, config, catalog, { ...extras, onWarning: warn });
  }

  /** The model in use (downloaded on first use when it is a registry model). */
  model(): Promise<ModelLayout> {
    this.#layout ??= resolveModel(this.home, this.config, { onDownloadProgress: this.#extras.onDownloadProgress });
    this.#layout.catch(() => (this.#layout = undefined));
    return this.#layout;
  }

  #sessionOptions(): { provider: Config['provider']; threads: number } {
    return { provider: this.config.provider, threads: this.config.threads };
  }

  tokenizer(): Promise<ClipTokenizer> {
    this.#tokenizer ??= this.model().then((m) =>
      m.tokenizer.kind === 'tokenizer.json'
        ? ClipTokenizer.fromTokenizerJson(m.tokenizer.paths[0])
        : ClipTokenizer.fromVocabMerges(m.tokenizer.paths[0], m.tokenizer.paths[1]),
    );
    this.#tokenizer.catch(() => (this.#tokenizer = undefined));
    return this.#tokenizer;
  }

  #textEncoder(): Promise<TextEncoder> {
    this.#text ??= this.model().then((m) =>
      TextEncoder.load(m.textModel, { ...this.#sessionOptions(), contextLength: m.contextLength, prepack: !this.#extras.oneShot }),
    );
    this.#text.catch(() => (this.#text = undefined));
    return this.#text;
  }

  #imageEncoder(): Promise<ImageEncoder> {
    this.#image ??= this.model().then((m) =>
      ImageEncoder.load(m.visionModel, this.#sessionOptions(), {
        size: m.preprocess.size,
        mean: m.preprocess.mean,
        std: m.preprocess.std,
        shrinkMargin: this.config.shrinkMargin,
      }),
    );
    this.#image.catch(() => (this.#image = undefined));
    return this.#image;
  }

  async #vectorCache(): Promise<VectorCache> {
    const m = await this.model();
    if (!this.#cache || this.#cache.modelId !== m.id) {
      this.#cache = new VectorCache(this.#catalog, this.home, m.id, this.config.indexType, { onWarning: this.#extras.onWarning });
    }
    return this.#cache;
  }

  #check(): void {
    if (this.#closed) throw new MemeryError('E_USAGE', 'This Memery instance is closed');
  }

  /** Token ids of `text` ([start, ...tokens, end], unpadded). */
  async tokenize(text: string): Promise<number[]> {
    this.#check();
    const t = await this.tokenizer();
    return t.encode(text, { contextLength: (await this.model()).contextLength });
  }

  /** Indexes what changed under `folder` (see IndexSummary). One indexer per catalog at a time. */
  async index(folder: string, opts: IndexRunOptions = {}): Promise<IndexSummary> {
    this.#check();
    const abs = resolve(folder);
    await assertFolder(abs); // before loading a model or waiting for the lock
    this.#catalog.assertWritable(); // not on a full disk, not into a damaged file
    const model = await this.model();
    const release = await acquireLock(join(this.home, 'index.lock'), this.config.lockTimeout * 1000).catch((err: unknown) => {
      throw catalogError(err, this.#catalog.path, 'write');
    });
    try {
      return await indexFolder(
        {
          catalog: this.#catalog,
          modelId: model.id,
          encoder: () => this.#imageEncoder(),
          cache: await this.#vectorCache(),
          batchSize: this.config.batchSize,
          decodeThreads: this.config.decodeThreads,
          exclude: [this.home],
          maxFileBytes: this.config.maxFileBytes,
        },
        abs,
        opts,
      );
    } catch (err) {
      throw catalogError(err, this.#catalog.path, 'write');
    } finally {
      release();
    }
  }

  async #imageVector(path: string, modelId: string): Promise<Float32Array> {
    const abs = resolve(path);
    const row = this.#catalog.fileByPath(abs);
    if (row?.hash && row.status === 'ok') {
      const st = await stat(abs).catch(() => undefined);
      if (st && st.size === row.size && st.mtimeMs === row.mtime_ms) {
        const e = this.#catalog.embeddingByHash(row.hash, modelId);
        // A damaged stored vector is not used as a query: the file is encoded again below.
        if (e && !vectorFault(new Uint8Array(e.vector.buffer), e.vector.length, e.vector.length)) return e.vector;
      }
    }
    const enc = await this.#imageEncoder();
    const r = await enc.encodeFiles([abs], { batchSize: 1, decodeThreads: 1 });
    const err = r.errors[0];
    if (err) throw new MemeryError(err.code === 'E_NOT_FOUND' ? 'E_NOT_FOUND' : 'E_DECODE', err.message, { path: abs });
    return r.embeddings;
  }

  async #textVector(text: string): Promise<Float32Array> {
    // The model loads on a native thread while the tokenizer parses on this one.
    const [ids, encoder] = await Promise.all([this.tokenize(text), this.#textEncoder()]);
    return encoder.encode([ids]);
  }

  /** Embeds a query: weighted positives minus weighted negatives, normalised. */
  async embedQuery(query: SearchQuery): Promise<Float32Array> {
    const q = parseQuery(query);
    const m = await this.model();
    const w = q.weights ?? {};
    const parts: Array<{ vector: Float32Array; weight: number }> = [];
    if (q.text) parts.push({ vector: await this.#textVector(q.text), weight: w.text ?? 1 });
    if (q.image) parts.push({ vector: await this.#imageVector(q.image, m.id), weight: w.image ?? 1 });
    if (q.negativeText) parts.push({ vector: await this.#textVector(q.negativeText), weight: -(w.negativeText ?? 1) });
    if (q.negativeImage) parts.push({ vector: await this.#imageVector(q.negativeImage, m.id), weight: -(w.negativeImage ?? 1) });
    return combine(parts);
  }

  /** Ranks the catalog (or `folders` of it) against a query, best first. */
  async search(query: SearchQuery, options: SearchOptions = {}): Promise<SearchResult[]> {
    this.#check();
    const o = parseOptions(SearchOptionsSchema, options, 'search options');
    const m = await this.model();
    // The FAISS file loads (native thread) while the query is embedded.
    const cache = await this.#vectorCache();
    const [vector, loaded] = await Promise.all([this.embedQuery(query), cache.get()]);
    let index = loaded;
    if (!index) return [];
    let rebuilt = false;
    const prefixes = o.folders?.map((f) => folderPrefix(resolve(f)));
    const inFolders = (p: string): boolean => !prefixes || prefixes.some((pre) => p.startsWith(pre));
    let k = Math.min(index.size, Math.max(o.n * 2, o.n + 16));
    for (;;) {
      let [hits] = await index.search(vector, k);
      // The query and every indexed vector are unit length: a score beyond 1 means the index holds a
      // damaged vector (e.g. a cache file written from it). Rebuild from SQLite (which checks every
      // vector) and search again; never rank by an impossible score.
      const impossible = (s: number): boolean => !(Math.abs(s) <= 1 + SCORE_EPSILON);
      if (hits!.scores.some(impossible)) {
        if (!rebuilt) {
          rebuilt = true;
          this.#extras.onWarning?.(`the index ${cache.file} gave an impossible score; rebuilding it from the catalog`);
          index = await cache.rebuild();
          if (!index) return [];
          k = Math.min(index.size, k);
          continue;
        }
        const keep = hits!.scores.map((s) => !impossible(s));
        hits = { ids: hits!.ids.filter((_, i) => keep[i]), scores: hits!.scores.filter((_, i) => keep[i]) } as typeof hits;
      }
      const scoreOf = new Map(hits!.ids.map((id, i) => [id, hits!.scores[i]!]));
      const rows = this.#catalog.filesForEmbeddings(hits!.ids, m.id);
      const results: SearchResult[] = rows
        .filter((r) => inFolders(r.path))
        .map((r) => ({
          id: r.file_id,
          path: r.path,
          score: Math.round(scoreOf.get(r.embedding_id)! * 1e6) / 1e6,
          width: r.width,
          height: r.height,
          bytes: r.size,
          mtime: r.mtime_ms,
        }))
        .filter((r) => o.threshold === undefined || r.score >= o.threshold)
        .sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : 1));
      const lastScore = hits!.scores[hits!.scores.length - 1];
      const belowThreshold = o.threshold !== undefined && lastScore !== undefined && lastScore < o.threshold;
      if (results.length >= o.n || k >= index.size || belowThreshold) return results.slice(0, o.n);
      k = Math.min(index.size, k * 4);
    }
  }

  /** A catalog file by id (the server serves files by id only). */
  file(id: number): { id: number; path: string; width: number | null; height: number | null; bytes: number; mtime: number } | undefined {
    const r = this.#catalog.fileById(id);
    if (!r || r.status !== 'ok') return undefined;
    return { id: r.id, path: r.path, width: r.width, height: r.height, bytes: r.size, mtime: r.mtime_ms };
  }

  async thumbnail(id: number, size = 256): Promise<Thumbnail> {
    const f = this.file(id);
    if (!f) throw new MemeryError('E_NOT_FOUND', `No catalog file with id ${id}`);
    return thumbnail(f.path, { size, format: 'jpeg' });
  }

  async status(): Promise<Status> {
    this.#check();
    // Never downloads: status reports what is there.
    let layout: ModelLayout | undefined;
    try {
      layout = this.#layout ? await this.#layout : await resolveModel(this.home, this.config, { download: false });
    } catch {
      layout = undefined;
    }
    let vectors = 0;
    let health = 'no model';
    let file: string | null = null;
    let problems: Array<{ paths: string[]; message: string }> = [];
    if (layout) {
      this.#layout ??= Promise.resolve(layout);
      const cache = await this.#vectorCache();
      const idx = await cache.get();
      vectors = idx?.size ?? 0;
      health = cache.health;
      file = cache.file;
      problems = cache.problems.map((p) => ({ paths: p.paths, message: p.message }));
    }
    return {
      home: this.home,
      catalog: this.#catalog.path,
      model: {
        name: this.config.modelDir ? 'local' : this.config.model,
        id: layout?.id ?? null,
        dir: layout?.dir ?? this.config.modelDir ?? null,
        layout: layout?.kind ?? null,
      },
      folders: this.folders(),
      counts: this.#catalog.counts(),
      index: { file, type: this.config.indexType, health, vectors, problems },
      integrity: this.#catalog.integrityCheck(),
    };
  }

  /** The catalog's folders (a cheap subset of status(): no model load, no integrity check). */
  folders(): Status['folders'] {
    this.#check();
    return this.#catalog.folders().map((f) => ({ path: f.path, files: f.files, failed: f.failed, indexedAt: f.indexed_at }));
  }

  /** Removes a folder and its files from the catalog. Returns how many files were removed. */
  async forget(folder: string): Promise<number> {
    this.#check();
    const abs = resolve(folder);
    if (!this.#catalog.hasFolder(abs)) {
      throw new MemeryError('E_NOT_FOUND', `Folder ${abs} is not in the catalog`, { path: abs, hint: 'See `memery status` for the indexed folders.' });
    }
    this.#catalog.assertWritable();
    try {
      const removed = this.#catalog.forgetFolder(abs);
      this.#catalog.deleteOrphanEmbeddings();
      return removed;
    } catch (err) {
      throw catalogError(err, this.#catalog.path, 'write');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const settle = async <T extends { close(): void }>(p: Promise<T> | undefined): Promise<void> => {
      if (!p) return;
      try {
        (await p).close();
      } catch {
        /* failed to load: nothing to close */
      }
    };
    await Promise.all([settle(this.#text), settle(this.#image)]);
    this.#cache?.close();
    this.#catalog.close();
  }
}

/**
 * One call for scripts (the original's query_flow): index what changed in `folder`, then rank it.
 */
export async function search(
  folder: string,
  query: SearchQuery,
  options: SearchOptions & MemeryOptions & { index?: boolean } = {},
): Promise<SearchResult[]> {
  const { folders, n, threshold, index, ...open } = options;
  const m = await Memery.open(open);
  try {
    if (index !== false) await m.index(folder);
    return await m.search(query, { folders: folders ?? [folder], n, threshold });
  } finally {
    await m.close();
  }
}
