import { z } from 'zod';
import { loadBinding } from './binding.js';
import { DEFAULT_MAX_FILE_BYTES, THUMBNAIL_QUALITY } from './image-encoder.js';
import { native } from './native-error.js';
import { PreprocessSpecSchema, type PreprocessSpecInput } from './preprocess-spec.js';
import type { FileError } from './image-encoder.js';
import { assertImageInput, parseOptions } from './validate.js';

export interface DecodedBatch<T extends Float32Array | Uint8Array> {
  /** Float: [N,3,S,S] normalised; RGB: [N,S,S,3] bytes. Rows of failed files are zero. */
  data: T;
  size: number;
  errors: FileError[];
}

/** libvips decode + CLIP preprocessing of a batch of files, on native threads. */
export async function decodeForModel(paths: string[], spec: PreprocessSpecInput = {}): Promise<DecodedBatch<Float32Array>> {
  const s = parseOptions(PreprocessSpecSchema, spec, 'preprocessing spec');
  const r = await native(() => loadBinding().decodeForModel(paths, { ...s, output: 'float', threads: 0 }));
  return r as DecodedBatch<Float32Array>;
}

/** The size x size RGB crop before normalisation (for comparing with a reference). */
export async function decodeCrops(paths: string[], spec: PreprocessSpecInput = {}): Promise<DecodedBatch<Uint8Array>> {
  const s = parseOptions(PreprocessSpecSchema, spec, 'preprocessing spec');
  const r = await native(() => loadBinding().decodeForModel(paths, { ...s, output: 'rgb', threads: 0 }));
  return r as DecodedBatch<Uint8Array>;
}

export interface Thumbnail {
  data: Buffer;
  width: number;
  height: number;
  format: string;
  /** The content hash of the input's bytes (SHA-256, first 32 hex chars, as encodeFiles' and the catalog's). */
  hash: string;
}

export const ThumbnailOptionsSchema = z.object({
  /** Longest side of the thumbnail (images are only ever shrunk). */
  size: z.number().int().min(1).max(16384).default(256),
  format: z.enum(['jpeg', 'webp', 'png']).default('jpeg'),
  quality: z.number().int().min(1).max(100).default(THUMBNAIL_QUALITY),
  /** Images with more pixels are refused (E_DECODE). */
  maxPixels: z.number().int().positive().default(268402689),
  /** For a path: files larger than this are refused (E_TOO_LARGE) before they are read. */
  maxFileBytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).default(DEFAULT_MAX_FILE_BYTES),
});
export type ThumbnailOptions = z.input<typeof ThumbnailOptionsSchema>;

/**
 * A thumbnail of an image file (`input` a path: opened and read once, then decoded from memory) or
 * of encoded image bytes already in memory (`input` a Buffer or Uint8Array: jpeg, png, gif, webp,
 * ...; e.g. bytes read from a verified file descriptor). Undecodable bytes are E_DECODE with a
 * reason; for a path, also E_NOT_FOUND, E_IO and E_TOO_LARGE as in encodeFiles.
 */
export async function thumbnail(input: string | Uint8Array, opts: ThumbnailOptions = {}): Promise<Thumbnail> {
  assertImageInput(input, 'input');
  const o = parseOptions(ThumbnailOptionsSchema, opts, 'thumbnail options');
  return native(() => loadBinding().thumbnail(input, o));
}

export interface ImageInfo {
  width: number;
  height: number;
  bands: number;
  hasAlpha: boolean;
  pages: number;
  orientation: number;
  format: string;
}

export async function imageInfo(path: string): Promise<ImageInfo> {
  return native(() => loadBinding().imageInfo(path));
}

export async function saveRgb(data: Uint8Array, width: number, height: number, path: string): Promise<void> {
  await native(() => loadBinding().saveRgb(data, width, height, path));
}

export function nativeVersions(): { onnxruntime: string; libvips: string; cuda: boolean } {
  return loadBinding().versions();
}
