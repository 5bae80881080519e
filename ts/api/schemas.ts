import { z } from 'zod';
import { ProviderSchema } from '../native/image-encoder.js';
import { IndexTypeSchema } from '../native/vector-index.js';

/** Options of Memery.open(); anything left out comes from config.json and the environment. */
export const MemeryOptionsSchema = z
  .object({
    home: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    modelDir: z.string().min(1).optional(),
    variant: z.enum(['fp32', 'quantized']).optional(),
    provider: ProviderSchema.optional(),
    threads: z.number().int().min(0).optional(),
    decodeThreads: z.number().int().min(0).optional(),
    batchSize: z.number().int().min(1).max(256).optional(),
    shrinkMargin: z.number().min(1).max(16).optional(),
    indexType: IndexTypeSchema.optional(),
    lockTimeout: z.number().min(0).optional(),
  })
  .strict();
export type MemeryOptions = z.input<typeof MemeryOptionsSchema>;

export const FileErrorSchema = z.object({ path: z.string(), code: z.string(), message: z.string() });
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
});
export type IndexSummary = z.infer<typeof IndexSummarySchema>;

export const IndexProgressSchema = z.object({
  phase: z.enum(['scan', 'hash', 'encode', 'finish']),
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

export const SearchOptionsSchema = z
  .object({
    /** Only files under these folders. */
    folders: z.array(z.string().min(1)).optional(),
    n: z.number().int().min(1).max(10_000).default(20),
    /** Drop results scoring below this cosine similarity. */
    threshold: z.number().min(-1).max(1).optional(),
  })
  .strict();
export type SearchOptions = z.input<typeof SearchOptionsSchema>;

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
});
export type SearchResult = z.infer<typeof SearchResultSchema>;

export const StatusSchema = z.object({
  home: z.string(),
  catalog: z.string(),
  model: z.object({ name: z.string(), id: z.string().nullable(), dir: z.string().nullable(), layout: z.string().nullable() }),
  folders: z.array(
    z.object({ path: z.string(), files: z.number().int(), failed: z.number().int(), indexedAt: z.number().nullable() }),
  ),
  counts: z.object({ files: z.number().int(), failed: z.number().int(), embeddings: z.number().int(), folders: z.number().int() }),
  index: z.object({
    file: z.string().nullable(),
    type: IndexTypeSchema,
    health: z.string(),
    vectors: z.number().int(),
    /** Damaged vectors found (left out of the index, deleted so the next index run re-encodes the files). */
    problems: z.array(z.object({ paths: z.array(z.string()), message: z.string() })).optional(),
  }),
  integrity: z.string(),
});
export type Status = z.infer<typeof StatusSchema>;
