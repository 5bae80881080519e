import { z } from 'zod';
import { DEFAULT_MODEL_NAME } from '../models/registry.js';
import { IndexTypeSchema } from '../native/vector-index.js';
import { ProviderSchema } from '../native/image-encoder.js';
import { MAX_FILE_BYTES } from '../catalog/hash.js';

/** config.json in MEMERY_HOME; every key optional. Unknown keys are errors (typos get caught). */
export const ConfigSchema = z
  .object({
    /** A registry model name (`memery models list`). */
    model: z.string().min(1).default(DEFAULT_MODEL_NAME),
    /** A local model folder in either layout; wins over `model`. */
    modelDir: z.string().min(1).optional(),
    /** Prefer the quantised (int8) model files when the model has them. */
    variant: z.enum(['fp32', 'quantized']).default('fp32'),
    provider: ProviderSchema.default('cpu'),
    /** ONNX Runtime threads; 0 = one per core. */
    threads: z.number().int().min(0).max(256).default(0),
    /** Decoder threads; 0 = one per core. */
    decodeThreads: z.number().int().min(0).max(256).default(0),
    batchSize: z.number().int().min(1).max(256).default(16),
    /**
     * JPEG shrink-on-load only while the shrunk shorter side stays >= this x the model size. 2 (mean
     * abs diff 0.25/255 from PIL's crops, worst 0.68) decodes 1-12 MP photos in ~14 CPU-ms vs ~23 at
     * 4 (0.06, worst 0.22); 1.5 saves ~1 ms more but sits at the 0.5 mean bar. README: Preprocessing.
     */
    shrinkMargin: z.number().min(1).max(16).default(2),
    /** FAISS index type: exact by default; hnsw for very large catalogs. */
    indexType: IndexTypeSchema.default('flat'),
    /** Folders the server watches and the launchers offer. */
    folders: z.array(z.string().min(1)).default([]),
    watch: z.boolean().default(false),
    port: z.number().int().min(1).max(65535).default(7627),
    /** Hugging Face endpoint for model downloads (also MEMERY_HF_ENDPOINT). */
    hfEndpoint: z.string().url().optional(),
    /** How long an index run waits for another process's lock, in seconds. */
    lockTimeout: z.number().min(0).max(3600).default(10),
    /** Image files larger than this (bytes) are refused before they are read (E_TOO_LARGE). */
    maxFileBytes: z.number().int().min(1024).default(MAX_FILE_BYTES),
    /** Read the text in images (OCR) when indexing, so a search finds a meme by its words. */
    ocr: z.boolean().default(true),
  })
  .strict();

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
