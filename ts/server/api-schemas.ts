/**
 * Request and response schemas of the memery server's HTTP API, shared by the server (to check
 * what arrives) and by clients (ServerClient, the GUI's contract, tests). The result, status and
 * index types are the library's own (ts/api/schemas.ts).
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import {
  IndexProgressSchema,
  IndexSummarySchema,
  SearchQuerySchema,
  SearchResultSchema,
  StatusSchema,
} from '../api/schemas.js';

/** The default TCP port of `memery serve` (config `port`, MEMERY_PORT). */
export const DEFAULT_PORT = 7627;
/** Header carrying the per-install token (`<home>/server-token`). */
export const TOKEN_HEADER = 'x-memery-token';
/** Largest image accepted by POST /api/search-image. */
export const MAX_UPLOAD_BYTES = 32 * 1024 * 1024;
/** Largest JSON body accepted. */
export const MAX_JSON_BYTES = 1024 * 1024;

const absolutePath = z
  .string()
  .min(1)
  .refine((p) => isAbsolute(p), { message: 'Expected an absolute path' })
  .refine((p) => !p.includes('\0'), { message: 'Expected a path without NUL bytes' });

/**
 * POST /api/search. `query.image` / `query.negativeImage` may be `id:<n>` (a catalog file id); over
 * TCP only ids are accepted, over the Unix socket any image path of the server's machine.
 */
export const SearchRequestSchema = z
  .object({
    query: SearchQuerySchema,
    n: z.number().int().min(1).max(10_000).optional(),
    threshold: z.number().min(-1).max(1).optional(),
    folders: z.array(absolutePath).optional(),
  })
  .strict();
export type SearchRequest = z.input<typeof SearchRequestSchema>;

export const SearchResponseSchema = z.object({
  results: z.array(SearchResultSchema),
  /** Server-side time, ms. */
  ms: z.number(),
});
export type SearchResponse = z.infer<typeof SearchResponseSchema>;

const numberParam = (schema: z.ZodNumber) => z.coerce.number().pipe(schema);

/**
 * Query-string parameters of POST /api/search-image (the body is the raw image). The uploaded image
 * is the positive image; text, negativeText and negativeImage (an `id:<n>`) mix in.
 */
export const SearchImageParamsSchema = z
  .object({
    n: numberParam(z.number().int().min(1).max(10_000)).optional(),
    threshold: numberParam(z.number().min(-1).max(1)).optional(),
    folder: z.array(absolutePath).optional(),
    text: z.string().min(1).optional(),
    negativeText: z.string().min(1).optional(),
    negativeImage: z.string().regex(/^id:\d+$/, 'Expected id:<n>').optional(),
  })
  .strict();
export type SearchImageParams = z.infer<typeof SearchImageParamsSchema>;

/** POST /api/index: indexes (incrementally) an absolute folder; answers server-sent events. */
export const IndexRequestSchema = z.object({ folder: absolutePath }).strict();
export type IndexRequest = z.infer<typeof IndexRequestSchema>;

/** POST /api/forget. */
export const ForgetRequestSchema = z.object({ folder: absolutePath }).strict();
export type ForgetRequest = z.infer<typeof ForgetRequestSchema>;
export const ForgetResponseSchema = z.object({ folder: z.string(), removed: z.number().int() });
export type ForgetResponse = z.infer<typeof ForgetResponseSchema>;

/** GET /api/thumb/:id?size= */
export const ThumbParamsSchema = z
  .object({ size: numberParam(z.number().int().min(16).max(1024)).optional() })
  .strict();

/** A catalog file id in a URL path. */
export const IdParamSchema = z.string().regex(/^[1-9]\d{0,15}$/, 'Expected a catalog file id (a positive integer)').transform(Number);

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    hint: z.string().optional(),
    /** The zod issues of a rejected request. */
    issues: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export const ServerInfoSchema = z.object({
  name: z.literal('memery'),
  version: z.string(),
  pid: z.number().int(),
  url: z.string(),
  socket: z.string().nullable(),
  /** Whether this request came over the Unix socket. */
  viaSocket: z.boolean(),
  watch: z.object({
    enabled: z.boolean(),
    folders: z.array(z.string()),
    /** Folders with changes waiting for their debounce. */
    pending: z.array(z.string()),
    /** The folder being indexed now, if any. */
    indexing: z.string().nullable(),
  }),
});
export type ServerInfo = z.infer<typeof ServerInfoSchema>;

/** GET /api/ping: a cheap identity check (no model load, no catalog scan), used by findServer. */
export const PingResponseSchema = z.object({
  name: z.literal('memery'),
  version: z.string(),
  pid: z.number().int(),
  home: z.string(),
  url: z.string(),
  socket: z.string().nullable(),
});
export type PingResponse = z.infer<typeof PingResponseSchema>;

/** GET /api/status: the library's status plus the server's own. */
export const StatusResponseSchema = StatusSchema.extend({ server: ServerInfoSchema });
export type StatusResponse = z.infer<typeof StatusResponseSchema>;

/**
 * Server-sent events. POST /api/index streams `progress`, then `done` or `error`, for its run;
 * GET /api/events streams the same for every run (GUI requests, the watcher, the CLI), with
 * `source`, plus `indexed` after each run.
 */
export const IndexProgressEventSchema = IndexProgressSchema.extend({ folder: z.string() });
export const IndexErrorEventSchema = z.object({ folder: z.string(), code: z.string(), message: z.string() });
export const IndexEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('progress'), data: IndexProgressEventSchema }),
  z.object({ event: z.literal('done'), data: IndexSummarySchema }),
  z.object({ event: z.literal('error'), data: IndexErrorEventSchema }),
]);
export type IndexEvent = z.infer<typeof IndexEventSchema>;
export type IndexProgressEvent = z.infer<typeof IndexProgressEventSchema>;
export type IndexErrorEvent = z.infer<typeof IndexErrorEventSchema>;

/** The JSON written to `<home>/server.json` while a server runs (its pid file). */
export const ServerFileSchema = z.object({
  pid: z.number().int(),
  startedAt: z.number(),
  url: z.string().optional(),
  socket: z.string().nullable().optional(),
});
export type ServerFile = z.infer<typeof ServerFileSchema>;
