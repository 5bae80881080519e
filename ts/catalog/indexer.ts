import { stat } from 'node:fs/promises';
import { isMemeryError, MemeryError, retriedEveryRun } from '../errors.js';
import type { IndexFileError, IndexProgress, IndexSummary } from '../api/schemas.js';
import type { ImageEncoder } from '../native/image-encoder.js';
import { folderPrefix, recordMatches, type Catalog, type EmbeddingRecord, type FileRecord, type FileRow } from './catalog.js';
import { DEFAULT_MAX_FILE_BYTES } from '../native/image-encoder.js';
import { contentHash, tooLarge } from './hash.js';
import type { VectorCache } from './vector-cache.js';
import { readTexts, type ReadTextsContext } from './read-texts.js';
import type { ThumbnailData, ThumbnailStore } from './thumbnails.js';
import { excludeMatcher, systemErrorText, walkImages, type WalkedFile } from './walk.js';

export interface IndexContext {
  catalog: Catalog;
  modelId: string;
  encoder: () => Promise<ImageEncoder>;
  cache: VectorCache;
  batchSize: number;
  decodeThreads: number;
  /** Folders not to walk (memery's home). */
  exclude?: string[];
  /** Files larger than this are refused before they are read. */
  maxFileBytes?: number;
  /** Read the text in images (OCR) after encoding; absent: no OCR (CLIP only). */
  ocr?: ReadTextsContext;
  /** Store a thumbnail (`size` px) of each image encoded, made by the encoder from the same decode; absent: none. */
  thumbnails?: { store: ThumbnailStore; size: number };
}

export interface IndexRunOptions {
  onProgress?: (p: IndexProgress) => void;
  signal?: AbortSignal;
  /** Files per committed chunk. */
  chunkSize?: number;
  /** Read the text in images (OCR) in this run (Memery.index; default: the config's `ocr`). */
  ocr?: boolean;
  /** Make the thumbnails of the images encoded in this run (Memery.index; default: the config's `thumbnails`). */
  thumbnails?: boolean;
  /**
   * Gitignore-style patterns (relative to the folder) to leave out, besides each .memeryignore;
   * files of the folder already in the catalog that they match are removed from it.
   */
  exclude?: readonly string[];
}

interface Candidate {
  file: WalkedFile;
  prior: FileRow | undefined;
  hash?: string;
}

/** Throws E_NOT_FOUND / E_USAGE unless `folder` is an existing directory. */
export async function assertFolder(folder: string): Promise<void> {
  const st = await stat(folder).catch(() => undefined);
  if (!st) throw new MemeryError('E_NOT_FOUND', `Folder not found: ${folder}`, { path: folder, hint: 'Check the path.' });
  if (!st.isDirectory()) throw new MemeryError('E_USAGE', `Expected a folder but ${folder} is not a directory`, { path: folder });
}

/**
 * Brings the catalog up to date with `folder`: unchanged files cost a stat; changed or new files
 * are hashed; known content (moves, copies) reuses its vector; only unknown content is encoded.
 * Work is committed chunk by chunk, so a killed run resumes where it stopped.
 */
export async function indexFolder(ctx: IndexContext, folder: string, opts: IndexRunOptions = {}): Promise<IndexSummary> {
  const started = performance.now();
  const { catalog, modelId } = ctx;
  const signal = opts.signal;
  const chunkSize = opts.chunkSize ?? Math.max(32, ctx.batchSize * 4);
  const progress = opts.onProgress ?? (() => {});

  // Again here, not only in the caller: walking a folder that is gone would find nothing and
  // remove every file of it from the catalog.
  await assertFolder(folder);
  catalog.ensureFolder(folder);
  const generationBefore = catalog.generation();
  progress({ phase: 'scan', done: 0, total: 0 });
  const maxFileBytes = ctx.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const { files, problems } = await walkImages(folder, { signal, exclude: ctx.exclude, ...(opts.exclude?.length ? { ignore: excludeMatcher(opts.exclude) } : {}) });
  const known = catalog.filesUnder(folder);
  const seen = new Set<string>();
  const candidates: Candidate[] = [];
  const withoutEncoding: FileRecord[] = []; // known content and unreadable files
  let unchanged = 0;
  for (const f of files) {
    seen.add(f.path);
    const row = known.get(f.path);
    if (row && recordMatches(row, f)) {
      const retry = row.status === 'error' && retriedEveryRun(row.error_code);
      if ((row.status === 'error' && !retry) || (row.hash && catalog.hasEmbedding(row.hash, modelId))) {
        unchanged++;
        continue;
      }
    }
    if (f.size > maxFileBytes) {
      // Refused before a byte is read.
      const e = tooLarge(f.path, f.size, maxFileBytes);
      withoutEncoding.push(errorRecord(f, e.code, e.message));
      continue;
    }
    candidates.push({ file: f, prior: row });
  }
  // What the walk could not look at is unknown, not gone: keep its entries as they are.
  for (const p of problems) seen.add(p.path);
  const unknownFolders = problems.filter((p) => p.folder).map((p) => folderPrefix(p.path));
  const vanished = [...known.values()].filter((r) => !seen.has(r.path) && !unknownFolders.some((d) => r.path.startsWith(d)));
  const vanishedHashes = new Map<string, number>();
  for (const r of vanished) if (r.hash && r.status === 'ok') vanishedHashes.set(r.hash, (vanishedHashes.get(r.hash) ?? 0) + 1);

  // Hash what may be known content, and reuse its vector. A file whose size no known file and no
  // other candidate has cannot be a copy: it is hashed by the encoder from the very bytes it
  // decodes (one read, and the hash always belongs to the pixels that were embedded).
  let moved = 0;
  const toEncode: Candidate[] = [];
  const pendingHashes = new Set<string>();
  const duplicates: Candidate[] = [];
  const knownSizes = catalog.knownSizes();
  const candidateSizes = new Map<number, number>();
  for (const c of candidates) candidateSizes.set(c.file.size, (candidateSizes.get(c.file.size) ?? 0) + 1);
  let hashed = 0;
  for (const c of candidates) {
    signal?.throwIfAborted();
    if (!knownSizes.has(c.file.size) && candidateSizes.get(c.file.size) === 1) {
      toEncode.push(c);
      continue;
    }
    try {
      c.hash = await contentHash(c.file.path, maxFileBytes);
    } catch (err) {
      const code = isMemeryError(err) ? err.code : 'E_IO';
      withoutEncoding.push(errorRecord(c.file, code, isMemeryError(err) ? err.message : `Cannot read ${c.file.path}: ${systemErrorText(err)}`));
      continue;
    }
    hashed++;
    if (hashed % 256 === 0) progress({ phase: 'hash', done: hashed, total: candidates.length });
    if (catalog.hasEmbedding(c.hash, modelId)) {
      if (c.prior?.hash === c.hash) unchanged++;
      else {
        moved++;
        const left = vanishedHashes.get(c.hash);
        if (left) vanishedHashes.set(c.hash, left - 1);
      }
      const dims = catalog.dimsForHash(c.hash);
      withoutEncoding.push({ ...okRecord(c.file, c.hash), ...dims });
    } else if (pendingHashes.has(c.hash)) {
      duplicates.push(c);
    } else {
      pendingHashes.add(c.hash);
      toEncode.push(c);
    }
  }
  if (withoutEncoding.length) catalog.commit([], withoutEncoding);

  // Encode unknown content, committing each chunk.
  let created = 0;
  let reembedded = 0;
  let encodedDone = 0;
  const added: number[] = [];
  const addedVectors = new Map<number, Float32Array>(); // the cache gets them without reading SQLite
  const dimsByHash = new Map<string, { width: number; height: number }>();
  if (toEncode.length) {
    const encoder = await ctx.encoder();
    progress({ phase: 'encode', done: 0, total: toEncode.length });
    // Two chunks in flight: the next chunk's decoders work while this one's last batches are
    // inferred and committed, so the pipeline never drains at a chunk boundary.
    const encodeChunk = (start: number) => {
      const p = encoder.encodeFiles(
        toEncode.slice(start, start + chunkSize).map((c) => c.file.path),
        { batchSize: ctx.batchSize, decodeThreads: ctx.decodeThreads, maxFileBytes, thumbnailSize: ctx.thumbnails?.size ?? 0 },
      );
      p.catch(() => {}); // awaited in order below; a run that stops early must not leave it unhandled
      return p;
    };
    const inFlight = [encodeChunk(0)];
    if (chunkSize < toEncode.length) inFlight.push(encodeChunk(chunkSize));
    for (let i = 0; i < toEncode.length; i += chunkSize) {
      const r = await inFlight.shift()!;
      const following = i + 2 * chunkSize;
      if (following < toEncode.length && !signal?.aborted) inFlight.push(encodeChunk(following));
      const chunk = toEncode.slice(i, i + chunkSize);
      const embeddings: EmbeddingRecord[] = [];
      const records: FileRecord[] = [];
      const thumbs: ThumbnailData[] = [];
      const errs = new Map(r.errors.map((e) => [e.index, e]));
      chunk.forEach((c, k) => {
        // The size and time of the bytes the encoder read (the file may have changed since the walk).
        const read: WalkedFile = r.stats[k * 2]! > 0 || r.hashes[k] ? { path: c.file.path, size: r.stats[k * 2]!, mtimeMs: r.stats[k * 2 + 1]! } : c.file;
        const e = errs.get(k);
        if (e || !r.ok[k]) {
          records.push(errorRecord(read, e?.code ?? 'E_DECODE', e?.message ?? `Cannot decode ${c.file.path}`));
          return;
        }
        // The vector belongs to the bytes that were decoded: their hash, not the one taken before.
        const hash = r.hashes[k]!;
        const vector = r.embeddings.slice(k * r.dim, (k + 1) * r.dim);
        embeddings.push({ hash, modelId, vector });
        const thumb = r.thumbnails[k];
        if (thumb) thumbs.push({ hash, data: thumb });
        const width = r.sizes[k * 2]!;
        const height = r.sizes[k * 2 + 1]!;
        dimsByHash.set(hash, { width, height });
        records.push({ ...okRecord(read, hash), width, height });
        if (c.prior) reembedded++;
        else created++;
      });
      added.push(...catalog.commit(embeddings, records, (id, e) => addedVectors.set(id, e.vector)));
      // Files keyed by content, written while the next chunk decodes; listed once they are whole.
      if (ctx.thumbnails) await ctx.thumbnails.store.put(thumbs, ctx.thumbnails.size);
      encodedDone += chunk.length;
      progress({ phase: 'encode', done: encodedDone, total: toEncode.length });
      if (!inFlight.length) break; // stopped: what was committed is kept
    }
  }
  // Files whose content equals another file encoded in this run.
  const dupRecords: FileRecord[] = [];
  for (const c of duplicates) {
    if (!catalog.hasEmbedding(c.hash!, modelId)) continue; // its twin failed or the run stopped
    dupRecords.push({ ...okRecord(c.file, c.hash!), ...(dimsByHash.get(c.hash!) ?? catalog.dimsForHash(c.hash!)) });
    moved++;
  }
  if (dupRecords.length) catalog.commit([], dupRecords);

  let aborted = signal?.aborted ?? false;
  let removed = 0;
  if (!aborted) {
    catalog.removeFiles(vanished.map((r) => r.path));
    // Moves are not removals: only vanished files whose content did not reappear count.
    let stillGone = 0;
    for (const v of vanishedHashes.values()) stillGone += v;
    removed = vanished.filter((r) => !r.hash || r.status !== 'ok').length + stillGone;
  }
  // Orphaned texts go with orphaned embeddings (deleteOrphanEmbeddings).
  const orphans = new Set(catalog.deleteOrphanEmbeddings().get(modelId) ?? []);
  const addedSet = new Set(added);
  // The vectors are searchable before the (slower) reading of text starts.
  await ctx.cache.applyChanges(
    generationBefore,
    added.filter((id) => !orphans.has(id)).map((id) => ({ id, vector: addedVectors.get(id)! })),
    [...orphans].filter((id) => !addedSet.has(id)),
  );

  // Text (OCR) of every content under the folder without one: new files, and all of a catalog
  // indexed before OCR (no re-embedding). Committed chunk by chunk.
  const text = ctx.ocr && !aborted ? await readTexts(ctx.ocr, folder, { signal, onProgress: progress }) : undefined;
  aborted = signal?.aborted ?? false;
  if (!aborted) {
    progress({ phase: 'finish', done: 0, total: 1 });
    catalog.markFolderIndexed(folder);
  }

  if (aborted) throw new MemeryError('E_ABORTED', `Indexing ${folder} was stopped; finished work is kept`, { path: folder });

  const errors: IndexFileError[] = catalog.failedFiles(folder);
  const skipped: IndexFileError[] = problems.map((p) => ({ path: p.path, code: p.code, message: p.message, reason: p.reason }));
  return {
    folder,
    found: files.length,
    new: created,
    unchanged,
    reembedded,
    moved,
    removed,
    failed: errors.length,
    seconds: Math.round((performance.now() - started) / 10) / 100,
    errors,
    skipped,
    texts: text?.texts ?? 0,
    textFailed: text?.textFailed ?? 0,
    textErrors: text?.textErrors ?? [],
  };
}

function okRecord(f: WalkedFile, hash: string): FileRecord {
  return { path: f.path, size: f.size, mtimeMs: f.mtimeMs, hash, width: null, height: null, status: 'ok' };
}

function errorRecord(f: WalkedFile, code: string, message: string): FileRecord {
  return { path: f.path, size: f.size, mtimeMs: f.mtimeMs, hash: null, width: null, height: null, status: 'error', errorCode: code, errorMessage: message };
}
