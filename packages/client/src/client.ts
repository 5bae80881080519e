/**
 * The client of a running `memery serve`, shared by the CLI, the Raycast extension and the Alfred
 * workflow: HTTP over the Unix socket `<home>/memery.sock` (no token needed: the socket is the
 * owner's), or over TCP with the token header. Node only; loads no zod unless asked to check the
 * answers (`validate`), so a launcher's cold start stays small.
 */
import { existsSync, realpathSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { readServerFile, readToken, socketPath as socketOf } from './home.js';
import { EVENTS, fileRoute, isErrorCode, ROUTES, sseParser, THUMB_SIZE, TOKEN_HEADER, thumbRoute, type ErrorCode } from './protocol.js';
import type {
  ErrorBody,
  ForgetResponse,
  IndexErrorEvent,
  IndexProgressEvent,
  IndexSummary,
  PingResponse,
  SearchMode,
  SearchQuery,
  SearchResponse,
  SearchResult,
  StatusResponse,
} from './schemas.js';

/**
 * An error the server answered (or the transport gave). Its `name` is 'MemeryError' and its `code`
 * one of ERROR_CODES, so memery's own isMemeryError() recognises it; `status` is the HTTP status.
 */
export class ServerError extends Error {
  override name = 'MemeryError';
  readonly code: ErrorCode;
  /** The HTTP status, when the server answered. */
  status?: number;
  /** What the user can do about it. */
  hint?: string;
  /** The file or folder it concerns. */
  path?: string;

  constructor(code: ErrorCode, message: string, extra: { status?: number; hint?: string; path?: string; cause?: unknown } = {}) {
    super(message, extra.cause !== undefined ? { cause: extra.cause } : undefined);
    this.code = code;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.hint !== undefined) this.hint = extra.hint;
    if (extra.path !== undefined) this.path = extra.path;
  }
}

/** Nothing answers where the server should be (no socket, connection refused or reset): try another way. */
export class ServerUnavailable extends ServerError {
  constructor(
    message: string,
    /** The system's error code (ECONNREFUSED, ENOENT, ...). */
    readonly errno: string | undefined,
    cause?: unknown,
  ) {
    super('E_IO', message, { hint: 'Is `memery serve` still running?', ...(cause !== undefined ? { cause } : {}) });
  }
}

const UNAVAILABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ENOTSOCK', 'ECONNRESET', 'EPIPE']);

/** The error of an HTTP answer with status >= 400 (its JSON error body, or the status alone). */
export function errorOfAnswer(status: number, text: string): ServerError {
  let e: Partial<ErrorBody['error']> | undefined;
  try {
    const body = JSON.parse(text) as Partial<ErrorBody> | null;
    if (body && typeof body.error === 'object' && body.error) e = body.error;
  } catch {
    /* not JSON */
  }
  // Wire codes map 1:1; a body without one (a proxy, an older server) says what its status says.
  const code: ErrorCode = isErrorCode(e?.code) ? e.code : status === 404 ? 'E_NOT_FOUND' : status === 401 || status === 403 ? 'E_AUTH' : status < 500 ? 'E_USAGE' : 'E_INTERNAL';
  const message = typeof e?.message === 'string' ? e.message : text && !e ? `The memery server answered HTTP ${status}: ${text.slice(0, 200)}` : `The memery server answered HTTP ${status}`;
  return new ServerError(code, message, { status, ...(typeof e?.hint === 'string' ? { hint: e.hint } : {}) });
}

export interface ServerClientOptions {
  /** Unix socket path (preferred). */
  socketPath?: string;
  /** Base URL for TCP, e.g. http://127.0.0.1:7627/ */
  url?: string;
  /** The server's token: over TCP every request needs it. */
  token?: string;
  /** Per-request timeout, ms (default none: index runs can be long). */
  timeoutMs?: number;
  /** Check every answer against its zod schema (loads zod; default false). */
  validate?: boolean;
}

export interface RequestOptions {
  body?: Uint8Array;
  /** Content-Type of `body` (default application/json). */
  type?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface SearchOptions {
  /** Only files under these folders (made absolute here). */
  folders?: string[];
  n?: number;
  threshold?: number;
  /** hybrid (the server's default when left out), clip or text. */
  mode?: SearchMode;
  signal?: AbortSignal;
}

type Schemas = typeof import('./schemas.js');
let schemas: Promise<Schemas> | undefined;
const loadSchemas = (): Promise<Schemas> => (schemas ??= import('./schemas.js'));

const aborted = (signal: AbortSignal | undefined): ServerError =>
  new ServerError('E_ABORTED', signal?.reason instanceof Error ? signal.reason.message : 'The request was cancelled');

export class ServerClient {
  readonly socketPath: string | undefined;
  readonly url: string | undefined;
  readonly #token: string | undefined;
  readonly #agent = new Agent({ keepAlive: true });
  readonly #timeoutMs: number | undefined;
  readonly #validate: boolean;
  readonly #host: string | undefined;

  constructor(opts: ServerClientOptions) {
    if (!opts.socketPath && !opts.url) throw new ServerError('E_USAGE', 'Expected socketPath or url for a ServerClient');
    this.socketPath = opts.socketPath;
    this.url = opts.url;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs;
    this.#validate = opts.validate === true;
    if (!opts.socketPath && opts.url) this.#host = new URL(opts.url).host;
  }

  /** Sends one request; resolves with the response stream, whatever its status. */
  request(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const headers: Record<string, string | number> = { Accept: 'application/json, text/event-stream' };
    if (opts.body) {
      headers['Content-Type'] = opts.type ?? 'application/json';
      headers['Content-Length'] = opts.body.length;
    }
    if (this.#token && !this.socketPath) headers[TOKEN_HEADER] = this.#token;
    const target = this.socketPath
      ? { socketPath: this.socketPath, path, headers: { ...headers, Host: 'localhost' } }
      : (() => {
          const u = new URL(path, this.url);
          return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: u.pathname + u.search, headers: { ...headers, Host: this.#host! } };
        })();
    const where = this.socketPath ?? this.url;
    const timeout = opts.timeoutMs ?? this.#timeoutMs;
    const signal = opts.signal;
    return new Promise((resolveReq, reject) => {
      if (signal?.aborted) return reject(aborted(signal));
      const req = request({ ...target, method, agent: this.#agent, ...(timeout ? { timeout } : {}) }, resolveReq);
      req.on('timeout', () => req.destroy(new ServerError('E_IO', `The memery server did not answer ${method} ${path} within ${timeout} ms`)));
      const onAbort = () => req.destroy(aborted(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof ServerError) reject(err);
        else if (signal?.aborted) reject(aborted(signal));
        else if (err.code && UNAVAILABLE.has(err.code)) reject(new ServerUnavailable(`Cannot reach the memery server at ${where}: ${err.message}`, err.code, err));
        else reject(new ServerError('E_IO', `Cannot reach the memery server at ${where}: ${err.message}`, { cause: err, hint: 'Is `memery serve` still running?' }));
      });
      req.end(opts.body);
    });
  }

  /** One request read whole; an answer >= 400 becomes a ServerError. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    const res = await this.request(method, path, opts);
    const chunks: Buffer[] = [];
    try {
      for await (const c of res) chunks.push(c as Buffer);
    } catch (err) {
      throw opts.signal?.aborted ? aborted(opts.signal) : new ServerUnavailable(`The memery server closed the connection: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code, err);
    }
    const body = Buffer.concat(chunks);
    const status = res.statusCode ?? 0;
    if (status >= 400) throw errorOfAnswer(status, body.toString('utf8'));
    return { status, headers: res.headers, body };
  }

  async #json<T>(pick: ((s: Schemas) => { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ message: string }> } } }) | undefined, method: string, path: string, body?: unknown, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<T> {
    const reply = await this.call(method, path, { ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)) }), ...opts });
    let value: unknown;
    try {
      value = JSON.parse(reply.body.toString('utf8'));
    } catch {
      throw new ServerError('E_IO', `Unexpected answer from the memery server to ${method} ${path}: not JSON`);
    }
    if (!this.#validate || !pick) return value as T;
    const r = pick(await loadSchemas()).safeParse(value);
    if (!r.success) throw new ServerError('E_IO', `Unexpected answer from the memery server to ${method} ${path}: ${r.error.issues[0]?.message}`);
    return r.data;
  }

  /** The server's identity (cheap: no model load, no catalog scan). */
  ping(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<PingResponse> {
    return this.#json((s) => s.PingResponseSchema, 'GET', ROUTES.ping, undefined, opts);
  }

  /** Library status plus the server's own (pid, url, watch state). */
  status(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<StatusResponse> {
    return this.#json((s) => s.StatusResponseSchema, 'GET', ROUTES.status, undefined, opts);
  }

  /**
   * Ranks the catalog against `query` (the contract of Memery.search). Image paths are made
   * absolute here (the server reads them: socket only); `id:<n>` names a catalog file.
   */
  async search(query: SearchQuery, opts: SearchOptions = {}): Promise<SearchResult[]> {
    return (await this.searchTimed(query, opts)).results;
  }

  /** search() with the server-side time (ms). */
  searchTimed(query: SearchQuery, opts: SearchOptions = {}): Promise<SearchResponse> {
    const abs = (p: string | undefined) => (p === undefined || /^id:\d+$/.test(p) || isAbsolute(p) ? p : resolve(p));
    const q =
      typeof query === 'string'
        ? query
        : Object.fromEntries(Object.entries({ ...query, image: abs(query.image), negativeImage: abs(query.negativeImage) }).filter(([, v]) => v !== undefined));
    const body: Record<string, unknown> = { query: q };
    if (opts.n !== undefined) body.n = opts.n;
    if (opts.threshold !== undefined) body.threshold = opts.threshold;
    if (opts.folders !== undefined && opts.folders.length > 0) body.folders = opts.folders.map((f) => resolve(f));
    if (opts.mode !== undefined) body.mode = opts.mode;
    return this.#json((s) => s.SearchResponseSchema, 'POST', ROUTES.search, body, opts.signal ? { signal: opts.signal } : {});
  }

  /** Searches by an image given as bytes (uploaded; the server deletes it afterwards). */
  async searchImage(image: Uint8Array, opts: SearchOptions & { text?: string; negativeText?: string; negativeImage?: string; type?: string } = {}): Promise<SearchResult[]> {
    const p = new URLSearchParams();
    if (opts.n !== undefined) p.set('n', String(opts.n));
    if (opts.threshold !== undefined) p.set('threshold', String(opts.threshold));
    for (const f of opts.folders ?? []) p.append('folder', resolve(f));
    if (opts.text) p.set('text', opts.text);
    if (opts.negativeText) p.set('negativeText', opts.negativeText);
    if (opts.negativeImage) p.set('negativeImage', opts.negativeImage);
    if (opts.mode) p.set('mode', opts.mode);
    const qs = p.toString();
    const reply = await this.call('POST', `${ROUTES.searchImage}${qs ? `?${qs}` : ''}`, {
      body: image,
      type: opts.type ?? 'application/octet-stream',
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const value = JSON.parse(reply.body.toString('utf8')) as unknown;
    return (this.#validate ? (await loadSchemas()).SearchResponseSchema.parse(value) : (value as SearchResponse)).results;
  }

  /**
   * Indexes `folder` (made absolute here) on the server, reporting progress; resolves with the
   * summary. `ocr`: read the text in images in this run (default: the server's setting).
   */
  async index(folder: string, onProgress?: (p: IndexProgressEvent) => void, opts: { signal?: AbortSignal; ocr?: boolean } = {}): Promise<IndexSummary> {
    const abs = resolve(folder);
    const request: Record<string, unknown> = { folder: abs };
    if (opts.ocr !== undefined) request.ocr = opts.ocr;
    const res = await this.request('POST', ROUTES.index, { body: Buffer.from(JSON.stringify(request)), ...(opts.signal ? { signal: opts.signal } : {}) });
    if ((res.statusCode ?? 0) >= 400) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw errorOfAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
    }
    const check = this.#validate ? await loadSchemas() : undefined;
    let summary: IndexSummary | undefined;
    let failure: ServerError | undefined;
    const feed = sseParser((event, data) => {
      const value = JSON.parse(data) as unknown;
      if (event === EVENTS.progress) onProgress?.(check ? check.IndexProgressEventSchema.parse(value) : (value as IndexProgressEvent));
      else if (event === EVENTS.done) summary = check ? check.IndexSummarySchema.parse(value) : (value as IndexSummary);
      else if (event === EVENTS.error) {
        const e = value as IndexErrorEvent;
        failure = new ServerError(isErrorCode(e.code) ? e.code : 'E_INDEX', String(e.message), { path: e.folder });
      }
    });
    res.setEncoding('utf8');
    try {
      for await (const chunk of res) feed(chunk as string);
    } catch (err) {
      if (opts.signal?.aborted) throw aborted(opts.signal);
      throw new ServerUnavailable(`The memery server closed the index stream: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code, err);
    }
    if (failure) throw failure;
    if (!summary) throw new ServerError('E_IO', 'The memery server closed the index stream without a result');
    return summary;
  }

  /** Removes a folder from the catalog; resolves with the number of files removed. */
  async forget(folder: string): Promise<number> {
    return (await this.#json<ForgetResponse>((s) => s.ForgetResponseSchema, 'POST', ROUTES.forget, { folder: resolve(folder) })).removed;
  }

  /** JPEG thumbnail bytes of catalog file `id`. */
  async thumbnail(id: number, size: number = THUMB_SIZE, opts: { timeoutMs?: number } = {}): Promise<Buffer> {
    return (await this.call('GET', thumbRoute(id, size), opts)).body;
  }

  /** The image file of catalog file `id`. */
  async file(id: number): Promise<{ data: Buffer; contentType: string }> {
    const r = await this.call('GET', fileRoute(id));
    return { data: r.body, contentType: String(r.headers['content-type'] ?? 'application/octet-stream') };
  }

  close(): void {
    this.#agent.destroy();
  }
}

function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

/** How to reach the server of `home`: its socket when the file is there, then its URL (server.json) with the token. */
export function serverCandidates(home: string): ServerClientOptions[] {
  const abs = resolve(home);
  const out: ServerClientOptions[] = [];
  const info = readServerFile(abs);
  const sock = info?.socket ?? socketOf(abs);
  if (existsSync(sock)) out.push({ socketPath: sock });
  if (info?.url) {
    const token = readToken(abs);
    out.push({ url: new URL('/', info.url).toString(), ...(token ? { token } : {}) });
  }
  return out;
}

/**
 * The memery server running for `home`, or undefined when none answers: tries the Unix socket,
 * then TCP with the token, and checks (GET /api/ping) that it serves this home.
 */
export async function findServer(home: string, opts: { timeoutMs?: number; validate?: boolean } = {}): Promise<ServerClient | undefined> {
  const abs = resolve(home);
  for (const c of serverCandidates(abs)) {
    const options = { ...c, ...(opts.validate ? { validate: true } : {}) };
    const probe = new ServerClient({ ...options, timeoutMs: opts.timeoutMs ?? 2_000 });
    try {
      const hello = await probe.ping();
      probe.close();
      if (hello.name === 'memery' && samePath(hello.home, abs)) return new ServerClient(options);
    } catch {
      probe.close();
    }
  }
  return undefined;
}
