import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock } from '../ts/util/lock.js';
import { isMemeryError } from '../ts/index.js';
import { tempDir } from './helpers/images.js';
import { ROOT } from './helpers/shared.js';

const CHILD = join(ROOT, 'test', 'helpers', 'lock-child.mjs');
const LOCK_JS = join(ROOT, 'dist', 'ts', 'util', 'lock.js');

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

describe('acquireLock (ts/util/lock.ts)', () => {
  it('is exclusive under contention: 8 processes x 80 rounds never hold it at once', async () => {
    const dir = tempDir();
    const lock = join(dir, 'index.lock');
    const marker = join(dir, 'inside');
    const outs = await Promise.all(Array.from({ length: 8 }, () => run([LOCK_JS, lock, marker, '80'])));
    const overlaps = outs.map((o) => Number(/overlap (\d+)/.exec(o)?.[1] ?? NaN));
    expect(overlaps).toEqual(Array(8).fill(0));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second holder in the same process and names the first; release lets the next in', async () => {
    const dir = tempDir();
    const lock = join(dir, 'index.lock');
    const release = await acquireLock(lock, 0);
    await expect(acquireLock(lock, 150)).rejects.toSatisfy(
      (e: unknown) => isMemeryError(e, 'E_LOCKED') && (e as Error).message.includes(`pid ${process.pid}`),
    );
    release();
    release(); // twice is harmless
    const again = await acquireLock(lock, 0);
    again();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a holder killed with SIGKILL leaves no lock behind', async () => {
    const dir = tempDir();
    const lock = join(dir, 'index.lock');
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `const { acquireLock } = await import(${JSON.stringify(LOCK_JS)}); await acquireLock(${JSON.stringify(lock)}, 0); console.log('held'); setInterval(() => {}, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await expect(acquireLock(lock, 0)).rejects.toSatisfy((e: unknown) => isMemeryError(e, 'E_LOCKED') && (e as Error).message.includes(`pid ${child.pid}`));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const release = await acquireLock(lock, 2_000);
    release();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an older memery's pid lock file of a dead process is replaced", async () => {
    const dir = tempDir();
    const lock = join(dir, 'index.lock');
    writeFileSync(lock, '999999999');
    const release = await acquireLock(lock, 2_000);
    expect(existsSync(lock)).toBe(true);
    release();
    rmSync(dir, { recursive: true, force: true });
  });
});
