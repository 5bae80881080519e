// Loads the native addon, in this order:
//   1. MEMERY_NATIVE_BINDING: an explicit path to a memery.node (like better-sqlite3's nativeBinding
//      option); when set, nothing else is tried.
//   2. a local source build, build/native/Release/memery.node at the package root (a checkout after
//      `npm ci` / `npm run build:native`, or a user who built from source);
//   3. the prebuilt platform package that npm installed as an optionalDependency, e.g.
//      @memery/linux-x64-gnu (memery.node plus the libraries it needs, found through $ORIGIN).
// When none loads, one error names the package that was expected and the command that builds from
// source. This file and its siblings are the only code that touches the addon.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemeryError } from '../errors.js';
import type { NativeBinding } from './types.js';

const require = createRequire(import.meta.url);

/** The platform packages published with memery (scripts/pack-platform.mjs makes them). */
export const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64-gnu': '@memery/linux-x64-gnu',
  'linux-arm64-gnu': '@memery/linux-arm64-gnu',
  'darwin-arm64': '@memery/darwin-arm64',
  'win32-x64': '@memery/win32-x64',
};

/** glibc or musl, the way detect-libc does it: glibc's version is in the process report. */
export function linuxLibc(): 'gnu' | 'musl' {
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    if (header?.glibcVersionRuntime) return 'gnu';
  } catch {
    // no report support: fall through to the file check
  }
  try {
    if (readFileSync('/usr/bin/ldd', 'latin1').includes('musl')) return 'musl';
  } catch {
    // no ldd: assume glibc
  }
  return existsSync('/lib/ld-musl-x86_64.so.1') || existsSync('/lib/ld-musl-aarch64.so.1') ? 'musl' : 'gnu';
}

/** This process's target, as the platform packages are named: linux-x64-gnu, darwin-arm64, win32-x64... */
export function platformTarget(platform: string = process.platform, arch: string = process.arch, libc?: 'gnu' | 'musl'): string {
  return platform === 'linux' ? `${platform}-${arch}-${libc ?? linuxLibc()}` : `${platform}-${arch}`;
}

/** The npm package that holds the prebuilt addon for `target` (also for targets nobody publishes). */
export function platformPackage(target: string = platformTarget()): string {
  return PLATFORM_PACKAGES[target] ?? `@memery/${target}`;
}

/** The package root: the nearest folder above this file with memery's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'memery') return dir;
      } catch {
        // not readable: keep going up
      }
    }
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** The local source build at the package root. */
export function localBuild(root = packageRoot()): string {
  return join(root, 'build', 'native', 'Release', 'memery.node');
}

/** memery.node inside the installed platform package, or undefined when npm did not install it. */
export function platformBinding(pkg = platformPackage(), from = packageRoot()): string | undefined {
  try {
    const req = createRequire(join(from, 'package.json'));
    return join(dirname(req.resolve(`${pkg}/package.json`)), 'memery.node');
  } catch {
    return undefined;
  }
}

/** The files loadBinding tries, in order (only the override when MEMERY_NATIVE_BINDING is set). */
export function bindingCandidates(root = packageRoot()): string[] {
  if (process.env.MEMERY_NATIVE_BINDING) return [resolve(process.env.MEMERY_NATIVE_BINDING)];
  const list = [localBuild(root)];
  const fromPackage = platformBinding(platformPackage(), root);
  if (fromPackage) list.push(fromPackage);
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
  throw nativeMissingError(tried);
}

/** The E_NATIVE error for "no addon" (also thrown by ts/util/sqlite.ts when the platform package is absent). */
export function nativeMissingError(tried: string[]): MemeryError {
  return new MemeryError('E_NATIVE', nativeMissingMessage(tried), {
    hint: process.env.MEMERY_NATIVE_BINDING
      ? 'Point MEMERY_NATIVE_BINDING at a memery.node that loads here, or unset it.'
      : 'Reinstall memery so that npm installs its platform package, or run `npm run build:native` in a checkout of memery (needs cmake, a C++17 compiler, FAISS and OpenBLAS).',
  });
}

/** The one message for "no addon": which package was expected, what was tried, how to build. */
export function nativeMissingMessage(tried: string[], target = platformTarget()): string {
  const pkg = platformPackage(target);
  const lines: string[] = [];
  if (process.env.MEMERY_NATIVE_BINDING) {
    lines.push(`Cannot load memery's native addon from MEMERY_NATIVE_BINDING=${process.env.MEMERY_NATIVE_BINDING}.`);
  } else if (PLATFORM_PACKAGES[target]) {
    lines.push(
      `Cannot load memery's native addon: the prebuilt package ${pkg} for ${target} is not installed or does not load ` +
        `(npm skips optional dependencies with --omit=optional or --no-optional; reinstall memery without it), ` +
        'and there is no source build. Build from source with `npm run build:native` in a memery checkout.',
    );
  } else {
    lines.push(
      `Cannot load memery's native addon: no prebuilt package is published for ${target} (${pkg} does not exist), ` +
        'and there is no source build. Build from source with `npm run build:native` in a memery checkout.',
    );
  }
  if (tried.length) lines.push(`Tried:\n  ${tried.join('\n  ')}`);
  return lines.join('\n');
}
