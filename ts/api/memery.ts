import { basename, join, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { Catalog, catalogError, folderPrefix, recordMatches, type FileRow } from '../catalog/catalog.js';
import { assertFolder, indexFolder, type IndexRunOptions } from '../catalog/indexer.js';
import { acquireLock } from '../util/lock.js';
import { SCORE_EPSILON, VectorCache, vectorFault } from '../catalog/vector-cache.js';
import { ensurePrivateHome } from '../config/home.js';
import { defaultHome, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { MemeryError } from '../errors.js';
import { detectLayout, type ModelLayout } from '../models/layout.js';
import type { DownloadProgressEvent } from '../models/download.js';
import { listInstalled } from '../models/installed.js';
import { getModelEntry } from '../models/registry.js';
import { layoutVariantOf } from '../models/variant.js';
import { ImageEncoder } from '../native/image-encoder.js';
import { thumbnail } from '../native/image-ops.js';
import { THUMB_SIZE } from '@memery/client/protocol';
import { budgetBytes, removeLegacyThumbs, ThumbnailStore, THUMBNAILS_DIR } from '../catalog/thumbnails.js';
import { THUMBNAILS_SINCE } from '../catalog/schema.js';
import { TextEncoder } from '../native/text-encoder.js';
import { kindOf, parseOptions } from '../native/validate.js';
import { ClipTokenizer } from '../tokenizer/index.js';
import { resolveModel } from './model-resolver.js';
import { combine, parseQuery } from './query.js';
import { loadOcrEngine, ocrModelInfo } from './ocr-model.js';
import { TextStore, type OcrLineRecord, type TextScope } from '../catalog/texts.js';
import type { OcrEngine } from '../native/ocr.js';
import { matchText, planTextQuery, type TextMatch as FoundText, type TextQueryPlan } from '../text/match.js';
import {
  MemeryOptionsSchema,
  SearchOptionsSchema,
  ThumbnailRequestSchema,
  type ThumbnailRequest,
  type IndexSummary,
  type MemeryOptions,
  type SearchOptions,
  type SearchQuery,
  type CatalogModel,
  type SearchResult,
  type Status,
} from './schemas.js';

/** How many failed files status() lists per folder (the count covers them all). */
const FAILED_FILES_LISTED = 100;

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
  #ocr: Promise<OcrEngine> | undefined;
  readonly #texts: TextStore;
  readonly #thumbs: ThumbnailStore;
  #closed = false;

  private constructor(home: string, config: Config, catalog: Catalog, extras: OpenExtras) {
    this.home = home;
    this.config = config;
    this.#catalog = catalog;
    this.#extras = extras;
    this.#texts = new TextStore(catalog.db);
    this.#thumbs = new ThumbnailStore(catalog, join(home, THUMBNAILS_DIR), { budgetBytes: budgetBytes(config.thumbnailBudget), onWarning: extras.onWarning });
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
    // The launchers' own thumbnail cache, replaced by the store: removed once, on the upgrade.
    if (catalog.upgradedFrom !== undefined && catalog.upgradedFrom < THUMBNAILS_SINCE) await removeLegacyThumbs(home);
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

  #ocrEngine(): Promise<OcrEngine> {
    this.#ocr ??= loadOcrEngine(this.#sessionOptions()).then((r) => r.engine);
    this.#ocr.catch(() => (this.#ocr = undefined));
    return this.#ocr;
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
    const ocrModel = ocrModelInfo();
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
          ...((opts.thumbnails ?? this.config.thumbnails) ? { thumbnails: { store: this.#thumbs, size: THUMB_SIZE } } : {}),
          ...((opts.ocr ?? this.config.ocr)
            ? {
                ocr: {
                  texts: this.#texts,
                  ocrModelId: ocrModel.id,
                  ocrModelIdPrefix: ocrModel.prefix,
                  engine: () => this.#ocrEngine(),
                  decodeThreads: this.config.decodeThreads,
                  maxFileBytes: this.config.maxFileBytes,
                  onWarning: this.#extras.onWarning,
                },
              }
            : {}),
        },
        abs,
        { ...opts, exclude: [...this.config.exclude, ...(opts.exclude ?? [])] },
      );
    } catch (err) {
      throw catalogError(err, this.#catalog.path, 'write');
    } finally {
      await this.#tidyThumbnails();
      release();
    }
  }

  /**
   * Thumbnails whose content no file has any more go, then the least recently used while the store
   * is over its budget. After index runs and forget; a failure is only told (the catalog is fine).
   */
  async #tidyThumbnails(): Promise<void> {
    try {
      await this.#thumbs.prune();
      await this.#thumbs.enforceBudget();
    } catch (err) {
      this.#extras.onWarning?.(`could not tidy the thumbnails in ${this.#thumbs.dir}: ${(err as Error).message}`);
    }
  }

  async #imageVector(path: string, modelId: string): Promise<Float32Array> {
    const abs = resolve(path);
    const row = this.#catalog.fileByPath(abs);
    if (row?.hash && row.status === 'ok') {
      const st = await stat(abs).catch(() => undefined);
      if (st && recordMatches(row, st)) {
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

  /**
   * Ranks the catalog (or `folders` of it) against a query, best first. Hybrid (the default): images
   * whose text (OCR) matches the query's words come first — full matches, then partial ones, each
   * by CLIP score —, then the rest by CLIP score; a query that matches no text ranks as mode 'clip'.
   * Every result carries its text (null when none), how the query matched it (null when not) and
   * its stored thumbnail (`thumb`, THUMB_SIZE px; null when none is stored yet: see thumbnail()).
   */
  async search(query: SearchQuery, options: SearchOptions = {}): Promise<SearchResult[]> {
    this.#check();
    const results = await this.#rank(query, options);
    const thumbs = this.#thumbs.forFiles(
      results.map((r) => r.id),
      THUMB_SIZE,
    );
    return results.map((r) => ({ ...r, thumb: thumbs.get(r.id) ?? null }));
  }

  async #rank(query: SearchQuery, options: SearchOptions): Promise<SearchResult[]> {
    const o = parseOptions(SearchOptionsSchema, options, 'search options');
    const q = parseQuery(query);
    const plan = o.mode !== 'clip' && q.text !== undefined ? planTextQuery(q.text) : undefined;
    const scope = ocrModelInfo();
    if (o.mode === 'text') return plan ? this.#textSearch(plan, o, scope) : [];
    const m = await this.model();
    const { results, vector } = await this.#clipSearch(query, o, m.id);
    const hits = plan ? this.#textHits(plan, o.folders, scope) : new Map<number, TextHit>();
    if (!hits.size) return this.#withTexts(results, scope);
    // Text matches first (full, then partial), each tier by CLIP score; then the CLIP results.
    const ranked: Array<SearchResult & { tier: number }> = [];
    for (const h of hits.values()) {
      const e = this.#catalog.embeddingByHash(h.row.hash, m.id);
      let s = 0;
      if (e && vector) for (let i = 0; i < e.vector.length; i++) s += e.vector[i]! * vector[i]!;
      ranked.push({ ...resultOf(h.row, Math.round(s * 1e6) / 1e6), text: h.row.text || null, match: { score: h.match.score, spans: h.match.spans }, tier: h.match.tier });
    }
    ranked.sort((a, b) => b.tier - a.tier || b.score - a.score || (a.path < b.path ? -1 : 1));
    const out: SearchResult[] = ranked.slice(0, o.n).map(({ tier: _t, ...r }) => r);
    const rest = this.#withTexts(
      results.filter((r) => !hits.has(r.id)),
      scope,
    );
    return [...out, ...rest].slice(0, o.n);
  }

  /** Images whose text matches (tier >= 1), by file id. */
  #textHits(plan: TextQueryPlan, folders: string[] | undefined, scope: TextScope): Map<number, TextHit> {
    const rows = this.#texts.files(this.#texts.candidates(plan, scope), folders?.map((f) => resolve(f)));
    const byText = new Map<number, FoundText>();
    const hits = new Map<number, TextHit>();
    for (const row of rows) {
      let match = byText.get(row.text_id);
      if (!match) byText.set(row.text_id, (match = matchText(plan, row.text)));
      if (match.tier > 0) hits.set(row.file_id, { row, match });
    }
    return hits;
  }

  /** Mode 'text': only images whose text matches, by tier, then share of the query found (the score). */
  #textSearch(plan: TextQueryPlan, o: { n: number; folders?: string[] }, scope: TextScope): SearchResult[] {
    return [...this.#textHits(plan, o.folders, scope).values()]
      .sort((a, b) => b.match.tier - a.match.tier || b.match.score - a.match.score || (a.row.path < b.row.path ? -1 : 1))
      .slice(0, o.n)
      .map((h) => ({ ...resultOf(h.row, h.match.score), text: h.row.text || null, match: { score: h.match.score, spans: h.match.spans } }));
  }

  /** Adds each result's text (null when none) and match: null. */
  #withTexts(results: SearchResult[], scope: TextScope): SearchResult[] {
    const texts = this.#texts.textsOfFiles(
      results.map((r) => r.id),
      scope,
    );
    return results.map((r) => ({ ...r, text: texts.get(r.id) || null, match: null }));
  }

  async #clipSearch(query: SearchQuery, o: { n: number; folders?: string[]; threshold?: number }, modelId: string): Promise<{ results: SearchResult[]; vector?: Float32Array }> {
    const m = { id: modelId };
    // The FAISS file loads (native thread) while the query is embedded.
    const cache = await this.#vectorCache();
    const [vector, loaded] = await Promise.all([this.embedQuery(query), cache.get()]);
    let index = loaded;
    if (!index) return { results: [], vector };
    let rebuilt = false;
    const prefixes = o.folders?.map((f) => folderPrefix(resolve(f)));
    const inFolders = (p: string): boolean => !prefixes || prefixes.some((pre) => p.startsWith(pre));
    // With folders, FAISS ranks only the vectors of files inside them (one search, no re-search).
    const within = o.folders ? this.#catalog.embeddingIdsUnder(o.folders.map((f) => resolve(f)), m.id) : undefined;
    if (within && !within.length) return { results: [], vector };
    const candidates = (): number => Math.min(index!.size, within?.length ?? Infinity);
    let k = Math.min(candidates(), Math.max(o.n * 2, o.n + 16));
    for (;;) {
      let [hits] = await index.search(vector, k, { within });
      // The query and every indexed vector are unit length: a score beyond 1 means the index holds a
      // damaged vector (e.g. a cache file written from it). Rebuild from SQLite (which checks every
      // vector) and search again; never rank by an impossible score.
      const impossible = (s: number): boolean => !(Math.abs(s) <= 1 + SCORE_EPSILON);
      if (hits!.scores.some(impossible)) {
        if (!rebuilt) {
          rebuilt = true;
          this.#extras.onWarning?.(`the index ${cache.file} gave an impossible score; rebuilding it from the catalog`);
          index = await cache.rebuild();
          if (!index) return { results: [], vector };
          k = Math.min(candidates(), k);
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
      if (results.length >= o.n || k >= candidates() || belowThreshold) return { results: results.slice(0, o.n), vector };
      k = Math.min(candidates(), k * 4);
    }
  }

  /**
   * Reads the text in an image (a path, or its encoded bytes) with the OCR model: the lines in
   * reading order, each with its confidence and box (corners clockwise from top-left, in pixels).
   */
  async readText(image: string | Uint8Array): Promise<{ text: string; lines: OcrLineRecord[]; width: number; height: number }> {
    this.#check();
    const input = typeof image === 'string' ? resolve(image) : image;
    const engine = await this.#ocrEngine();
    const [r] = await engine.read([input], { decodeThreads: this.config.decodeThreads, maxFileBytes: this.config.maxFileBytes });
    if (!r!.ok) throw new MemeryError(r!.code, r!.message, typeof input === 'string' ? { path: input } : {});
    return { text: r!.text, lines: r!.lines.map((l) => ({ text: l.text, confidence: l.confidence, box: [...l.box] })), width: r!.width, height: r!.height };
  }

  /** A catalog file by id (the server serves files by id only). */
  file(id: number): { id: number; path: string; width: number | null; height: number | null; bytes: number; mtime: number } | undefined {
    const r = this.#catalog.fileById(id);
    if (!r || r.status !== 'ok') return undefined;
    return { id: r.id, path: r.path, width: r.width, height: r.height, bytes: r.size, mtime: r.mtime_ms };
  }

  /**
   * The stored thumbnail of a catalog image (`target`: its id or its path): the path of its JPEG in
   * the store, fitting inside `size` px square (default THUMB_SIZE), made now from one read of the
   * file and stored when missing. The one way the CLI and the launchers get a thumbnail. E_NOT_FOUND
   * when the image is not in the catalog or is gone from disk; E_DECODE, E_TOO_LARGE, E_IO as when
   * indexing. A file changed since it was indexed gets the thumbnail of what it holds now.
   */
  async thumbnail(target: number | string, options: ThumbnailRequest = {}): Promise<string> {
    this.#check();
    const { size } = parseOptions(ThumbnailRequestSchema, options, 'thumbnail options');
    if (typeof target !== 'number' && typeof target !== 'string') {
      throw new MemeryError('E_USAGE', `Expected a catalog file id (number) or path (string) but received ${kindOf(target)}`);
    }
    const row = typeof target === 'number' ? this.#catalog.fileById(target) : this.#catalog.fileByPath(resolve(target));
    const what = typeof target === 'number' ? `catalog file ${target}` : resolve(target);
    if (!row || row.status !== 'ok' || !row.hash) {
      throw new MemeryError('E_NOT_FOUND', `No indexed image ${what}`, { hint: 'Only images in the catalog have thumbnails; see `memery status`.' });
    }
    const st = await stat(row.path).catch(() => undefined);
    if (!st?.isFile()) throw new MemeryError('E_NOT_FOUND', `The image ${row.path} is gone from disk`, { path: row.path });
    const found = this.#storedThumbnail(row, size, st);
    if (found) return found.path;
    const t = await thumbnail(row.path, { size, format: 'jpeg', maxFileBytes: this.config.maxFileBytes });
    const stored = (await this.#thumbs.put([{ hash: t.hash, data: t.data }], size)).get(t.hash);
    if (!stored) {
      throw new MemeryError('E_IO', `Cannot store the thumbnail of ${row.path} in ${this.#thumbs.dir}`, {
        path: this.#thumbs.dir,
        hint: this.#catalog.writeError ? this.#catalog.writeError.message : 'Check that the home is writable and has free space (`memery doctor`).',
      });
    }
    return stored;
  }

  /**
   * For the server, which reads a file only through the descriptor it opened and checked: the
   * stored thumbnail of catalog file `id` at `size`, when the catalog's record still describes what
   * was opened (`seen`: its stat, size and mtime). A use.
   */
  storedThumbnail(id: number, size: number, seen: { size: number; mtimeMs: number }): { path: string; hash: string } | undefined {
    this.#check();
    return this.#storedThumbnail(this.#catalog.fileById(id), size, seen);
  }

  #storedThumbnail(row: FileRow | undefined, size: number, seen: { size: number; mtimeMs: number }): { path: string; hash: string } | undefined {
    if (!row || row.status !== 'ok' || !row.hash || !recordMatches(row, seen)) return undefined;
    const path = this.#thumbs.find(row.hash, size);
    return path ? { path, hash: row.hash } : undefined;
  }

  /**
   * For the server: a JPEG thumbnail (`size` px square at most) of `bytes`, read from catalog file
   * `id` through its checked descriptor; stored when they are the content the catalog has for that
   * file (`stored`: its path), else only returned.
   */
  async thumbnailOfBytes(id: number, bytes: Uint8Array, size: number): Promise<{ data: Buffer; hash: string; stored: string | null }> {
    this.#check();
    size = parseOptions(ThumbnailRequestSchema, { size }, 'thumbnail options').size;
    const t = await thumbnail(bytes, { size, format: 'jpeg', maxFileBytes: this.config.maxFileBytes });
    const row = this.#catalog.fileById(id);
    const ours = row?.status === 'ok' && row.hash === t.hash;
    const stored = ours ? ((await this.#thumbs.put([{ hash: t.hash, data: t.data }], size)).get(t.hash) ?? null) : null;
    return { data: t.data, hash: t.hash, stored };
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
      folders: this.folders().map((f) => ({ ...f, errors: f.failed ? this.#catalog.failedFiles(f.path).slice(0, FAILED_FILES_LISTED) : [] })),
      counts: { ...this.#catalog.counts(), texts: this.#texts.filesWithText(ocrModelInfo()) },
      index: { file, type: this.config.indexType, health, vectors, problems },
      integrity: this.#catalog.integrityCheck(),
      models: await this.#catalogModels(layout),
      thumbnails: { ...this.#thumbs.totals(), budget: this.#thumbs.budgetBytes, dir: this.#thumbs.dir },
    };
  }

  /**
   * The models the catalog holds embeddings of (and the one in use, even with none), the one in use
   * first, then by embedding count. Names are known for the model in use and for installed registry
   * models (their ids are computed only when the catalog holds an id not yet named).
   */
  async #catalogModels(layout: ModelLayout | undefined): Promise<CatalogModel[]> {
    // Per-model counts read the embeddings_model index only, never the vectors.
    const counts = this.#catalog.db.prepare('SELECT model_id AS id, COUNT(*) AS n FROM embeddings GROUP BY model_id').all() as Array<{ id: string; n: number }>;
    const byId = new Map(counts.map((c) => [c.id, c.n]));
    if (layout && !byId.has(layout.id)) byId.set(layout.id, 0);
    const known = new Map<string, { name: string; dir: string }>();
    if (layout) known.set(layout.id, { name: this.config.modelDir ? basename(layout.dir) : this.config.model, dir: layout.dir });
    if ([...byId.keys()].some((id) => !known.has(id))) {
      // Models of one repository share a cache folder: an int8 entry names the quantized files (it
      // goes first), an fp32 entry its own files and, unclaimed, their quantized copies.
      const installed = (await listInstalled(this.home).catch(() => []))
        .filter((m) => m.complete)
        .map((m) => ({ ...m, own: layoutVariantOf(getModelEntry(m.name), 'fp32') })); // installed models are registry entries
      installed.sort((a, b) => Number(b.own === 'quantized') - Number(a.own === 'quantized'));
      for (const m of installed) {
        for (const variant of m.own === 'quantized' ? [m.own] : (['fp32', 'quantized'] as const)) {
          const l = await detectLayout(m.dir, { variant }).catch(() => undefined);
          if (l && !known.has(l.id)) known.set(l.id, { name: m.name, dir: m.dir });
        }
      }
    }
    return [...byId]
      .map(([id, embeddings]) => ({ id, embeddings, inUse: id === layout?.id, name: known.get(id)?.name ?? null, dir: known.get(id)?.dir ?? null }))
      .sort((a, b) => Number(b.inUse) - Number(a.inUse) || b.embeddings - a.embeddings || (a.id < b.id ? -1 : 1));
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
    let removed: number;
    try {
      removed = this.#catalog.forgetFolder(abs);
      this.#catalog.deleteOrphanEmbeddings();
    } catch (err) {
      throw catalogError(err, this.#catalog.path, 'write');
    }
    await this.#tidyThumbnails(); // their thumbnails go with the vectors and texts
    return removed;
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
    await Promise.all([settle(this.#text), settle(this.#image), settle(this.#ocr)]);
    this.#thumbs.close();
    this.#cache?.close();
    this.#catalog.close();
  }
}

interface TextHit {
  row: { file_id: number; path: string; size: number; mtime_ms: number; width: number | null; height: number | null; hash: string; text: string };
  match: FoundText;
}

function resultOf(row: TextHit['row'], score: number): SearchResult {
  return { id: row.file_id, path: row.path, score, width: row.width, height: row.height, bytes: row.size, mtime: row.mtime_ms };
}

/**
 * One call for scripts (the original's query_flow): index what changed in `folder`, then rank it.
 */
export async function search(
  folder: string,
  query: SearchQuery,
  options: SearchOptions & MemeryOptions & { index?: boolean } = {},
): Promise<SearchResult[]> {
  const { folders, n, threshold, mode, index, ...open } = options;
  const m = await Memery.open(open);
  try {
    if (index !== false) await m.index(folder);
    return await m.search(query, { folders: folders ?? [folder], n, threshold, mode });
  } finally {
    await m.close();
  }
}
