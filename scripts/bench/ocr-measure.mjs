// 10. Reading text (OCR): memery's OCR pass against @gutenye/ocr-node on the same memes and model
// files, side by side in one process (scripts/bench/ocr.mjs, which also prints the character error
// rate on hand-transcribed captions), and `memery index` of the meme folder with OCR on against
// OCR off (whole processes, fresh catalogs, the bench ViT-B/32, alternated, best of 2).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, SHARED, log, modelDir, runCommand } from './lib.mjs';

export const name = 'ocr';
export const title = 'Reading text (OCR): memery vs @gutenye/ocr-node, index time with OCR on vs off';

// Each run takes minutes at most; the bound is only there so a hung run fails the section.
const TIMEOUT_MS = 60 * 60_000;

/** Runs node with args; resolves to { seconds, stdout }, throws on a non-zero exit. */
async function nodeTimed(args, env = {}) {
  const r = await runCommand(process.execPath, args, { env, timeoutMs: TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`${args.join(' ')} ${r.timedOut ? 'timed out' : `exited ${r.code}`}: ${r.stderr.slice(-400)}`);
  return { seconds: r.ms / 1000, stdout: r.stdout };
}

export async function run(ctx) {
  const out = {};
  const jsonFile = join(ctx.tmp, 'ocr-bench.json');
  await nodeTimed([join(ROOT, 'scripts', 'bench', 'ocr.mjs'), '--n', ctx.quick ? '10' : '20', '--rounds', ctx.quick ? '1' : '2', '--json', jsonFile]);
  out.engines = JSON.parse(readFileSync(jsonFile, 'utf8'));
  log(`ocr: memery ${out.engines.memery.msPerImage.toFixed(0)} ms/image, @gutenye/ocr-node ${out.engines.gutenye.msPerImage.toFixed(0)}: ${out.engines.ratio.toFixed(2)}x (batch ${out.engines.ratioBatch.toFixed(2)}x); CER ${(out.engines.memery.cer * 100).toFixed(2)}%`);
  const memes = join(SHARED, 'corpus', 'memes');
  const index = async (ocr) => {
    const home = mkdtempSync(join(ctx.tmp, 'ocr-home-'));
    try {
      const args = [join(ROOT, 'bin', 'memery.js'), 'index', memes, '--json', '--model-dir', modelDir('fp32'), '--threads', String(ctx.cores)];
      if (!ocr) args.push('--no-ocr');
      return (await nodeTimed(args, { MEMERY_HOME: home, NO_COLOR: '1' })).seconds;
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  };
  const off = [];
  const on = [];
  for (let i = 0; i < 2; i++) {
    off.push(await index(false));
    on.push(await index(true));
    log(`ocr: index of the meme folder, OCR off ${off[i].toFixed(2)} s, on ${on[i].toFixed(2)} s`);
  }
  out.index = { off: Math.min(...off), on: Math.min(...on), ratio: Math.min(...on) / Math.min(...off) };
  // The least OCR could add: the folder's model time (one thread) spread over every core.
  const floorSeconds = out.engines.floorFolder.totalMs / 1000 / ctx.cores;
  out.index.floorRatio = (out.index.off + floorSeconds) / out.index.off;
  log(`ocr: the OCR models alone need ${(out.engines.floorFolder.totalMs / 1000).toFixed(1)} CPU-s for the folder: OCR on takes at least ${out.index.floorRatio.toFixed(2)}x OCR off on ${ctx.cores} cores`);
  return out;
}
