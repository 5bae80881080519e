/**
 * Downloads a registry model into the Hugging Face cache (./hf-cache.ts) with @huggingface/hub.
 *
 * The library speaks the Hub's protocol: the commit a revision stands for (modelInfo), the size and
 * etag of each file (pathsInfo: the sha256 of LFS files, the git sha1 of others), and the bytes
 * (downloadFile: the resolve URL and its CDN redirect, over plain HTTP). Its downloadFileToCacheDir
 * and snapshotDownload are not used, for what they lack and memery adds here:
 *  - resume: they stream each file from byte 0 into `<blob>.incomplete` (truncating what a dropped
 *    connection left) and never retry. Here the part is kept and the next attempt, or the next run,
 *    asks for the rest (`blob.slice(offset)`: a Range request), restarting from 0 if the server
 *    ignores the Range; dropped connections, stalls and 408/429/5xx are retried with backoff;
 *  - no request at all when the cache has the model or HF_HUB_OFFLINE is set (they ask the Hub
 *    first unless given a commit, and snapshotDownload fetches every file of the repository);
 *  - one folder per model: files land in snapshots/<the revision's commit>, and refs/<revision> is
 *    written (downloadFileToCacheDir keys a branch revision by each file's last commit);
 *  - integrity: each blob is checked against the registry's sha256 and size and the Hub's etag
 *    before it gets its final name;
 *  - a lock, progress events (the model and its size before any byte), MemeryErrors with codes.
 * Files of an earlier memery's own layout (<home>/models/<name>) that match are moved into the
 * cache instead of being downloaded again, and that folder is removed once the model is complete.
 */
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MemeryError, isMemeryError } from '../errors.js';
import {
  COMMIT_RE,
  INCOMPLETE_SUFFIX,
  blobPath,
  contentHasher,
  contentMismatch,
  etagOf,
  hashContent,
  hashFile,
  hubCacheDir,
  isEtag,
  isOffline,
  linkSnapshotFile,
  lockRepo,
  lookupCached,
  snapshotDir,
  writeRef,
  type CacheLookup,
  type ContentHashes,
  type Env,
} from './hf-cache.js';
import { parseModelEntry, type ModelEntry } from './registry.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
const USER_AGENT = 'memery/0.1 (+model-download)';

export type DownloadProgressEvent =
  /** Sent once the Hub said what to fetch, before any byte of it: the model and the bytes to download. */
  | { phase: 'plan'; model: string; repo: string; commit: string; endpoint: string; dir: string; count: number; bytes: number }
  /**
   * 'start': a transfer begins (bytes = resume offset). 'progress': bytes so far. 'done': file in
   * place. 'skip': already in the cache. 'retry': an attempt failed, another follows.
   */
  | {
      phase: 'start' | 'progress' | 'done' | 'skip' | 'retry';
      /** Repository path of the file (for a 'retry' of a lookup: what was looked up). */
      file: string;
      index: number;
      count: number;
      bytes: number;
      total?: number;
      attempt?: number;
      message?: string;
    };

export interface DownloadOptions {
  /** Overrides MEMERY_HF_ENDPOINT / HF_ENDPOINT / https://huggingface.co. */
  endpoint?: string;
  /** The hub cache (default: from HF_HUB_CACHE / HF_HOME, see hubCacheDir). */
  cacheDir?: string;
  /** An earlier memery's folder of this model (<home>/models/<name>): matching files are moved into the cache. */
  legacyDir?: string;
  signal?: AbortSignal;
  onProgress?: (e: DownloadProgressEvent) => void;
  /** Defaults to the global fetch (undici). */
  fetchImpl?: typeof fetch;
  /** Environment for the endpoint, the cache and HF_HUB_OFFLINE (defaults to process.env). */
  env?: Env;
  /** Attempts in a row without progress before giving up (default 3). */
  attempts?: number;
  /** First backoff delay in ms, doubled each time (default 500). */
  retryDelayMs?: number;
  /** Abort an attempt when no byte arrives for this long (default 30 s). */
  stallTimeoutMs?: number;
}

export interface DownloadedFile {
  path: string;
  size: number;
  /** The blob's name (sha256 or git sha1); null for a plain copy in the cache. */
  etag: string | null;
  how: 'cached' | 'adopted' | 'downloaded';
}

export interface DownloadResult {
  name: string;
  /** snapshots/<commit>: the model folder. */
  dir: string;
  commit: string;
  /** The endpoint asked; absent when the cache had everything. */
  endpoint?: string;
  files: DownloadedFile[];
  /** Optional files the repository does not have. */
  absent: string[];
  /** Body bytes received in this run. */
  bytesTransferred: number;
  /** The earlier memery folder that was moved into the cache and removed. */
  migratedFrom?: string;
}

/** Endpoint: explicit option, else MEMERY_HF_ENDPOINT, else HF_ENDPOINT, else huggingface.co. No trailing '/'. */
export function resolveEndpoint(explicit?: string, env: Env = process.env): string {
  for (const [source, value] of [['the endpoint option', explicit], ['MEMERY_HF_ENDPOINT', env.MEMERY_HF_ENDPOINT], ['HF_ENDPOINT', env.HF_ENDPOINT]] as const) {
    if (value === undefined || value.trim() === '') continue;
    if (!/^https?:\/\/[^/]/.test(value.trim()) || !URL.canParse(value.trim())) {
      throw new MemeryError('E_CONFIG', `Expected an http(s) URL for ${source} but received "${value}"`, {
        hint: 'For example MEMERY_HF_ENDPOINT=https://hf-mirror.example.org',
      });
    }
    return value.trim().replace(/\/+$/, '');
  }
  return DEFAULT_HF_ENDPOINT;
}

function offlineError(entry: ModelEntry, miss: Extract<CacheLookup, { found: false }>): MemeryError {
  const what = miss.commit ? `snapshots/${miss.commit} lacks ${miss.missing.join(', ')}` : `it has no refs/${entry.revision} (never downloaded)`;
  return new MemeryError('E_OFFLINE', `Expected ${entry.name} (${entry.repo}@${entry.revision}) in the Hugging Face cache ${miss.repoDir}, as HF_HUB_OFFLINE forbids downloading, but ${what}`, {
    path: miss.repoDir,
    hint: 'Unset HF_HUB_OFFLINE to download it, point HF_HOME or HF_HUB_CACHE at a cache that has it, or pass --model-dir with a model folder.',
  });
}

type Hub = typeof import('@huggingface/hub');

interface Ctx {
  entry: ModelEntry;
  endpoint: string;
  repoDir: string;
  fetchImpl: typeof fetch;
  signal: AbortSignal | undefined;
  emit: (e: DownloadProgressEvent) => void;
  attempts: number;
  retryDelayMs: number;
  stallTimeoutMs: number;
  transferred: number;
}

interface Planned {
  path: string;
  index: number;
  size: number;
  etag: string;
  sha256?: string;
}

/** Downloads what the cache lacks of `entry`; returns the model folder (snapshots/<commit>). */
export async function downloadModel(entryInput: ModelEntry, options: DownloadOptions = {}): Promise<DownloadResult> {
  const entry = parseModelEntry(entryInput);
  const env = options.env ?? process.env;
  const cache = options.cacheDir ?? hubCacheDir(env);
  if (options.signal?.aborted) throw aborted(`Download of ${entry.name}`, options.signal.reason);
  const cached = await lookupCached(entry, cache);
  if (cached.found) {
    const files = await Promise.all(cached.files.map(async (f) => ({ path: f.path, size: f.size, etag: (await etagOf(f.file)) ?? null, how: 'cached' as const })));
    return { name: entry.name, dir: cached.dir, commit: cached.commit, files, absent: [], bytesTransferred: 0 };
  }
  if (isOffline(env)) throw offlineError(entry, cached);
  const endpoint = resolveEndpoint(options.endpoint, env);
  const release = await lockRepo(cache, entry.repo);
  try {
    const hub: Hub = await import('@huggingface/hub');
    const ctx: Ctx = {
      entry,
      endpoint,
      repoDir: cached.repoDir,
      fetchImpl: options.fetchImpl ?? globalThis.fetch,
      signal: options.signal,
      emit: (e) => options.onProgress?.(e),
      attempts: Math.max(1, options.attempts ?? 3),
      retryDelayMs: Math.max(0, options.retryDelayMs ?? 500),
      stallTimeoutMs: Math.max(1, options.stallTimeoutMs ?? 30_000),
      transferred: 0,
    };
    const hubArgs = (net: Net) => ({ hubUrl: endpoint, fetch: net.fetch });
    const revision = `${entry.repo}@${entry.revision}`;
    const commit = COMMIT_RE.test(entry.revision)
      ? entry.revision
      : await retrying(ctx, `look up ${revision}`, revision, async (net) => (await hub.modelInfo({ name: entry.repo, revision: entry.revision, additionalFields: ['sha'], ...hubArgs(net) })).sha);
    if (typeof commit !== 'string' || !COMMIT_RE.test(commit)) {
      throw new MemeryError('E_DOWNLOAD', `Expected a commit hash for ${revision} from ${endpoint} but received ${JSON.stringify(commit)}`);
    }
    const infos = await retrying(ctx, `list the files of ${revision}`, revision, (net) =>
      hub.pathsInfo({ repo: entry.repo, paths: entry.files.map((f) => f.path), revision: commit, ...hubArgs(net) }),
    );
    const dir = snapshotDir(ctx.repoDir, commit);
    const files: DownloadedFile[] = [];
    const absent: string[] = [];
    const todo: Planned[] = [];
    const skipped: Planned[] = [];
    for (const [index, f] of entry.files.entries()) {
      const info = infos.find((i) => i.path === f.path && i.type === 'file');
      if (!info) {
        if (f.optional) {
          absent.push(f.path);
          continue;
        }
        throw new MemeryError('E_DOWNLOAD', `Expected ${entry.repo} to have ${f.path} at ${entry.revision} (commit ${commit}) on ${endpoint} but it does not`, {
          hint: 'The registry entry and the repository disagree; a mirror may be incomplete.',
        });
      }
      const p: Planned = { path: f.path, index, size: info.lfs?.size ?? info.size, etag: info.lfs?.oid ?? info.oid ?? '' };
      if (!isEtag(p.etag)) {
        throw new MemeryError('E_DOWNLOAD', `Expected a sha256 or git sha1 for ${f.path} from ${endpoint} but received ${JSON.stringify(p.etag)}`);
      }
      if (f.sha256) p.sha256 = f.sha256;
      const lfsSha = info.lfs ? p.etag : undefined;
      if ((f.size !== undefined && f.size !== p.size) || (f.sha256 && lfsSha && f.sha256 !== lfsSha)) {
        throw new MemeryError('E_CHECKSUM', `Expected ${f.path} of ${f.size ?? '?'} bytes, sha256 ${f.sha256 ?? '?'} but ${endpoint} lists ${p.size} bytes, ${lfsSha ? `sha256 ${lfsSha}` : `git sha1 ${p.etag}`} at commit ${commit}`, {
          hint: `The file at revision "${entry.revision}" differs from the registry entry.`,
        });
      }
      const how = await reuse(ctx, commit, p, options.legacyDir);
      if (how) {
        files.push({ path: p.path, size: p.size, etag: p.etag, how });
        skipped.push(p);
      } else todo.push(p);
    }
    const bytes = todo.reduce((n, p) => n + p.size, 0);
    ctx.emit({ phase: 'plan', model: entry.name, repo: entry.repo, commit, endpoint, dir, count: todo.length, bytes });
    for (const p of skipped) ctx.emit({ phase: 'skip', file: p.path, index: p.index, count: entry.files.length, bytes: p.size, total: p.size });
    for (const p of todo) {
      await fetchBlob(ctx, hub, commit, p);
      files.push({ path: p.path, size: p.size, etag: p.etag, how: 'downloaded' });
    }
    await writeRef(ctx.repoDir, entry.revision, commit);
    const result: DownloadResult = { name: entry.name, dir, commit, endpoint, files, absent, bytesTransferred: ctx.transferred };
    if (options.legacyDir && (await stat(options.legacyDir).catch(() => undefined))) {
      await rm(options.legacyDir, { recursive: true, force: true });
      result.migratedFrom = options.legacyDir;
    }
    return result;
  } catch (e) {
    throw fsError(e) ?? e;
  } finally {
    release();
  }
}

/** A file the snapshot already has, whose blob is cached, or that the earlier memery folder holds. */
async function reuse(ctx: Ctx, commit: string, p: Planned, legacyDir: string | undefined): Promise<DownloadedFile['how'] | undefined> {
  const pointer = join(snapshotDir(ctx.repoDir, commit), ...p.path.split('/'));
  const st = await stat(pointer).catch(() => undefined);
  if (st?.isFile() && st.size === p.size && [p.etag, null].includes((await etagOf(pointer)) ?? null)) return 'cached';
  const blob = blobPath(ctx.repoDir, p.etag);
  if ((await stat(blob).catch(() => undefined))?.size === p.size) {
    await linkSnapshotFile(ctx.repoDir, commit, p.path, p.etag);
    return 'cached';
  }
  if (!legacyDir) return undefined;
  const old = join(legacyDir, ...p.path.split('/'));
  if ((await stat(old).catch(() => undefined))?.size !== p.size) return undefined;
  if (contentMismatch(await hashContent(old, p.size), p)) return undefined;
  await linkSnapshotFile(ctx.repoDir, commit, p.path, p.etag, old);
  return 'adopted';
}

/**
 * Fetches blobs/<etag> through `<etag>.incomplete`, resuming what is there, checks it and links it
 * into the snapshot. The content is hashed as it is written: what an earlier attempt or run left in
 * the part once, when the attempt starts, then each chunk received.
 */
async function fetchBlob(ctx: Ctx, hub: Hub, commit: string, p: Planned): Promise<void> {
  const count = ctx.entry.files.length;
  const blob = blobPath(ctx.repoDir, p.etag);
  const part = blob + INCOMPLETE_SUFFIX;
  await mkdir(dirname(blob), { recursive: true });
  const h: ContentHashes = await retrying(ctx, `download ${p.path}`, p.path, async (net, arm) => {
    let offset = (await stat(part).catch(() => undefined))?.size ?? 0;
    if (offset > p.size) {
      await rm(part, { force: true });
      offset = 0;
    }
    const hasher = await hashFile(contentHasher(p.size), part, offset);
    const out = await open(part, 'a');
    try {
      let bytes = offset;
      ctx.emit({ phase: 'start', file: p.path, index: p.index, count, bytes, total: p.size });
      if (offset < p.size) {
        // xet: false: the resolve URL (and its CDN redirect) over HTTP, whose Range requests the tests exercise.
        const source = await hub.downloadFile({ repo: ctx.entry.repo, path: p.path, revision: commit, hubUrl: ctx.endpoint, fetch: net.fetch, xet: false });
        if (!source) throw new MemeryError('E_DOWNLOAD', `Expected ${ctx.endpoint} to serve ${p.path} of ${ctx.entry.repo} at ${commit} but it answered 404`);
        if (source.size !== p.size) {
          throw new MemeryError('E_CHECKSUM', `Expected ${p.size} bytes for ${p.path} (as listed) but ${ctx.endpoint} serves ${source.size}`);
        }
        const reader = (offset > 0 ? source.slice(offset) : source).stream().getReader();
        try {
          for (let r = await reader.read(); !r.done; r = await reader.read()) {
            arm();
            // Every byte of the chunk, as the hash takes every byte of it.
            for (let done = 0; done < r.value.byteLength; ) done += (await out.write(r.value, done)).bytesWritten;
            hasher.update(r.value);
            bytes += r.value.byteLength;
            ctx.transferred += r.value.byteLength;
            if (bytes > p.size) throw new MemeryError('E_CHECKSUM', `Expected ${p.size} bytes for ${p.path} but received more`);
            ctx.emit({ phase: 'progress', file: p.path, index: p.index, count, bytes, total: p.size });
          }
        } catch (e) {
          await reader.cancel().catch(() => undefined);
          if (net.rangeIgnored || isMemeryError(e, 'E_CHECKSUM')) await out.truncate(0); // start over
          throw e;
        }
        await out.sync();
      }
      if (bytes < p.size) throw new Error(`connection closed after ${bytes} of ${p.size} bytes`);
      return hasher.digest();
    } finally {
      await out.close();
    }
  });
  const bad = contentMismatch(h, p);
  if (bad) {
    await rm(part, { force: true });
    throw new MemeryError('E_CHECKSUM', `Expected ${bad} for ${p.path} but received sha256 ${h.sha256}, git sha1 ${h.gitSha1}`, {
      path: blob,
      hint: 'The partial file was deleted; run the download again. If it persists, the mirror serves a different file.',
    });
  }
  await linkSnapshotFile(ctx.repoDir, commit, p.path, p.etag, part);
  ctx.emit({ phase: 'done', file: p.path, index: p.index, count, bytes: p.size, total: p.size });
}

/* ---- network: one fetch per attempt, retries --------------------------------------------------- */

interface Net {
  fetch: typeof fetch;
  /** The first error fetch threw in this attempt (the library reduces body errors to a message). */
  lastError?: unknown;
  /** A Range request was answered with the whole file: the part must restart from 0. */
  rangeIgnored: boolean;
}

function attemptFetch(base: typeof fetch, signal: AbortSignal): Net {
  const net: Net = {
    rangeIgnored: false,
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers);
      if (!headers.has('user-agent')) headers.set('user-agent', USER_AGENT);
      try {
        const res = await base(input, { ...init, headers, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
        const from = /^bytes=(\d+)-/.exec(headers.get('range') ?? '');
        if (from && Number(from[1]) > 0 && res.status === 200) {
          net.rangeIgnored = true;
          await res.body?.cancel().catch(() => undefined);
          throw new Error(`the server ignored "Range: ${headers.get('range')}" and sent the whole file`);
        }
        return res;
      } catch (e) {
        net.lastError ??= e;
        throw e;
      }
    },
  };
  return net;
}

const OFFLINE_CODES = new Set(['ENOTFOUND', 'ECONNREFUSED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN']);

/** A system error code in an error, its causes and AggregateError members. */
function errorCode(e: unknown, depth = 0): string | undefined {
  if (depth > 6 || typeof e !== 'object' || e === null) return undefined;
  const o = e as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof o.code === 'string' && /^E[A-Z_]+$/.test(o.code) && !o.code.startsWith('E_')) return o.code;
  const nested = [o.cause, ...(Array.isArray(o.errors) ? o.errors : [])];
  for (const x of nested) {
    const c = errorCode(x, depth + 1);
    if (c) return c;
  }
  return undefined;
}

/** A file system error (it names a path and a system call) as E_IO, or E_DISK_FULL. */
function fsError(e: unknown): MemeryError | undefined {
  const x = e as NodeJS.ErrnoException;
  if (typeof x?.path !== 'string' || typeof x.syscall !== 'string') return undefined;
  return new MemeryError(x.code === 'ENOSPC' ? 'E_DISK_FULL' : 'E_IO', `Expected to ${x.syscall} ${x.path} but could not (${x.code ?? x.message})`, { path: x.path, cause: e });
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const parts = [e.message];
  if (e.cause instanceof Error && e.cause.message !== e.message) parts.push(e.cause.message);
  const code = errorCode(e);
  if (code && !parts.some((p) => p.includes(code))) parts.push(code);
  return parts.join(': ');
}

function aborted(what: string, cause?: unknown): MemeryError {
  return new MemeryError('E_ABORTED', `${what} was aborted`, { cause, hint: 'Partial files are kept; run the download again to resume.' });
}

/**
 * Runs `attempt` until it succeeds; retries dropped connections, stalls, 408/429/5xx with backoff,
 * up to `attempts` in a row without a byte of progress. Final failures become MemeryErrors.
 */
async function retrying<T>(ctx: Ctx, what: string, label: string, attempt: (net: Net, arm: () => void) => Promise<T>): Promise<T> {
  let inARow = 0;
  for (let total = 1; ; total++) {
    if (ctx.signal?.aborted) throw aborted(`Download of ${ctx.entry.name}`, ctx.signal.reason);
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
    const net = attemptFetch(ctx.fetchImpl, ac.signal);
    const before = ctx.transferred;
    let failure: string;
    try {
      arm();
      return await attempt(net, arm);
    } catch (e) {
      if (ctx.signal?.aborted) throw aborted(`Download of ${ctx.entry.name}`, e);
      if (isMemeryError(e)) throw e;
      const io = fsError(e);
      if (io) throw io;
      const status = (e as { statusCode?: unknown }).statusCode;
      const cause = net.lastError ?? e;
      const code = errorCode(cause);
      if (typeof status === 'number' && status !== 408 && status !== 429 && status < 500) {
        throw new MemeryError('E_DOWNLOAD', `Expected ${ctx.endpoint} to ${what} but it answered HTTP ${status}`, {
          cause: e,
          hint: status === 401 || status === 403
            ? 'The repository may be private or gated, or the mirror may refuse the request.'
            : `Check that ${ctx.entry.repo} has revision "${ctx.entry.revision}" on ${ctx.endpoint}.`,
        });
      }
      if (code && OFFLINE_CODES.has(code) && !stalled) {
        throw new MemeryError('E_OFFLINE', `Expected to reach ${ctx.endpoint} to download ${ctx.entry.repo} but the host cannot be reached (${code})`, {
          cause,
          hint: 'Check your network connection, set MEMERY_HF_ENDPOINT to a reachable Hugging Face mirror, or pass --model-dir with a model folder you already have.',
        });
      }
      failure = stalled ? `no data for ${Math.round(ctx.stallTimeoutMs / 1000)} s` : describe(cause);
    } finally {
      clearTimeout(timer);
      ctx.signal?.removeEventListener('abort', onAbort);
    }
    inARow = ctx.transferred > before || net.rangeIgnored ? 1 : inARow + 1;
    if (inARow >= ctx.attempts || total >= ctx.attempts * 5) {
      throw new MemeryError('E_DOWNLOAD', `Expected to ${what} from ${ctx.endpoint} but it failed after ${total} attempts: ${failure}`, {
        hint: 'Check your connection and run the download again; what was received is kept and resumed.',
      });
    }
    ctx.emit({ phase: 'retry', file: label, index: 0, count: ctx.entry.files.length, bytes: 0, attempt: total + 1, message: failure });
    const delay = net.rangeIgnored ? 0 : ctx.retryDelayMs * 2 ** (inARow - 1) * (0.75 + Math.random() * 0.5);
    await sleep(Math.min(delay, 60_000), ctx.signal, `Download of ${ctx.entry.name}`);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((res, rej) => {
    const onAbort = () => {
      clearTimeout(t);
      rej(aborted(what, signal?.reason));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
