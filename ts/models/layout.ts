/**
 * Recognises a local CLIP model folder and reads what the runtime needs from it.
 *
 * Two layouts are accepted:
 *  - OpenCLIP / Immich: visual/model.onnx, textual/model.onnx, textual/tokenizer.json,
 *    visual/preprocess_cfg.json, config.json
 *  - Hugging Face (transformers.js / optimum exports): onnx/vision_model.onnx (or vision_model.onnx
 *    at the root), onnx/text_model.onnx (or text_model.onnx at the root), vocab.json + merges.txt or
 *    tokenizer.json, preprocessor_config.json; config.json is optional.
 * Each model file may also come as `*_quantized.onnx` (./variant.ts); variant 'quantized' prefers those.
 */
import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MemeryError } from '../errors.js';
import type { ModelLayoutKind } from './registry.js';
import { quantizedPath } from './variant.js';

export const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
export const DEFAULT_IMAGE_SIZE = 224;
export const DEFAULT_CONTEXT_LENGTH = 77;

export type LayoutVariant = 'fp32' | 'quantized';

export interface PreprocessConfig {
  size: number;
  mean: [number, number, number];
  std: [number, number, number];
  interpolation: 'bicubic' | 'bilinear';
  /** 'shortest': resize the shorter side to `size`, then center-crop. 'squash': resize to size x size. */
  resizeMode: 'shortest' | 'squash';
}

export type TokenizerFiles =
  | { kind: 'tokenizer.json'; paths: [string] }
  | { kind: 'vocab-merges'; paths: [vocab: string, merges: string] };

export interface ModelLayout {
  kind: ModelLayoutKind;
  /** Absolute folder. */
  dir: string;
  /** Absolute paths. */
  visionModel: string;
  textModel: string;
  /** Which model files were picked. */
  variant: LayoutVariant;
  tokenizer: TokenizerFiles;
  preprocess: PreprocessConfig;
  contextLength: number;
  embedDim?: number;
  /** Stable id of this pair of model files (see modelId). */
  id: string;
}

export interface DetectLayoutOptions {
  /** 'quantized' prefers *_quantized.onnx; the default prefers the fp32 files. Either falls back to the other. */
  variant?: LayoutVariant;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Where each layout keeps its files. Models: the fp32 files, most preferred first; each may also
 * come quantized (quantizedPath). The detectors, their "missing" errors and the ACCEPTED hint all
 * read these.
 */
const OPENCLIP_FILES = {
  vision: ['visual/model.onnx'],
  text: ['textual/model.onnx'],
  tokenizer: 'textual/tokenizer.json',
  preprocess: 'visual/preprocess_cfg.json',
  config: 'config.json',
} as const;
const HF_FILES = {
  vision: ['onnx/vision_model.onnx', 'vision_model.onnx'],
  text: ['onnx/text_model.onnx', 'text_model.onnx'],
  vocab: 'vocab.json',
  merges: 'merges.txt',
  tokenizer: 'tokenizer.json',
  preprocess: 'preprocessor_config.json',
  config: 'config.json',
} as const;

/** 'a' or 'a (or b)': the preferred place of a model file and where else it may be. */
function either(places: readonly string[]): string {
  return places.length > 1 ? `${places[0]} (or ${places.slice(1).join(', ')})` : places[0]!;
}

const HF_TOKENIZER = `${HF_FILES.vocab} + ${HF_FILES.merges} or ${HF_FILES.tokenizer}`;
const ACCEPTED =
  `Accepted layouts: OpenCLIP/Immich (${OPENCLIP_FILES.vision[0]}, ${OPENCLIP_FILES.text[0]}, ${OPENCLIP_FILES.tokenizer}, ` +
  `${OPENCLIP_FILES.preprocess}, ${OPENCLIP_FILES.config}) or Hugging Face (${HF_FILES.vision[0]}, ${HF_FILES.text[0]}, ` +
  `${HF_TOKENIZER}, ${HF_FILES.preprocess}).`;

/** The files that mark a folder as a layout: any of its model files, fp32 or quantized. */
function markers(models: { vision: readonly string[]; text: readonly string[] }): string[] {
  const fp32 = [...models.vision, ...models.text];
  return [...fp32, ...fp32.map(quantizedPath)];
}

/** First existing candidate (relative paths), honouring the variant preference. */
async function pickModel(
  dir: string,
  candidates: readonly string[],
  variant: LayoutVariant,
): Promise<{ path: string; variant: LayoutVariant } | undefined> {
  const fp32 = candidates.map((c) => ({ rel: c, variant: 'fp32' as const }));
  const quant = candidates.map((c) => ({ rel: quantizedPath(c), variant: 'quantized' as const }));
  const order = variant === 'quantized' ? [...quant, ...fp32] : [...fp32, ...quant];
  for (const c of order) {
    const p = join(dir, c.rel);
    if (await isFile(p)) return { path: p, variant: c.variant };
  }
  return undefined;
}

function missing(dir: string, kind: string, what: string): MemeryError {
  return new MemeryError(
    'E_MODEL',
    `Expected ${what} in the ${kind} model folder ${dir} but it is missing`,
    { path: dir, hint: ACCEPTED },
  );
}

async function readJson(path: string, dir: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new MemeryError('E_MODEL', `Expected a readable file at ${path} but could not read it`, {
      path,
      cause: e,
      hint: ACCEPTED,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new MemeryError('E_MODEL', `Expected valid JSON in ${path} but it does not parse`, {
      path,
      cause: e,
      hint: `The model folder ${dir} may be incomplete or corrupted; download it again.`,
    });
  }
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPosNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function triple(v: unknown, field: string, file: string, fallback: [number, number, number]): [number, number, number] {
  if (v === undefined || v === null) return [...fallback] as [number, number, number];
  if (typeof v === 'number' && Number.isFinite(v)) return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    return [v[0], v[1], v[2]] as [number, number, number];
  }
  throw new MemeryError('E_MODEL', `Expected three numbers for "${field}" in ${file} but received ${JSON.stringify(v)}`, {
    path: file,
  });
}

function squareSize(v: unknown, field: string, file: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  let h: unknown;
  let w: unknown;
  if (typeof v === 'number') h = w = v;
  else if (Array.isArray(v) && v.length === 2) [h, w] = v;
  else if (isObj(v) && ('height' in v || 'width' in v)) {
    h = v.height ?? v.width;
    w = v.width ?? v.height;
  } else if (isObj(v) && 'shortest_edge' in v) h = w = v.shortest_edge;
  else {
    throw new MemeryError('E_MODEL', `Expected a number, [h, w] or {height, width} for "${field}" in ${file} but received ${JSON.stringify(v)}`, {
      path: file,
    });
  }
  if (!isPosNum(h) || !isPosNum(w) || !Number.isInteger(h) || !Number.isInteger(w)) {
    throw new MemeryError('E_MODEL', `Expected positive integers for "${field}" in ${file} but received ${JSON.stringify(v)}`, {
      path: file,
    });
  }
  if (h !== w) {
    throw new MemeryError('E_MODEL', `Expected a square input size for "${field}" in ${file} but received ${h}x${w}`, {
      path: file,
    });
  }
  return h;
}

/** Parses OpenCLIP's visual/preprocess_cfg.json. */
export function parseOpenClipPreprocess(cfg: unknown, file = 'preprocess_cfg.json'): PreprocessConfig {
  const c = isObj(cfg) ? cfg : {};
  const size = squareSize(c.size, 'size', file) ?? DEFAULT_IMAGE_SIZE;
  const interp = c.interpolation ?? 'bicubic';
  if (interp !== 'bicubic' && interp !== 'bilinear') {
    throw new MemeryError('E_MODEL', `Expected "bicubic" or "bilinear" for "interpolation" in ${file} but received ${JSON.stringify(interp)}`, {
      path: file,
    });
  }
  const mode = c.resize_mode ?? 'shortest';
  if (mode !== 'shortest' && mode !== 'squash') {
    throw new MemeryError('E_MODEL', `Expected "shortest" or "squash" for "resize_mode" in ${file} but received ${JSON.stringify(mode)}`, {
      path: file,
    });
  }
  return {
    size,
    mean: triple(c.mean, 'mean', file, CLIP_MEAN),
    std: triple(c.std, 'std', file, CLIP_STD),
    interpolation: interp,
    resizeMode: mode,
  };
}

/** Parses Hugging Face's preprocessor_config.json (CLIPImageProcessor / CLIPFeatureExtractor). */
export function parseHfPreprocess(cfg: unknown, file = 'preprocessor_config.json'): PreprocessConfig {
  const c = isObj(cfg) ? cfg : {};
  const crop = squareSize(c.crop_size, 'crop_size', file);
  const doCrop = c.do_center_crop !== false;
  let size: number;
  let resizeMode: PreprocessConfig['resizeMode'] = 'shortest';
  if (crop !== undefined && doCrop) {
    size = crop;
  } else {
    // No crop: `size` is either {shortest_edge} (then a crop would be needed; treat as shortest) or {height,width}.
    const s = c.size;
    size = squareSize(s, 'size', file) ?? crop ?? DEFAULT_IMAGE_SIZE;
    if (!doCrop && isObj(s) && ('height' in s || 'width' in s)) resizeMode = 'squash';
  }
  const resample = c.resample ?? 3;
  let interpolation: PreprocessConfig['interpolation'];
  if (resample === 3) interpolation = 'bicubic';
  else if (resample === 2) interpolation = 'bilinear';
  else {
    throw new MemeryError('E_MODEL', `Expected 3 (bicubic) or 2 (bilinear) for "resample" in ${file} but received ${JSON.stringify(resample)}`, {
      path: file,
    });
  }
  return {
    size,
    mean: triple(c.image_mean, 'image_mean', file, CLIP_MEAN),
    std: triple(c.image_std, 'image_std', file, CLIP_STD),
    interpolation,
    resizeMode,
  };
}

function positiveInt(...vals: unknown[]): number | undefined {
  for (const v of vals) if (isPosNum(v) && Number.isInteger(v)) return v;
  return undefined;
}

const ONE_MIB = 1024 * 1024;

async function fingerprint(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = Math.min(size, ONE_MIB);
    const tailStart = Math.max(0, size - ONE_MIB);
    const buf = Buffer.alloc(Math.max(head, size - tailStart));
    hash.update(`size:${size};`);
    const h = await fh.read(buf, 0, head, 0);
    hash.update(buf.subarray(0, h.bytesRead));
    hash.update(';tail:');
    const t = await fh.read(buf, 0, size - tailStart, tailStart);
    hash.update(buf.subarray(0, t.bytesRead));
    hash.update(';');
  } finally {
    await fh.close();
  }
}

/**
 * Stable id for a (vision, text) model pair, used to key embeddings: sha256 over the layout kind and,
 * for each model file, its size plus its first and last MiB. Fast (reads at most 4 MiB) and changes
 * whenever either model changes in practice. 32 hex digits.
 */
export async function modelId(kind: ModelLayoutKind, visionModel: string, textModel: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`memery-model-id:v1;kind:${kind};vision:`);
  await fingerprint(hash, visionModel);
  hash.update('text:');
  await fingerprint(hash, textModel);
  return hash.digest('hex').slice(0, 32);
}

async function detectOpenClip(dir: string, variant: LayoutVariant): Promise<ModelLayout> {
  const kind = 'OpenCLIP';
  const vision = await pickModel(dir, OPENCLIP_FILES.vision, variant);
  if (!vision) throw missing(dir, kind, either(OPENCLIP_FILES.vision));
  const text = await pickModel(dir, OPENCLIP_FILES.text, variant);
  if (!text) throw missing(dir, kind, either(OPENCLIP_FILES.text));
  const tok = join(dir, OPENCLIP_FILES.tokenizer);
  if (!(await isFile(tok))) throw missing(dir, kind, OPENCLIP_FILES.tokenizer);
  const ppPath = join(dir, OPENCLIP_FILES.preprocess);
  if (!(await isFile(ppPath))) throw missing(dir, kind, OPENCLIP_FILES.preprocess);
  const cfgPath = join(dir, OPENCLIP_FILES.config);
  if (!(await isFile(cfgPath))) throw missing(dir, kind, OPENCLIP_FILES.config);

  const preprocess = parseOpenClipPreprocess(await readJson(ppPath, dir), ppPath);
  const cfg = await readJson(cfgPath, dir);
  const c = isObj(cfg) ? cfg : {};
  const textCfg = isObj(c.text_cfg) ? c.text_cfg : {};
  const contextLength = positiveInt(textCfg.context_length, c.context_length) ?? DEFAULT_CONTEXT_LENGTH;
  const embedDim = positiveInt(c.embed_dim);
  const layout: ModelLayout = {
    kind: 'openclip',
    dir,
    visionModel: vision.path,
    textModel: text.path,
    variant: vision.variant === text.variant ? vision.variant : 'quantized',
    tokenizer: { kind: 'tokenizer.json', paths: [tok] },
    preprocess,
    contextLength,
    id: await modelId('openclip', vision.path, text.path),
  };
  if (embedDim !== undefined) layout.embedDim = embedDim;
  return layout;
}

async function detectHf(dir: string, variant: LayoutVariant): Promise<ModelLayout> {
  const kind = 'Hugging Face';
  const vision = await pickModel(dir, HF_FILES.vision, variant);
  if (!vision) throw missing(dir, kind, either(HF_FILES.vision));
  const text = await pickModel(dir, HF_FILES.text, variant);
  if (!text) throw missing(dir, kind, either(HF_FILES.text));

  const vocab = join(dir, HF_FILES.vocab);
  const merges = join(dir, HF_FILES.merges);
  const tokJson = join(dir, HF_FILES.tokenizer);
  let tokenizer: TokenizerFiles;
  const [hasVocab, hasMerges] = [await isFile(vocab), await isFile(merges)];
  if (hasVocab && hasMerges) tokenizer = { kind: 'vocab-merges', paths: [vocab, merges] };
  else if (await isFile(tokJson)) tokenizer = { kind: 'tokenizer.json', paths: [tokJson] };
  else {
    const what = hasVocab ? `${HF_FILES.merges} (next to ${HF_FILES.vocab}) or ${HF_FILES.tokenizer}`
      : hasMerges ? `${HF_FILES.vocab} (next to ${HF_FILES.merges}) or ${HF_FILES.tokenizer}`
      : HF_TOKENIZER;
    throw missing(dir, kind, what);
  }

  const ppPath = join(dir, HF_FILES.preprocess);
  if (!(await isFile(ppPath))) throw missing(dir, kind, HF_FILES.preprocess);
  const preprocess = parseHfPreprocess(await readJson(ppPath, dir), ppPath);

  let contextLength = DEFAULT_CONTEXT_LENGTH;
  let embedDim: number | undefined;
  const cfgPath = join(dir, HF_FILES.config);
  if (await isFile(cfgPath)) {
    const cfg = await readJson(cfgPath, dir);
    const c = isObj(cfg) ? cfg : {};
    const textCfg = isObj(c.text_config) ? c.text_config : {};
    contextLength = positiveInt(textCfg.max_position_embeddings) ?? DEFAULT_CONTEXT_LENGTH;
    embedDim = positiveInt(c.projection_dim);
  }
  const layout: ModelLayout = {
    kind: 'hf',
    dir,
    visionModel: vision.path,
    textModel: text.path,
    variant: vision.variant === text.variant ? vision.variant : 'quantized',
    tokenizer,
    preprocess,
    contextLength,
    id: await modelId('hf', vision.path, text.path),
  };
  if (embedDim !== undefined) layout.embedDim = embedDim;
  return layout;
}

/** Detects the layout of a local model folder; E_MODEL naming the folder and the missing file otherwise. */
export async function detectLayout(dir: string, options: DetectLayoutOptions = {}): Promise<ModelLayout> {
  const abs = resolve(dir);
  const variant = options.variant ?? 'fp32';
  let st;
  try {
    st = await stat(abs);
  } catch (e) {
    throw new MemeryError('E_MODEL', `Expected a model folder at ${abs} but it does not exist`, {
      path: abs,
      cause: e,
      hint: `Download a model with "memery models download", or point --model-dir at a folder. ${ACCEPTED}`,
    });
  }
  if (!st.isDirectory()) {
    throw new MemeryError('E_MODEL', `Expected a model folder at ${abs} but received a file`, { path: abs, hint: ACCEPTED });
  }

  for (const m of markers(OPENCLIP_FILES)) if (await isFile(join(abs, m))) return detectOpenClip(abs, variant);
  for (const m of markers(HF_FILES)) if (await isFile(join(abs, m))) return detectHf(abs, variant);

  throw new MemeryError('E_MODEL', `Expected a CLIP model in ${abs} but found no ONNX model files of a known layout`, {
    path: abs,
    hint: ACCEPTED,
  });
}
