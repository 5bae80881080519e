import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemeryError, isMemeryError } from '../ts/errors.js';
import {
  CLIP_MEAN,
  CLIP_STD,
  detectLayout,
  modelId,
  parseHfPreprocess,
  parseOpenClipPreprocess,
} from '../ts/models/layout.js';
import { getModelEntry } from '../ts/models/registry.js';
import { quantizedPath } from '../ts/models/variant.js';

let tmp: string;
let n = 0;

async function build(files: Record<string, string | Buffer>): Promise<string> {
  const dir = join(tmp, `model-${++n}`);
  for (const [p, content] of Object.entries(files)) {
    const abs = join(dir, ...p.split('/'));
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, content);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

const json = (v: unknown) => JSON.stringify(v);

function openclipFiles(overrides: Record<string, string | Buffer | undefined> = {}): Record<string, string | Buffer> {
  const base: Record<string, string | Buffer | undefined> = {
    'visual/model.onnx': Buffer.from('vision-placeholder'),
    'textual/model.onnx': Buffer.from('text-placeholder'),
    'textual/tokenizer.json': json({ model: { type: 'BPE' } }),
    'visual/preprocess_cfg.json': json({
      size: [224, 224],
      mode: 'RGB',
      mean: [0.48145466, 0.4578275, 0.40821073],
      std: [0.26862954, 0.26130258, 0.27577711],
      interpolation: 'bicubic',
      resize_mode: 'shortest',
      fill_color: 0,
    }),
    'config.json': json({ embed_dim: 512, vision_cfg: { image_size: 224 }, text_cfg: { context_length: 77, vocab_size: 49408 } }),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string | Buffer] => e[1] !== undefined));
}

function hfFiles(overrides: Record<string, string | Buffer | undefined> = {}): Record<string, string | Buffer> {
  const base: Record<string, string | Buffer | undefined> = {
    'onnx/vision_model.onnx': Buffer.from('hf-vision'),
    'onnx/text_model.onnx': Buffer.from('hf-text'),
    'vocab.json': json({ a: 0 }),
    'merges.txt': '#version: 0.2\n',
    'preprocessor_config.json': json({
      crop_size: 224,
      do_center_crop: true,
      do_normalize: true,
      do_resize: true,
      feature_extractor_type: 'CLIPFeatureExtractor',
      image_mean: [0.48145466, 0.4578275, 0.40821073],
      image_std: [0.26862954, 0.26130258, 0.27577711],
      resample: 3,
      size: 224,
    }),
    'config.json': json({ projection_dim: 512, text_config: { max_position_embeddings: 77 } }),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string | Buffer] => e[1] !== undefined));
}

async function modelError(p: Promise<unknown>): Promise<MemeryError> {
  try {
    await p;
  } catch (e) {
    expect(isMemeryError(e, 'E_MODEL'), String(e)).toBe(true);
    return e as MemeryError;
  }
  throw new Error('expected E_MODEL');
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'memery-layout-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('detectLayout: OpenCLIP / Immich', () => {
  it('finds the files and parses preprocess_cfg.json and config.json', async () => {
    const dir = await build(openclipFiles());
    const l = await detectLayout(dir);
    expect(l.kind).toBe('openclip');
    expect(l.dir).toBe(dir);
    expect(l.visionModel).toBe(join(dir, 'visual', 'model.onnx'));
    expect(l.textModel).toBe(join(dir, 'textual', 'model.onnx'));
    expect(l.variant).toBe('fp32');
    expect(l.tokenizer).toEqual({ kind: 'tokenizer.json', paths: [join(dir, 'textual', 'tokenizer.json')] });
    expect(l.preprocess).toEqual({ size: 224, mean: CLIP_MEAN, std: CLIP_STD, interpolation: 'bicubic', resizeMode: 'shortest' });
    expect(l.contextLength).toBe(77);
    expect(l.embedDim).toBe(512);
    expect(l.id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('accepts a numeric size, squash/bilinear, and falls back to CLIP defaults', async () => {
    expect(parseOpenClipPreprocess({ size: 336, interpolation: 'bilinear', resize_mode: 'squash' })).toEqual({
      size: 336,
      mean: CLIP_MEAN,
      std: CLIP_STD,
      interpolation: 'bilinear',
      resizeMode: 'squash',
    });
    expect(parseOpenClipPreprocess({})).toEqual({ size: 224, mean: CLIP_MEAN, std: CLIP_STD, interpolation: 'bicubic', resizeMode: 'shortest' });
    expect(() => parseOpenClipPreprocess({ size: [224, 256] })).toThrow(/square/);
    expect(() => parseOpenClipPreprocess({ resize_mode: 'longest' })).toThrow(/Expected "shortest" or "squash" for "resize_mode" .* but received "longest"/);
    expect(() => parseOpenClipPreprocess({ mean: [1, 2] })).toThrow(/Expected three numbers for "mean"/);

    const dir = await build(openclipFiles({ 'visual/preprocess_cfg.json': json({ size: 256 }), 'config.json': json({}) }));
    const l = await detectLayout(dir);
    expect(l.preprocess.size).toBe(256);
    expect(l.contextLength).toBe(77);
    expect(l.embedDim).toBeUndefined();
  });

  it.each([
    ['visual/model.onnx', 'textual/model.onnx'],
    ['textual/model.onnx', 'visual/model.onnx'],
    ['textual/tokenizer.json', 'visual/model.onnx'],
    ['visual/preprocess_cfg.json', 'visual/model.onnx'],
    ['config.json', 'visual/model.onnx'],
  ])('names the missing %s', async (missingFile) => {
    const dir = await build(openclipFiles({ [missingFile]: undefined }));
    const err = await modelError(detectLayout(dir));
    expect(err.message).toContain(dir);
    expect(err.message).toContain(missingFile);
    expect(err.message).toMatch(/OpenCLIP/);
    expect(err.path).toBe(dir);
    expect(err.hint).toMatch(/Accepted layouts: OpenCLIP\/Immich .* or Hugging Face/);
  });

  it('reports invalid JSON', async () => {
    const dir = await build(openclipFiles({ 'config.json': '{nope' }));
    const err = await modelError(detectLayout(dir));
    expect(err.message).toMatch(/valid JSON .*config\.json/);
  });
});

describe('detectLayout: Hugging Face', () => {
  it('finds onnx/*, vocab+merges, and parses preprocessor_config.json and config.json', async () => {
    const dir = await build(hfFiles());
    const l = await detectLayout(dir);
    expect(l.kind).toBe('hf');
    expect(l.visionModel).toBe(join(dir, 'onnx', 'vision_model.onnx'));
    expect(l.textModel).toBe(join(dir, 'onnx', 'text_model.onnx'));
    expect(l.tokenizer).toEqual({ kind: 'vocab-merges', paths: [join(dir, 'vocab.json'), join(dir, 'merges.txt')] });
    expect(l.preprocess).toEqual({ size: 224, mean: CLIP_MEAN, std: CLIP_STD, interpolation: 'bicubic', resizeMode: 'shortest' });
    expect(l.contextLength).toBe(77);
    expect(l.embedDim).toBe(512);
  });

  it('accepts vision_model.onnx at the root, tokenizer.json only, and no config.json', async () => {
    const dir = await build(
      hfFiles({
        'onnx/vision_model.onnx': undefined,
        'vision_model.onnx': Buffer.from('root-vision'),
        'vocab.json': undefined,
        'merges.txt': undefined,
        'tokenizer.json': json({}),
        'config.json': undefined,
      }),
    );
    const l = await detectLayout(dir);
    expect(l.visionModel).toBe(join(dir, 'vision_model.onnx'));
    expect(l.tokenizer).toEqual({ kind: 'tokenizer.json', paths: [join(dir, 'tokenizer.json')] });
    expect(l.contextLength).toBe(77);
    expect(l.embedDim).toBeUndefined();
  });

  it('prefers *_quantized.onnx with variant quantized, and falls back when only one kind exists', async () => {
    const dir = await build(
      hfFiles({ 'onnx/vision_model_quantized.onnx': Buffer.from('qv'), 'onnx/text_model_quantized.onnx': Buffer.from('qt') }),
    );
    const fp = await detectLayout(dir);
    const q = await detectLayout(dir, { variant: 'quantized' });
    expect(fp.visionModel).toBe(join(dir, 'onnx', 'vision_model.onnx'));
    expect(q.visionModel).toBe(join(dir, 'onnx', 'vision_model_quantized.onnx'));
    expect(q.textModel).toBe(join(dir, 'onnx', 'text_model_quantized.onnx'));
    expect(q.variant).toBe('quantized');
    expect(q.id).not.toBe(fp.id);

    const onlyQ = await build(
      hfFiles({
        'onnx/vision_model.onnx': undefined,
        'onnx/text_model.onnx': undefined,
        'onnx/vision_model_quantized.onnx': Buffer.from('qv'),
        'onnx/text_model_quantized.onnx': Buffer.from('qt'),
      }),
    );
    expect((await detectLayout(onlyQ)).variant).toBe('quantized');
    expect((await detectLayout(onlyQ)).id).toBe(q.id); // same bytes, same id
  });

  it('recognises a folder holding only quantized model files, in either layout, by the one quantized-name rule', async () => {
    expect(quantizedPath('onnx/vision_model.onnx')).toBe('onnx/vision_model_quantized.onnx');
    expect(quantizedPath('visual/model.onnx')).toBe('visual/model_quantized.onnx');
    // The registry's int8 entry names the quantized copies of its fp32 sibling's model files.
    const onnx = (name: string) => getModelEntry(name).files.map((f) => f.path).filter((p) => p.endsWith('.onnx'));
    expect(onnx('clip-vit-base-patch32-quantized')).toEqual(onnx('clip-vit-base-patch32').map(quantizedPath));

    const openclip = await build(
      openclipFiles({ 'visual/model.onnx': undefined, 'textual/model.onnx': undefined, 'visual/model_quantized.onnx': 'qv', 'textual/model_quantized.onnx': 'qt' }),
    );
    expect(await detectLayout(openclip)).toMatchObject({ kind: 'openclip', variant: 'quantized', visionModel: join(openclip, 'visual', 'model_quantized.onnx') });
    const hfRoot = await build(
      hfFiles({ 'onnx/vision_model.onnx': undefined, 'onnx/text_model.onnx': undefined, 'vision_model_quantized.onnx': 'qv', 'text_model_quantized.onnx': 'qt' }),
    );
    expect(await detectLayout(hfRoot)).toMatchObject({ kind: 'hf', variant: 'quantized', textModel: join(hfRoot, 'text_model_quantized.onnx') });
  });

  it('parses crop_size objects, resample and squash', () => {
    expect(parseHfPreprocess({ crop_size: { height: 336, width: 336 }, size: { shortest_edge: 336 }, resample: 2 })).toEqual({
      size: 336,
      mean: CLIP_MEAN,
      std: CLIP_STD,
      interpolation: 'bilinear',
      resizeMode: 'shortest',
    });
    expect(parseHfPreprocess({ do_center_crop: false, size: { height: 256, width: 256 }, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] })).toEqual({
      size: 256,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      interpolation: 'bicubic',
      resizeMode: 'squash',
    });
    expect(parseHfPreprocess({})).toMatchObject({ size: 224, interpolation: 'bicubic', resizeMode: 'shortest' });
    expect(() => parseHfPreprocess({ resample: 0 })).toThrow(/Expected 3 \(bicubic\) or 2 \(bilinear\) for "resample" .* but received 0/);
    expect(() => parseHfPreprocess({ crop_size: { height: 224, width: 200 } })).toThrow(/square/);
  });

  it.each([
    ['onnx/vision_model.onnx', /vision_model\.onnx/],
    ['onnx/text_model.onnx', /text_model\.onnx/],
    ['preprocessor_config.json', /preprocessor_config\.json/],
  ])('names the missing %s', async (missingFile, re) => {
    const dir = await build(hfFiles({ [missingFile]: undefined }));
    const err = await modelError(detectLayout(dir));
    expect(err.message).toContain(dir);
    expect(err.message).toMatch(re);
    expect(err.message).toMatch(/Hugging Face/);
  });

  it('names the missing tokenizer file', async () => {
    const dir = await build(hfFiles({ 'merges.txt': undefined }));
    const err = await modelError(detectLayout(dir));
    expect(err.message).toMatch(/merges\.txt .*or tokenizer\.json/);
    const none = await build(hfFiles({ 'merges.txt': undefined, 'vocab.json': undefined }));
    expect((await modelError(detectLayout(none))).message).toMatch(/vocab\.json \+ merges\.txt or tokenizer\.json/);
  });
});

describe('detectLayout: errors and ids', () => {
  it('rejects a folder with no known layout, a missing folder and a file', async () => {
    const empty = await build({ 'README.md': 'hi' });
    const err = await modelError(detectLayout(empty));
    expect(err.message).toContain(empty);
    expect(err.hint).toMatch(/Accepted layouts/);
    expect((await modelError(detectLayout(join(tmp, 'does-not-exist')))).message).toMatch(/does not exist/);
    expect((await modelError(detectLayout(join(empty, 'README.md')))).message).toMatch(/received a file/);
  });

  it('gives a stable id that differs between models and between layouts', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const a1 = await build(openclipFiles({ 'visual/model.onnx': big }));
    const a2 = await build(openclipFiles({ 'visual/model.onnx': Buffer.from(big) }));
    const changedMiddle = Buffer.from(big);
    changedMiddle[1.5 * 1024 * 1024] ^= 0xff; // outside the sampled first/last MiB: same id by design
    const a3 = await build(openclipFiles({ 'visual/model.onnx': changedMiddle }));
    const changedTail = Buffer.from(big);
    changedTail[big.length - 5] ^= 0xff;
    const a4 = await build(openclipFiles({ 'visual/model.onnx': changedTail }));
    const b = await build(openclipFiles({ 'textual/model.onnx': Buffer.from('another text model') }));

    const [id1, id1again, id2, id3, id4, idB] = await Promise.all([
      detectLayout(a1).then((l) => l.id),
      detectLayout(a1).then((l) => l.id),
      detectLayout(a2).then((l) => l.id),
      detectLayout(a3).then((l) => l.id),
      detectLayout(a4).then((l) => l.id),
      detectLayout(b).then((l) => l.id),
    ]);
    expect(id1again).toBe(id1);
    expect(id2).toBe(id1); // same content elsewhere
    expect(id3).toBe(id1);
    expect(id4).not.toBe(id1);
    expect(idB).not.toBe(id1);

    // The layout kind is part of the id.
    const v = join(a1, 'visual', 'model.onnx');
    const t = join(a1, 'textual', 'model.onnx');
    expect(await modelId('openclip', v, t)).toBe(id1);
    expect(await modelId('hf', v, t)).not.toBe(id1);
    expect(await modelId('openclip', t, v)).not.toBe(id1);
  });

  it('MemeryError carries code, path, hint and cause', () => {
    const cause = new Error('inner');
    const e = new MemeryError('E_MODEL', 'msg', { path: '/x', hint: 'do y', cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('MemeryError');
    expect(e.cause).toBe(cause);
    expect(e.toJSON()).toEqual({ name: 'MemeryError', code: 'E_MODEL', message: 'msg', path: '/x', hint: 'do y', cause: 'inner' });
    expect(isMemeryError(e)).toBe(true);
    expect(isMemeryError(e, 'E_IO')).toBe(false);
    expect(isMemeryError({ name: 'MemeryError', code: 'E_IO', message: 'm' }, 'E_IO')).toBe(true);
    expect(isMemeryError(new Error('x'))).toBe(false);
  });
});
