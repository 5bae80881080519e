import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveModel } from '../ts/api/model-resolver.js';
import { ConfigSchema } from '../ts/config/schema.js';
import { MemeryError, isMemeryError } from '../ts/errors.js';
import { DEFAULT_HF_ENDPOINT, downloadModel, resolveEndpoint, type DownloadOptions, type DownloadProgressEvent } from '../ts/models/download.js';
import { hubCacheDir, isDownloading, isOffline, repoCacheDir, repoLockPath } from '../ts/models/hf-cache.js';
import { legacyModelDir, listInstalled, modelsHome, removeModel, verifyModel } from '../ts/models/installed.js';
import { detectLayout } from '../ts/models/layout.js';
import { ProgressReporter, downloadProgress, formatBytes, formatDuration } from '../ts/models/progress.js';
import { DEFAULT_MODEL_NAME, MODEL_REGISTRY, getModelEntry, parseModelEntry, type ModelEntry } from '../ts/models/registry.js';
import { CLI_BUILT, cleanupTemps, runCli } from './helpers/cli.js';
import {
  closedPort,
  commitOf,
  gitBlobSha1,
  sha256 as sha,
  startHfServer,
  writeHubCache,
  writeRepo,
  type HfServer,
  type HfServerOptions,
} from './helpers/hf-server.js';
import { ROOT } from './helpers/shared.js';

const REPO = 'test-owner/tiny-clip';
const REV = 'main';
const COMMIT = commitOf(REPO, REV);

const FILES: Record<string, Buffer> = {
  'visual/model.onnx': randomBytes(320 * 1024),
  'textual/model.onnx': randomBytes(256 * 1024),
  'textual/tokenizer.json': Buffer.from(JSON.stringify({ model: { type: 'BPE' } })),
  'visual/preprocess_cfg.json': Buffer.from(
    JSON.stringify({ size: [224, 224], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bicubic', resize_mode: 'shortest' }),
  ),
  'config.json': Buffer.from(JSON.stringify({ embed_dim: 512, text_cfg: { context_length: 77 } })),
};
const BIG = 'visual/model.onnx';
const TOTAL = Object.values(FILES).reduce((a, b) => a + b.length, 0);
/** The name the Hub (and so the cache) gives a file: sha256 for LFS files (*.onnx here), else git sha1. */
const etag = (path: string) => (path.endsWith('.onnx') ? sha(FILES[path]!) : gitBlobSha1(FILES[path]!));

function entry(opts: { withSha?: boolean; extra?: ModelEntry['files']; name?: string; repo?: string } = {}): ModelEntry {
  return {
    name: opts.name ?? 'tiny-clip',
    repo: opts.repo ?? REPO,
    revision: REV,
    layout: 'openclip',
    description: 'synthetic test repo',
    files: [
      ...Object.entries(FILES).map(([path, buf]) => (opts.withSha ? { path, sha256: sha(buf), size: buf.length } : { path })),
      ...(opts.extra ?? []),
    ],
  };
}

/** The default registry model, served by the test server with FILES as content. */
const DEFAULT = getModelEntry(DEFAULT_MODEL_NAME);

let tmp: string;
let repoRoot: string;
const servers: HfServer[] = [];

async function server(opts: Omit<HfServerOptions, 'root'> = {}): Promise<HfServer> {
  const s = await startHfServer({ root: repoRoot, ...opts });
  servers.push(s);
  return s;
}

let n = 0;
/** A fresh HF_HOME (its hub cache is `<HF_HOME>/hub`). */
const freshHfHome = () => join(tmp, `hf-${++n}`);
const base = (s: HfServer, hfHome: string, extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
  endpoint: s.url,
  env: { HF_HOME: hfHome },
  retryDelayMs: 10,
  ...extra,
});
const repoDirIn = (hfHome: string, repo = REPO) => repoCacheDir(join(hfHome, 'hub'), repo);

async function expectError(p: Promise<unknown>, code: string): Promise<MemeryError> {
  try {
    await p;
  } catch (e) {
    expect(isMemeryError(e), `expected a MemeryError, got ${String(e)}`).toBe(true);
    expect((e as MemeryError).code, (e as Error).message).toBe(code);
    return e as MemeryError;
  }
  throw new Error(`expected ${code}, but the promise resolved`);
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!d.isDirectory()) out.push(relative(dir, join(d.parentPath, d.name)).split(sep).join('/'));
  }
  return out.sort();
}

const config = (extra: Record<string, unknown> = {}) => ConfigSchema.parse(extra);

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'memery-dl-'));
  repoRoot = join(tmp, 'hub-server');
  await writeRepo(repoRoot, REPO, REV, FILES);
  await writeRepo(repoRoot, DEFAULT.repo, REV, FILES);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  while (servers.length) await servers.pop()!.close();
});

afterAll(async () => {
  cleanupTemps();
  await rm(tmp, { recursive: true, force: true });
});

describe('the Hugging Face cache', () => {
  it('is found where huggingface_hub and @huggingface/hub look: HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, ~/.cache', async () => {
    const { getHFHubCachePath } = await import('@huggingface/hub');
    const cases: Array<Record<string, string>> = [
      {},
      { XDG_CACHE_HOME: '/x/cache' },
      { HF_HOME: '/hf/home', XDG_CACHE_HOME: '/x/cache' },
      { HF_HUB_CACHE: '/hub/cache', HF_HOME: '/hf/home' },
      { HUGGINGFACE_HUB_CACHE: '/old/name', HF_HOME: '/hf/home' },
    ];
    for (const env of cases) {
      for (const k of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME']) vi.stubEnv(k, env[k]);
      expect(hubCacheDir(env), JSON.stringify(env)).toBe(getHFHubCachePath());
    }
    expect(hubCacheDir({})).toBe(join(homedir(), '.cache', 'huggingface', 'hub'));
    expect(repoCacheDir('/c', 'immich-app/ViT-B-32__laion2b-s34b-b79k')).toBe(join('/c', 'models--immich-app--ViT-B-32__laion2b-s34b-b79k'));
    expect([isOffline({ HF_HUB_OFFLINE: '1' }), isOffline({ HF_HUB_OFFLINE: 'true' }), isOffline({ HF_HUB_OFFLINE: '0' }), isOffline({})]).toEqual([true, true, false, false]);
  });
});

describe('downloadModel', () => {
  it('fills the cache under HF_HOME in the huggingface_hub layout: blobs by etag, snapshot links, refs', async () => {
    const s = await server({ redirect: true });
    const hfHome = freshHfHome();
    const events: DownloadProgressEvent[] = [];
    const r = await downloadModel(entry({ withSha: true }), base(s, hfHome, { onProgress: (e) => events.push(e) }));

    const repoDir = repoDirIn(hfHome);
    const snapshot = join(repoDir, 'snapshots', COMMIT);
    expect(r.dir).toBe(snapshot);
    expect(r.commit).toBe(COMMIT);
    expect(await readFile(join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT);
    // Every file: a relative symlink to blobs/<sha256 for LFS files, git sha1 for others>, nothing else left behind.
    expect(await listTree(repoDir)).toEqual(
      [...Object.keys(FILES).map((p) => `blobs/${etag(p)}`), 'refs/main', ...Object.keys(FILES).map((p) => `snapshots/${COMMIT}/${p}`)].sort(),
    );
    for (const [path, buf] of Object.entries(FILES)) {
      const pointer = join(snapshot, ...path.split('/'));
      expect((await lstat(pointer)).isSymbolicLink(), path).toBe(true);
      expect(await readlink(pointer)).toBe(relative(join(pointer, '..'), join(repoDir, 'blobs', etag(path))));
      expect(sha(await readFile(pointer)), path).toBe(sha(buf));
    }
    // The LFS files went through the 302 hop to the CDN (the library's probe follows it; the bytes come from there).
    expect([...new Set(s.log.filter((e) => e.status === 302).map((e) => e.file))].sort()).toEqual(['textual/model.onnx', 'visual/model.onnx']);
    expect(s.contentRequests(BIG).map((e) => [e.hop, e.status])).toEqual([['cdn', 200]]);
    expect(s.contentRequests('config.json').map((e) => [e.hop, e.status])).toEqual([['resolve', 200]]);
    expect(r.bytesTransferred).toBe(TOTAL);
    expect(r.files.every((f) => f.how === 'downloaded')).toBe(true);
    expect(isDownloading(REPO, join(hfHome, 'hub'))).toBe(false);

    // The plan (model and size) comes before any byte; then start..progress..done per file.
    expect(events[0]).toMatchObject({ phase: 'plan', model: 'tiny-clip', repo: REPO, commit: COMMIT, count: 5, bytes: TOTAL, dir: snapshot });
    const big = events.filter((e) => e.phase !== 'plan' && e.file === BIG);
    expect(big[0]?.phase).toBe('start');
    expect(big.at(-1)).toMatchObject({ phase: 'done', bytes: FILES[BIG]!.length, total: FILES[BIG]!.length });
    expect(events.filter((e) => e.phase === 'done')).toHaveLength(5);

    expect((await detectLayout(r.dir)).kind).toBe('openclip');
  });

  it('puts the cache in HF_HUB_CACHE over HF_HOME', async () => {
    const s = await server();
    const hubCache = join(tmp, 'explicit-hub-cache');
    const r = await downloadModel(entry(), base(s, freshHfHome(), { env: { HF_HOME: join(tmp, 'not-this'), HF_HUB_CACHE: hubCache } }));
    expect(r.dir).toBe(join(repoCacheDir(hubCache, REPO), 'snapshots', COMMIT));
    expect(existsSync(join(tmp, 'not-this'))).toBe(false);
  });

  it('uses a model that Python put in the cache with zero requests, symlinked or copied', async () => {
    const s = await server();
    for (const copies of [false, true]) {
      const hfHome = freshHfHome();
      const { snapshot } = await writeHubCache(join(hfHome, 'hub'), DEFAULT.repo, FILES, { copies });
      const env = { HF_HOME: hfHome, HF_ENDPOINT: s.url };
      const layout = await resolveModel(join(tmp, 'home-unused'), config(), { env, onDownloadProgress: () => expect.unreachable('no download') });
      expect(layout.dir).toBe(snapshot);
      expect(layout.visionModel).toBe(join(snapshot, 'visual', 'model.onnx'));
      const r = await downloadModel(DEFAULT, { env });
      expect(r.files.every((f) => f.how === 'cached')).toBe(true);
      expect(r.files.find((f) => f.path === BIG)?.etag).toBe(copies ? null : etag(BIG));
    }
    expect(s.log).toEqual([]);
    expect(s.connections()).toBe(0);
  });

  it('fetches only what a partly filled cache lacks, reusing blobs of another commit', async () => {
    const s = await server();
    const hfHome = freshHfHome();
    const cache = join(hfHome, 'hub');
    // An older commit has every blob but config.json's, and no ref: main has moved on since.
    const { repoDir } = await writeHubCache(cache, REPO, FILES, { commit: 'a'.repeat(40), revision: 'a'.repeat(40) });
    await rm(join(repoDir, 'blobs', etag('config.json')));
    const r = await downloadModel(entry(), base(s, hfHome));
    expect(r.files.filter((f) => f.how === 'downloaded').map((f) => f.path)).toEqual(['config.json']);
    expect(s.contentRequests(BIG)).toEqual([]);
    expect(r.bytesTransferred).toBe(FILES['config.json']!.length);
  });

  it('resumes after a dropped connection with a Range request for the rest', async () => {
    const s = await server({ dropAfter: { [BIG]: 100 * 1024 }, redirect: true });
    const hfHome = freshHfHome();
    const events: DownloadProgressEvent[] = [];
    const r = await downloadModel(entry({ withSha: true }), base(s, hfHome, { onProgress: (e) => events.push(e) }));
    expect(sha(await readFile(join(r.dir, ...BIG.split('/'))))).toBe(sha(FILES[BIG]!));
    const reqs = s.contentRequests(BIG);
    expect(reqs.map((e) => [e.status, e.range])).toEqual([[200, undefined], [206, `bytes=${100 * 1024}-${FILES[BIG]!.length - 1}`]]);
    expect(s.bytesServed(BIG)).toBe(FILES[BIG]!.length); // not a byte twice
    expect(r.bytesTransferred).toBe(TOTAL);
    expect(events.some((e) => e.phase === 'retry' && e.file === BIG)).toBe(true);
    expect(existsSync(join(repoDirIn(hfHome), 'blobs', `${etag(BIG)}.incomplete`))).toBe(false);
  });

  it('resumes the .incomplete blob of an interrupted run, and restarts when the server ignores Range', async () => {
    const s = await server();
    const hfHome = freshHfHome();
    const ac = new AbortController();
    await expectError(
      downloadModel(entry(), base(s, hfHome, { signal: ac.signal, onProgress: (e) => e.phase === 'progress' && e.file === BIG && e.bytes >= 64 * 1024 && ac.abort() })),
      'E_ABORTED',
    );
    const part = join(repoDirIn(hfHome), 'blobs', `${etag(BIG)}.incomplete`);
    const kept = (await stat(part)).size;
    expect(kept).toBeGreaterThanOrEqual(64 * 1024);
    const r = await downloadModel(entry(), base(s, hfHome));
    expect(s.contentRequests(BIG).at(-1)?.range).toBe(`bytes=${kept}-${FILES[BIG]!.length - 1}`);
    expect(sha(await readFile(join(r.dir, ...BIG.split('/'))))).toBe(sha(FILES[BIG]!));

    // A server that answers a Range with the whole file: the part starts again from 0.
    const s2 = await server({ ignoreRange: [BIG], dropAfter: { [BIG]: 50 * 1024 } });
    const hf2 = freshHfHome();
    const r2 = await downloadModel(entry({ withSha: true }), base(s2, hf2));
    expect(s2.contentRequests(BIG).map((e) => e.status)).toEqual([200, 200, 200]); // cut, refused range, whole file
    expect(sha(await readFile(join(r2.dir, ...BIG.split('/'))))).toBe(sha(FILES[BIG]!));
  });

  it('retries a stalled transfer and a 503', async () => {
    const s = await server({ stallAfter: { [BIG]: 10 * 1024 }, failOnce: { 'config.json': 503 } });
    const r = await downloadModel(entry(), base(s, freshHfHome(), { stallTimeoutMs: 400 }));
    expect(s.contentRequests(BIG).map((e) => e.status)).toEqual([200, 206]);
    expect(s.contentRequests('config.json').map((e) => e.status)).toEqual([503, 200]);
    expect(sha(await readFile(join(r.dir, ...BIG.split('/'))))).toBe(sha(FILES[BIG]!));
  });

  it('refuses corrupted bytes with E_CHECKSUM and leaves no blob, part or link', async () => {
    // Against the registry's sha256, and, without one, against the Hub's etag (sha256 of LFS files, git sha1 of others).
    for (const [file, withSha] of [[BIG, true], [BIG, false], ['config.json', false]] as const) {
      const s = await server({ corrupt: [file], redirect: true });
      const hfHome = freshHfHome();
      const err = await expectError(downloadModel(entry({ withSha }), base(s, hfHome)), 'E_CHECKSUM');
      expect(err.message).toContain(file);
      expect(err.message).toContain(file === BIG ? `sha256 ${sha(FILES[file]!)}` : `git sha1 ${etag(file)}`); // expected
      expect(err.message).toMatch(/but received sha256 [0-9a-f]{64}/); // actual
      const repoDir = repoDirIn(hfHome);
      expect(existsSync(join(repoDir, 'blobs', etag(file)))).toBe(false);
      expect(existsSync(join(repoDir, 'blobs', `${etag(file)}.incomplete`))).toBe(false);
      expect(existsSync(join(repoDir, 'snapshots', COMMIT, ...file.split('/')))).toBe(false);
      expect(existsSync(join(repoDir, 'refs', 'main'))).toBe(false);
      expect(isDownloading(REPO, join(hfHome, 'hub'))).toBe(false);
    }
  });

  it('refuses bytes that differ from the registry sha256, as they stream in, and takes bytes that match it', async () => {
    // config.json is no LFS file: the Hub lists a git sha1 for it, no sha256, so only its bytes can disagree with the registry.
    const s = await server();
    const hfHome = freshHfHome();
    const cfg = FILES['config.json']!;
    const wrong = sha(Buffer.from('other bytes'));
    const e = entry({ withSha: true });
    e.files = e.files.map((f) => (f.path === 'config.json' ? { ...f, sha256: wrong } : f));
    const err = await expectError(downloadModel(e, base(s, hfHome)), 'E_CHECKSUM');
    const blob = join(repoDirIn(hfHome), 'blobs', etag('config.json'));
    expect(err.message).toBe(`Expected sha256 ${wrong} (registry) for config.json but received sha256 ${sha(cfg)}, git sha1 ${gitBlobSha1(cfg)}`);
    expect(err.path).toBe(blob);
    expect(err.hint).toMatch(/^The partial file was deleted; run the download again/);
    expect(existsSync(blob)).toBe(false);
    expect(existsSync(`${blob}.incomplete`)).toBe(false);

    // The registry's own sha256: verified and linked; the files of the refused run are kept.
    const r = await downloadModel(entry({ withSha: true }), base(s, hfHome));
    expect(Object.fromEntries(r.files.map((f) => [f.path, f.how]))).toMatchObject({ [BIG]: 'cached', 'config.json': 'downloaded' });
    expect(await readlink(join(r.dir, 'config.json'))).toBe(relative(r.dir, blob));
    expect(await readFile(join(r.dir, 'config.json'))).toEqual(cfg);
  });

  it("hashes what an earlier run left in the part: a bad prefix is refused once the rest arrives, a whole part needs no request", async () => {
    const big = FILES[BIG]!;
    const kept = 100 * 1024;
    const partIn = async (hfHome: string, bytes: Buffer) => {
      const part = join(repoDirIn(hfHome), 'blobs', `${etag(BIG)}.incomplete`);
      await mkdir(join(part, '..'), { recursive: true });
      await writeFile(part, bytes);
      return part;
    };
    const flipped = (b: Buffer, at: number) => {
      const c = Buffer.from(b);
      c[at] = c[at]! ^ 1;
      return c;
    };

    // A part whose bytes differ from the file's: only the rest is fetched (Range), and the whole is refused.
    const s = await server();
    const hfHome = freshHfHome();
    const bad = flipped(big.subarray(0, kept), 1234);
    const part = await partIn(hfHome, bad);
    const err = await expectError(downloadModel(entry({ withSha: true }), base(s, hfHome)), 'E_CHECKSUM');
    const got = Buffer.concat([bad, big.subarray(kept)]);
    expect(err.message).toBe(`Expected sha256 ${sha(big)} (registry) for ${BIG} but received sha256 ${sha(got)}, git sha1 ${gitBlobSha1(got)}`);
    expect(s.contentRequests(BIG).map((e) => [e.status, e.range])).toEqual([[206, `bytes=${kept}-${big.length - 1}`]]);
    expect(existsSync(part)).toBe(false);
    // The next run starts from byte 0 and gets it right; so does one without the registry's sha256 (the etag check).
    const r = await downloadModel(entry({ withSha: true }), base(s, hfHome));
    expect(s.contentRequests(BIG).map((e) => [e.status, e.range])).toEqual([[206, `bytes=${kept}-${big.length - 1}`], [200, undefined]]);
    expect(sha(await readFile(join(r.dir, ...BIG.split('/'))))).toBe(sha(big));
    const hfEtag = freshHfHome();
    await partIn(hfEtag, bad);
    const errEtag = await expectError(downloadModel(entry(), base(s, hfEtag)), 'E_CHECKSUM');
    expect(errEtag.message).toBe(`Expected sha256 ${sha(big)} for ${BIG} but received sha256 ${sha(got)}, git sha1 ${gitBlobSha1(got)}`);

    // A part that holds the whole file (a run that stopped before its check): checked and linked, no request for it.
    const s2 = await server();
    const hfWhole = freshHfHome();
    const whole = await partIn(hfWhole, big);
    const r2 = await downloadModel(entry({ withSha: true }), base(s2, hfWhole));
    expect(s2.contentRequests(BIG)).toEqual([]);
    expect(r2.files.find((f) => f.path === BIG)?.how).toBe('downloaded');
    expect(r2.bytesTransferred).toBe(TOTAL - big.length);
    expect(existsSync(whole)).toBe(false);
    expect((await lstat(join(r2.dir, ...BIG.split('/')))).isSymbolicLink()).toBe(true);
    expect(sha(await readFile(join(r2.dir, ...BIG.split('/'))))).toBe(sha(big));
    // ... and a whole part with a wrong byte is refused, again with no request for it.
    const hfWrong = freshHfHome();
    const wrong = await partIn(hfWrong, flipped(big, big.length - 1));
    const err2 = await expectError(downloadModel(entry({ withSha: true }), base(s2, hfWrong)), 'E_CHECKSUM');
    expect(err2.message).toMatch(new RegExp(`^Expected sha256 ${sha(big)} \\(registry\\) for visual/model\\.onnx but received sha256 (?!${sha(big)})`));
    expect(s2.contentRequests(BIG)).toEqual([]);
    expect(existsSync(wrong)).toBe(false);
  });

  it('refuses a file the Hub lists with another size or sha256 than the registry, before fetching it', async () => {
    const s = await server();
    const e = entry({ withSha: true });
    e.files = e.files.map((f) => (f.path === BIG ? { ...f, sha256: 'f'.repeat(64) } : f.path === 'config.json' ? { ...f, size: 3 } : f));
    const err = await expectError(downloadModel(e, base(s, freshHfHome())), 'E_CHECKSUM');
    expect(err.message).toMatch(/Expected visual\/model\.onnx of \d+ bytes, sha256 f{64} but .* lists \d+ bytes, sha256 [0-9a-f]{64}/);
    expect(s.log.filter((x) => x.hop !== 'api')).toEqual([]);
  });

  it('gives E_OFFLINE naming the endpoint when the host cannot be reached', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const t0 = Date.now();
    const err = await expectError(downloadModel(entry(), { endpoint, env: { HF_HOME: freshHfHome() }, retryDelayMs: 1000 }), 'E_OFFLINE');
    expect(Date.now() - t0).toBeLessThan(900); // no backoff for an unreachable host
    expect(err.message).toContain(endpoint);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.hint).toContain('MEMERY_HF_ENDPOINT');
    expect(err.hint).toContain('--model-dir');

    const fake: typeof fetch = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND huggingface.co'), { code: 'ENOTFOUND' }) });
    };
    const err2 = await expectError(downloadModel(entry(), { env: { HF_HOME: freshHfHome() }, fetchImpl: fake }), 'E_OFFLINE');
    expect(err2.message).toContain(DEFAULT_HF_ENDPOINT);
  });

  it('gives E_DOWNLOAD after 3 attempts without progress', async () => {
    let calls = 0;
    const failing: typeof fetch = async () => {
      calls++;
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    };
    const err = await expectError(downloadModel(entry(), { env: { HF_HOME: freshHfHome() }, fetchImpl: failing, retryDelayMs: 1 }), 'E_DOWNLOAD');
    expect(calls).toBe(3);
    expect(err.message).toMatch(/Expected to look up test-owner\/tiny-clip@main from https:\/\/huggingface\.co but it failed after 3 attempts: .*ECONNRESET/);
  });

  it('honours MEMERY_HF_ENDPOINT, then HF_ENDPOINT', async () => {
    const s = await server();
    const other = await server();
    const r = await downloadModel(entry(), { env: { HF_HOME: freshHfHome(), HF_ENDPOINT: other.url, MEMERY_HF_ENDPOINT: `${s.url}/` }, retryDelayMs: 10 });
    expect(r.endpoint).toBe(s.url);
    expect(other.log).toHaveLength(0);
    await downloadModel(entry(), { env: { HF_HOME: freshHfHome(), HF_ENDPOINT: other.url } });
    expect(other.log.length).toBeGreaterThan(0);

    expect(resolveEndpoint(undefined, { HF_ENDPOINT: other.url, MEMERY_HF_ENDPOINT: '' })).toBe(other.url);
    expect(resolveEndpoint(undefined, {})).toBe(DEFAULT_HF_ENDPOINT);
    expect(resolveEndpoint('https://mirror.example/', {})).toBe('https://mirror.example');
    expect(() => resolveEndpoint('ftp://x', {})).toThrow(/Expected an http\(s\) URL for the endpoint option but received "ftp:\/\/x"/);
  });

  it('treats a missing optional file as absent, and a missing required file or revision as E_DOWNLOAD', async () => {
    const s = await server();
    const r = await downloadModel(entry({ extra: [{ path: 'extra/notes.txt', optional: true }] }), base(s, freshHfHome()));
    expect(r.absent).toEqual(['extra/notes.txt']);

    const err = await expectError(downloadModel(entry({ extra: [{ path: 'extra/needed.bin' }] }), base(s, freshHfHome())), 'E_DOWNLOAD');
    expect(err.message).toMatch(/Expected test-owner\/tiny-clip to have extra\/needed\.bin at main \(commit [0-9a-f]{40}\) on .* but it does not/);
    const err2 = await expectError(downloadModel({ ...entry(), revision: 'v9' }, base(s, freshHfHome())), 'E_DOWNLOAD');
    expect(err2.message).toMatch(/Expected http:\/\/127\.0\.0\.1:\d+ to look up test-owner\/tiny-clip@v9 but it answered HTTP 404/);
  });

  it('refuses to run while another process downloads the repository, and validates entries', async () => {
    const s = await server();
    const hfHome = freshHfHome();
    const cache = join(hfHome, 'hub');
    const lock = repoLockPath(cache, REPO);
    await mkdir(join(lock, '..'), { recursive: true });
    const lockJs = join(ROOT, 'dist', 'ts', 'util', 'lock.js');
    const holder = spawn(
      process.execPath,
      ['--input-type=module', '-e', `const { acquireLock } = await import(${JSON.stringify(lockJs)}); await acquireLock(${JSON.stringify(lock)}, 0); console.log('held'); setInterval(() => {}, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    const err = await expectError(downloadModel(entry(), base(s, hfHome)), 'E_LOCKED');
    expect(err.message).toContain(`pid ${holder.pid}`);
    expect(err.message).toContain(repoCacheDir(cache, REPO));
    expect(isDownloading(REPO, cache)).toBe(true);
    holder.kill('SIGKILL'); // a holder that died (even by SIGKILL) holds nothing
    await new Promise((r) => holder.once('exit', r));
    expect(isDownloading(REPO, cache)).toBe(false);
    await downloadModel(entry(), base(s, hfHome));

    // Two downloads of one repository at once: the second is refused.
    const other = freshHfHome();
    const results = await Promise.allSettled([downloadModel(entry(), base(s, other)), downloadModel(entry(), base(s, other))]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'E_LOCKED' });

    await expect(downloadModel({ ...entry(), files: [{ path: '../escape' }] }, base(s, hfHome))).rejects.toMatchObject({ code: 'E_CONFIG' });
    await expect(downloadModel({ ...entry(), revision: '../../x' }, base(s, hfHome))).rejects.toMatchObject({ code: 'E_CONFIG' });
    expect(() => parseModelEntry({ name: 'x' })).toThrow(MemeryError);
  });
});

describe('HF_HUB_OFFLINE', () => {
  it('never opens a socket: the cached model is used, an absent one is a clear E_OFFLINE', async () => {
    const s = await server();
    const hfHome = freshHfHome();
    const env = { HF_HOME: hfHome, HF_HUB_OFFLINE: '1', HF_ENDPOINT: s.url, MEMERY_HF_ENDPOINT: s.url };
    const home = join(tmp, 'home-offline');

    const err = await expectError(resolveModel(home, config(), { env }), 'E_OFFLINE');
    const repoDir = repoDirIn(hfHome, DEFAULT.repo);
    expect(err.message).toBe(
      `Expected ${DEFAULT.name} (${DEFAULT.repo}@main) in the Hugging Face cache ${repoDir}, as HF_HUB_OFFLINE forbids downloading, but it has no refs/main (never downloaded)`,
    );
    expect(err.hint).toMatch(/Unset HF_HUB_OFFLINE/);
    await expectError(resolveModel(home, config(), { env, download: false }), 'E_MODEL');

    // Half there: the message names what is missing.
    const { snapshot, commit } = await writeHubCache(join(hfHome, 'hub'), DEFAULT.repo, FILES);
    await rm(join(snapshot, 'config.json'));
    expect((await expectError(downloadModel(DEFAULT, { env }), 'E_OFFLINE')).message).toMatch(new RegExp(`but snapshots/${commit} lacks config\\.json$`));

    await writeHubCache(join(hfHome, 'hub'), DEFAULT.repo, FILES);
    expect((await resolveModel(home, config(), { env })).dir).toBe(snapshot);
    expect(s.log).toEqual([]);
    expect(s.connections()).toBe(0);
  });

  it.skipIf(!CLI_BUILT)('memery models download names the model and its size before the bytes', async () => {
    const s = await server({ redirect: true });
    const hfHome = freshHfHome();
    const r = await runCli(['models', 'download'], { home: join(tmp, 'home-cli-online'), env: { HF_HOME: hfHome, MEMERY_HF_ENDPOINT: s.url } });
    expect(r.code, r.stderr).toBe(0);
    const snapshot = join(repoDirIn(hfHome, DEFAULT.repo), 'snapshots', commitOf(DEFAULT.repo, 'main'));
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe(`${DEFAULT.name}: downloading ${formatBytes(TOTAL)} (5 files) from ${s.url} into ${snapshot}`);
    expect(lines.at(-1)).toBe(`${DEFAULT.name}: ready in ${snapshot} (${formatBytes(TOTAL)} downloaded)`);
  });

  it.skipIf(!CLI_BUILT)('memery models: offline download, list, verify and remove open no socket', async () => {
    const s = await server();
    const hfHome = freshHfHome();
    const home = join(tmp, 'home-cli');
    const env = { HF_HOME: hfHome, HF_HUB_OFFLINE: '1', HF_ENDPOINT: s.url, MEMERY_HF_ENDPOINT: s.url };
    const absent = await runCli(['models', 'download'], { home, env });
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain('HF_HUB_OFFLINE forbids downloading');
    expect(absent.stderr).toContain('hint: Unset HF_HUB_OFFLINE');

    const { snapshot } = await writeHubCache(join(hfHome, 'hub'), DEFAULT.repo, FILES);
    const ready = await runCli(['models', 'download'], { home, env });
    expect(ready.code, ready.stderr).toBe(0);
    expect(ready.stderr).toContain(`${DEFAULT.name}: ready in ${snapshot} (0 B downloaded)`);
    const list = JSON.parse((await runCli(['models', 'list', '--json'], { home, env })).stdout) as { models: Array<{ name: string; state: string; where: string; bytes: number }> };
    expect(list.models.find((m) => m.name === DEFAULT.name)).toMatchObject({ state: 'installed', where: 'hf-cache', bytes: TOTAL });
    const verify = await runCli(['models', 'verify', DEFAULT.name], { home, env });
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toBe(`${DEFAULT.name}: ok\n`);
    const removed = await runCli(['models', 'remove', DEFAULT.name], { home, env });
    expect(removed.code, removed.stderr).toBe(0);
    expect(existsSync(repoDirIn(hfHome, DEFAULT.repo))).toBe(false);
    expect(s.connections()).toBe(0);
  });
});

describe('installed models', () => {
  it('finds an earlier memery folder, and moves it into the cache (checked, not downloaded) on download', async () => {
    const s = await server();
    const home = join(tmp, 'home-legacy');
    const hfHome = freshHfHome();
    const legacy = legacyModelDir(home, DEFAULT.name);
    expect(legacy).toBe(join(modelsHome(home), DEFAULT.name));
    await writeRepo(join(home, 'models'), DEFAULT.name, '.', FILES);
    await writeFile(join(legacy, '.memery-model.json'), '{}');
    const env = { HF_HOME: hfHome, HF_ENDPOINT: s.url };

    expect((await resolveModel(home, config(), { env })).dir).toBe(legacy);
    expect(s.connections()).toBe(0);
    expect((await listInstalled(home, env)).find((m) => m.name === DEFAULT.name)).toMatchObject({ where: 'legacy', complete: true });

    // One file damaged in the old folder: that one is downloaded, the others move.
    await writeFile(join(legacy, 'config.json'), '{"embed_dim": 1}');
    const r = await downloadModel(DEFAULT, { env, legacyDir: legacy });
    expect(Object.fromEntries(r.files.map((f) => [f.path, f.how]))).toEqual({
      'textual/model.onnx': 'adopted',
      'textual/tokenizer.json': 'adopted',
      'visual/model.onnx': 'adopted',
      'visual/preprocess_cfg.json': 'adopted',
      'config.json': 'downloaded',
    });
    expect(s.log.filter((e) => e.hop !== 'api' && !e.probe).map((e) => e.file)).toEqual(['config.json']);
    expect(r.migratedFrom).toBe(legacy);
    expect(existsSync(legacy)).toBe(false);
    expect((await resolveModel(home, config(), { env })).dir).toBe(r.dir);
  });

  // /dev/shm (tmpfs) is another file system than the temp folder on Linux: a rename there fails (EXDEV).
  const otherFs = existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(tmpdir()).dev;
  it.skipIf(!otherFs)('moves an earlier memery folder on another file system into the cache by copying it', async () => {
    const s = await server();
    const home = await mkdtemp(join('/dev/shm', 'memery-dl-home-'));
    try {
      const hfHome = freshHfHome();
      const legacy = legacyModelDir(home, DEFAULT.name);
      await writeRepo(join(home, 'models'), DEFAULT.name, '.', FILES);
      const r = await downloadModel(DEFAULT, { env: { HF_HOME: hfHome, HF_ENDPOINT: s.url }, legacyDir: legacy });
      expect(r.files.every((f) => f.how === 'adopted')).toBe(true);
      expect(s.log.filter((e) => e.hop !== 'api' && !e.probe)).toEqual([]);
      const repoDir = repoDirIn(hfHome, DEFAULT.repo);
      expect(await listTree(repoDir)).toEqual(
        [...Object.keys(FILES).map((p) => `blobs/${etag(p)}`), 'refs/main', ...Object.keys(FILES).map((p) => `snapshots/${r.commit}/${p}`)].sort(),
      );
      for (const [path, buf] of Object.entries(FILES)) {
        expect((await lstat(join(r.dir, ...path.split('/')))).isSymbolicLink(), path).toBe(true);
        expect(await readFile(join(repoDir, 'blobs', etag(path)))).toEqual(buf);
      }
      expect(existsSync(legacy)).toBe(false);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('verifies against the registry and the blob names, lists, and removes without touching shared files', async () => {
    const s = await server();
    const home = join(tmp, 'home-verify');
    const hfHome = freshHfHome();
    const env = { HF_HOME: hfHome };
    await expectError(verifyModel(home, DEFAULT.name, env), 'E_NOT_FOUND');
    const r = await downloadModel(DEFAULT, { endpoint: s.url, env });
    expect(await verifyModel(home, DEFAULT.name, env)).toMatchObject({ ok: true, dir: r.dir, where: 'hf-cache', problems: [] });

    const bigBlob = join(repoDirIn(hfHome, DEFAULT.repo), 'blobs', etag(BIG));
    const bytes = await readFile(bigBlob);
    bytes[1000] = bytes[1000]! ^ 1;
    await writeFile(bigBlob, bytes);
    const v = await verifyModel(home, DEFAULT.name, env);
    expect(v.ok).toBe(false);
    expect(v.files.find((f) => f.path === BIG)?.status).toBe('hash-mismatch');
    expect(v.problems).toEqual([expect.stringMatching(new RegExp(`^visual/model\\.onnx: expected the content its blob is named by \\(${etag(BIG)}\\) but found sha256`))]);

    await mkdir(join(modelsHome(home), 'hand-made'), { recursive: true });
    const list = await listInstalled(home, env);
    expect(list.map((m) => [m.name, m.where, m.complete])).toEqual([
      ['hand-made', 'legacy', false],
      [DEFAULT.name, 'hf-cache', true],
    ]);
    await expectError(verifyModel(home, 'hand-made', env), 'E_MODEL');
    expect(await removeModel(home, 'hand-made', env)).toEqual([join(modelsHome(home), 'hand-made')]);

    // Another tool's snapshot of the same repository keeps its blobs.
    const { snapshot: other } = await writeHubCache(join(hfHome, 'hub'), DEFAULT.repo, { 'config.json': FILES['config.json']! }, { commit: 'b'.repeat(40), revision: 'b'.repeat(40) });
    expect(await removeModel(home, DEFAULT.name, env)).toEqual([r.dir]);
    expect(await listTree(repoDirIn(hfHome, DEFAULT.repo))).toEqual([`blobs/${etag('config.json')}`, `snapshots/${'b'.repeat(40)}/config.json`]);
    expect(await readFile(join(other, 'config.json'))).toEqual(FILES['config.json']);
    await expectError(removeModel(home, DEFAULT.name, env), 'E_NOT_FOUND');
    await expectError(removeModel(home, '../etc', env), 'E_USAGE');
    expect(await listInstalled(join(tmp, 'no-such-home'), { HF_HOME: join(tmp, 'no-such-hf') })).toEqual([]);
  });

  it('keeps the files an fp32 and an int8 model of one repository share, and loads each its own files', async () => {
    const fp32 = getModelEntry('clip-vit-base-patch32');
    const int8 = getModelEntry('clip-vit-base-patch32-quantized');
    const hfHome = freshHfHome();
    const env = { HF_HOME: hfHome, HF_HUB_OFFLINE: '1' };
    const json = (v: unknown) => Buffer.from(JSON.stringify(v));
    const files: Record<string, Buffer> = {
      'onnx/vision_model.onnx': randomBytes(1000),
      'onnx/text_model.onnx': randomBytes(1000),
      'onnx/vision_model_quantized.onnx': randomBytes(500),
      'onnx/text_model_quantized.onnx': randomBytes(500),
      'vocab.json': json({ a: 0 }),
      'merges.txt': Buffer.from('#version: 0.2\n'),
      'preprocessor_config.json': json({ crop_size: 224, size: 224 }),
      'config.json': json({ projection_dim: 512 }),
    };
    const { snapshot } = await writeHubCache(join(hfHome, 'hub'), fp32.repo, files);
    const home = join(tmp, 'home-shared');
    expect((await resolveModel(home, config({ model: fp32.name }), { env })).visionModel).toBe(join(snapshot, 'onnx', 'vision_model.onnx'));
    expect((await resolveModel(home, config({ model: int8.name }), { env })).visionModel).toBe(join(snapshot, 'onnx', 'vision_model_quantized.onnx'));
    await removeModel(home, int8.name, env);
    expect(await listTree(snapshot)).toEqual(['config.json', 'merges.txt', 'onnx/text_model.onnx', 'onnx/vision_model.onnx', 'preprocessor_config.json', 'vocab.json']);
    expect((await resolveModel(home, config({ model: fp32.name }), { env })).dir).toBe(snapshot);
  });
});

describe('registry', () => {
  it('has the default OpenCLIP model and the Xenova fp32/int8 models, all schema-valid', () => {
    const d = getModelEntry();
    expect(d.name).toBe(DEFAULT_MODEL_NAME);
    expect(d.repo).toBe('immich-app/ViT-B-32__laion2b-s34b-b79k');
    expect(d.layout).toBe('openclip');
    expect(d.files.map((f) => f.path).sort()).toEqual(
      ['config.json', 'textual/model.onnx', 'textual/tokenizer.json', 'visual/model.onnx', 'visual/preprocess_cfg.json'],
    );
    const hf = getModelEntry('clip-vit-base-patch32');
    expect(hf.repo).toBe('Xenova/clip-vit-base-patch32');
    expect(hf.files.map((f) => f.path)).toEqual(expect.arrayContaining(['onnx/vision_model.onnx', 'onnx/text_model.onnx', 'vocab.json', 'merges.txt']));
    const q = MODEL_REGISTRY.find((e) => e.variant === 'int8');
    expect(q?.files.map((f) => f.path)).toEqual(expect.arrayContaining(['onnx/vision_model_quantized.onnx', 'onnx/text_model_quantized.onnx']));
    for (const e of MODEL_REGISTRY) {
      expect(e.checksumNote).toBe('not verifiable offline; pinned by revision');
      expect(e.files.every((f) => f.sha256 === undefined)).toBe(true);
    }
    expect(() => getModelEntry('nope')).toThrow(/Expected a known model name but received "nope"/);
  });
});

describe('progress reporter', () => {
  function sink(isTTY: boolean) {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, columns: 100, write: (s: string) => chunks.push(s) } };
  }

  it('redraws one line with \\r on a TTY, in colour unless NO_COLOR', () => {
    let t = 0;
    const { chunks, stream } = sink(true);
    const r = new ProgressReporter({ stream, env: {}, now: () => t });
    r.start('visual/model.onnx', 1000);
    t = 1000;
    r.update(500);
    expect(r.snapshot()).toMatchObject({ bytes: 500, total: 1000, rate: 500, etaSeconds: 1 });
    t = 2000;
    r.update(1000);
    r.finish();
    const out = chunks.join('');
    expect(out).toContain('\r');
    expect(out).toContain('\x1b[');
    expect(out).toMatch(/50%/);
    expect(out.endsWith('\n')).toBe(true);
    for (const line of out.split('\r')) expect(line.replace(/\x1b\[[0-9;]*m/g, '').trimEnd().length).toBeLessThan(100);

    const plainTty = sink(true);
    const r2 = new ProgressReporter({ stream: plainTty.stream, env: { NO_COLOR: '1' }, now: () => t });
    r2.start('x', 10);
    r2.update(5);
    r2.finish();
    expect(plainTty.chunks.join('')).not.toContain('\x1b[');
  });

  it('prints plain, throttled lines when not a TTY and adapts download events, naming the model and size first', () => {
    let t = 0;
    const { chunks, stream } = sink(false);
    const r = new ProgressReporter({ stream, env: {}, now: () => t, plainIntervalMs: 5000 });
    const cb = downloadProgress(r);
    cb({ phase: 'plan', model: 'tiny', repo: 'o/r', commit: 'c'.repeat(40), endpoint: 'https://hf.example', dir: '/cache/x', count: 2, bytes: 350 * 2 ** 20 });
    cb({ phase: 'start', file: 'a.onnx', index: 0, count: 2, bytes: 0, total: 2048 });
    for (let i = 1; i <= 10; i++) {
      t += 100;
      cb({ phase: 'progress', file: 'a.onnx', index: 0, count: 2, bytes: i * 100, total: 2048 });
    }
    cb({ phase: 'done', file: 'a.onnx', index: 0, count: 2, bytes: 2048, total: 2048 });
    const out = chunks.join('');
    expect(out).not.toContain('\r');
    expect(out).not.toContain('\x1b[');
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('tiny: downloading 350 MB (2 files) from https://hf.example into /cache/x');
    expect(lines).toHaveLength(2); // throttled: only the final line after the plan
    expect(lines[1]).toMatch(/a\.onnx \(1\/2\) 100% 2\.0 KB\/2\.0 KB .*done/);
  });

  it('formats bytes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MB');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
  });
});
