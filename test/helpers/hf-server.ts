/**
 * A tiny stand-in for the Hugging Face Hub, for download tests: a real node:http server on
 * 127.0.0.1 (port 0) serving the files under `<root>/<owner>/<repo>/<rev>/<path>` the way the Hub
 * does, with the calls @huggingface/hub makes:
 *  - GET  /api/models/<owner>/<repo>/revision/<rev>      { id, sha: <commit>, siblings, ... }
 *  - POST /api/models/<owner>/<repo>/paths-info/<rev>    [{ type, path, size, oid, lfs? }]
 *  - GET  /<owner>/<repo>/resolve/<rev>/<path>           the bytes, with X-Repo-Commit, ETag (the
 *    git blob sha1, or the sha256 of an LFS file), X-Linked-Etag / X-Linked-Size for LFS files, Range
 *    requests (206 + Content-Range, 416 past the end) and If-Range; `<rev>` is a branch folder or
 *    its commit (commitOf). LFS files (`*.onnx` unless `lfs` says otherwise) listed in `redirect`
 *    go through a 302 to /cdn/... (the Hub's CDN hop), whose ETag is the CDN's own.
 * Fault injection, keyed by the repository path of a file (e.g. 'visual/model.onnx'), applies to
 * the first request for its content (not to @huggingface/hub's 1-byte `Range: bytes=0-0` probes):
 * dropAfter (send N body bytes, then cut the connection), stallAfter (send N bytes, then go silent),
 * failOnce (answer this status); and to every request: corrupt (flip bytes, same length; paths-info
 * still lists the true checksums), ignoreRange (answer a Range request other than the probe with 200
 * and the whole file).
 * Every request is logged, and every TCP connection counted.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative, resolve, sep } from 'node:path';

export interface HfServerOptions {
  /** Folder holding `<owner>/<repo>/<rev>/<path>`. */
  root: string;
  /** LFS files answered with a 302 to /cdn/...; `true` for all. */
  redirect?: string[] | true;
  /** Which files are LFS files (default: `*.onnx`). */
  lfs?: (path: string) => boolean;
  dropAfter?: Record<string, number>;
  stallAfter?: Record<string, number>;
  corrupt?: string[];
  ignoreRange?: string[];
  failOnce?: Record<string, number>;
}

export interface RequestLogEntry {
  method: string;
  url: string;
  /** 'api' for /api/models/..., 'resolve' for /<owner>/<repo>/resolve/..., 'cdn' for the redirect target. */
  hop: 'api' | 'resolve' | 'cdn' | 'other';
  /** Repository path of the file, when the URL names one. */
  file?: string;
  range?: string;
  ifRange?: string;
  /** @huggingface/hub's `Range: bytes=0-0` probe for size and etag. */
  probe: boolean;
  status: number;
  /** Body bytes written. */
  bytes: number;
}

export interface HfServer {
  url: string;
  port: number;
  log: RequestLogEntry[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Requests that served (or tried to serve) content for `file`: no 302 hops, no probes. */
  contentRequests(file: string): RequestLogEntry[];
  /** Body bytes sent for `file` over all content requests. */
  bytesServed(file: string): number;
  close(): Promise<void>;
}

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
/** git's object id of a file: what the Hub names a non-LFS file by. */
export const gitBlobSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
export const defaultLfs = (path: string): boolean => path.endsWith('.onnx');
/** The commit the server reports for branch `rev` of `repo`. */
export const commitOf = (repo: string, rev: string): string => createHash('sha1').update(`commit ${repo}@${rev}`).digest('hex');

export async function startHfServer(options: HfServerOptions): Promise<HfServer> {
  const root = resolve(options.root);
  const isLfs = options.lfs ?? defaultLfs;
  const log: RequestLogEntry[] = [];
  const served = new Map<string, number>(); // content requests per file
  const stalled = new Set<ServerResponse>();
  let connections = 0;
  let base = '';

  const wantsRedirect = (file: string) =>
    isLfs(file) && (options.redirect === true || (Array.isArray(options.redirect) && options.redirect.includes(file)));

  /** The branch folder that `rev` names (itself, or the branch whose commit it is). */
  async function branch(owner: string, repo: string, rev: string): Promise<string | undefined> {
    const dirs = await readdir(join(root, owner, repo)).catch(() => [] as string[]);
    return dirs.find((d) => d === rev || commitOf(`${owner}/${repo}`, d) === rev);
  }

  /** The file as stored (what paths-info and the hub etag describe). */
  async function load(owner: string, repo: string, rev: string, file: string): Promise<Buffer | undefined> {
    const p = resolve(root, owner, repo, rev, ...file.split('/'));
    if (!p.startsWith(root + sep)) return undefined;
    const s = await stat(p).catch(() => undefined);
    if (!s?.isFile()) return undefined;
    return readFile(p);
  }

  /** What a download gets: the stored bytes, or a copy with bytes flipped where options.corrupt lists the file. */
  function servedCopy(file: string, pristine: Buffer): Buffer {
    if (!options.corrupt?.includes(file)) return pristine;
    const buf = Buffer.from(pristine);
    for (let i = 0; i < buf.length; i += Math.max(1, Math.floor(buf.length / 16))) buf[i] = buf[i]! ^ 0xff;
    return buf;
  }

  const hubEtag = (file: string, pristine: Buffer) => `"${isLfs(file) ? sha256(pristine) : gitBlobSha1(pristine)}"`;
  const cdnEtag = (buf: Buffer) => `"cdn-${sha256(buf).slice(0, 24)}"`;

  async function serveContent(req: IncomingMessage, res: ServerResponse, entry: RequestLogEntry, buf: Buffer, file: string, extra: Record<string, string>) {
    const n = entry.probe ? 1 : (served.get(file) ?? 0);
    if (!entry.probe) served.set(file, n + 1);

    const fail = options.failOnce?.[file];
    if (fail !== undefined && n === 0) {
      entry.status = fail;
      res.writeHead(fail, { 'content-type': 'text/plain', 'retry-after': '0' });
      res.end('injected failure');
      return;
    }

    const etag = extra.etag!;
    let start = 0;
    let end = buf.length - 1;
    let partial = false;
    const range = req.headers.range;
    const ifRange = req.headers['if-range'];
    const rangeAllowed = (entry.probe || !options.ignoreRange?.includes(file)) && (ifRange === undefined || ifRange === etag);
    if (range && rangeAllowed) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (m) {
        start = Number(m[1]);
        if (m[2]) end = Math.min(end, Number(m[2]));
        if (start >= buf.length) {
          entry.status = 416;
          res.writeHead(416, { 'content-range': `bytes */${buf.length}`, ...extra });
          res.end();
          return;
        }
        partial = true;
      }
    }
    const body = buf.subarray(start, end + 1);
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'content-length': body.length,
      'accept-ranges': 'bytes',
      ...extra,
    };
    if (partial) headers['content-range'] = `bytes ${start}-${end}/${buf.length}`;
    entry.status = partial ? 206 : 200;
    res.writeHead(entry.status, headers);
    if (req.method === 'HEAD') return void res.end();

    const drop = options.dropAfter?.[file];
    if (drop !== undefined && n === 0) {
      const chunk = body.subarray(0, Math.min(drop, body.length));
      entry.bytes = chunk.length;
      // Cut the connection a moment after the bytes left, so that the client has read them: a
      // fetch body stream that errors drops the chunks it had queued but not yet delivered.
      res.write(chunk, () => {
        setTimeout(() => res.socket?.destroy(), 150);
      });
      return;
    }
    const stall = options.stallAfter?.[file];
    if (stall !== undefined && n === 0) {
      const chunk = body.subarray(0, Math.min(stall, body.length));
      entry.bytes = chunk.length;
      res.write(chunk);
      stalled.add(res); // never ended; closed by the client's timeout or by close()
      return;
    }
    entry.bytes = body.length;
    res.end(body);
  }

  async function listFiles(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const d of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (d.isFile()) out.push(relative(dir, join(d.parentPath, d.name)).split(sep).join('/'));
    }
    return out.sort();
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  function json(res: ServerResponse, entry: RequestLogEntry, status: number, value: unknown, extra: Record<string, string> = {}) {
    const body = JSON.stringify(value);
    entry.status = status;
    entry.bytes = Buffer.byteLength(body);
    res.writeHead(status, { 'content-type': 'application/json', ...extra }).end(body);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, entry: RequestLogEntry, segs: string[]) {
    // api / models / owner / repo / (revision | paths-info) / rev...
    const [, , owner, repo, kind, ...revParts] = segs;
    const rev = revParts.join('/');
    const dir = owner && repo ? await branch(owner, repo, rev) : undefined;
    if (!owner || !repo || !dir) {
      return json(res, entry, 404, { error: `Invalid rev id: ${rev}` }, { 'x-error-code': 'RevisionNotFound' });
    }
    const id = `${owner}/${repo}`;
    const folder = join(root, owner, repo, dir);
    if (kind === 'revision' && req.method === 'GET') {
      const siblings = (await listFiles(folder)).map((rfilename) => ({ rfilename }));
      return json(res, entry, 200, { _id: id, id, sha: commitOf(id, dir), private: false, gated: false, downloads: 0, likes: 0, lastModified: '2026-01-01T00:00:00.000Z', siblings });
    }
    if (kind === 'paths-info' && req.method === 'POST') {
      const { paths } = JSON.parse(await readBody(req)) as { paths: string[] };
      const out = [];
      for (const path of paths) {
        const buf = await load(owner, repo, dir, path);
        if (!buf) continue;
        const lfs = isLfs(path) ? { oid: sha256(buf), size: buf.length, pointerSize: 134 } : undefined;
        out.push({ type: 'file', path, size: buf.length, oid: lfs ? gitBlobSha1(Buffer.from(`lfs pointer ${lfs.oid}`)) : gitBlobSha1(buf), ...(lfs ? { lfs } : {}) });
      }
      return json(res, entry, 200, out);
    }
    return json(res, entry, 404, { error: 'Not found' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const segs = url.pathname.split('/').slice(1).map((s) => decodeURIComponent(s));
    const entry: RequestLogEntry = { method: req.method ?? 'GET', url: url.pathname, hop: 'other', probe: false, status: 0, bytes: 0 };
    if (typeof req.headers.range === 'string') entry.range = req.headers.range;
    if (typeof req.headers['if-range'] === 'string') entry.ifRange = req.headers['if-range'];
    entry.probe = entry.range === 'bytes=0-0';
    log.push(entry);

    if (segs[0] === 'api' && segs[1] === 'models') {
      entry.hop = 'api';
      return handleApi(req, res, entry, segs);
    }
    let owner: string | undefined;
    let repo: string | undefined;
    let rev: string | undefined;
    let file: string | undefined;
    if (segs[0] === 'cdn' && segs.length >= 5) {
      entry.hop = 'cdn';
      [, owner, repo, rev] = segs;
      file = segs.slice(4).join('/');
    } else if (segs.length >= 5 && segs[2] === 'resolve') {
      entry.hop = 'resolve';
      [owner, repo, , rev] = segs;
      file = segs.slice(4).join('/');
    }
    const dir = owner && repo && rev ? await branch(owner, repo, rev) : undefined;
    if (!owner || !repo || !dir || !file || segs.some((s) => s === '..' || s === '.' || s === '')) {
      entry.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain', 'x-error-code': 'RevisionNotFound' }).end('Not found');
      return;
    }
    entry.file = file;
    const pristine = await load(owner, repo, dir, file);
    if (!pristine) {
      entry.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain', 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    const buf = servedCopy(file, pristine);
    const commit = commitOf(`${owner}/${repo}`, dir);
    const linked: Record<string, string> = isLfs(file) ? { 'x-linked-etag': hubEtag(file, pristine), 'x-linked-size': String(buf.length) } : {};
    if (entry.hop === 'resolve' && wantsRedirect(file)) {
      entry.status = 302;
      const location = `${base}/cdn/${[owner, repo, commit, ...file.split('/')].map(encodeURIComponent).join('/')}`;
      res.writeHead(302, { location, 'x-repo-commit': commit, ...linked, 'content-length': 0 }).end();
      return;
    }
    const headers = entry.hop === 'cdn' ? { etag: cdnEtag(buf) } : { etag: hubEtag(file, pristine), 'x-repo-commit': commit, ...linked };
    await serveContent(req, res, entry, buf, file, headers);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
      else res.destroy();
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;

  const content = (file: string) => log.filter((e) => e.file === file && e.status !== 302 && !e.probe);
  return {
    url: base,
    port,
    log,
    connections: () => connections,
    contentRequests: content,
    bytesServed: (file) => content(file).reduce((a, e) => a + e.bytes, 0),
    close: async () => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Writes `files` (repository path -> content) under `<root>/<owner>/<repo>/<rev>/`. */
export async function writeRepo(root: string, repo: string, rev: string, files: Record<string, Buffer | string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const p = join(root, ...repo.split('/'), rev, ...path.split('/'));
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
  }
}

/**
 * Writes a model into a Hugging Face cache the way Python's huggingface_hub does: blobs named by
 * etag (sha256 for LFS files, git sha1 for others), snapshots/<commit>/<path> as relative symlinks
 * to them (or plain copies, as on Windows without symlink rights), and refs/<revision>.
 */
export async function writeHubCache(
  cache: string,
  repo: string,
  files: Record<string, Buffer>,
  opts: { revision?: string; commit?: string; copies?: boolean; lfs?: (path: string) => boolean } = {},
): Promise<{ repoDir: string; snapshot: string; commit: string }> {
  const revision = opts.revision ?? 'main';
  const commit = opts.commit ?? commitOf(repo, revision);
  const repoDir = join(cache, `models--${repo.split('/').join('--')}`);
  const snapshot = join(repoDir, 'snapshots', commit);
  for (const [path, buf] of Object.entries(files)) {
    const blob = join(repoDir, 'blobs', (opts.lfs ?? defaultLfs)(path) ? sha256(buf) : gitBlobSha1(buf));
    const pointer = join(snapshot, ...path.split('/'));
    await mkdir(dirname(blob), { recursive: true });
    await mkdir(dirname(pointer), { recursive: true });
    await writeFile(blob, buf);
    await rm(pointer, { force: true });
    if (opts.copies) await writeFile(pointer, buf);
    else await symlink(relative(dirname(pointer), blob), pointer);
  }
  if (revision !== commit) {
    await mkdir(join(repoDir, 'refs'), { recursive: true });
    await writeFile(join(repoDir, 'refs', revision), commit);
  }
  return { repoDir, snapshot, commit };
}
