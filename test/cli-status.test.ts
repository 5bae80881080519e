/**
 * `memery status` names the models the catalog holds (issue 16): after indexing with --model-dir, a
 * plain `memery status` (the default registry model, not installed) lists the catalog's model id
 * and its embedding count instead of only "(not available)"; with the model given, that model is
 * marked in use and named; an installed registry model is named by the id of its files. The failed
 * files of each folder are listed (path, code, message) in `--json`.
 */
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusSchema, type Status } from '../ts/api/schemas.js';
import { CLI_BUILT, COLOUR_MODEL, cleanupTemps, cliTemp, runCli, runColour, type CliResult } from './helpers/cli.js';
import { writeColourSet } from './helpers/images.js';
import { testModel } from './helpers/shared.js';

const built = CLI_BUILT ? '' : ' (dist/ts/cli/main.js missing: run `npm run build:ts`)';
afterAll(cleanupTemps);

/** No model is downloaded by status, but make sure nothing could be; and no Hugging Face cache of this machine is seen. */
const env = { MEMERY_HF_ENDPOINT: 'http://127.0.0.1:9/', HF_HUB_CACHE: cliTemp('memery-status-hub-') };

function ok(r: CliResult): CliResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

function statusOf(r: CliResult): Status {
  return StatusSchema.parse(JSON.parse(ok(r).stdout));
}

describe.skipIf(!CLI_BUILT)(`memery status: the catalog's models${built}`, () => {
  const home = cliTemp('memery-status-home-');
  const dir = cliTemp('memery-status-imgs-');
  let colourId = '';

  beforeAll(async () => {
    await writeColourSet(dir);
    writeFileSync(join(dir, 'broken.png'), 'not a png at all');
    ok(await runColour(['index', dir, '--no-ocr'], { home }));
  });

  it('without the model that made the embeddings: lists the catalog model with its count, none in use', async () => {
    const r = ok(await runCli(['status'], { home, env }));
    expect(r.stdout).toMatch(/^model +ViT-B-32__laion2b-s34b-b79k \(not available\)$/m);
    expect(r.stdout).toMatch(/^index +flat, no vectors: the model in use is not available$/m);
    expect(r.stdout).toMatch(/^models +1 in the catalog, none of them the model in use$/m);
    const line = /^ {4}([0-9a-f]{32}) {2}8 embeddings {2}\(another model folder: search them with --model-dir FOLDER\)$/m.exec(r.stdout);
    expect(line, r.stdout).not.toBeNull();
    colourId = line![1]!;
    expect(r.stdout).toMatch(/8 indexed, 1 failed, 8 embeddings/);

    const s = statusOf(await runCli(['status', '--json'], { home, env }));
    expect(s.model.id).toBeNull();
    expect(s.models).toEqual([{ id: colourId, embeddings: 8, inUse: false, name: null, dir: null }]);
  });

  it('the thumbnail store: one per indexed image, its bytes against the budget, and where it is', async () => {
    const s = statusOf(await runColour(['status', '--json'], { home, env }));
    expect(s.thumbnails).toMatchObject({ count: 8, budget: 256 * 1024 * 1024, dir: join(home, 'thumbnails') });
    expect(s.thumbnails!.bytes).toBeGreaterThan(8 * 100);
    const r = ok(await runColour(['status'], { home, env: { ...env, MEMERY_THUMBNAIL_BUDGET: '1' } }));
    expect(r.stdout).toMatch(new RegExp(`^thumbnails 8 stored, [0-9.]+ (B|KB) of 1\\.0 MB \\(thumbnailBudget\\) in ${join(home, 'thumbnails')}$`, 'm'));
  });

  it('with --model-dir: that model is marked in use, named by its folder, with the same id and count', async () => {
    const r = ok(await runColour(['status'], { home, env }));
    expect(r.stdout).toMatch(/^models +1 in the catalog$/m);
    expect(r.stdout).toContain(`  * ${colourId}  8 embeddings  colour-hf ${COLOUR_MODEL}  (in use)\n`);
    expect(r.stdout).toMatch(/^index +flat, 8 vectors, /m);
    const s = statusOf(await runColour(['status', '--json'], { home, env }));
    expect(s.model.id).toBe(colourId);
    expect(s.models).toEqual([{ id: colourId, embeddings: 8, inUse: true, name: 'colour-hf', dir: COLOUR_MODEL }]);
  });

  it('lists the failed files of each folder (path, code, message, reason)', async () => {
    const s = statusOf(await runCli(['status', '--json'], { home, env }));
    expect(s.folders).toHaveLength(1);
    expect(s.folders[0]).toMatchObject({ path: dir, files: 8, failed: 1 });
    const broken = join(dir, 'broken.png');
    expect(s.folders[0]!.errors).toEqual([{ path: broken, code: 'E_DECODE', message: expect.any(String), reason: expect.any(String) }]);
    const e = s.folders[0]!.errors![0]!;
    // The message names the file; the reason says the same without it (a list shows the path beside it).
    expect(e.message).toContain(broken);
    expect(e.reason).not.toContain(broken);
    expect(e.reason).toMatch(/^Cannot decode: \S/);
  });

  it('two registry models of one repository in the Hugging Face cache: the int8 one names the quantized files', async () => {
    // Xenova/clip-vit-base-patch32 as Python tools lay it out: fp32 files and *_quantized.onnx beside them.
    const hub = cliTemp('memery-status-hub-xenova-');
    const repo = join(hub, 'models--Xenova--clip-vit-base-patch32');
    const commit = 'c0ffee'.padEnd(40, '0');
    const snap = join(repo, 'snapshots', commit);
    cpSync(COLOUR_MODEL, snap, { recursive: true });
    copyFileSync(join(testModel('colour-openclip'), 'visual', 'model.onnx'), join(snap, 'onnx', 'vision_model_quantized.onnx'));
    copyFileSync(join(testModel('colour-openclip'), 'textual', 'model.onnx'), join(snap, 'onnx', 'text_model_quantized.onnx'));
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), commit);
    const h = cliTemp('memery-status-home-xenova-');
    const e = { ...env, HF_HUB_CACHE: hub, HF_HUB_OFFLINE: '1' };
    ok(await runCli(['index', dir, '--no-ocr', '--model', 'clip-vit-base-patch32-quantized'], { home: h, env: e }));
    const s = statusOf(await runCli(['status', '--json', '--model', 'clip-vit-base-patch32'], { home: h, env: e }));
    expect(s.models!.map((m) => [m.inUse, m.name, m.embeddings])).toEqual([
      [true, 'clip-vit-base-patch32', 0],
      [false, 'clip-vit-base-patch32-quantized', 8],
    ]);
  });

  it('two models: the one in use first; an installed registry model is named, with how to use it', async () => {
    // A second model's embeddings (the OpenCLIP layout of the colour model: other files, other id).
    ok(await runCli(['index', dir, '--no-ocr', '--model-dir', testModel('colour-openclip')], { home }));
    // The same files installed as the registry's default model (OpenCLIP layout: every file it
    // lists, and a complete manifest) in <home>/models.
    const name = 'ViT-B-32__laion2b-s34b-b79k';
    const installed = join(home, 'models', name);
    mkdirSync(join(home, 'models'), { recursive: true });
    cpSync(testModel('colour-openclip'), installed, { recursive: true });
    writeFileSync(
      join(installed, '.memery-model.json'),
      JSON.stringify({ version: 1, name, repo: 'test/colour', revision: 'main', layout: 'openclip', endpoint: 'http://127.0.0.1:9', complete: true, updatedAt: new Date().toISOString(), files: [] }),
    );
    const r = ok(await runColour(['status'], { home, env }));
    expect(r.stdout).toMatch(/^models +2 in the catalog$/m);
    const lines = r.stdout.split('\n').filter((l) => /^ {2}[* ] [0-9a-f]{32} /.test(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`  * ${colourId}  8 embeddings  colour-hf ${COLOUR_MODEL}  (in use)`);
    expect(lines[1]).toMatch(new RegExp(`^ {4}[0-9a-f]{32} {2}8 embeddings {2}${name} ${installed} {2}\\(search them with --model ${name}\\)$`));
    const s = statusOf(await runColour(['status', '--json'], { home, env }));
    expect(s.models!.map((m) => [m.inUse, m.name, m.embeddings])).toEqual([
      [true, 'colour-hf', 8],
      [false, name, 8],
    ]);
    expect(s.counts.embeddings).toBe(16);
    // Without --model-dir the installed default model is the one in use now, and it is named.
    const plain = statusOf(await runCli(['status', '--json'], { home, env }));
    expect(plain.models!.map((m) => [m.inUse, m.name, m.embeddings])).toEqual([
      [true, name, 8],
      [false, null, 8],
    ]);
  });
});
