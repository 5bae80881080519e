// Shared helpers of the benchmark (scripts/bench.mjs and the files beside this one).
// Nothing here loads the native addon or ONNX Runtime: the orchestrator stays light, and every
// measurement that needs a runtime runs it in a child process (see runWorker).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = join(ROOT, 'dist', 'ts');
export const HOME = process.env.HOME || homedir();
export const CACHE = join(HOME, '.cache');
export const BENCH_MODELS = process.env.MEMERY_BENCH_MODELS || join(CACHE, 'memery-bench-models');
export const CORPUS_CACHE = process.env.MEMERY_BENCH_CORPUS || join(CACHE, 'memery-bench-corpus');
export const VECTOR_CACHE = process.env.MEMERY_BENCH_VECTORS || join(CACHE, 'memery-bench-vectors');
export const TEST_MODELS = join(ROOT, '.cache', 'test-models');
export const SHARED = process.env.MEMERY_SHARED || resolve(ROOT, '..', 'shared');

export const modelDir = (variant) => join(BENCH_MODELS, `vit-b32-${variant}`);
export const visionModel = (variant) => join(modelDir(variant), 'onnx', 'vision_model.onnx');
export const textModel = (variant) => join(modelDir(variant), 'onnx', 'text_model.onnx');
export const colourModelDir = () => join(TEST_MODELS, 'colour-hf');

/** Imports the built library (dist/ts); `npx tsc -p tsconfig.json` makes it. */
export async function lib() {
  return import(join(DIST, 'index.js'));
}

// ---------------------------------------------------------------------------------------------
// logging and formatting

const t0 = Date.now();
export function log(...parts) {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${s}s] ${parts.join(' ')}\n`);
}

export const round = (x, d = 1) => (x === undefined || x === null || !Number.isFinite(x) ? x : Math.round(x * 10 ** d) / 10 ** d);

export function fmtBytes(n) {
  if (n === undefined || n === null) return 'n/a';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

// ---------------------------------------------------------------------------------------------
// statistics

export function percentile(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  // nearest-rank
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1];
}
export const median = (v) => percentile(v, 50);
export const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;

/** Deterministic PRNG (mulberry32): the same seed gives the same corpus and vectors everywhere. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// process facts

/** Peak resident set (VmHWM) and current RSS of this process, in bytes (Linux). */
export function memoryPeak() {
  try {
    const s = readFileSync('/proc/self/status', 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return { hwm: NaN, rss: process.memoryUsage().rss };
  }
}

/**
 * CPU-time counters (clock ticks): the whole machine's busy time (/proc/stat) and this process's
 * own plus its finished children's (/proc/self/stat). Between two samples, busy - own is what
 * other processes used: how noisy the measurement in between was.
 */
export function cpuSample() {
  try {
    const all = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = all;
    const self = readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number); // f[0] is field 3 (state)
    const own = f[11] + f[12] + f[13] + f[14]; // utime, stime, cutime, cstime
    return { busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal, own, at: performance.now() };
  } catch {
    return undefined;
  }
}

/** Share of the machine's CPU time used by other processes between two cpuSample()s (0..1). */
export function otherLoad(a, b) {
  if (!a || !b || b.total === a.total) return undefined;
  return Math.max(0, (b.busy - a.busy - (b.own - a.own)) / (b.total - a.total));
}

export function fileSize(p) {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

export function ensureDir(d) {
  mkdirSync(d, { recursive: true });
  return d;
}

// ---------------------------------------------------------------------------------------------
// child processes

/**
 * Runs `node file` with a JSON config (in a file); the worker writes its result as JSON to a file (see
 * workerMain). Time-bounded: past timeoutMs the child is killed (SIGKILL after a grace period)
 * and the promise rejects with err.timedOut = true. The child's stderr streams to ours.
 */
export function runWorker(file, config, { timeoutMs = 600_000, env = {}, workDir = tmpdir(), nodeArgs = [] } = {}) {
  const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const resultFile = join(workDir, `result-${tag}.json`);
  // the config goes in a file: file lists can be longer than a command line may be
  const configFile = join(workDir, `config-${tag}.json`);
  writeFileSync(configFile, JSON.stringify(config));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, file, `@${configFile}`, resultFile], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...env },
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      let result;
      if (existsSync(resultFile)) {
        try {
          result = JSON.parse(readFileSync(resultFile, 'utf8'));
        } catch {
          result = undefined;
        }
      }
      if (timedOut) {
        const e = new Error(`${file.split('/').slice(-2).join('/')} timed out after ${Math.round(timeoutMs / 1000)} s`);
        e.timedOut = true;
        e.partial = result;
        return reject(e);
      }
      if (result?.error) {
        const e = new Error(result.error);
        e.partial = result;
        return reject(e);
      }
      if (code !== 0 || !result) return reject(new Error(`${file} exited with ${signal ?? code} and no result`));
      resolvePromise(result);
    });
  });
}

/**
 * The body of a worker script: reads the config from argv, runs fn(config), writes the result
 * (or { error }) to the result file, exits. `partial` lets fn publish what it has so far; it is
 * written on timeout (SIGTERM) too.
 */
export function workerMain(fn) {
  const arg = process.argv[2] ?? '{}';
  const config = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg);
  const resultFile = process.argv[3];
  let partial = {};
  const write = (obj) => {
    if (resultFile) writeFileSync(resultFile, JSON.stringify(obj));
  };
  process.on('SIGTERM', () => {
    write({ ...partial, partial: true });
    process.exit(124);
  });
  Promise.resolve()
    .then(() => fn(config, (p) => (partial = { ...partial, ...p })))
    .then((r) => {
      write(r ?? {});
      process.exit(0);
    })
    .catch((err) => {
      process.stderr.write(`${err?.stack ?? err}\n`);
      write({ ...partial, error: String(err?.message ?? err) });
      process.exit(1);
    });
}

/** Runs a command, collects stdout/stderr, time-bounded. */
export function runCommand(cmd, args, { env = {}, timeoutMs = 120_000, cwd = ROOT, input } = {}) {
  return new Promise((resolvePromise) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, timedOut, ms: performance.now() - started });
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolvePromise({ code: -1, stdout, stderr: String(err), timedOut, ms: performance.now() - started });
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
