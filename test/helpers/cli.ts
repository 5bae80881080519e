/**
 * Runs the real built CLI (`node bin/memery.js ...`, built by `npm run build:ts`) in a child
 * process, with MEMERY_HOME set to the given home, HF_HOME to `<home>/hf` and NO_COLOR set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './images.js';
import { ROOT, testModel } from './shared.js';

export const CLI = join(ROOT, 'bin', 'memery.js');
export const CLI_BUILT = existsSync(join(ROOT, 'dist', 'ts', 'cli', 'main.js'));
export const COLOUR_MODEL = testModel('colour-hf');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  home: string;
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  /** Called with the child once spawned (to send signals). */
  onSpawn?: (child: ChildProcess) => void;
}

export function runCli(args: string[], o: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // Models go to a Hugging Face cache inside the test's home, never the developer's own.
    const hf = { HF_HOME: join(o.home, 'hf'), HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined };
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...hf, ...o.env, MEMERY_HOME: o.home };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = spawn(process.execPath, [CLI, ...args], { cwd: o.cwd ?? ROOT, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.end(o.input ?? '');
    o.onSpawn?.(child);
  });
}

/** Same, with `--model-dir <colour-hf test model>` appended. */
export function runColour(args: string[], o: CliOptions): Promise<CliResult> {
  return runCli([...args, '--model-dir', COLOUR_MODEL], o);
}

/** A stack trace line ("    at fn (file:line:col)"). */
export const STACK_LINE = /^\s+at .+[:(]/m;

/** A temp folder removed after the test file (call in a file that registers `cleanupTemps` in afterAll). */
const temps: string[] = [];
export function cliTemp(prefix = 'memery-cli-'): string {
  const d = tempDir(prefix);
  temps.push(d);
  return d;
}
export function cleanupTemps(): void {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
}
