/**
 * The wire's zod schemas and the types derived from them: what the server accepts and answers, the
 * events it streams, and the JSON the CLI prints with --json / --progress json. The library's own
 * result, summary, progress and status types are these (ts/api/schemas.ts re-exports them).
 */
import { z } from 'zod';
import { ERROR_CODES, EVENTS, PROGRESS_LINE_TYPES, SEARCH_MODES } from './protocol.js';

/** POSIX absolute (memery runs on macOS and Linux): what node:path's isAbsolute says there. */
const isAbsolutePath = (p: string) => p.startsWith('/');

const absolutePath = z
  .string()
  .min(1)
  .refine(isAbsolutePath, { message: 'Expected an absolute path' })
  .refine((p) => !p.includes('\0'), { message: 'Expected a path without NUL bytes' });

export const ErrorCodeSchema = z.enum(ERROR_CODES);

/** Kinds of vector index a catalog can use. */
export const IndexTypeSchema = z.enum(['flat', 'flat-fp16', 'hnsw']);
export type IndexType = z.infer<typeof IndexTypeSchema>;

/** How a search ranks: hybrid (words in images first, then pictures), clip (pictures only) or text (words only). */
export const SearchModeSchema = z.enum(SEARCH_MODES);
export type SearchMode = z.infer<typeof SearchModeSchema>;

// ---- results, summaries, progress, status (the library's types) -------------------------------

/**
 * A file that failed (or that the walk could not look at): its path, error code and message, which
 * names the file. `reason`: the same without the path, for a list that shows the file beside it
 * ("Cannot decode: VipsJpeg: Premature end of JPEG file"). Absent from older servers (show `message`).
 */
export const FileErrorSchema = z.object({ path: z.string(), code: z.string(), message: z.string(), reason: z.string().optional() });
export type IndexFileError = z.infer<typeof FileErrorSchema>;

export const IndexSummarySchema = z.object({
  folder: z.string(),
  /** Image files found under the folder. */
  found: z.number().int(),
  /** New paths whose content had to be encoded. */
  new: z.number().int(),
  /** Unchanged files (a stat, nothing more). */
  unchanged: z.number().int(),
  /** Known paths whose content changed, encoded again. */
  reembedded: z.number().int(),
  /** New paths whose content was already known (moved or copied): vector reused. */
  moved: z.number().int(),
  /** Files gone from the folder, removed from the catalog. */
  removed: z.number().int(),
  /**
   * Files that failed (listed in errors): undecodable ones are retried when they change, ones that
   * could not be read (E_IO) on every run.
   */
  failed: z.number().int(),
  seconds: z.number(),
  errors: z.array(FileErrorSchema),
  /**
   * What the walk could not look at (an unreadable folder, a name that is not UTF-8). Catalog
   * entries under an unreadable folder are kept as they were, never counted as removed.
   */
  skipped: z.array(FileErrorSchema),
  /** Images whose text was read (OCR) in this run, empty ones included. Absent from servers before OCR. */
  texts: z.number().int().optional(),
  /** Images whose text could not be read (the image itself is indexed; listed in textErrors). */
  textFailed: z.number().int().optional(),
  textErrors: z.array(FileErrorSchema).optional(),
});
export type IndexSummary = z.infer<typeof IndexSummarySchema>;

export const IndexProgressSchema = z.object({
  phase: z.enum(['scan', 'hash', 'encode', 'finish', 'ocr']),
  done: z.number().int(),
  total: z.number().int(),
});
export type IndexProgress = z.infer<typeof IndexProgressSchema>;

const weight = z.number().min(0).max(100);

/** A query: text, an image, or any mix with negatives and weights. A string is a text query. */
export const SearchQueryObjectSchema = z
  .object({
    text: z.string().min(1).optional(),
    image: z.string().min(1).optional(),
    negativeText: z.string().min(1).optional(),
    negativeImage: z.string().min(1).optional(),
    weights: z
      .object({ text: weight, image: weight, negativeText: weight, negativeImage: weight })
      .partial()
      .strict()
      .optional(),
  })
  .strict()
  .refine((q) => q.text !== undefined || q.image !== undefined || q.negativeText !== undefined || q.negativeImage !== undefined, {
    message: 'Expected at least one of text, image, negativeText, negativeImage',
  });
export const SearchQuerySchema = z.union([z.string().min(1), SearchQueryObjectSchema]);
export type SearchQuery = z.input<typeof SearchQuerySchema>;
export type SearchQueryObject = z.output<typeof SearchQueryObjectSchema>;

export const TextSpanSchema = z.object({ start: z.number().int().min(0), end: z.number().int().min(0) });
/** score: the share of the query's characters found in the image's text (0..1). */
export const TextMatchSchema = z.object({ score: z.number().min(0).max(1), spans: z.array(TextSpanSchema) });
export type TextMatch = z.infer<typeof TextMatchSchema>;

export const SearchResultSchema = z.object({
  /** Catalog file id (stable while the file stays). */
  id: z.number().int(),
  path: z.string(),
  score: z.number(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  bytes: z.number().int(),
  /** Modification time, ms since the epoch. */
  mtime: z.number(),
  /** The text read from the image (OCR), lines joined by '\n'; null when it has none or was not read. Absent from servers before OCR. */
  text: z.string().nullable().optional(),
  /** How the query's words matched `text` (null: not at all); spans are UTF-16 offsets into `text`, end exclusive. */
  match: TextMatchSchema.nullable().optional(),
  /**
   * The image's stored JPEG thumbnail (THUMB_SIZE px, in memery's home): an absolute path on the
   * machine that searched; null when none is stored yet (GET /api/thumb/:id and the library's
   * thumbnail() make and store one). Absent from servers before the thumbnail store.
   */
  thumb: z.string().min(1).nullable().optional(),
});
export type SearchResult = z.infer<typeof SearchResultSchema>;

export const FolderStatusSchema = z.object({
  path: z.string(),
  files: z.number().int(),
  failed: z.number().int(),
  indexedAt: z.number().nullable(),
  /** The files that failed (status() only): the first 100 by path; `failed` counts them all. Absent from older servers. */
  errors: z.array(FileErrorSchema).optional(),
});
export type FolderStatus = z.infer<typeof FolderStatusSchema>;

/** A model whose embeddings the catalog holds (or the model in use, even with none). */
export const CatalogModelSchema = z.object({
  /** The model id embeddings are keyed by (a fingerprint of the model's files). */
  id: z.string(),
  embeddings: z.number().int(),
  /** The model this catalog was opened with (status.model). */
  inUse: z.boolean(),
  /** Its registry name or model folder's name, when known (the model in use, installed registry models). */
  name: z.string().nullable(),
  dir: z.string().nullable(),
});
export type CatalogModel = z.infer<typeof CatalogModelSchema>;

export const StatusSchema = z.object({
  home: z.string(),
  catalog: z.string(),
  model: z.object({ name: z.string(), id: z.string().nullable(), dir: z.string().nullable(), layout: z.string().nullable() }),
  folders: z.array(FolderStatusSchema),
  counts: z.object({
    files: z.number().int(),
    failed: z.number().int(),
    embeddings: z.number().int(),
    folders: z.number().int(),
    /** Indexed images with text in them (OCR, with the current OCR model). Absent from servers before OCR. */
    texts: z.number().int().optional(),
  }),
  index: z.object({
    file: z.string().nullable(),
    type: IndexTypeSchema,
    health: z.string(),
    vectors: z.number().int(),
    /** Damaged vectors found (left out of the index, deleted so the next index run re-encodes the files). */
    problems: z.array(z.object({ paths: z.array(z.string()), message: z.string() })).optional(),
  }),
  integrity: z.string(),
  /** The models the catalog holds embeddings of, the one in use first. Absent from older servers. */
  models: z.array(CatalogModelSchema).optional(),
  /** The thumbnail store: how many, their bytes, its budget (bytes) and folder. Absent from older servers. */
  thumbnails: z.object({ count: z.number().int(), bytes: z.number().int(), budget: z.number().int(), dir: z.string() }).optional(),
});
export type Status = z.infer<typeof StatusSchema>;

// ---- requests and responses -------------------------------------------------------------------

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
    /** hybrid (default): images whose text holds the query's words first; clip: the picture only; text: the words only. */
    mode: SearchModeSchema.default('hybrid'),
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
    mode: SearchModeSchema.optional(),
  })
  .strict();
export type SearchImageParams = z.infer<typeof SearchImageParamsSchema>;

/** POST /api/index: indexes (incrementally) an absolute folder; answers server-sent events. */
export const IndexRequestSchema = z
  .object({
    folder: absolutePath,
    /** Read the text in images (OCR) in this run; default: the server's setting (config `ocr`). */
    ocr: z.boolean().optional(),
  })
  .strict();
export type IndexRequest = z.infer<typeof IndexRequestSchema>;

/** POST /api/forget. */
export const ForgetRequestSchema = z.object({ folder: absolutePath }).strict();
export type ForgetRequest = z.infer<typeof ForgetRequestSchema>;
export const ForgetResponseSchema = z.object({ folder: z.string(), removed: z.number().int() });
export type ForgetResponse = z.infer<typeof ForgetResponseSchema>;

/** A thumbnail's edge in pixels (GET /api/thumb/:id?size=, the library's thumbnail()); default THUMB_SIZE. */
export const ThumbSizeSchema = z.number().int().min(16).max(1024);

/** GET /api/thumb/:id?size= */
export const ThumbParamsSchema = z
  .object({ size: numberParam(ThumbSizeSchema).optional() })
  .strict();

/** GET /api/file/:id?download=1 (an attachment; other values and parameters are ignored). */
export const FileParamsSchema = z.object({ download: z.string().optional() });

/** A catalog file id in a URL path. */
export const IdParamSchema = z.string().regex(/^[1-9]\d{0,15}$/, 'Expected a catalog file id (a positive integer)').transform(Number);

/** Every error answer of the server (and every error line of the CLI's machine output). */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: ErrorCodeSchema,
    message: z.string(),
    hint: z.string().optional(),
    /** The file or folder it concerns (CLI). */
    path: z.string().optional(),
    /** The zod issues of a rejected request. */
    issues: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** Who answers: the fields /api/ping and /api/status share. */
const serverIdentity = {
  name: z.literal('memery'),
  version: z.string(),
  pid: z.number().int(),
  /** The GUI's URL, without the token. */
  url: z.string(),
  socket: z.string().nullable(),
};

export const ServerInfoSchema = z.object({
  ...serverIdentity,
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
export const PingResponseSchema = z.object({ ...serverIdentity, home: z.string() });
export type PingResponse = z.infer<typeof PingResponseSchema>;

/** GET /api/status: the library's status plus the server's own. */
export const StatusResponseSchema = StatusSchema.extend({ server: ServerInfoSchema });
export type StatusResponse = z.infer<typeof StatusResponseSchema>;

// ---- events ----------------------------------------------------------------------------------

/** Who started an index run: a POST /api/index (GUI, CLI, launchers), the watcher, or the server's start. */
export const JobSourceSchema = z.enum(['api', 'watch', 'startup']);
export type JobSource = z.infer<typeof JobSourceSchema>;

/**
 * The server's number for one index run, the same on POST /api/index's stream and on /api/events:
 * a client that saw a run's `done` or `error` ignores that run's progress arriving later on the
 * other stream.
 */
export const RunIdSchema = z.number().int().positive();
const runEvent = { source: JobSourceSchema.optional(), run: RunIdSchema.optional() };
export const IndexProgressEventSchema = IndexProgressSchema.extend({ folder: z.string(), ...runEvent });
export const IndexDoneEventSchema = IndexSummarySchema.extend(runEvent);
export const IndexErrorEventSchema = z.object({ folder: z.string(), code: ErrorCodeSchema, message: z.string(), ...runEvent });
export const ForgottenEventSchema = z.object({ folder: z.string(), removed: z.number().int() });
export const ChangedEventSchema = z.object({}).strict();
export type IndexProgressEvent = z.infer<typeof IndexProgressEventSchema>;
export type IndexDoneEvent = z.infer<typeof IndexDoneEventSchema>;
export type IndexErrorEvent = z.infer<typeof IndexErrorEventSchema>;
export type ForgottenEvent = z.infer<typeof ForgottenEventSchema>;

const indexEvents = [
  z.object({ event: z.literal(EVENTS.progress), data: IndexProgressEventSchema }),
  z.object({ event: z.literal(EVENTS.done), data: IndexDoneEventSchema }),
  z.object({ event: z.literal(EVENTS.error), data: IndexErrorEventSchema }),
] as const;
/** The events of POST /api/index: progress, then done or error. */
export const IndexEventSchema = z.discriminatedUnion('event', [...indexEvents]);
export type IndexEvent = z.infer<typeof IndexEventSchema>;
/** The events of GET /api/events: those of every index run (with `source`), forgotten, changed. */
export const ServerEventSchema = z.discriminatedUnion('event', [
  ...indexEvents,
  z.object({ event: z.literal(EVENTS.forgotten), data: ForgottenEventSchema }),
  z.object({ event: z.literal(EVENTS.changed), data: ChangedEventSchema }),
]);
export type ServerEvent = z.infer<typeof ServerEventSchema>;

/** The JSON written to `<home>/server.json` while a server runs. */
export const ServerFileSchema = z.object({
  pid: z.number().int(),
  startedAt: z.number(),
  url: z.string().optional(),
  socket: z.string().nullable().optional(),
});
export type ServerFile = z.infer<typeof ServerFileSchema>;

// ---- the CLI's machine output -----------------------------------------------------------------

/** One line of `memery index --progress json` (stderr): progress, then a summary per folder. */
export const ProgressLineSchema = z.discriminatedUnion('type', [
  IndexProgressSchema.extend({ type: z.literal(PROGRESS_LINE_TYPES.progress), folder: z.string() }),
  IndexSummarySchema.extend({ type: z.literal(PROGRESS_LINE_TYPES.summary) }),
]);
export type ProgressLine = z.infer<typeof ProgressLineSchema>;

/** `memery search --json`. */
export const SearchOutputSchema = z.object({ query: z.unknown(), results: z.array(SearchResultSchema) }).passthrough();
export type SearchOutput = z.infer<typeof SearchOutputSchema>;
