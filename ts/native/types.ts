import type { EncodeFilesResult } from './image-encoder.js';
import type { ImageInfo } from './image-ops.js';
// The raw shape of the native addon. Internal: public code uses the typed wrappers beside this file.

export interface NativeFileError {
  index: number;
  path: string;
  code: string;
  message: string;
}

// Option objects: the native side reads every key (a missing one is a TypeError); the zod
// schemas in the wrappers fill the defaults.
export interface NativeModelOptions {
  provider: 'cpu' | 'cuda' | 'auto';
  threads: number;
  spinning: boolean;
  /** '' for none. */
  optimizedPath: string;
  optimization: 'all' | 'basic' | 'none';
  prepack: boolean;
}

export interface NativePreprocessSpec {
  size: number;
  mean: [number, number, number];
  std: [number, number, number];
  shrinkOnLoad: boolean;
  shrinkMargin: number;
  maxPixels: number;
  autorotate: boolean;
}

export interface NativeDecodeSpec extends NativePreprocessSpec {
  output: 'float' | 'rgb';
  /** Decode tasks on the shared decode pool; 0 = its size (one per core). */
  threads: number;
}

export interface NativeImageEncoder {
  encodeFiles(
    paths: string[],
    opts: { batchSize: number; decodeThreads: number; maxFileBytes: number; thumbnailSize: number; thumbnailQuality: number },
  ): Promise<EncodeFilesResult>;
  encodeTensor(pixels: Float32Array): Promise<Float32Array>;
  info(): { input: string; output: string; size: number; dim: number; provider: string };
  close(): void;
}

export interface NativeTextEncoder {
  encode(ids: Array<number[] | Int32Array>): Promise<Float32Array>;
  info(): { input: string; mask: string | null; output: string; sequenceLength: number; dim: number; provider: string };
  close(): void;
}

export interface NativeVectorIndex {
  add(ids: Float64Array | number[], vectors: Float32Array): Promise<number>;
  remove(ids: Float64Array | number[]): Promise<number>;
  /** `within`: only these ids are ranked. */
  search(queries: Float32Array, k: number, within?: Float64Array): Promise<{ ids: Float64Array; scores: Float32Array; k: number }>;
  save(path: string, meta: string): Promise<void>;
  size(): number;
  dim(): number;
  type(): string;
  setSearchParams(p: { efSearch?: number }): void;
}

export interface NativeOcrEngine {
  read(
    inputs: Array<string | Uint8Array>,
    opts: {
      limit: number;
      thresh: number;
      boxThresh: number;
      unclipRatio: number;
      maxCandidates: number;
      minConfidence: number;
      spaceScore: number;
      recBatchSize: number;
      recMinWidth: number;
      decodeThreads: number;
      concurrency: number;
      maxFileBytes: number;
      maxPixels: number;
      autorotate: boolean;
      profile: boolean;
    },
  ): Promise<
    Array<
      | { ok: true; text: string; lines: Array<{ text: string; confidence: number; box: number[] }>; width: number; height: number }
      | { ok: false; code: string; message: string; path?: string }
    >
  >;
  info(): { detModel: string; recModel: string; dict: string; classes: number; provider: string; threads: number; fused: boolean };
  close(): void;
}

export interface NativeOcrLoadOptions extends NativeModelOptions {
  /** -1: as many as threads. */
  detThreads: number;
  fuse: boolean;
}

export interface NativeBinding {
  OcrEngine: { load(files: { detModel: string; recModel: string; dict: string }, opts: NativeOcrLoadOptions): Promise<NativeOcrEngine> };
  ImageEncoder: { load(path: string, opts: NativeModelOptions, spec: NativePreprocessSpec): Promise<NativeImageEncoder> };
  TextEncoder: { load(path: string, opts: NativeModelOptions & { contextLength: number }): Promise<NativeTextEncoder> };
  VectorIndex: {
    new (dim: number, opts: { type: string; hnswM: number }): NativeVectorIndex;
    load(path: string): Promise<{ index: NativeVectorIndex; meta: string }>;
  };
  decodeForModel(
    paths: string[],
    spec: NativeDecodeSpec,
  ): Promise<{ data: Float32Array | Uint8Array; size: number; errors: NativeFileError[] }>;
  /** A path (read once: open, fstat, read) or the encoded image bytes; both decode from memory. */
  thumbnail(
    input: string | Uint8Array,
    opts: { size: number; format: 'jpeg' | 'webp' | 'png'; quality: number; maxPixels: number; maxFileBytes: number },
  ): Promise<{ data: Buffer; width: number; height: number; format: string; hash: string }>;
  imageInfo(path: string): Promise<ImageInfo>;
  saveRgb(data: Uint8Array, width: number, height: number, path: string): Promise<void>;
  /** Internal (tests, measurements): hex SHA-256 of the bytes, with encodeFiles' implementation or a given one. */
  sha256Hex(data: Uint8Array, impl?: 'auto' | 'portable' | 'sha-ni'): string;
  /** The implementation encodeFiles uses: 'sha-ni' or 'portable'. */
  sha256Impl(): 'sha-ni' | 'portable';
  versions(): { onnxruntime: string; libvips: string; cuda: boolean };
}
