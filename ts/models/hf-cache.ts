/**
 * The Hugging Face cache, the one Python's huggingface_hub (transformers, open_clip, immich's
 * exports) and @huggingface/hub share. Nothing here opens a socket.
 *
 *   <cache>/models--<owner>--<name>/
 *     refs/<revision>            the commit that a branch or tag pointed to when it was fetched
 *     blobs/<etag>               file contents, named by the Hub's etag: the sha256 of an LFS file,
 *                                the git blob sha1 of any other; `<etag>.incomplete` while downloading
 *     snapshots/<commit>/<path>  relative symlinks to ../../blobs/<etag> (copies where links fail)
 *   <cache>/.locks/models--<owner>--<name>/   lock files (huggingface_hub's `<etag>.lock`, memery's `memery.lock`)
 *
 * <cache> is HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub: huggingface_hub's rule, which
 * @huggingface/hub's getHFHubCachePath() follows too (test/models-download.test.ts compares them;
 * the library is not imported here because loading it costs every cold search ~30 ms).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, readlink, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { MemeryError } from '../errors.js';
import { acquireLock, lockHeld } from '../util/lock.js';
import { SHA256_RE, type ModelEntry } from './registry.js';

export type Env = Record<string, string | undefined>;

/** A commit hash: what `snapshots/` is keyed by. */
export const COMMIT_RE = /^[0-9a-f]{40}$/;
/** Suffix of a blob being downloaded (huggingface_hub's; either tool resumes the other's). */
export const INCOMPLETE_SUFFIX = '.incomplete';

const set = (v: string | undefined): v is string => v !== undefined && v !== '';

/** The hub cache folder for this environment. */
export function hubCacheDir(env: Env = process.env): string {
  if (set(env.HF_HUB_CACHE)) return env.HF_HUB_CACHE;
  if (set(env.HUGGINGFACE_HUB_CACHE)) return env.HUGGINGFACE_HUB_CACHE;
  if (set(env.HF_HOME)) return join(env.HF_HOME, 'hub');
  return join(set(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), '.cache'), 'huggingface', 'hub');
}

/** HF_HUB_OFFLINE (or transformers' TRANSFORMERS_OFFLINE) set to 1/ON/YES/TRUE, as huggingface_hub reads it. */
export function isOffline(env: Env = process.env): boolean {
  const v = set(env.HF_HUB_OFFLINE) ? env.HF_HUB_OFFLINE : env.TRANSFORMERS_OFFLINE;
  return v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.trim().toUpperCase());
}

/** `<cache>/models--<owner>--<name>`. */
export function repoCacheDir(cache: string, repo: string): string {
  return join(cache, `models--${repo.split('/').join('--')}`);
}

export function snapshotDir(repoDir: string, commit: string): string {
  return join(repoDir, 'snapshots', commit);
}

export function blobPath(repoDir: string, etag: string): string {
  return join(repoDir, 'blobs', etag);
}

/** memery's download lock of a cached repository (one per repository: models of one repo share blobs). */
export function repoLockPath(cache: string, repo: string): string {
  return join(cache, '.locks', basename(repoCacheDir(cache, repo)), 'memery.lock');
}

/** Whether memery is downloading `repo` into `cache` (in this or another process). */
export function isDownloading(repo: string, cache: string = hubCacheDir()): boolean {
  return lockHeld(repoLockPath(cache, repo));
}

/** Takes the download lock of `repo` in `cache`: E_LOCKED at once while another process holds it. */
export async function lockRepo(cache: string, repo: string): Promise<() => void> {
  const p = repoLockPath(cache, repo);
  await mkdir(dirname(p), { recursive: true });
  return acquireLock(p, 0, (holder) =>
    new MemeryError('E_LOCKED', `Expected no other download of ${repo} into ${repoCacheDir(cache, repo)} but one is running${holder ? ` (pid ${holder})` : ''}`, {
      path: repoCacheDir(cache, repo),
      hint: 'Wait for it to finish (a download whose process died holds nothing).',
    }),
  );
}

/** The commit `revision` stands for in the cache: itself when it is one, else what refs/<revision> says. */
export async function cachedCommit(repoDir: string, revision: string): Promise<string | undefined> {
  if (COMMIT_RE.test(revision)) return revision;
  const ref = await readFile(join(repoDir, 'refs', ...revision.split('/')), 'utf8').catch(() => '');
  return COMMIT_RE.test(ref.trim()) ? ref.trim() : undefined;
}

export async function writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const p = join(repoDir, 'refs', ...revision.split('/'));
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, commit);
}

/**
 * How a file comes into the cache, decided here only. Given `from` (a checked download's
 * `<etag>.incomplete`, or an earlier memery's copy of the file), it is moved to blobs/<etag> first:
 * renamed, or copied and then removed where a rename fails (another file system). Then
 * snapshots/<commit>/<path> points at blobs/<etag>: a relative symlink, a copy where links fail.
 */
export async function linkSnapshotFile(repoDir: string, commit: string, path: string, etag: string, from?: string): Promise<string> {
  const pointer = join(snapshotDir(repoDir, commit), ...path.split('/'));
  const blob = blobPath(repoDir, etag);
  if (from !== undefined) {
    await mkdir(dirname(blob), { recursive: true });
    await rename(from, blob).catch(async () => {
      await copyFile(from, blob);
      await rm(from, { force: true }).catch(() => undefined); // a folder memery may not change keeps it
    });
  }
  await mkdir(dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  try {
    await symlink(relative(dirname(pointer), blob), pointer);
  } catch {
    await copyFile(blob, pointer);
  }
  return pointer;
}

/** The name of the blob a snapshot file points to (its etag, which names the content), or undefined for a plain copy. */
export async function etagOf(pointer: string): Promise<string | undefined> {
  const link = await readlink(pointer).catch(() => undefined);
  return link === undefined ? undefined : realpath(pointer).then(basename, () => undefined);
}

export interface CachedFile {
  path: string;
  /** snapshots/<commit>/<path>. */
  file: string;
  size: number;
}

export type CacheLookup =
  | { found: true; dir: string; commit: string; files: CachedFile[] }
  | { found: false; repoDir: string; commit?: string; missing: string[]; present: CachedFile[] };

/**
 * Whether the cache holds every required file of `entry` at its revision, without a request. A
 * file whose size differs from the registry's, or whose blob name (its sha256) differs from the
 * registry's sha256, counts as missing.
 */
export async function lookupCached(entry: ModelEntry, cache: string): Promise<CacheLookup> {
  const repoDir = repoCacheDir(cache, entry.repo);
  const commit = await cachedCommit(repoDir, entry.revision);
  if (!commit) return { found: false, repoDir, missing: [`refs/${entry.revision}`], present: [] };
  const files: CachedFile[] = [];
  const missing: string[] = [];
  for (const f of entry.files) {
    const file = join(snapshotDir(repoDir, commit), ...f.path.split('/'));
    const st = await stat(file).catch(() => undefined);
    const name = st?.isFile() ? ((await etagOf(file)) ?? '') : '';
    const ok = st !== undefined && st.isFile() && (f.size === undefined || st.size === f.size) && (!f.sha256 || !SHA256_RE.test(name) || name === f.sha256);
    if (ok) files.push({ path: f.path, file, size: st.size });
    else if (!f.optional) missing.push(f.path);
  }
  return missing.length ? { found: false, repoDir, commit, missing, present: files } : { found: true, dir: snapshotDir(repoDir, commit), commit, files };
}

/** Hashes of file contents: its sha256 and its git blob sha1. */
export interface ContentHashes {
  sha256: string;
  gitSha1: string;
}

/** ContentHashes of content fed in pieces, as it is read or received. */
export interface ContentHasher {
  update(chunk: Uint8Array): void;
  digest(): ContentHashes;
}

/** A ContentHasher for content of `size` bytes (the git blob sha1 starts with the size). */
export function contentHasher(size: number): ContentHasher {
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1').update(`blob ${size}\0`);
  return {
    update(chunk) {
      sha256.update(chunk);
      sha1.update(chunk);
    },
    digest: () => ({ sha256: sha256.digest('hex'), gitSha1: sha1.digest('hex') }),
  };
}

/** Feeds the first `bytes` of a file (all of it when undefined) to `h`. */
export async function hashFile(h: ContentHasher, path: string, bytes?: number): Promise<ContentHasher> {
  if (bytes === 0) return h;
  for await (const chunk of createReadStream(path, bytes === undefined ? {} : { end: bytes - 1 })) h.update(chunk as Buffer);
  return h;
}

/** sha256 of a file and, given its size, its git blob sha1 (what the Hub names a non-LFS file by). */
export async function hashContent(path: string, size: number): Promise<ContentHashes> {
  return (await hashFile(contentHasher(size), path)).digest();
}

/** A name the Hub gives file contents: a sha256 (LFS files) or a git sha1 (others). */
export function isEtag(s: string): boolean {
  return SHA256_RE.test(s) || COMMIT_RE.test(s);
}

/** Whether content hashes match an etag: sha256 for a 64-digit one, git sha1 for a 40-digit one. */
export function matchesEtag(etag: string, h: ContentHashes): boolean | undefined {
  if (SHA256_RE.test(etag)) return etag === h.sha256;
  if (COMMIT_RE.test(etag)) return etag === h.gitSha1;
  return undefined;
}

/** How contentMismatch words what was expected. */
export interface MismatchWords {
  /** The registry's sha256 differs. */
  sha256: (sha256: string) => string;
  /** The content is not what the etag names. */
  etag: (etag: string) => string;
}

const EXPECTED: MismatchWords = {
  sha256: (sha256) => `sha256 ${sha256} (registry)`,
  etag: (etag) => (etag.length === 64 ? `sha256 ${etag}` : `git sha1 ${etag}`),
};

/**
 * What content hashes `h` fail to match, or undefined when they match: the registry's sha256 first
 * (when there is one), then the etag the blob is (to be) named by (not compared when empty or not an
 * etag: a plain copy). Worded by `say`, by default as what was expected ("sha256 … (registry)").
 */
export function contentMismatch(h: ContentHashes, want: { sha256?: string | undefined; etag?: string | undefined }, say: MismatchWords = EXPECTED): string | undefined {
  if (want.sha256 && want.sha256 !== h.sha256) return say.sha256(want.sha256);
  if (want.etag && matchesEtag(want.etag, h) === false) return say.etag(want.etag);
  return undefined;
}
