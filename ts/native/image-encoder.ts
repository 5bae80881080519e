import { z } from 'zod';
import { loadBinding } from './binding.js';
import { native } from './native-error.js';
import { PreprocessSpecSchema, type PreprocessSpecInput } from './preprocess-spec.js';
import type { NativeFileError, NativeImageEncoder } from './types.js';
import { parseOptions } from './validate.js';

/**
 * 256 MiB: image files larger than this are refused before a byte is read (config maxFileBytes). A
 * real image this large would take more memory to decode than a search tool should; a file this
 * large named .jpg is almost always something else.
 */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

/** JPEG quality of thumbnails (encodeFiles' and thumbnail()'s default). */
export const THUMBNAIL_QUALITY = 80;

export const ProviderSchema = z.enum(['cpu', 'cuda', 'auto']);
export type Provider = z.infer<typeof ProviderSchema>;

export const SessionOptionsSchema = z.object({
  provider: ProviderSchema.default('cpu'),
  /** ONNX Runtime intra-op threads; 0 = one per core. */
  threads: z.number().int().min(0).max(256).default(0),
  /** ONNX Runtime's pool threads spin while they wait for work (lower latency, more CPU). */
  spinning: z.boolean().default(false),
  /** Write the optimised graph to this path (load it next time with optimization 'none'); '' for none. */
  optimizedPath: z.string().default(''),
  /** Graph optimisation level; 'none' for a model file that was optimised earlier. */
  optimization: z.enum(['all', 'basic', 'none']).default('all'),
  /** Pre-pack the weights at load (faster runs, slower load: off for one-shot use). */
  prepack: z.boolean().default(true),
});
export type SessionOptions = z.input<typeof SessionOptionsSchema>;

export const EncodeFilesOptionsSchema = z.object({
  batchSize: z.number().int().min(1).max(1024).default(16),
  /** Decoder threads; 0 = one per core. */
  decodeThreads: z.number().int().min(0).max(256).default(0),
  /** Files larger than this many bytes are refused (E_TOO_LARGE) before any of their bytes is read. */
  maxFileBytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).default(DEFAULT_MAX_FILE_BYTES),
  /**
   * Also make a JPEG thumbnail of each image from the same decode (after shrink-on-load): fit inside
   * this many pixels square, aspect ratio kept, never enlarged, EXIF orientation applied, alpha
   * composited over white. 0: none.
   */
  thumbnailSize: z.number().int().min(0).max(4096).default(0),
  thumbnailQuality: z.number().int().min(1).max(100).default(THUMBNAIL_QUALITY),
});
export type EncodeFilesOptions = z.input<typeof EncodeFilesOptionsSchema>;

/** A file that failed: its index in the input, path, error code and message. */
export type FileError = NativeFileError;

export interface EncodeFilesResult {
  /** Row i is the L2-normalised embedding of paths[i] (zeros where it failed). */
  embeddings: Float32Array;
  dim: number;
  /** ok[i] is 1 when paths[i] was encoded. */
  ok: Uint8Array;
  /** [width, height] of each stored image (first page), before resizing; 0 where it failed. */
  sizes: Uint32Array;
  /**
   * Per file: SHA-256 of the bytes that were read and decoded, lowercase hex, first 32 chars (as
   * catalog/hash.ts `contentHash`); '' where the file could not be read (E_NOT_FOUND, E_IO,
   * E_TOO_LARGE, not a regular file). A file that was read but failed to decode has its hash.
   */
  hashes: string[];
  /**
   * [size, mtimeMs] per file (length 2n), from the fstat of the descriptor that was read (mtimeMs
   * as fs.Stats.mtimeMs). 0, 0 where the file could not be opened or is not a regular file; filled
   * for a file refused as too large.
   */
  stats: Float64Array;
  /**
   * Per file, with thumbnailSize > 0: its JPEG thumbnail; null where the file failed, where no
   * thumbnail was asked for, or where one could not be made (e.g. a truncated end that the crop did
   * not need: the file is still encoded).
   */
  thumbnails: Array<Buffer | null>;
  errors: FileError[];
}

/** An ONNX Runtime session on a CLIP vision model; decoding and inference run off the event loop. */
export class ImageEncoder {
  readonly #native: NativeImageEncoder;
  readonly modelPath: string;
  private constructor(n: NativeImageEncoder, modelPath: string) {
    this.#native = n;
    this.modelPath = modelPath;
  }

  static async load(modelPath: string, options: SessionOptions = {}, spec: PreprocessSpecInput = {}): Promise<ImageEncoder> {
    const o = parseOptions(SessionOptionsSchema, options, 'image encoder options');
    const s = parseOptions(PreprocessSpecSchema, spec, 'preprocessing spec');
    const n = await native(() => loadBinding().ImageEncoder.load(modelPath, o, s));
    return new ImageEncoder(n, modelPath);
  }

  get info(): { input: string; output: string; size: number; dim: number; provider: string } {
    return this.#native.info();
  }

  async encodeFiles(paths: string[], options: EncodeFilesOptions = {}): Promise<EncodeFilesResult> {
    const o = parseOptions(EncodeFilesOptionsSchema, options, 'encodeFiles options');
    return native(() => this.#native.encodeFiles(paths, o));
  }

  /** Raw inference on pre-made [N,3,S,S] tensors (benchmarks). */
  async encodeTensor(pixels: Float32Array): Promise<Float32Array> {
    return native(() => this.#native.encodeTensor(pixels));
  }

  close(): void {
    this.#native.close();
  }
}
