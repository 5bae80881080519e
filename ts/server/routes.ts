/**
 * The route table: each route a short handler whose input is checked by its schema
 * (@memery/client/schemas). Routes are matched exactly (a Map lookup); `thumb` and `file` take a
 * catalog id as their last segment. There is no path parameter anywhere else.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute, join, resolve } from 'node:path';
import { EVENTS, imageFormatList, MAX_JSON_BYTES, MAX_UPLOAD_BYTES, progressThrottle, ROUTES, sseFrame, THUMB_SIZE } from '@memery/client/protocol';
import {
  FileParamsSchema,
  ForgetRequestSchema,
  IdParamSchema,
  IndexRequestSchema,
  SearchImageParamsSchema,
  SearchRequestSchema,
  ThumbParamsSchema,
  type ForgetResponse,
  type PingResponse,
  type SearchMode,
  type SearchQuery,
  type SearchQueryObject,
  type SearchResponse,
  type ServerInfo,
  type StatusResponse,
} from '@memery/client/schemas';
import type { Memery } from '../api/memery.js';
import { isMemeryError, MemeryError } from '../errors.js';
import type { Asset } from './assets.js';
import { openStream, type EventHub } from './events.js';
import type { FileServer } from './files.js';
import { contentType, HttpError, queryObject, readBody, readJson, sendJson } from './http.js';
import type { JobQueue } from './jobs.js';
import { EXTENSION_OF, sniffImageType } from './security.js';
import type { FolderWatcher } from './watch.js';

/** What the routes work with: one per server run. */
export interface ServerContext {
  home: string;
  version: string;
  memery: Memery;
  jobs: JobQueue;
  events: EventHub;
  files: FileServer;
  watcher: FolderWatcher | undefined;
  assets: Map<string, Asset>;
  uploadDir: string;
  requestTimeoutMs: number;
  /** The GUI URL without the token, and the socket, once listening. */
  where(): { url: string; socket: string | null };
}

/** One request, as a route sees it. */
export interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  viaSocket: boolean;
  path: string;
  params: URLSearchParams;
}

type Handler = (s: ServerContext, r: Request) => Promise<void> | void;
interface Route {
  method: 'GET' | 'POST';
  handler: Handler;
}

const json = (s: ServerContext, r: Request) => readJson(r.req, MAX_JSON_BYTES, s.requestTimeoutMs);

/** Maps `id:<n>` image references to catalog paths; other paths only over the socket. */
async function resolveImageRef(s: ServerContext, value: string | undefined, viaSocket: boolean, field: string): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const m = /^id:(\d+)$/.exec(value);
  if (m) return s.files.pathOf(Number(m[1]));
  if (!viaSocket) {
    throw new HttpError(400, 'E_USAGE', `Expected ${field} to be id:<n> (a catalog file id)`, {
      hint: 'Image paths are accepted over the Unix socket only; upload an image with POST /api/search-image.',
      issues: [{ code: 'custom', path: ['query', field], message: 'Expected id:<n>' }],
    });
  }
  if (!isAbsolute(value)) throw new HttpError(400, 'E_USAGE', `Expected ${field} to be an absolute path or id:<n>`);
  return value;
}

async function resolveQuery(s: ServerContext, q: SearchQuery, viaSocket: boolean): Promise<SearchQuery> {
  if (typeof q === 'string') return q;
  const out: SearchQueryObject = { ...q };
  const image = await resolveImageRef(s, q.image, viaSocket, 'image');
  const negativeImage = await resolveImageRef(s, q.negativeImage, viaSocket, 'negativeImage');
  if (image !== undefined) out.image = image;
  if (negativeImage !== undefined) out.negativeImage = negativeImage;
  return out;
}

async function timedSearch(s: ServerContext, query: SearchQuery, o: { n?: number; threshold?: number; folders?: string[]; mode?: SearchMode }): Promise<SearchResponse> {
  const t0 = performance.now();
  const results = await s.memery.search(query, { n: o.n, threshold: o.threshold, folders: o.folders, ...(o.mode ? { mode: o.mode } : {}) });
  return { results, ms: Math.round((performance.now() - t0) * 100) / 100 };
}

function serverInfo(s: ServerContext, viaSocket: boolean): ServerInfo {
  const w = s.watcher;
  return {
    name: 'memery',
    version: s.version,
    pid: process.pid,
    ...s.where(),
    viaSocket,
    watch: { enabled: Boolean(w), folders: w?.folders() ?? [], pending: w?.pending() ?? [], indexing: s.jobs.current },
  };
}

const ping: Handler = (s, { res }) => {
  const body: PingResponse = { name: 'memery', version: s.version, pid: process.pid, home: s.home, ...s.where() };
  sendJson(res, 200, body);
};

const status: Handler = async (s, { res, viaSocket }) => {
  const body: StatusResponse = { ...(await s.memery.status()), server: serverInfo(s, viaSocket) };
  sendJson(res, 200, body);
};

const search: Handler = async (s, r) => {
  const body = SearchRequestSchema.parse(await json(s, r));
  const query = await resolveQuery(s, body.query, r.viaSocket);
  sendJson(r.res, 200, await timedSearch(s, query, body));
};

const searchImage: Handler = async (s, r) => {
  const type = contentType(r.req);
  if (!type.startsWith('image/') && type !== 'application/octet-stream') {
    throw new HttpError(415, 'E_USAGE', `Expected an image body (image/* or application/octet-stream) but received ${type || 'none'}`);
  }
  const p = SearchImageParamsSchema.parse(queryObject(r.params));
  const data = await readBody(r.req, MAX_UPLOAD_BYTES, s.requestTimeoutMs);
  const kind = sniffImageType(data.subarray(0, 32));
  if (!kind) throw new HttpError(415, 'E_DECODE', `Expected the body to be an image (${imageFormatList()})`);
  await mkdir(s.uploadDir, { recursive: true, mode: 0o700 });
  const tmp = join(s.uploadDir, `upload-${process.pid}-${randomBytes(8).toString('hex')}${EXTENSION_OF[kind] ?? ''}`);
  await writeFile(tmp, data, { mode: 0o600 });
  let answer: SearchResponse;
  try {
    const query: SearchQueryObject = { image: tmp };
    if (p.text) query.text = p.text;
    if (p.negativeText) query.negativeText = p.negativeText;
    const neg = await resolveImageRef(s, p.negativeImage, r.viaSocket, 'negativeImage');
    if (neg) query.negativeImage = neg;
    answer = await timedSearch(s, query, { n: p.n, threshold: p.threshold, folders: p.folder, mode: p.mode });
  } finally {
    await rm(tmp, { force: true }); // before answering: the upload is gone once the client has its results
  }
  sendJson(r.res, 200, answer);
};

const index: Handler = async (s, r) => {
  const { folder, ocr } = IndexRequestSchema.parse(await json(s, r));
  const abs = resolve(folder);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new HttpError(404, 'E_NOT_FOUND', `Folder not found: ${abs}`, { hint: "The path is read on the server's machine." });
  if (!st.isDirectory()) throw new HttpError(400, 'E_USAGE', `Expected a folder but ${abs} is not a directory`);
  const { res } = r;
  const abort = new AbortController();
  openStream(res, 'queued');
  const onClose = () => {
    if (!res.writableFinished) abort.abort(new MemeryError('E_ABORTED', 'The client went away'));
  };
  res.on('close', onClose);
  const pass = progressThrottle();
  let run: number | undefined;
  try {
    const summary = await s.jobs.index(abs, {
      source: 'api',
      signal: abort.signal,
      ...(ocr !== undefined ? { ocr } : {}),
      onQueued: (n) => (run = n),
      onProgress: (pr) => {
        if (pass(pr)) res.write(sseFrame(EVENTS.progress, { folder: abs, run, ...pr }));
      },
    });
    res.end(sseFrame(EVENTS.done, { ...summary, run }));
  } catch (err) {
    const code = isMemeryError(err) ? err.code : 'E_INDEX';
    res.end(sseFrame(EVENTS.error, { folder: abs, run, code, message: (err as Error)?.message ?? String(err) }));
  } finally {
    res.off('close', onClose);
  }
};

const forget: Handler = async (s, r) => {
  const { folder } = ForgetRequestSchema.parse(await json(s, r));
  const abs = resolve(folder);
  const body: ForgetResponse = { folder: abs, removed: await s.jobs.forget(abs) };
  sendJson(r.res, 200, body);
};

const events: Handler = (s, { res }) => s.events.subscribe(res);

const thumb = (s: ServerContext, r: Request, id: number) =>
  s.files.sendThumbnail(r.req, r.res, id, ThumbParamsSchema.parse(queryObject(r.params)).size ?? THUMB_SIZE);

const file = (s: ServerContext, r: Request, id: number) => s.files.sendFile(r.req, r.res, id, FileParamsSchema.parse(queryObject(r.params)).download === '1');

export const ROUTE_TABLE: ReadonlyMap<string, Route> = new Map<string, Route>([
  [ROUTES.ping, { method: 'GET', handler: ping }],
  [ROUTES.status, { method: 'GET', handler: status }],
  [ROUTES.search, { method: 'POST', handler: search }],
  [ROUTES.searchImage, { method: 'POST', handler: searchImage }],
  [ROUTES.index, { method: 'POST', handler: index }],
  [ROUTES.forget, { method: 'POST', handler: forget }],
  [ROUTES.events, { method: 'GET', handler: events }],
]);

/** Routes ending in a catalog file id. */
const ID_ROUTES: ReadonlyMap<string, (s: ServerContext, r: Request, id: number) => Promise<void>> = new Map([
  [ROUTES.thumb, thumb],
  [ROUTES.file, file],
]);

/** A GUI file: the page (no-store, with its CSP) or a static asset (ETag). */
function sendAsset(r: Request, asset: Asset): void {
  if (r.path === '/') {
    r.res.writeHead(200, {
      'Content-Type': asset.type,
      'Cache-Control': 'no-store',
      'Content-Security-Policy':
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    });
    r.res.end(asset.body);
    return;
  }
  if (r.req.headers['if-none-match'] === asset.etag) {
    r.res.writeHead(304, { ETag: asset.etag }).end();
    return;
  }
  r.res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Cache-Control': 'no-cache', ETag: asset.etag });
  r.res.end(asset.body);
}

/** Routes an admitted request. */
export async function route(s: ServerContext, req: IncomingMessage, res: ServerResponse, viaSocket: boolean): Promise<void> {
  const raw = req.url ?? '/';
  if (!raw.startsWith('/') || raw.startsWith('//')) throw new HttpError(400, 'E_USAGE', 'Expected a path-only request target');
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const r: Request = { req, res, viaSocket, path, params: new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '') };
  const only = (m: string) => {
    if (req.method !== m) {
      res.setHeader('Allow', m);
      throw new HttpError(405, 'E_USAGE', `Expected ${m} for ${path} but received ${req.method}`);
    }
  };
  const asset = s.assets.get(path);
  if (asset) {
    only('GET');
    return sendAsset(r, asset);
  }
  const hit = ROUTE_TABLE.get(path);
  if (hit) {
    only(hit.method);
    return hit.handler(s, r);
  }
  const slash = path.lastIndexOf('/');
  const byId = ID_ROUTES.get(path.slice(0, slash + 1));
  if (byId && path.split('/').length === 4) {
    only('GET');
    return byId(s, r, IdParamSchema.parse(path.slice(slash + 1)));
  }
  throw new HttpError(404, 'E_NOT_FOUND', `No route ${req.method ?? 'GET'} ${path}`);
}
