/**
 * HTTP helpers of the server: the headers every answer carries, JSON and error answers (every
 * code is an ErrorCode of the one list), bounded request bodies, query strings.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HTTP_STATUS_OF, type ErrorCode } from '@memery/client/protocol';
import type { ErrorBody } from '@memery/client/schemas';
import { z } from 'zod';
import { isMemeryError } from '../errors.js';

/** An error answered with an HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly extra: { hint?: string; issues?: Array<Record<string, unknown>> } = {},
  ) {
    super(message);
  }
}

/** The client went away (or was cut off by the request timeout) before its body had arrived. */
export class ClientGone extends Error {}

/** Headers on every answer: no sniffing, no framing, no referrer, same-origin only. */
export function baseHeaders(res: ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': data.length, 'Cache-Control': 'no-store' });
  res.end(data);
}

/** Answers `{ error: { code, message, hint? } }` with `status`. */
export function sendErrorBody(res: ServerResponse, status: number, error: ErrorBody['error']): void {
  sendJson(res, status, { error });
}

/** Answers `err` as an error body: HttpError as it says, zod issues 400, library errors by code, anything else 500. */
export function sendError(res: ServerResponse, err: unknown, log: (line: string) => void): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof HttpError) {
    sendErrorBody(res, err.status, { code: err.code, message: err.message, ...err.extra });
  } else if (err instanceof z.ZodError) {
    const issue = err.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(body)';
    sendErrorBody(res, 400, { code: 'E_USAGE', message: `Invalid request: ${where}: ${issue?.message}`, issues: err.issues as unknown as Array<Record<string, unknown>> });
  } else if (isMemeryError(err)) {
    sendErrorBody(res, HTTP_STATUS_OF[err.code] ?? 500, { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
  } else {
    log(`internal error: ${(err as Error)?.stack ?? String(err)}`);
    sendErrorBody(res, 500, { code: 'E_INTERNAL', message: (err as Error)?.message ?? String(err) });
  }
}

/** The request body, at most `limit` bytes (413 beyond); a client that goes away rejects with ClientGone. */
export function readBody(req: IncomingMessage, limit: number, requestTimeout: number): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const t0 = Date.now();
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, 'E_TOO_LARGE', `Expected a body of at most ${limit} bytes but received ${declared}`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, 'E_TOO_LARGE', `Expected a body of at most ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    const gone = () => {
      const ms = Date.now() - t0;
      const of = Number.isFinite(declared) ? ` of ${declared}` : '';
      const timedOut = (req.socket as Socket & { errored?: { code?: string } | null }).errored?.code === 'ERR_HTTP_REQUEST_TIMEOUT' || ms >= requestTimeout;
      const why = timedOut ? `it took longer than ${requestTimeout / 1000} s` : 'the client closed the connection';
      reject(new ClientGone(`${req.method} ${(req.url ?? '/').split('?')[0]}: request body aborted after ${(ms / 1000).toFixed(1)} s, ${size}${of} bytes received (${why})`));
    };
    req.on('error', gone);
    req.on('close', () => {
      if (!req.complete) gone();
    });
  });
}

/** The media type of the request body, lower case, without parameters. */
export function contentType(req: IncomingMessage): string {
  return String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** A JSON body (application/json only, at most `limit` bytes). */
export async function readJson(req: IncomingMessage, limit: number, requestTimeout: number): Promise<unknown> {
  const type = contentType(req);
  if (type !== 'application/json') throw new HttpError(415, 'E_USAGE', `Expected Content-Type application/json but received ${type || 'none'}`);
  const body = await readBody(req, limit, requestTimeout);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'E_USAGE', `Invalid JSON body: ${(err as Error).message}`);
  }
}

/** Query-string parameters as an object for a zod schema (`folder` may repeat). */
export function queryObject(params: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) out[key] = key === 'folder' ? params.getAll(key) : params.get(key);
  return out;
}
