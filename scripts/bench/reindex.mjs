// 4. Re-index with no changes: 10,000 files (--quick: 2,000), the second index run's time.
// Encoding 10k images with the ViT-B/32 would take far too long here, and a re-index encodes
// nothing anyway (unchanged files cost a stat), so the catalog is built with the small colour
// test model (.cache/test-models/colour-hf) over 10k tiny JPEGs: the second run's cost is the
// walk, the stats and the catalog look-ups, which do not depend on the model.
// Three figures: index() called again in the same process; index() in a fresh process
// (Memery.open + index); and `memery index DIR` as a whole process (node start included).
import { join } from 'node:path';
import { corpusSet } from './corpus.mjs';
import { ROOT, colourModelDir, ensureDir, log, median, runCommand, runWorker } from './lib.mjs';

const INDEX = new URL('./workers/index-run.mjs', import.meta.url).pathname;

export const name = 'reindex';
export const title = 'Re-index with no changes';

export async function run(ctx) {
  const n = ctx.quick ? 2000 : 10000;
  const set = await corpusSet('tiny', n, { timeoutMs: 20 * 60_000 });
  const home = ensureDir(join(ctx.tmp, 'homes', `reindex-${Date.now()}`));
  const cfg = { home, folder: set.dir, modelDir: colourModelDir(), options: {} };
  const first = await runWorker(INDEX, { ...cfg, runs: 3 }, { timeoutMs: 30 * 60_000, workDir: ctx.tmp });
  const [initial, ...again] = first.runs;
  if (initial.found !== n) log(`reindex: expected ${n} files, found ${initial.found}`);
  const fresh = await runWorker(INDEX, { ...cfg, runs: 1 }, { timeoutMs: 120_000, workDir: ctx.tmp });
  const cli = [];
  for (let i = 0; i < 3; i++) {
    const r = await runCommand(process.execPath, [join(ROOT, 'bin', 'memery.js'), 'index', set.dir, '--json', '--model-dir', colourModelDir()], {
      env: { MEMERY_HOME: home },
      timeoutMs: 120_000,
    });
    if (r.code !== 0) {
      log(`reindex: memery index exited ${r.code}: ${r.stderr.slice(0, 300)}`);
      break;
    }
    cli.push(r.ms / 1000);
  }
  const out = {
    files: n,
    model: 'colour-hf (test model, 8-d)',
    initial: { seconds: initial.seconds, new: initial.new, failed: initial.failed },
    sameProcess: { seconds: again[0].seconds, runs: again.map((r) => r.seconds), unchanged: again[0].unchanged },
    freshProcess: { seconds: fresh.runs[0].seconds, openSeconds: fresh.openSeconds, unchanged: fresh.runs[0].unchanged },
    cli: cli.length ? { seconds: median(cli), runs: cli } : undefined,
    catalogBytes: first.catalogBytes,
  };
  log(`reindex ${n}: same process ${out.sameProcess.seconds.toFixed(3)} s, fresh process ${out.freshProcess.seconds.toFixed(3)} s` + (out.cli ? `, memery index (whole process) ${out.cli.seconds.toFixed(2)} s` : ''));
  return out;
}
