/**
 * A tiny stand-in for the Hugging Face Hub's file endpoint, for download tests. A real node:http
 * server on 127.0.0.1 (port 0) serving `<root>/<owner>/<repo>/<rev>/<path>` at
 * `/<owner>/<repo>/resolve/<rev>/<path>`, with:
 *  - Range requests (206 + Content-Range, 416 past the end), strong ETags and If-Range;
 *  - a 302 hop to `/cdn/...` for chosen files (the Hub redirects LFS files to its CDN);
 *  - fault injection, keyed by the repository path of a file (e.g. 'visual/model.onnx'):
 *    dropAfter (send N body bytes, then cut the connection, first content request only),
 *    stallAfter (send N bytes, then go silent, first request only), corrupt (flip bytes, same
 *    length), ignoreRange (always answer 200 with the whole file), failOnce (answer this status on
 *    the first request).
 * Every request is logged (method, path, Range, status, body bytes written).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve, sep } from 'node:path';

export interface HfServerOptions {
  /** Folder holding `<owner>/<repo>/<rev>/<path>`. */
  root: string;
  /** Files (repository paths) answered with a 302 to /cdn/...; `true` for all. */
  redirect?: string[] | true;
  dropAfter?: Record<string, number>;
  stallAfter?: Record<string, number>;
  corrupt?: string[];
  ignoreRange?: string[];
  failOnce?: Record<string, number>;
}

export interface RequestLogEntry {
  method: string;
  url: string;
  /** 'resolve' for /<owner>/<repo>/resolve/..., 'cdn' for the redirect target. */
  hop: 'resolve' | 'cdn' | 'other';
  /** Repository path of the file, when the URL names one. */
  file?: string;
  range?: string;
  ifRange?: string;
  status: number;
  /** Body bytes written. */
  bytes: number;
}

export interface HfServer {
  url: string;
  port: number;
  log: RequestLogEntry[];
  /** Requests that served (or tried to serve) content for `file` (not the 302 hops). */
  contentRequests(file: string): RequestLogEntry[];
  /** Body bytes sent for `file` over all requests. */
  bytesServed(file: string): number;
  close(): Promise<void>;
}

function etagOf(buf: Buffer): string {
  return `"${createHash('sha256').update(buf).digest('hex').slice(0, 32)}"`;
}

export async function startHfServer(options: HfServerOptions): Promise<HfServer> {
  const root = resolve(options.root);
  const log: RequestLogEntry[] = [];
  const served = new Map<string, number>(); // content requests per file
  const stalled = new Set<ServerResponse>();
  let base = '';

  const wantsRedirect = (file: string) =>
    options.redirect === true || (Array.isArray(options.redirect) && options.redirect.includes(file));

  async function load(owner: string, repo: string, rev: string, file: string): Promise<Buffer | undefined> {
    const p = resolve(root, owner, repo, rev, ...file.split('/'));
    if (!p.startsWith(root + sep)) return undefined;
    const s = await stat(p).catch(() => undefined);
    if (!s?.isFile()) return undefined;
    let buf = await readFile(p);
    if (options.corrupt?.includes(file)) {
      buf = Buffer.from(buf);
      for (let i = 0; i < buf.length; i += Math.max(1, Math.floor(buf.length / 16))) buf[i] = buf[i]! ^ 0xff;
    }
    return buf;
  }

  async function serveContent(req: IncomingMessage, res: ServerResponse, entry: RequestLogEntry, buf: Buffer, file: string) {
    const n = served.get(file) ?? 0;
    served.set(file, n + 1);

    const fail = options.failOnce?.[file];
    if (fail !== undefined && n === 0) {
      entry.status = fail;
      res.writeHead(fail, { 'content-type': 'text/plain', 'retry-after': '0' });
      res.end('injected failure');
      return;
    }

    const etag = etagOf(buf);
    let start = 0;
    let end = buf.length - 1;
    let partial = false;
    const range = req.headers.range;
    const ifRange = req.headers['if-range'];
    const rangeAllowed = !options.ignoreRange?.includes(file) && (ifRange === undefined || ifRange === etag);
    if (range && rangeAllowed) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (m) {
        start = Number(m[1]);
        if (m[2]) end = Math.min(end, Number(m[2]));
        if (start >= buf.length) {
          entry.status = 416;
          res.writeHead(416, { 'content-range': `bytes */${buf.length}`, etag });
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
      etag,
    };
    if (partial) headers['content-range'] = `bytes ${start}-${end}/${buf.length}`;
    entry.status = partial ? 206 : 200;
    res.writeHead(entry.status, headers);

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

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const segs = url.pathname.split('/').slice(1).map((s) => decodeURIComponent(s));
    const entry: RequestLogEntry = { method: req.method ?? 'GET', url: url.pathname, hop: 'other', status: 0, bytes: 0 };
    if (typeof req.headers.range === 'string') entry.range = req.headers.range;
    if (typeof req.headers['if-range'] === 'string') entry.ifRange = req.headers['if-range'];
    log.push(entry);

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
    if (!owner || !repo || !rev || !file || segs.some((s) => s === '..' || s === '.' || s === '')) {
      entry.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    entry.file = file;
    const buf = await load(owner, repo, rev, file);
    if (!buf) {
      entry.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain', 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    if (entry.hop === 'resolve' && wantsRedirect(file)) {
      entry.status = 302;
      const location = `${base}/cdn/${[owner, repo, rev, ...file.split('/')].map(encodeURIComponent).join('/')}`;
      res.writeHead(302, { location, 'x-linked-etag': etagOf(buf), 'content-length': 0 }).end();
      return;
    }
    await serveContent(req, res, entry, buf, file);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;

  return {
    url: base,
    port,
    log,
    contentRequests: (file) => log.filter((e) => e.file === file && e.status !== 302),
    bytesServed: (file) => log.filter((e) => e.file === file).reduce((a, e) => a + e.bytes, 0),
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
