// 6. Cold CLI query on a 10k catalog: `memery search DIR "query" --no-index --json` with the
// bench fp32 model, from process start to printed results, median of 5 (after one untimed run
// that warms the OS file cache, as on a machine where memery was used before). The catalog holds
// the 10k tiny JPEGs with synthetic embeddings for that model (workers/fill-catalog.mjs).
// Also, for context: the library's cold path in a fresh process (Memery.open + search), and a
// bare `node -e ""` start. When the CLI cannot run, the library figure stands in, with a note.
import { join } from 'node:path';
import { corpusSet } from './corpus.mjs';
import { ROOT, ensureDir, log, median, modelDir, runCommand, runWorker } from './lib.mjs';

const FILL = new URL('./workers/fill-catalog.mjs', import.meta.url).pathname;
const COLD_LIB = new URL('./workers/cold-lib.mjs', import.meta.url).pathname;
const BREAKDOWN = new URL('./workers/cold-breakdown.mjs', import.meta.url).pathname;

export const name = 'cold';
export const title = 'Cold CLI query';

const QUERY = 'a dog on a beach';

async function timedRuns(n, fn) {
  const runs = [];
  let last;
  await fn(); // untimed warm-up (file cache)
  for (let i = 0; i < n; i++) {
    const r = await fn();
    if (!r.ok) return { error: r.error, runs };
    runs.push(r.ms / 1000);
    last = r;
  }
  return { seconds: median(runs), runs, results: last?.results };
}

export async function makeCatalog(ctx, n) {
  const set = await corpusSet('tiny', n, { timeoutMs: 20 * 60_000 });
  const home = ensureDir(join(ctx.tmp, 'homes', `cold-${n}-${Date.now()}`));
  const fill = await runWorker(FILL, { home, folder: set.dir, files: set.files, modelDir: modelDir('fp32') }, { timeoutMs: 10 * 60_000, workDir: ctx.tmp });
  return { set, home, fill };
}

export async function run(ctx) {
  const n = ctx.quick ? 2000 : 10000;
  const { set, home, fill } = await makeCatalog(ctx, n);
  log(`cold: catalog of ${fill.embeddings} embeddings (${fill.modelId}) in ${fill.seconds.toFixed(1)} s`);
  const parse = (r) => {
    if (r.code !== 0 || r.timedOut) return { ok: false, error: `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 400)}` };
    try {
      const j = JSON.parse(r.stdout);
      const results = (j.results ?? j).length;
      if (!results) return { ok: false, error: 'no results printed' };
      return { ok: true, ms: r.ms, results };
    } catch (e) {
      return { ok: false, error: `output is not JSON: ${r.stdout.slice(0, 200)}` };
    }
  };
  const cli = await timedRuns(5, async () =>
    parse(
      await runCommand(process.execPath, [join(ROOT, 'bin', 'memery.js'), 'search', set.dir, QUERY, '--no-index', '--json', '--model-dir', modelDir('fp32')], {
        env: { MEMERY_HOME: home },
        timeoutMs: 60_000,
      }),
    ),
  );
  const libRuns = await timedRuns(5, async () =>
    parse(await runCommand(process.execPath, [COLD_LIB, JSON.stringify({ home, modelDir: modelDir('fp32'), folder: set.dir, query: QUERY })], { timeoutMs: 60_000 })),
  );
  const bare = await timedRuns(5, async () => {
    const r = await runCommand(process.execPath, ['-e', '']);
    return { ok: r.code === 0, ms: r.ms };
  });
  let breakdown;
  try {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push((await runWorker(BREAKDOWN, { home, modelDir: modelDir('fp32'), int8ModelDir: modelDir('int8'), query: QUERY }, { timeoutMs: 120_000, workDir: ctx.tmp })).steps);
    breakdown = Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(runs.map((r) => r[k]))]));
    log(`cold: breakdown (ms, median of 3): ${Object.entries(breakdown).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
  } catch (e) {
    log(`cold: breakdown failed: ${e.message}`);
  }
  if (cli.error) log(`cold: the CLI failed (${cli.error}); the library's cold path stands in`);
  log(`cold: CLI ${cli.seconds?.toFixed(3) ?? 'n/a'} s, library ${libRuns.seconds?.toFixed(3) ?? 'n/a'} s, bare node ${bare.seconds?.toFixed(3)} s (medians of 5)`);
  return {
    catalogFiles: n,
    query: QUERY,
    cli,
    library: libRuns,
    node: bare,
    breakdown,
    headline: cli.error ? { via: 'library (CLI failed)', seconds: libRuns.seconds } : { via: 'CLI', seconds: cli.seconds },
    disk: { files: fill.embeddings, catalogBytes: fill.catalogBytes, indexBytes: fill.indexBytes },
  };
}
