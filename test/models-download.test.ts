import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemeryError, isMemeryError } from '../ts/errors.js';
import {
  DEFAULT_HF_ENDPOINT,
  LEGACY_LOCK_FILE,
  downloadLockPath,
  isDownloading,
  MANIFEST_FILE,
  downloadModel,
  fileUrl,
  listInstalled,
  modelDir,
  modelsHome,
  readManifest,
  removeModel,
  resolveEndpoint,
  verifyModel,
  type DownloadOptions,
  type DownloadProgressEvent,
} from '../ts/models/download.js';
import { detectLayout } from '../ts/models/layout.js';
import { ProgressReporter, downloadProgress, formatBytes, formatDuration } from '../ts/models/progress.js';
import { DEFAULT_MODEL_NAME, MODEL_REGISTRY, getModelEntry, parseModelEntry, type ModelEntry } from '../ts/models/registry.js';
import { closedPort, startHfServer, writeRepo, type HfServer, type HfServerOptions } from './helpers/hf-server.js';
import { ROOT } from './helpers/shared.js';

const REPO = 'test-owner/tiny-clip';
const REV = 'main';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

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

function entry(opts: { withSha?: boolean; extra?: ModelEntry['files'] } = {}): ModelEntry {
  return {
    name: 'tiny-clip',
    repo: REPO,
    revision: REV,
    layout: 'openclip',
    description: 'synthetic test repo',
    files: [
      ...Object.entries(FILES).map(([path, buf]) =>
        opts.withSha ? { path, sha256: sha(buf), size: buf.length } : { path },
      ),
      ...(opts.extra ?? []),
    ],
  };
}

let tmp: string;
let repoRoot: string;
const servers: HfServer[] = [];

async function server(opts: Omit<HfServerOptions, 'root'> = {}): Promise<HfServer> {
  const s = await startHfServer({ root: repoRoot, ...opts });
  servers.push(s);
  return s;
}

let n = 0;
const freshDir = () => join(tmp, `dest-${++n}`);
const base = (s: HfServer, destDir: string, extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
  endpoint: s.url,
  destDir,
  retryDelayMs: 10,
  ...extra,
});

async function expectError(p: Promise<unknown>, code: string): Promise<MemeryError> {
  try {
    await p;
  } catch (e) {
    expect(isMemeryError(e), `expected a MemeryError, got ${String(e)}`).toBe(true);
    expect((e as MemeryError).code).toBe(code);
    return e as MemeryError;
  }
  throw new Error(`expected ${code}, but the promise resolved`);
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await listFiles(join(dir, d.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'memery-dl-'));
  repoRoot = join(tmp, 'hub');
  await writeRepo(repoRoot, REPO, REV, FILES);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  while (servers.length) await servers.pop()!.close();
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('downloadModel', () => {
  it('downloads a whole repo, following 302 redirects, verifying sha256 and writing a manifest', async () => {
    const s = await server({ redirect: ['visual/model.onnx', 'textual/model.onnx'] });
    const dest = freshDir();
    const events: DownloadProgressEvent[] = [];
    const r = await downloadModel(entry({ withSha: true }), base(s, dest, { onProgress: (e) => events.push(e) }));

    for (const [path, buf] of Object.entries(FILES)) {
      expect(sha(await readFile(join(dest, ...path.split('/')))), path).toBe(sha(buf));
    }
    // Nothing but the model files and the manifest is left behind (no .part, .etag or lock).
    expect(await listFiles(dest)).toEqual([...Object.keys(FILES), MANIFEST_FILE].sort());
    // The two model files went through a 302 hop to /cdn/.
    const redirected = s.log.filter((e) => e.status === 302).map((e) => e.file).sort();
    expect(redirected).toEqual(['textual/model.onnx', 'visual/model.onnx']);
    expect(s.log.filter((e) => e.hop === 'cdn' && e.status === 200)).toHaveLength(2);

    const total = Object.values(FILES).reduce((a, b) => a + b.length, 0);
    expect(r.bytesTransferred).toBe(total);
    expect(r.files.every((f) => !f.skipped && f.source === 'registry')).toBe(true);
    const m = await readManifest(dest);
    expect(m?.complete).toBe(true);
    expect(m?.repo).toBe(REPO);
    expect(m?.files.find((f) => f.path === BIG)?.sha256).toBe(sha(FILES[BIG]!));

    // Progress events: start..progress..done for each file, bytes monotonic.
    const big = events.filter((e) => e.file === BIG);
    expect(big[0]?.phase).toBe('start');
    expect(big.at(-1)).toMatchObject({ phase: 'done', bytes: FILES[BIG]!.length, total: FILES[BIG]!.length });
    expect(events.filter((e) => e.phase === 'done')).toHaveLength(Object.keys(FILES).length);

    // The result is a loadable OpenCLIP folder.
    const layout = await detectLayout(dest);
    expect(layout.kind).toBe('openclip');
    expect(layout.preprocess.mean).toEqual([0.5, 0.5, 0.5]);

    // A second run transfers nothing.
    const before = s.log.length;
    const again = await downloadModel(entry({ withSha: true }), base(s, dest));
    expect(again.bytesTransferred).toBe(0);
    expect(again.files.every((f) => f.skipped)).toBe(true);
    expect(s.log.length).toBe(before);
  });

  it('resumes with a Range request after the connection drops mid-file (through the redirect)', async () => {
    const size = FILES[BIG]!.length;
    const s = await server({ redirect: [BIG], dropAfter: { [BIG]: 100 * 1024 } });
    const dest = freshDir();
    const events: DownloadProgressEvent[] = [];
    await downloadModel(entry({ withSha: true }), base(s, dest, { onProgress: (e) => events.push(e) }));

    const reqs = s.contentRequests(BIG);
    expect(reqs).toHaveLength(2);
    expect(reqs[0]!.range).toBeUndefined();
    expect(reqs[1]!.range).toMatch(/^bytes=\d+-$/);
    const from = Number(/^bytes=(\d+)-$/.exec(reqs[1]!.range!)![1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(100 * 1024);
    expect(reqs[1]!.status).toBe(206);
    expect(reqs[1]!.ifRange).toMatch(/^"/); // the strong ETag from the first response
    expect(s.bytesServed(BIG)).toBeLessThan(2 * size);
    expect(sha(await readFile(join(dest, 'visual', 'model.onnx')))).toBe(sha(FILES[BIG]!));
    expect(existsSync(join(dest, 'visual', 'model.onnx.part'))).toBe(false);
    expect(events.some((e) => e.phase === 'retry' && e.file === BIG)).toBe(true);
  });

  it('resumes on the next run from the .part left by an aborted run', async () => {
    const size = FILES[BIG]!.length;
    const s = await server();
    const dest = freshDir();
    const ac = new AbortController();
    const err = await expectError(
      downloadModel(entry({ withSha: true }), base(s, dest, {
        signal: ac.signal,
        onProgress: (e) => {
          if (e.file === BIG && e.phase === 'progress' && e.bytes >= 64 * 1024) ac.abort();
        },
      })),
      'E_ABORTED',
    );
    expect(err.hint).toMatch(/resume/);
    const part = join(dest, 'visual', 'model.onnx.part');
    const partSize = (await stat(part)).size;
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThan(size);
    expect(isDownloading(dest)).toBe(false); // the lock went with the aborted run

    await downloadModel(entry({ withSha: true }), base(s, dest));
    const reqs = s.contentRequests(BIG);
    expect(reqs.at(-1)!.range).toBe(`bytes=${partSize}-`);
    expect(reqs.at(-1)!.status).toBe(206);
    expect(s.bytesServed(BIG)).toBeLessThan(2 * size);
    expect(sha(await readFile(join(dest, 'visual', 'model.onnx')))).toBe(sha(FILES[BIG]!));
  });

  it('restarts from zero when the server ignores the Range header (200)', async () => {
    const s = await server({ dropAfter: { [BIG]: 50 * 1024 }, ignoreRange: [BIG] });
    const dest = freshDir();
    await downloadModel(entry({ withSha: true }), base(s, dest));
    const reqs = s.contentRequests(BIG);
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.range).toBeDefined();
    expect(reqs[1]!.status).toBe(200);
    expect(sha(await readFile(join(dest, 'visual', 'model.onnx')))).toBe(sha(FILES[BIG]!));
  });

  it('retries a 503 and a stalled transfer', async () => {
    const s = await server({ failOnce: { 'config.json': 503 }, stallAfter: { 'textual/model.onnx': 10 * 1024 } });
    const dest = freshDir();
    await downloadModel(entry({ withSha: true }), base(s, dest, { stallTimeoutMs: 300 }));
    expect(s.contentRequests('config.json').map((e) => e.status)).toEqual([503, 200]);
    const text = s.contentRequests('textual/model.onnx');
    expect(text).toHaveLength(2);
    expect(text[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(sha(await readFile(join(dest, 'textual', 'model.onnx')))).toBe(sha(FILES['textual/model.onnx']!));
  });

  it('gives E_DOWNLOAD after 3 attempts without progress, keeping the part', async () => {
    const s = await server();
    const dest = freshDir();
    let calls = 0;
    const failing: typeof fetch = async () => {
      calls++;
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    };
    const err = await expectError(downloadModel(entry(), base(s, dest, { fetchImpl: failing })), 'E_DOWNLOAD');
    expect(calls).toBe(3);
    expect(err.message).toMatch(/after 3 attempts/);
    expect(err.message).toContain('ECONNRESET');
  });

  it('fails with E_CHECKSUM on corrupted bytes and leaves neither the file nor the part', async () => {
    const s = await server({ corrupt: [BIG], redirect: true });
    const dest = freshDir();
    const err = await expectError(downloadModel(entry({ withSha: true }), base(s, dest)), 'E_CHECKSUM');
    expect(err.message).toContain(BIG);
    expect(err.message).toContain(sha(FILES[BIG]!)); // expected
    expect(err.message).toMatch(/but received [0-9a-f]{64}/); // actual
    expect(existsSync(join(dest, 'visual', 'model.onnx'))).toBe(false);
    expect(existsSync(join(dest, 'visual', 'model.onnx.part'))).toBe(false);
    expect((await readManifest(dest))?.complete ?? false).toBe(false);
    expect(isDownloading(dest)).toBe(false);
  });

  it('fails with E_CHECKSUM when the size differs from the registry', async () => {
    const s = await server();
    const dest = freshDir();
    const e = entry({ withSha: false });
    e.files = e.files.map((f) => (f.path === 'config.json' ? { ...f, size: 3 } : f));
    const err = await expectError(downloadModel(e, base(s, dest)), 'E_CHECKSUM');
    expect(err.message).toMatch(/Expected 3 bytes for config\.json/);
    expect(existsSync(join(dest, 'config.json'))).toBe(false);
    expect(existsSync(join(dest, 'config.json.part'))).toBe(false);
  });

  it('gives E_OFFLINE naming the endpoint when the host cannot be reached', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const dest = freshDir();
    const t0 = Date.now();
    const err = await expectError(downloadModel(entry(), { endpoint, destDir: dest, retryDelayMs: 1000 }), 'E_OFFLINE');
    expect(Date.now() - t0).toBeLessThan(900); // no backoff for an unreachable host
    expect(err.message).toContain(endpoint);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.hint).toContain('MEMERY_HF_ENDPOINT');
    expect(err.hint).toContain('--model-dir');
  });

  it('gives E_OFFLINE for an unresolvable host name', async () => {
    const dest = freshDir();
    const fake: typeof fetch = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND huggingface.co'), { code: 'ENOTFOUND' }) });
    };
    const err = await expectError(downloadModel(entry(), { destDir: dest, fetchImpl: fake, env: {} }), 'E_OFFLINE');
    expect(err.message).toContain(DEFAULT_HF_ENDPOINT);
  });

  it('honours MEMERY_HF_ENDPOINT, then HF_ENDPOINT', async () => {
    const s = await server();
    const other = await server();
    vi.stubEnv('HF_ENDPOINT', other.url);
    vi.stubEnv('MEMERY_HF_ENDPOINT', `${s.url}/`);
    const dest = freshDir();
    const r = await downloadModel(entry(), { destDir: dest, retryDelayMs: 10 });
    expect(r.endpoint).toBe(s.url);
    expect(s.log.length).toBeGreaterThan(0);
    expect(other.log).toHaveLength(0);
    expect((await readManifest(dest))?.endpoint).toBe(s.url);

    vi.stubEnv('MEMERY_HF_ENDPOINT', '');
    expect(resolveEndpoint()).toBe(other.url);
    expect(resolveEndpoint(undefined, {})).toBe(DEFAULT_HF_ENDPOINT);
    expect(resolveEndpoint('https://mirror.example/', {})).toBe('https://mirror.example');
    expect(() => resolveEndpoint('ftp://x', {})).toThrow(/Expected an http\(s\) URL/);
  });

  it('treats a missing optional file as absent and a missing required file as E_DOWNLOAD', async () => {
    const s = await server();
    const dest = freshDir();
    const r = await downloadModel(entry({ extra: [{ path: 'extra/notes.txt', optional: true }] }), base(s, dest));
    expect(r.absent).toEqual(['extra/notes.txt']);
    expect((await readManifest(dest))?.complete).toBe(true);

    const err = await expectError(
      downloadModel(entry({ extra: [{ path: 'extra/needed.bin' }] }), base(s, freshDir())),
      'E_DOWNLOAD',
    );
    expect(err.message).toMatch(/Expected HTTP 200 for .*extra\/needed\.bin but received 404/);
  });

  it('refuses to run while another download holds the folder', async () => {
    const s = await server();
    const dest = freshDir();
    await mkdir(dest, { recursive: true });
    // Another live process holds the folder's download lock (memery's OS lock): refused, naming it.
    const lockJs = join(ROOT, 'dist', 'ts', 'util', 'lock.js');
    const holder = spawn(
      process.execPath,
      ['--input-type=module', '-e', `const { acquireLock } = await import(${JSON.stringify(lockJs)}); await acquireLock(${JSON.stringify(downloadLockPath(dest))}, 0); console.log('held'); setInterval(() => {}, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    const err = await expectError(downloadModel(entry(), base(s, dest)), 'E_LOCKED');
    expect(err.message).toContain(`pid ${holder.pid}`);
    expect(err.message).toContain(dest);
    expect(isDownloading(dest)).toBe(true);
    // A holder that died (even by SIGKILL) holds nothing: the next download runs.
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(isDownloading(dest)).toBe(false);
    // An earlier memery's pid lock file inside the folder (a dead pid, or ours from an earlier run) does not block, and goes.
    for (const pid of [2 ** 22 + 12345, process.pid]) {
      await writeFile(join(dest, LEGACY_LOCK_FILE), JSON.stringify({ pid }));
      await downloadModel(entry(), base(s, dest));
      expect(existsSync(join(dest, LEGACY_LOCK_FILE))).toBe(false);
    }
    // Two downloads into one folder at once: the second is refused.
    const other = freshDir();
    const results = await Promise.allSettled([downloadModel(entry(), base(s, other)), downloadModel(entry(), base(s, other))]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect(rejected.reason).toMatchObject({ code: 'E_LOCKED' });
  });

  it('re-downloads files whose revision changed and validates entries', async () => {
    const s = await server();
    const dest = freshDir();
    await downloadModel(entry(), base(s, dest));
    await expect(downloadModel({ ...entry(), files: [{ path: '../escape' }] }, base(s, dest))).rejects.toMatchObject({ code: 'E_CONFIG' });
    expect(() => parseModelEntry({ name: 'x' })).toThrow(MemeryError);
  });
});

describe('installed models', () => {
  it('records sha256 without registry checksums; verify detects corruption; list and remove', async () => {
    const s = await server();
    const home = join(tmp, 'home');
    const dir = modelDir(home, 'tiny-clip');
    expect(dir).toBe(join(modelsHome(home), 'tiny-clip'));
    const r = await downloadModel(entry(), base(s, dir));
    expect(r.files.every((f) => f.source === 'recorded')).toBe(true);
    expect(r.manifest.files.find((f) => f.path === BIG)?.sha256).toBe(sha(FILES[BIG]!));

    expect((await verifyModel(dir)).ok).toBe(true);

    const big = join(dir, 'visual', 'model.onnx');
    const bytes = await readFile(big);
    bytes[1000] = bytes[1000]! ^ 1;
    await writeFile(big, bytes);
    await truncate(join(dir, 'config.json'), 2);
    await rm(join(dir, 'textual', 'tokenizer.json'));
    const v = await verifyModel(dir);
    expect(v.ok).toBe(false);
    const status = Object.fromEntries(v.files.map((f) => [f.path, f.status]));
    expect(status).toMatchObject({
      [BIG]: 'hash-mismatch',
      'config.json': 'size-mismatch',
      'textual/tokenizer.json': 'missing',
      'textual/model.onnx': 'ok',
    });
    expect(v.problems.join('\n')).toContain(BIG);

    // A new run repairs what verify found (known-good files are kept, as the manifest vouches for them).
    const fixed = await downloadModel(entry(), base(s, dir));
    expect(fixed.files.find((f) => f.path === 'textual/model.onnx')?.skipped).toBe(true);
    expect(fixed.files.find((f) => f.path === 'textual/tokenizer.json')?.skipped).toBe(false);
    expect(fixed.files.find((f) => f.path === 'config.json')?.skipped).toBe(false);

    await mkdir(join(modelsHome(home), 'hand-made'), { recursive: true });
    const list = await listInstalled(home);
    expect(list.map((m) => m.name)).toEqual(['hand-made', 'tiny-clip']);
    expect(list[1]).toMatchObject({ complete: true, partial: false, downloading: false });
    expect(list[1]!.bytes).toBeGreaterThan(FILES[BIG]!.length);
    expect(list[0]!.manifest).toBeUndefined();

    await expectError(verifyModel(join(modelsHome(home), 'hand-made')), 'E_MODEL');
    expect(await removeModel(home, 'tiny-clip')).toBe(dir);
    expect(existsSync(dir)).toBe(false);
    await expectError(removeModel(home, 'tiny-clip'), 'E_NOT_FOUND');
    await expectError(removeModel(home, '../etc'), 'E_USAGE');
    expect(await listInstalled(join(tmp, 'no-such-home'))).toEqual([]);
  });
});

describe('interrupted re-runs', () => {
  it('keep the records of files not reached yet, and mark the folder incomplete until done', async () => {
    const s = await server();
    const home = join(tmp, 'home-rerun');
    const dir = modelDir(home, 'tiny-clip');
    await downloadModel(entry(), base(s, dir));
    await rm(join(dir, 'visual', 'model.onnx'));

    const ac = new AbortController();
    await expectError(
      downloadModel(entry(), base(s, dir, {
        signal: ac.signal,
        onProgress: (e) => {
          if (e.phase === 'progress' && e.bytes >= 32 * 1024) ac.abort();
        },
      })),
      'E_ABORTED',
    );
    const m = await readManifest(dir);
    expect(m?.complete).toBe(false);
    expect(m?.files.map((f) => f.path)).toContain('textual/model.onnx');
    const [installed] = await listInstalled(home);
    expect(installed).toMatchObject({ name: 'tiny-clip', complete: false, partial: true, downloading: false });
    expect((await verifyModel(dir)).ok).toBe(false);

    const r = await downloadModel(entry(), base(s, dir));
    expect(r.files.filter((f) => !f.skipped).map((f) => f.path)).toEqual([BIG]);
    expect((await verifyModel(dir)).ok).toBe(true);
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

  it('builds Hub URLs', () => {
    expect(fileUrl('https://huggingface.co/', 'a/b', 'main', 'onnx/x y.onnx')).toBe('https://huggingface.co/a/b/resolve/main/onnx/x%20y.onnx');
    expect(fileUrl('http://h', 'a/b', 'refs/pr/1', 'f')).toBe('http://h/a/b/resolve/refs%2Fpr%2F1/f');
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

  it('prints plain, throttled lines when not a TTY and adapts download events', () => {
    let t = 0;
    const { chunks, stream } = sink(false);
    const r = new ProgressReporter({ stream, env: {}, now: () => t, plainIntervalMs: 5000 });
    const cb = downloadProgress(r);
    cb({ phase: 'start', file: 'a.onnx', index: 0, count: 2, bytes: 0, total: 2048 });
    for (let i = 1; i <= 10; i++) {
      t += 100;
      cb({ phase: 'progress', file: 'a.onnx', index: 0, count: 2, bytes: i * 100, total: 2048 });
    }
    cb({ phase: 'done', file: 'a.onnx', index: 0, count: 2, bytes: 2048, total: 2048 });
    const out = chunks.join('');
    expect(out).not.toContain('\r');
    expect(out).not.toContain('\x1b[');
    expect(out.trim().split('\n')).toHaveLength(1); // throttled: only the final line
    expect(out).toMatch(/a\.onnx \(1\/2\) 100% 2\.0 KB\/2\.0 KB .*done/);
  });

  it('formats bytes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MB');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
  });
});
