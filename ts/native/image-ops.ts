import { loadBinding } from './binding.js';
import { native } from './native-error.js';
import { PreprocessSpecSchema, type PreprocessSpecInput } from './preprocess-spec.js';
import type { FileError } from './image-encoder.js';
import { parseOptions } from './validate.js';

export interface DecodedBatch<T extends Float32Array | Uint8Array> {
  /** Float: [N,3,S,S] normalised; RGB: [N,S,S,3] bytes. Rows of failed files are zero. */
  data: T;
  size: number;
  errors: FileError[];
}

/** libvips decode + CLIP preprocessing of a batch of files, on native threads. */
export async function decodeForModel(paths: string[], spec: PreprocessSpecInput = {}): Promise<DecodedBatch<Float32Array>> {
  const s = parseOptions(PreprocessSpecSchema, spec, 'preprocessing spec');
  const r = await native(() => loadBinding().decodeForModel(paths, { ...s, output: 'float' }));
  return r as DecodedBatch<Float32Array>;
}

/** The size x size RGB crop before normalisation (for comparing with a reference). */
export async function decodeCrops(paths: string[], spec: PreprocessSpecInput = {}): Promise<DecodedBatch<Uint8Array>> {
  const s = parseOptions(PreprocessSpecSchema, spec, 'preprocessing spec');
  const r = await native(() => loadBinding().decodeForModel(paths, { ...s, output: 'rgb' }));
  return r as DecodedBatch<Uint8Array>;
}

export interface Thumbnail {
  data: Buffer;
  width: number;
  height: number;
  format: string;
}

export async function thumbnail(
  path: string,
  opts: { size?: number; format?: 'jpeg' | 'webp' | 'png'; quality?: number } = {},
): Promise<Thumbnail> {
  return native(() => loadBinding().thumbnail(path, opts));
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
