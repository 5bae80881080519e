/**
 * The library's option schemas. Results, summaries, progress, queries and status are the wire's
 * (they travel to the CLI's JSON, the server's answers and the launchers unchanged): they live in
 * @memery/client (packages/client/src/schemas.ts) and are re-exported here.
 */
import { z } from 'zod';
import { IndexTypeSchema, SearchModeSchema, ThumbSizeSchema } from '@memery/client/schemas';
import { THUMB_SIZE } from '@memery/client/protocol';
import { ConfigSchema } from '../config/schema.js';
import { ProviderSchema } from '../native/image-encoder.js';

export {
  CatalogModelSchema,
  FileErrorSchema,
  IndexProgressSchema,
  IndexSummarySchema,
  SearchQueryObjectSchema,
  SearchQuerySchema,
  SearchModeSchema,
  SearchResultSchema,
  StatusSchema,
  type SearchMode,
  type CatalogModel,
  type IndexFileError,
  type IndexProgress,
  type IndexSummary,
  type SearchQuery,
  type SearchQueryObject,
  type SearchResult,
  type Status,
} from '@memery/client/schemas';

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
    /** Read the text in images when indexing (default: config `ocr`, true). */
    ocr: z.boolean().optional(),
    /** Make thumbnails while indexing (default: config `thumbnails`, true). */
    thumbnails: ConfigSchema.shape.thumbnails.unwrap().optional(),
    /** MiB of thumbnails kept (default: config `thumbnailBudget`). */
    thumbnailBudget: ConfigSchema.shape.thumbnailBudget.unwrap().optional(),
  })
  .strict();
export type MemeryOptions = z.input<typeof MemeryOptionsSchema>;

/** Options of Memery.thumbnail(). */
export const ThumbnailRequestSchema = z
  .object({
    /** The thumbnail fits inside this many pixels square (never enlarged). */
    size: ThumbSizeSchema.default(THUMB_SIZE),
  })
  .strict();
export type ThumbnailRequest = z.input<typeof ThumbnailRequestSchema>;

export const SearchOptionsSchema = z
  .object({
    /** Only files under these folders. */
    folders: z.array(z.string().min(1)).optional(),
    n: z.number().int().min(1).max(10_000).default(20),
    /** Drop results scoring below this cosine similarity. */
    threshold: z.number().min(-1).max(1).optional(),
    /**
     * hybrid (default): images whose text (OCR) matches the query's words rank first (full matches,
     * then partial ones), the rest by CLIP score; clip: CLIP score only; text: only images whose
     * text matches, by how much of the query they hold (score = that share, 0..1).
     */
    mode: SearchModeSchema.default('hybrid'),
  })
  .strict();
export type SearchOptions = z.input<typeof SearchOptionsSchema>;

