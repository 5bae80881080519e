/**
 * Downloads a model from the Hugging Face Hub (or a mirror) into a local folder, and manages the
 * installed models under `<home>/models`.
 *
 * - URL: `<endpoint>/<owner>/<repo>/resolve/<revision>/<path>`; endpoint from the option, else
 *   MEMERY_HF_ENDPOINT, else HF_ENDPOINT, else https://huggingface.co. Redirects (the Hub answers
 *   302 to its CDN) are followed.
 * - Resumable: bytes go to `<file>.part`; a later attempt (or run) sends `Range: bytes=<partSize>-`
 *   (with `If-Range: <etag>` when the server gave a strong ETag) and appends on 206, restarting from
 *   zero on 200. Dropped connections and stalls are retried with backoff (3 attempts in a row
 *   without progress).
 * - Integrity: sha256 is streamed while downloading (the existing part is hashed first on resume),
 *   checked against the registry's sha256/size when present (E_CHECKSUM otherwise, and the part is
 *   deleted), and recorded in `.memery-model.json` so that `verifyModel` can detect corruption later.
 * - Completed files are fsynced and renamed into place atomically.
 * - Unreachable host (ENOTFOUND, ECONNREFUSED, EAI_AGAIN, ...) -> E_OFFLINE at once.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { MemeryError, isMemeryError } from '../errors.js';
import { acquireLock, lockHeld } from '../util/lock.js';
import {
  ModelLayoutKindSchema,
  ModelVariantSchema,
  parseModelEntry,
  type ModelEntry,
  type ModelFile,
} from './registry.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
export const MANIFEST_FILE = '.memery-model.json';
/** Where an earlier memery kept its download lock (a pid file inside the model folder); removed when seen. */
export const LEGACY_LOCK_FILE = '.memery-download.lock';
const PART_SUFFIX = '.part';
const ETAG_SUFFIX = '.part.etag';
const USER_AGENT = 'memery/0.1 (+model-download)';

/* ------------------------------------------------------------------------------------------------ */
/* Manifest                                                                                          */
/* ------------------------------------------------------------------------------------------------ */

export const ManifestFileSchema = z.object({
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** 'registry': matched the registry's sha256. 'recorded': computed at download, nothing to compare with. */
  source: z.enum(['registry', 'recorded']),
});
export type ManifestFile = z.infer<typeof ManifestFileSchema>;

export const ModelManifestSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  repo: z.string(),
  revision: z.string(),
  layout: ModelLayoutKindSchema,
  variant: ModelVariantSchema.optional(),
  endpoint: z.string(),
  /** True once every (non-optional) file of the entry is in place. */
  complete: z.boolean(),
  updatedAt: z.string(),
  files: z.array(ManifestFileSchema),
});
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

/** Reads `<dir>/.memery-model.json`; undefined when absent, E_MODEL when unreadable or invalid. */
export async function readManifest(dir: string): Promise<ModelManifest | undefined> {
  const p = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(p, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MemeryError('E_IO', `Expected to read ${p} but could not`, { path: p, cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new MemeryError('E_MODEL', `Expected valid JSON in ${p} but it does not parse`, { path: p, cause: e });
  }
  const r = ModelManifestSchema.safeParse(json);
  if (!r.success) {
    throw new MemeryError('E_MODEL', `Expected a memery model manifest in ${p} but it is invalid: ${r.error.issues[0]?.message ?? ''}`, {
      path: p,
      cause: r.error,
    });
  }
  return r.data;
}

async function writeManifest(dir: string, manifest: ModelManifest): Promise<void> {
  const p = join(dir, MANIFEST_FILE);
  const tmp = `${p}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(tmp, p);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new MemeryError('E_IO', `Expected to write ${p} but could not`, { path: p, cause: e });
  }
}

/* ------------------------------------------------------------------------------------------------ */
/* Helpers                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

/** Endpoint: explicit option, else MEMERY_HF_ENDPOINT, else HF_ENDPOINT, else huggingface.co. No trailing '/'. */
export function resolveEndpoint(explicit?: string, env: Record<string, string | undefined> = process.env): string {
  const candidates: Array<[string, string | undefined]> = [
    ['the endpoint option', explicit],
    ['MEMERY_HF_ENDPOINT', env.MEMERY_HF_ENDPOINT],
    ['HF_ENDPOINT', env.HF_ENDPOINT],
  ];
  for (const [source, value] of candidates) {
    if (value === undefined || value.trim() === '') continue;
    let u: URL;
    try {
      u = new URL(value.trim());
    } catch {
      u = new URL('invalid:');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new MemeryError('E_CONFIG', `Expected an http(s) URL for ${source} but received "${value}"`, {
        hint: 'For example MEMERY_HF_ENDPOINT=https://hf-mirror.example.org',
      });
    }
    return value.trim().replace(/\/+$/, '');
  }
  return DEFAULT_HF_ENDPOINT;
}

/** `<endpoint>/<owner>/<repo>/resolve/<revision>/<path>`, each segment URL-encoded. */
export function fileUrl(endpoint: string, repo: string, revision: string, path: string): string {
  const enc = (s: string) => s.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${enc(repo)}/resolve/${encodeURIComponent(revision)}/${enc(path)}`;
}

/** Streams a file (or its existing content) through sha256. */
export async function hashFile(path: string, hash: Hash = createHash('sha256')): Promise<Hash> {
  await new Promise<void>((res, rej) => {
    const s = createReadStream(path);
    s.on('data', (c) => hash.update(c));
    s.on('error', rej);
    s.on('end', () => res());
  });
  return hash;
}

async function sha256File(path: string): Promise<string> {
  return (await hashFile(path)).digest('hex');
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

function localPath(dir: string, repoPath: string): string {
  return join(dir, ...repoPath.split('/'));
}

function abortedError(what: string, cause?: unknown): MemeryError {
  return new MemeryError('E_ABORTED', `${what} was aborted`, {
    cause,
    hint: 'Partial files are kept; run the download again to resume.',
  });
}

function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((res, rej) => {
    if (signal?.aborted) return rej(abortedError(what, signal.reason));
    const onAbort = () => {
      clearTimeout(t);
      rej(abortedError(what, signal?.reason));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const OFFLINE_CODES = new Set(['ENOTFOUND', 'ECONNREFUSED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN']);

/** Finds a system error code in an error, its cause chain and AggregateError members. */
function findOfflineCode(e: unknown, depth = 0): string | undefined {
  if (depth > 6 || typeof e !== 'object' || e === null) return undefined;
  const o = e as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof o.code === 'string' && OFFLINE_CODES.has(o.code)) return o.code;
  const fromCause = findOfflineCode(o.cause, depth + 1);
  if (fromCause) return fromCause;
  if (Array.isArray(o.errors)) for (const x of o.errors) {
    const c = findOfflineCode(x, depth + 1);
    if (c) return c;
  }
  return undefined;
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? e.cause : undefined;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? (e as NodeJS.ErrnoException).code;
  const parts = [e.message];
  if (cause && cause.message && cause.message !== e.message) parts.push(cause.message);
  if (code && !parts.some((p) => p.includes(code))) parts.push(code);
  return parts.join(': ');
}

/** A transient failure worth another attempt. */
class RetryableError extends Error {
  override name = 'RetryableError';
  constructor(message: string, readonly retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function parseRetryAfter(h: string | null): number | undefined {
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const d = Date.parse(h);
  return Number.isFinite(d) ? Math.max(0, d - Date.now()) : undefined;
}

/** `bytes 100-199/1000` -> {start, end, total}; `bytes * /1000` -> {total}. */
function parseContentRange(h: string | null): { start?: number; end?: number; total?: number } | undefined {
  if (!h) return undefined;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(h.trim());
  if (!m) return undefined;
  const out: { start?: number; end?: number; total?: number } = {};
  if (m[1] !== undefined) out.start = Number(m[1]);
  if (m[2] !== undefined) out.end = Number(m[2]);
  if (m[3] !== '*') out.total = Number(m[3]);
  return out;
}

/* ------------------------------------------------------------------------------------------------ */
/* Lock                                                                                              */
/* ------------------------------------------------------------------------------------------------ */

/**
 * The download lock of model folder `dir`: memery's OS lock (ts/util/lock.ts), kept next to the
 * folder (`<models>/.<name>.download.lock`) so that the folder holds nothing but the model.
 */
export function downloadLockPath(dir: string): string {
  const abs = resolve(dir);
  return join(dirname(abs), `.${basename(abs)}.download.lock`);
}

/** Whether a download into `dir` is running (in this or another process). */
export function isDownloading(dir: string): boolean {
  return lockHeld(downloadLockPath(dir));
}

async function takeDownloadLock(dir: string): Promise<() => void> {
  const p = downloadLockPath(dir);
  const release = await acquireLock(p, 0, (holder) =>
    new MemeryError('E_LOCKED', `Expected no other download into ${dir} but one is running${holder ? ` (pid ${holder})` : ''}`, {
      path: dir,
      hint: 'Wait for it to finish (a download whose process died holds nothing).',
    }),
  );
  // The pid file of an earlier memery, inside the folder: the OS lock has replaced it.
  await rm(join(dir, LEGACY_LOCK_FILE), { force: true }).catch(() => undefined);
  return release;
}

/* ------------------------------------------------------------------------------------------------ */
/* Download                                                                                          */
/* ------------------------------------------------------------------------------------------------ */

export interface DownloadProgressEvent {
  /**
   * 'start': a transfer begins (bytes = resume offset). 'progress': bytes so far. 'done': file in
   * place. 'skip': already present and valid. 'retry': an attempt failed, another follows.
   */
  phase: 'start' | 'progress' | 'done' | 'skip' | 'retry';
  /** Repository path of the file. */
  file: string;
  index: number;
  count: number;
  bytes: number;
  total?: number;
  attempt?: number;
  message?: string;
}

export interface DownloadOptions {
  /** The model folder to fill (created if needed). */
  destDir: string;
  /** Overrides MEMERY_HF_ENDPOINT / HF_ENDPOINT / https://huggingface.co. */
  endpoint?: string;
  signal?: AbortSignal;
  onProgress?: (e: DownloadProgressEvent) => void;
  /** Defaults to the global fetch (undici). */
  fetchImpl?: typeof fetch;
  /** Environment for endpoint resolution (defaults to process.env). */
  env?: Record<string, string | undefined>;
  /** Attempts in a row without progress before giving up (default 3). */
  attempts?: number;
  /** First backoff delay in ms, doubled each time (default 500). */
  retryDelayMs?: number;
  /** Abort an attempt when no byte arrives for this long (default 30 s). */
  stallTimeoutMs?: number;
}

export interface DownloadedFile extends ManifestFile {
  /** Already present and valid; nothing was transferred. */
  skipped: boolean;
}

export interface DownloadResult {
  dir: string;
  endpoint: string;
  files: DownloadedFile[];
  /** Optional files the server does not have. */
  absent: string[];
  /** Body bytes received in this run. */
  bytesTransferred: number;
  manifest: ModelManifest;
}

interface Ctx {
  entry: ModelEntry;
  dir: string;
  endpoint: string;
  fetchImpl: typeof fetch;
  signal: AbortSignal | undefined;
  emit: (e: DownloadProgressEvent) => void;
  attempts: number;
  retryDelayMs: number;
  stallTimeoutMs: number;
  count: number;
  transferred: number;
}

type FileOutcome = { size: number; sha256: string } | 'absent';

/** Downloads every file of `entry` into `options.destDir`. Returns what is now in place. */
export async function downloadModel(entryInput: ModelEntry, options: DownloadOptions): Promise<DownloadResult> {
  const entry = parseModelEntry(entryInput);
  const dir = resolve(options.destDir);
  const endpoint = resolveEndpoint(options.endpoint, options.env ?? process.env);
  const signal = options.signal;
  if (signal?.aborted) throw abortedError(`Download of ${entry.name}`, signal.reason);
  const fetchImpl = options.fetchImpl ?? globalThis.fetch;
  const onProgress = options.onProgress;

  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new MemeryError('E_IO', `Expected to create the model folder ${dir} but could not`, { path: dir, cause: e });
  }
  const release = await takeDownloadLock(dir);
  try {
    const ctx: Ctx = {
      entry,
      dir,
      endpoint,
      fetchImpl,
      signal,
      emit: (e) => {
        if (onProgress) onProgress(e);
      },
      attempts: Math.max(1, options.attempts ?? 3),
      retryDelayMs: Math.max(0, options.retryDelayMs ?? 500),
      stallTimeoutMs: Math.max(1, options.stallTimeoutMs ?? 30_000),
      count: entry.files.length,
      transferred: 0,
    };

    let previous: ModelManifest | undefined;
    try {
      previous = await readManifest(dir);
    } catch {
      previous = undefined; // unreadable manifest: re-verify everything
    }
    const sameSource = previous && previous.repo === entry.repo && previous.revision === entry.revision;

    const manifest: ModelManifest = {
      version: 1,
      name: entry.name,
      repo: entry.repo,
      revision: entry.revision,
      layout: entry.layout,
      ...(entry.variant ? { variant: entry.variant } : {}),
      endpoint,
      complete: false,
      updatedAt: new Date().toISOString(),
      files: [],
    };
    const files: DownloadedFile[] = [];
    const absent: string[] = [];
    // Records of files not processed yet in this run stay valid (same repo and revision) until then,
    // so an interrupted run does not forget them.
    const pending = new Map((sameSource ? previous?.files ?? [] : []).map((f) => [f.path, f]));
    const save = async () => {
      manifest.updatedAt = new Date().toISOString();
      const done = new Set(manifest.files.map((f) => f.path));
      const carried = [...pending.values()].filter((f) => !done.has(f.path));
      await writeManifest(dir, { ...manifest, files: [...manifest.files, ...carried] });
    };
    if (previous) await save(); // from here on the folder is not complete until this run ends

    for (const [index, file] of entry.files.entries()) {
      const known = pending.get(file.path);
      pending.delete(file.path);
      const reused = await reuseExisting(ctx, file, known);
      if (reused) {
        const rec: ManifestFile = { path: file.path, size: reused.size, sha256: reused.sha256, source: file.sha256 ? 'registry' : 'recorded' };
        manifest.files.push(rec);
        files.push({ ...rec, skipped: true });
        ctx.emit({ phase: 'skip', file: file.path, index, count: ctx.count, bytes: reused.size, total: reused.size });
        continue;
      }
      const outcome = await downloadFile(ctx, file, index);
      if (outcome === 'absent') {
        absent.push(file.path);
        continue;
      }
      const rec: ManifestFile = { path: file.path, size: outcome.size, sha256: outcome.sha256, source: file.sha256 ? 'registry' : 'recorded' };
      manifest.files.push(rec);
      files.push({ ...rec, skipped: false });
      await save();
    }
    manifest.complete = true;
    pending.clear();
    await save();
    return { dir, endpoint, files, absent, bytesTransferred: ctx.transferred, manifest };
  } finally {
    await release();
  }
}

/** A final file already in place is kept when it can be trusted; otherwise it is deleted. */
async function reuseExisting(
  ctx: Ctx,
  file: ModelFile,
  known: ManifestFile | undefined,
): Promise<{ size: number; sha256: string } | undefined> {
  const p = localPath(ctx.dir, file.path);
  const size = await sizeOf(p);
  if (size === undefined) return undefined;
  const sizeOk = file.size === undefined || file.size === size;
  if (sizeOk && known && known.size === size && (!file.sha256 || known.sha256 === file.sha256)) {
    return { size, sha256: known.sha256 };
  }
  if (sizeOk && file.sha256) {
    const sha = await sha256File(p);
    if (sha === file.sha256) return { size, sha256: sha };
  }
  // Unknown provenance (no manifest record for this revision) or a mismatch: fetch it again.
  await rm(p, { force: true });
  return undefined;
}

async function downloadFile(ctx: Ctx, file: ModelFile, index: number): Promise<FileOutcome> {
  const finalPath = localPath(ctx.dir, file.path);
  const partPath = finalPath + PART_SUFFIX;
  const url = fileUrl(ctx.endpoint, ctx.entry.repo, ctx.entry.revision, file.path);
  try {
    await mkdir(dirname(finalPath), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new MemeryError('E_IO', `Expected to create ${dirname(finalPath)} but could not`, { path: dirname(finalPath), cause: e });
  }

  const maxTotal = ctx.attempts * 5;
  let inARow = 0;
  let total = 0;
  for (;;) {
    if (ctx.signal?.aborted) throw abortedError(`Download of ${file.path}`, ctx.signal.reason);
    total++;
    const before = (await sizeOf(partPath)) ?? 0;
    try {
      return await attempt(ctx, file, index, url, finalPath, partPath, before);
    } catch (e) {
      if (isMemeryError(e)) throw e;
      const after = (await sizeOf(partPath)) ?? 0;
      inARow = after > before ? 1 : inARow + 1;
      if (inARow >= ctx.attempts || total >= maxTotal) {
        throw new MemeryError(
          'E_DOWNLOAD',
          `Expected to download ${file.path} from ${url} but it failed after ${total} attempts: ${describe(e)}`,
          {
            path: finalPath,
            cause: e,
            hint: after > 0 ? `${after} bytes are kept in ${partPath}; run the download again to resume.` : 'Check your connection and run the download again.',
          },
        );
      }
      const delay = Math.max(ctx.retryDelayMs * 2 ** (inARow - 1) * (0.75 + Math.random() * 0.5), e instanceof RetryableError ? (e.retryAfterMs ?? 0) : 0);
      ctx.emit({ phase: 'retry', file: file.path, index, count: ctx.count, bytes: after, attempt: total + 1, message: describe(e) });
      await sleep(Math.min(delay, 60_000), ctx.signal, `Download of ${file.path}`);
    }
  }
}

async function readEtag(partPath: string): Promise<string | undefined> {
  try {
    const t = (await readFile(partPath.slice(0, -PART_SUFFIX.length) + ETAG_SUFFIX, 'utf8')).trim();
    return t || undefined;
  } catch {
    return undefined;
  }
}

async function discardPart(partPath: string): Promise<void> {
  await rm(partPath, { force: true });
  await rm(partPath.slice(0, -PART_SUFFIX.length) + ETAG_SUFFIX, { force: true });
}

async function cancelBody(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    /* ignore */
  }
}

/** One HTTP attempt. Throws MemeryError (final) or anything else (retryable). */
async function attempt(
  ctx: Ctx,
  file: ModelFile,
  index: number,
  url: string,
  finalPath: string,
  partPath: string,
  partSizeIn: number,
): Promise<FileOutcome> {
  let partSize = partSizeIn;
  if (file.size !== undefined && partSize > file.size) {
    await discardPart(partPath);
    partSize = 0;
  }
  const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity' };
  if (partSize > 0) {
    headers.range = `bytes=${partSize}-`;
    const etag = await readEtag(partPath);
    if (etag && !etag.startsWith('W/')) headers['if-range'] = etag;
  }

  const ac = new AbortController();
  const onAbort = () => ac.abort(ctx.signal?.reason);
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      ac.abort(new Error('stalled'));
    }, ctx.stallTimeoutMs);
  };
  const interrupted = (e: unknown): never => {
    if (ctx.signal?.aborted) throw abortedError(`Download of ${file.path}`, e);
    if (stalled) throw new RetryableError(`no data for ${Math.round(ctx.stallTimeoutMs / 1000)} s`, undefined, { cause: e });
    throw e;
  };

  try {
    arm();
    let res: Response;
    try {
      res = await ctx.fetchImpl(url, { headers, signal: ac.signal, redirect: 'follow' });
    } catch (e) {
      if (ctx.signal?.aborted || stalled) interrupted(e);
      const code = findOfflineCode(e);
      if (code) {
        throw new MemeryError(
          'E_OFFLINE',
          `Expected to reach ${ctx.endpoint} to download ${ctx.entry.repo} but the host cannot be reached (${code})`,
          {
            cause: e,
            hint:
              'Check your network connection, set MEMERY_HF_ENDPOINT to a reachable Hugging Face mirror, ' +
              'or pass --model-dir with a model folder you already have.',
          },
        );
      }
      throw e;
    }

    const status = res.status;
    let offset: number;
    let expectedTotal: number | undefined;
    const hash = createHash('sha256');

    if (status === 206) {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== partSize) {
        await cancelBody(res);
        await discardPart(partPath);
        throw new RetryableError(`server answered a different range (${res.headers.get('content-range') ?? 'none'}) than bytes=${partSize}-`);
      }
      expectedTotal = cr.total;
      offset = partSize;
      try {
        await hashFile(partPath, hash);
      } catch (e) {
        await cancelBody(res);
        throw new MemeryError('E_IO', `Expected to read ${partPath} but could not`, { path: partPath, cause: e });
      }
      arm(); // hashing a large part can take a while
    } else if (status === 200) {
      offset = 0;
      const len = res.headers.get('content-length');
      expectedTotal = len !== null && /^\d+$/.test(len) ? Number(len) : undefined;
    } else if (status === 416 && partSize > 0) {
      const cr = parseContentRange(res.headers.get('content-range'));
      await cancelBody(res);
      if (cr?.total === partSize) {
        // The part is already complete.
        ctx.emit({ phase: 'start', file: file.path, index, count: ctx.count, bytes: partSize, total: partSize });
        const sha = (await hashFile(partPath)).digest('hex');
        return await finalize(ctx, file, index, finalPath, partPath, partSize, sha);
      }
      await discardPart(partPath);
      throw new RetryableError(`server refused the range bytes=${partSize}- (416)`);
    } else {
      await cancelBody(res);
      const what = `Expected HTTP 200 for ${url} but received ${status}${res.statusText ? ` ${res.statusText}` : ''}`;
      if (status === 404 || status === 410) {
        if (file.optional) return 'absent';
        throw new MemeryError('E_DOWNLOAD', what, {
          path: finalPath,
          hint: `Check that ${ctx.entry.repo} has ${file.path} at revision "${ctx.entry.revision}" on ${ctx.endpoint}.`,
        });
      }
      if (status === 401 || status === 403) {
        throw new MemeryError('E_DOWNLOAD', what, {
          path: finalPath,
          hint: 'The repository may be private or gated, or the mirror may refuse the request.',
        });
      }
      if (status === 408 || status === 429 || status >= 500) {
        throw new RetryableError(`HTTP ${status}`, parseRetryAfter(res.headers.get('retry-after')));
      }
      throw new MemeryError('E_DOWNLOAD', what, { path: finalPath });
    }

    const encoding = res.headers.get('content-encoding');
    if (encoding && encoding !== 'identity') expectedTotal = undefined; // decoded bytes differ from the header

    if (file.size !== undefined && expectedTotal !== undefined && expectedTotal !== file.size) {
      await cancelBody(res);
      await discardPart(partPath);
      throw new MemeryError(
        'E_CHECKSUM',
        `Expected ${file.size} bytes for ${file.path} but the server reports ${expectedTotal}`,
        { path: finalPath, hint: `The file at revision "${ctx.entry.revision}" differs from the registry entry.` },
      );
    }

    const etag = res.headers.get('etag');
    const etagPath = finalPath + ETAG_SUFFIX;
    if (etag) await writeFile(etagPath, etag).catch(() => {});
    else if (offset === 0) await rm(etagPath, { force: true }).catch(() => {});

    const body = res.body;
    if (!body) throw new RetryableError('response without a body');
    let fh;
    try {
      fh = await open(partPath, offset === 0 ? 'w' : 'a');
    } catch (e) {
      await cancelBody(res);
      throw new MemeryError('E_IO', `Expected to write ${partPath} but could not`, { path: partPath, cause: e });
    }
    let bytes = offset;
    const full = expectedTotal ?? file.size;
    ctx.emit({ phase: 'start', file: file.path, index, count: ctx.count, bytes, ...(full !== undefined ? { total: full } : {}) });
    try {
      const reader = body.getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          interrupted(e);
          throw e;
        }
        if (chunk.done) break;
        arm();
        const value = chunk.value;
        try {
          await fh.write(value);
        } catch (e) {
          await reader.cancel().catch(() => {});
          throw new MemeryError('E_IO', `Expected to write ${partPath} but could not`, { path: partPath, cause: e });
        }
        hash.update(value);
        bytes += value.byteLength;
        ctx.transferred += value.byteLength;
        if (file.size !== undefined && bytes > file.size) {
          await reader.cancel().catch(() => {});
          break; // reported as a size mismatch below
        }
        ctx.emit({ phase: 'progress', file: file.path, index, count: ctx.count, bytes, ...(full !== undefined ? { total: full } : {}) });
      }
      try {
        await fh.sync();
      } catch (e) {
        throw new MemeryError('E_IO', `Expected to flush ${partPath} but could not`, { path: partPath, cause: e });
      }
    } finally {
      await fh.close().catch(() => {});
    }
    if (expectedTotal !== undefined && bytes < expectedTotal) {
      throw new RetryableError(`connection closed after ${bytes} of ${expectedTotal} bytes`);
    }
    return await finalize(ctx, file, index, finalPath, partPath, bytes, hash.digest('hex'));
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

async function finalize(
  ctx: Ctx,
  file: ModelFile,
  index: number,
  finalPath: string,
  partPath: string,
  size: number,
  sha256: string,
): Promise<{ size: number; sha256: string }> {
  if (file.size !== undefined && size !== file.size) {
    await discardPart(partPath);
    throw new MemeryError('E_CHECKSUM', `Expected ${file.size} bytes for ${file.path} but received ${size}`, {
      path: finalPath,
      hint: 'The partial file was deleted; run the download again. If it persists, the mirror serves a different file.',
    });
  }
  if (file.sha256 !== undefined && sha256 !== file.sha256) {
    await discardPart(partPath);
    throw new MemeryError('E_CHECKSUM', `Expected sha256 ${file.sha256} for ${file.path} but received ${sha256}`, {
      path: finalPath,
      hint: 'The partial file was deleted; run the download again. If it persists, the mirror serves a different file.',
    });
  }
  try {
    await rename(partPath, finalPath);
  } catch (e) {
    throw new MemeryError('E_IO', `Expected to move ${partPath} to ${finalPath} but could not`, { path: finalPath, cause: e });
  }
  await rm(finalPath + ETAG_SUFFIX, { force: true }).catch(() => {});
  ctx.emit({ phase: 'done', file: file.path, index, count: ctx.count, bytes: size, total: size });
  return { size, sha256 };
}

/* ------------------------------------------------------------------------------------------------ */
/* Installed models                                                                                  */
/* ------------------------------------------------------------------------------------------------ */

/** `<home>/models`. */
export function modelsHome(home: string): string {
  return join(resolve(home), 'models');
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes('..')) {
    throw new MemeryError('E_USAGE', `Expected a model name (letters, digits, ".", "_", "-") but received "${name}"`);
  }
}

/** `<home>/models/<name>`. */
export function modelDir(home: string, name: string): string {
  checkName(name);
  return join(modelsHome(home), name);
}

export interface InstalledModel {
  name: string;
  dir: string;
  /** Absent for folders memery did not download. */
  manifest?: ModelManifest;
  /** The manifest says every file is in place. */
  complete: boolean;
  /** Partial downloads (`*.part`) are present. */
  partial: boolean;
  /** A download is running into this folder right now. */
  downloading: boolean;
  /** Bytes on disk under the folder. */
  bytes: number;
}

async function walk(dir: string): Promise<{ bytes: number; partial: boolean }> {
  let bytes = 0;
  let partial = false;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return { bytes, partial };
  }
  for (const d of entries) {
    const p = join(dir, d.name);
    if (d.isDirectory()) {
      const sub = await walk(p);
      bytes += sub.bytes;
      partial ||= sub.partial;
    } else if (d.isFile()) {
      if (d.name.endsWith(PART_SUFFIX)) partial = true;
      bytes += (await sizeOf(p)) ?? 0;
    }
  }
  return { bytes, partial };
}

/** Every folder under `<home>/models`, sorted by name. */
export async function listInstalled(home: string): Promise<InstalledModel[]> {
  const root = modelsHome(home);
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new MemeryError('E_IO', `Expected to list ${root} but could not`, { path: root, cause: e });
  }
  const out: InstalledModel[] = [];
  for (const d of entries) {
    if (!d.isDirectory() || d.name.startsWith('.')) continue;
    const dir = join(root, d.name);
    let manifest: ModelManifest | undefined;
    try {
      manifest = await readManifest(dir);
    } catch {
      manifest = undefined;
    }
    const { bytes, partial } = await walk(dir);
    const m: InstalledModel = {
      name: d.name,
      dir,
      complete: manifest?.complete === true,
      partial,
      downloading: isDownloading(dir),
      bytes,
    };
    if (manifest) m.manifest = manifest;
    out.push(m);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Deletes `<home>/models/<name>`; E_NOT_FOUND when absent, E_LOCKED while a download runs into it. */
export async function removeModel(home: string, name: string): Promise<string> {
  const dir = modelDir(home, name);
  const s = await stat(dir).catch(() => undefined);
  if (!s?.isDirectory()) {
    const installed = (await listInstalled(home)).map((m) => m.name);
    throw new MemeryError('E_NOT_FOUND', `Expected an installed model named "${name}" in ${modelsHome(home)} but found none`, {
      path: dir,
      hint: installed.length ? `Installed: ${installed.join(', ')}` : 'No models are installed.',
    });
  }
  // Held while deleting: no download can start into the folder meanwhile.
  const release = await acquireLock(downloadLockPath(dir), 0, (holder) =>
    new MemeryError('E_LOCKED', `Expected no download into ${dir} but one is running${holder ? ` (pid ${holder})` : ''}`, {
      path: dir,
      hint: 'Stop the download first.',
    }),
  );
  try {
    await rm(dir, { recursive: true, force: true });
  } catch (e) {
    throw new MemeryError('E_IO', `Expected to delete ${dir} but could not`, { path: dir, cause: e });
  } finally {
    release();
  }
  return dir;
}

export interface VerifyFileResult {
  path: string;
  status: 'ok' | 'missing' | 'size-mismatch' | 'hash-mismatch';
  expectedSize: number;
  actualSize?: number;
  expectedSha256: string;
  actualSha256?: string;
}

export interface VerifyResult {
  ok: boolean;
  dir: string;
  manifest: ModelManifest;
  files: VerifyFileResult[];
  /** Human-readable problems (empty when ok). */
  problems: string[];
}

/**
 * Re-hashes every file recorded in `<dir>/.memery-model.json`. Reports instead of throwing on
 * mismatches; E_MODEL when there is no manifest (folders not downloaded by memery).
 */
export async function verifyModel(dir: string): Promise<VerifyResult> {
  const abs = resolve(dir);
  const manifest = await readManifest(abs);
  if (!manifest) {
    throw new MemeryError('E_MODEL', `Expected a download manifest ${MANIFEST_FILE} in ${abs} but it is missing`, {
      path: abs,
      hint: 'Only folders downloaded by memery record checksums; others can be checked by loading them.',
    });
  }
  const files: VerifyFileResult[] = [];
  const problems: string[] = [];
  if (!manifest.complete) problems.push('the download did not finish; run it again to complete it');
  for (const f of manifest.files) {
    const p = localPath(abs, f.path);
    const size = await sizeOf(p);
    const r: VerifyFileResult = { path: f.path, status: 'ok', expectedSize: f.size, expectedSha256: f.sha256 };
    if (size === undefined) {
      r.status = 'missing';
      problems.push(`${f.path}: missing`);
    } else {
      r.actualSize = size;
      if (size !== f.size) {
        r.status = 'size-mismatch';
        problems.push(`${f.path}: expected ${f.size} bytes but found ${size}`);
      } else {
        r.actualSha256 = await sha256File(p);
        if (r.actualSha256 !== f.sha256) {
          r.status = 'hash-mismatch';
          problems.push(`${f.path}: expected sha256 ${f.sha256} but found ${r.actualSha256}`);
        }
      }
    }
    files.push(r);
  }
  return { ok: problems.length === 0, dir: abs, manifest, files, problems };
}
