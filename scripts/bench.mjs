#!/usr/bin/env node
// npm run bench [-- --quick] [-- --only NAME[,NAME]] [-- --build-hnsw] [-- --keep] [-- --no-build]
//
// Measures memery's speed, memory and scale against the ceiling and the obvious alternative
// (issue 6), prints one table and writes bench/results/<date>-<host>.json. Each measurement is a
// file in scripts/bench/; everything that loads ONNX Runtime runs in a child process of its own.
// See bench/README.md for what each figure means.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { corpusSet } from './bench/corpus.mjs';
import { BENCH_MODELS, CORPUS_CACHE, DIST, ROOT, TEST_MODELS, colourModelDir, cpuSample, ensureDir, log, modelDir, otherLoad, runCommand, visionModel } from './bench/lib.mjs';
import { buildRows, formatTable } from './bench/report.mjs';
import * as headline from './bench/headline.mjs';
import * as ceiling from './bench/ceiling.mjs';
import * as pipeline from './bench/pipeline.mjs';
import * as alternative from './bench/alternative.mjs';
import * as int8 from './bench/int8.mjs';
import * as reindex from './bench/reindex.mjs';
import * as query from './bench/query.mjs';
import * as cold from './bench/cold.mjs';
import * as resources from './bench/resources.mjs';
import * as gpu from './bench/gpu.mjs';
import * as ocr from './bench/ocr-measure.mjs';

const MEASUREMENTS = [headline, ceiling, pipeline, alternative, int8, reindex, query, cold, resources, gpu, ocr];

function parseArgs(argv) {
  const o = { quick: false, only: undefined, keep: false, build: true, buildHnsw: false, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--build-hnsw') o.buildHnsw = true;
    else if (a === '--only') o.only = argv[++i];
    else if (a.startsWith('--only=')) o.only = a.slice(7);
    else if (a === '--out') o.out = argv[++i];
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown option ${a} (see --help)`);
  }
  if (o.only) {
    o.only = o.only.split(',').map((s) => s.trim()).filter(Boolean);
    const names = MEASUREMENTS.map((m) => m.name);
    const bad = o.only.filter((n) => !names.includes(n));
    if (bad.length) throw new Error(`unknown measurement ${bad.join(', ')}; one of ${names.join(', ')}`);
  }
  return o;
}

const HELP = `npm run bench -- [options]
  --quick          smaller sizes (a few minutes): corpus 100 images, catalogs 2k, queries up to 100k
  --only A,B       run only these measurements: ${MEASUREMENTS.map((m) => m.name).join(', ')}
  --build-hnsw     build (and cache) the 1M-vector hnsw index if it is not cached (slow: tens of minutes)
  --keep           keep the temporary MEMERY_HOMEs and embeddings (printed at the end)
  --no-build       do not run tsc first (use dist/ts as it is)
  --out FILE       write the JSON there instead of bench/results/<date>-<host>.json`;

async function prepare(opts) {
  if (opts.build) {
    log('building the library (tsc -p tsconfig.json) ...');
    const r = await runCommand(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { timeoutMs: 300_000 });
    if (r.code !== 0) {
      log(`tsc failed (exit ${r.code}); using dist/ts as it is:\n${(r.stdout + r.stderr).trim().split('\n').slice(0, 10).join('\n')}`);
    }
  }
  if (!existsSync(join(DIST, 'index.js'))) throw new Error(`${DIST}/index.js not found: build with npx tsc -p tsconfig.json`);
  log('bench models (scripts/make-bench-models.py) ...');
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const m = spawnSync(py, [join(ROOT, 'scripts', 'make-bench-models.py')], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
  if (m.status !== 0 || !existsSync(visionModel('fp32'))) throw new Error(`cannot make the bench models in ${BENCH_MODELS} (needs python3-onnx, python3-numpy)`);
  if (!existsSync(join(colourModelDir(), 'onnx', 'vision_model.onnx'))) {
    log('test models (scripts/make-test-models.py) ...');
    spawnSync(py, [join(ROOT, 'scripts', 'make-test-models.py')], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  }
  const v = await runCommand(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(DIST, 'index.js'))}); console.log(JSON.stringify(m.native.nativeVersions()))`], { timeoutMs: 60_000 });
  if (v.code !== 0) throw new Error(`memery's native addon does not load:\n${v.stderr.trim().slice(0, 600)}`);
  return JSON.parse(v.stdout);
}

async function prepareCorpus(opts, selected) {
  const q = opts.quick;
  const names = new Set(selected.map((m) => m.name));
  const full = ['pipeline', 'alternative', 'int8', 'resources'].some((n) => names.has(n));
  const tiny = ['reindex', 'cold', 'resources'].some((n) => names.has(n));
  if (full) {
    log(`corpus: ${q ? 100 : 2000} generated images in ${CORPUS_CACHE} (generated once; ~0.3-0.5 s per image) ...`);
    await corpusSet('full', q ? 100 : 2000);
  }
  if (tiny) await corpusSet('tiny', q ? 2000 : 10000, { timeoutMs: 30 * 60_000 });
}

function machine(versions) {
  const cpus = os.cpus();
  let sharpVersion;
  try {
    sharpVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'sharp', 'package.json'), 'utf8')).version;
  } catch {
    sharpVersion = 'not installed';
  }
  return {
    host: os.hostname(),
    cpu: cpus[0]?.model,
    cores: os.availableParallelism?.() ?? cpus.length,
    memory: os.totalmem(),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    onnxruntime: versions.onnxruntime,
    libvips: versions.libvips,
    sharp: sharpVersion,
    cudaInBuild: versions.cuda,
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log(HELP);
    return;
  }
  const selected = MEASUREMENTS.filter((m) => !opts.only || opts.only.includes(m.name));
  const versions = await prepare(opts);
  const mach = machine(versions);
  log(`machine: ${mach.cpu}, ${mach.cores} cores, node ${mach.node}, ORT ${mach.onnxruntime}, libvips ${mach.libvips}`);
  await prepareCorpus(opts, selected);

  const tmp = mkdtempSync(join(os.tmpdir(), 'memery-bench-'));
  ensureDir(join(tmp, 'homes'));
  const budgetSeconds = opts.quick ? 8 * 60 : 20 * 60;
  const started = performance.now();
  let defaultSpec;
  try {
    defaultSpec = (await import(join(DIST, 'native', 'preprocess-spec.js'))).PreprocessSpecSchema.parse({});
  } catch {
    defaultSpec = undefined;
  }
  const ctx = {
    defaultSpec,
    quick: opts.quick,
    opts,
    cores: mach.cores,
    tmp,
    results: {},
    timeLeft: () => budgetSeconds - (performance.now() - started) / 1000,
  };
  const timings = {};
  for (const m of selected) {
    log(`== ${m.name}: ${m.title}`);
    const t = performance.now();
    const loadBefore = os.loadavg()[0];
    const cpu0 = cpuSample();
    try {
      ctx.results[m.name] = await m.run(ctx);
    } catch (e) {
      log(`${m.name} failed: ${e.stack ?? e}`);
      ctx.results[m.name] = { error: String(e.message ?? e), partial: e.partial };
    }
    const others = otherLoad(cpu0, cpuSample());
    timings[m.name] = { seconds: (performance.now() - t) / 1000, loadBefore, loadAfter: os.loadavg()[0], otherProcessesCpuShare: others };
    log(`== ${m.name} done in ${timings[m.name].seconds.toFixed(0)} s (other processes used ${others === undefined ? 'n/a' : (others * 100).toFixed(0) + '%'} of the CPUs meanwhile)`);
  }
  const total = (performance.now() - started) / 1000;

  const rows = buildRows(ctx.results, ctx);
  const busy = Object.entries(timings).filter(([, t]) => t.otherProcessesCpuShare > 0.1);
  const header = [
    `memery benchmark${opts.quick ? ' (--quick: smaller sizes)' : ''}: ${new Date().toISOString()}`,
    `machine: ${mach.cpu}, ${mach.cores} cores, ${(mach.memory / 2 ** 30).toFixed(0)} GiB; ${mach.os}; node ${mach.node}; ONNX Runtime ${mach.onnxruntime}; libvips ${mach.libvips}; sharp ${mach.sharp}`,
    `model: random-weight CLIP ViT-B/32 (scripts/make-bench-models.py), fp32 and int8, from ${BENCH_MODELS}`,
  ];
  console.log('\n' + header.join('\n') + '\n');
  console.log(formatTable(rows));
  console.log(`\ntotal ${(total / 60).toFixed(1)} min` + (busy.length ? `; NOTE: other processes used the CPUs during ${busy.map(([n, t]) => `${n} (${(t.otherProcessesCpuShare * 100).toFixed(0)}%)`).join(', ')}: timings there are pessimistic` : '; other processes used < 10% of the CPUs during every measurement'));

  const date = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  const out = opts.out ?? join(ROOT, 'bench', 'results', `${date}-${os.hostname().replace(/[^\w.-]/g, '_')}${opts.quick ? '-quick' : ''}.json`);
  ensureDir(join(out, '..'));
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), quick: opts.quick, only: opts.only ?? null, machine: mach, models: { fp32: modelDir('fp32'), int8: modelDir('int8'), colour: colourModelDir(), testModels: TEST_MODELS }, totalSeconds: total, timings, table: rows, results: ctx.results }, null, 2) + '\n');
  console.log(`results: ${out}`);
  if (opts.keep) console.log(`kept: ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exit(1);
});
