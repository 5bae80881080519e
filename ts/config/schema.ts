import { z } from 'zod';
import { DEFAULT_MODEL_NAME } from '../models/registry.js';
import { IndexTypeSchema } from '../native/vector-index.js';
import { DEFAULT_MAX_FILE_BYTES, ProviderSchema } from '../native/image-encoder.js';

/**
 * config.json in MEMERY_HOME; every key optional. Unknown keys are errors (typos get caught). Each
 * key can also be set by an environment variable, MEMERY_ and the key in SCREAMING_SNAKE_CASE
 * (envName in load.ts). The descriptions are the documentation: `memery --help`, `memery config`
 * and `memery config --schema` (a JSON Schema) are generated from this schema.
 */
export const ConfigSchema = z
  .object({
    model: z.string().min(1).default(DEFAULT_MODEL_NAME).describe('A registry model name (`memery models list`).'),
    modelDir: z.string().min(1).optional().describe('A local CLIP model folder (OpenCLIP or Hugging Face ONNX layout); wins over model.'),
    variant: z.enum(['fp32', 'quantized']).default('fp32').describe('Prefer the quantised (int8) model files when the model has them.'),
    provider: ProviderSchema.default('cpu').describe('ONNX Runtime execution provider.'),
    threads: z.number().int().min(0).max(256).default(0).describe('ONNX Runtime threads; 0 = one per core.'),
    decodeThreads: z.number().int().min(0).max(256).default(0).describe('Image decoder threads; 0 = one per core.'),
    batchSize: z.number().int().min(1).max(256).default(16).describe('Images encoded per batch when indexing.'),
    /*
     * JPEG shrink-on-load only while the shrunk shorter side stays >= this x the model size. 2 (mean
     * abs diff 0.25/255 from PIL's crops, worst 0.68) decodes 1-12 MP photos in ~14 CPU-ms vs ~23 at
     * 4 (0.06, worst 0.22); 1.5 saves ~1 ms more but sits at the 0.5 mean bar. README: Preprocessing.
     */
    shrinkMargin: z.number().min(1).max(16).default(2).describe('JPEG shrink-on-load keeps the shorter side at least this many times the model input size.'),
    indexType: IndexTypeSchema.default('flat').describe('FAISS index type: flat is exact; hnsw is for very large catalogs.'),
    folders: z.array(z.string().min(1)).default([]).describe('Folders the server watches and the launchers offer.'),
    exclude: z
      .array(z.string().min(1))
      .default([])
      .describe('Gitignore-style patterns left out of every indexed folder (as well as each folder\'s .memeryignore).'),
    watch: z.boolean().default(false).describe('The server watches the folders and indexes changes.'),
    port: z.number().int().min(1).max(65535).default(7627).describe('TCP port of `memery serve`.'),
    hfEndpoint: z.string().url().optional().describe('Hugging Face endpoint for model downloads.'),
    lockTimeout: z.number().min(0).max(3600).default(10).describe("How long an index run waits for another process's lock, in seconds."),
    maxFileBytes: z
      .number()
      .int()
      .min(1024)
      .default(DEFAULT_MAX_FILE_BYTES)
      .describe('Image files larger than this (bytes) are refused before they are read.'),
    ocr: z.boolean().default(true).describe('Read the text in images (OCR) when indexing, so a search finds a meme by its words.'),
    thumbnails: z
      .boolean()
      .default(true)
      .describe('Make a JPEG thumbnail of each image while indexing, from the same decode, stored under the home for the GUI and the launchers; off: each is made when first shown.'),
    thumbnailBudget: z
      .number()
      .positive()
      .max(1_048_576)
      .default(256)
      .describe('MiB of thumbnails kept under the home; past it the least recently used go.'),
  })
  .strict();

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
