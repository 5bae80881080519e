// Loads the native addon: `MEMERY_NATIVE_BINDING` (an explicit path, like better-sqlite3's
// nativeBinding option), then a matching prebuild in prebuilds/<platform>-<arch>/, then the local
// build in build/native/Release/. This file and its siblings are the only code that touches it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemeryError } from '../errors.js';
import type { NativeBinding } from './types.js';

const require = createRequire(import.meta.url);

/** The package root (dist/ts/native or ts/native -> root). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'CMakeLists.txt'))) return dir;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export function bindingCandidates(root = packageRoot()): string[] {
  const list: string[] = [];
  if (process.env.MEMERY_NATIVE_BINDING) list.push(resolve(process.env.MEMERY_NATIVE_BINDING));
  list.push(join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'memery.node'));
  list.push(join(root, 'build', 'native', 'Release', 'memery.node'));
  return list;
}

let cached: NativeBinding | undefined;

export function loadBinding(): NativeBinding {
  if (cached) return cached;
  const tried: string[] = [];
  for (const file of bindingCandidates()) {
    if (!existsSync(file)) {
      tried.push(`${file} (missing)`);
      continue;
    }
    try {
      cached = require(file) as NativeBinding;
      return cached;
    } catch (err) {
      tried.push(`${file} (${(err as Error).message.split('\n')[0]})`);
    }
  }
  throw new MemeryError('E_NATIVE', `Cannot load memery's native addon. Tried:\n  ${tried.join('\n  ')}`, {
    hint: 'Run `npm run build:native` (needs cmake, g++ and libfaiss-dev/libopenblas-dev), or set MEMERY_NATIVE_BINDING to a built memery.node.',
  });
}
