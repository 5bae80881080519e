#!/usr/bin/env node
// memery's `prepare` script, for contributors: `npm ci` / `npm install` in a checkout compiles the
// native addon into build/native/Release with cmake-js, and when that fails says exactly what is
// missing. Users never run it: the published package has no scripts (scripts/pack.mjs drops them)
// and gets the addon from its platform package (@memery/linux-x64-gnu, ...), see ts/native/binding.ts.
//
// Environment:
//   MEMERY_SKIP_INSTALL=1   do nothing (e.g. when MEMERY_NATIVE_BINDING points at a build)
// `npm pack` / `npm publish` also run `prepare`; it compiles nothing then.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LOCAL = join(ROOT, 'build', 'native', 'Release', 'memery.node');

const log = (msg) => console.log(`memery: ${msg}`);
const warn = (msg) => console.error(`memery: ${msg}`);

/** Loads `file` in a child node (a crash or a missing library must not take this script down). */
export function loads(file) {
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', file], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim();
  return { ok: r.status === 0, why: out.split('\n').find((l) => /Error|error|cannot|undefined symbol/.test(l)) ?? out.split('\n')[0] ?? `exit ${r.status}` };
}

/** cmake-js: the package's own node_modules/.bin first, then wherever npm put the dependency. */
function cmakeJs() {
  const bin = join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'cmake-js.cmd' : 'cmake-js');
  if (existsSync(bin)) return { cmd: bin, args: [], shell: process.platform === 'win32' };
  try {
    const require = createRequire(join(ROOT, 'package.json'));
    const pkgPath = require.resolve('cmake-js/package.json');
    const pkg = require(pkgPath);
    const rel = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin['cmake-js'];
    return { cmd: process.execPath, args: [join(dirname(pkgPath), rel)], shell: false };
  } catch {
    return undefined;
  }
}

function which(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' });
  return r.status === 0 ? (r.stdout || r.stderr).split('\n')[0].trim() : undefined;
}

function brewPrefix(formula) {
  if (process.platform !== 'darwin') return undefined;
  const r = spawnSync('brew', ['--prefix', ...(formula ? [formula] : [])], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Folders where CMake would look for headers/libraries of system packages. */
function searchRoots() {
  const roots = [];
  for (const v of [process.env.CMAKE_PREFIX_PATH, process.env.CONDA_PREFIX, process.env.VCPKG_INSTALLED_DIR]) {
    if (v) roots.push(...v.split(delimiter).filter(Boolean));
  }
  const brew = brewPrefix();
  if (brew) roots.push(brew);
  if (process.platform !== 'win32') roots.push('/usr/local', '/usr', '/opt/homebrew', '/opt/local');
  return roots;
}

function findHeader(rel) {
  return searchRoots().find((r) => existsSync(join(r, 'include', rel)));
}

function findLibrary(stem) {
  for (const r of searchRoots()) {
    for (const sub of ['lib', 'lib64', `lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`]) {
      const d = join(r, sub);
      if (!existsSync(d)) continue;
      try {
        if (readdirSync(d).some((f) => f.startsWith(stem) || f.startsWith(`lib${stem}`))) return d;
      } catch {
        // unreadable folder: keep looking
      }
    }
  }
  return undefined;
}

/** What the build needs, what is missing, and how to install it on this platform. */
export function diagnose() {
  const missing = [];
  const fixes = [];
  const plat = process.platform;
  if (!which('cmake')) {
    missing.push('cmake (>= 3.18)');
    fixes.push(plat === 'darwin' ? 'brew install cmake' : plat === 'win32' ? 'winget install Kitware.CMake' : 'apt-get install cmake');
  }
  if (plat !== 'win32' && !which('c++') && !which('g++') && !which('clang++')) {
    missing.push('a C++17 compiler');
    fixes.push(plat === 'darwin' ? 'xcode-select --install' : 'apt-get install g++');
  }
  if (plat !== 'win32') {
    if (!findHeader(join('faiss', 'IndexFlat.h'))) missing.push('FAISS headers (faiss/IndexFlat.h)');
    if (!findLibrary('openblas') && !(plat === 'darwin')) missing.push('OpenBLAS (libopenblas)');
    if (plat === 'darwin' && !brewPrefix('libomp')) missing.push('libomp (OpenMP for Apple clang)');
    if (missing.some((m) => /FAISS|OpenBLAS|libomp/.test(m))) {
      fixes.push(plat === 'darwin' ? 'brew install faiss libomp' : 'apt-get install libfaiss-dev libopenblas-dev');
    }
  } else {
    fixes.push('vcpkg install faiss:x64-windows openblas:x64-windows, then set CMAKE_PREFIX_PATH to the vcpkg installed folder');
  }
  for (const [dep, dir] of [
    ['onnxruntime-node', join(ROOT, 'node_modules', 'onnxruntime-node')],
    ['@img/sharp-libvips-dev', join(ROOT, 'node_modules', '@img', 'sharp-libvips-dev')],
  ]) {
    if (!existsSync(dir)) missing.push(`the npm package ${dep}, a devDependency (run npm ci in ${ROOT})`);
  }
  return { missing, fixes };
}

function main() {
  if (process.env.MEMERY_SKIP_INSTALL === '1') {
    log('MEMERY_SKIP_INSTALL=1: not building the native addon');
    return 0;
  }
  if (['pack', 'publish'].includes(process.env.npm_command ?? '')) return 0;
  if (!existsSync(join(ROOT, 'CMakeLists.txt')) || !existsSync(join(ROOT, 'native'))) return 0; // not a checkout
  log('compiling the native addon (cmake-js compile --out build/native)');

  const cj = cmakeJs();
  if (!cj) {
    warn('cannot find cmake-js (a devDependency of memery): run npm ci in the checkout');
    return 1;
  }
  const r = spawnSync(cj.cmd, [...cj.args, 'compile', '--out', 'build/native'], { cwd: ROOT, stdio: 'inherit', shell: cj.shell });
  if (r.status === 0 && existsSync(LOCAL) && loads(LOCAL).ok) {
    log(`built ${LOCAL}`);
    return 0;
  }

  const { missing, fixes } = diagnose();
  const lines = ['', 'memery: building the native addon failed.'];
  if (r.status === 0) lines.push(`  The build finished but ${LOCAL} does not load: ${existsSync(LOCAL) ? loads(LOCAL).why : 'missing'}`);
  if (missing.length) {
    lines.push('  Missing:');
    for (const m of missing) lines.push(`    - ${m}`);
  } else {
    lines.push('  cmake, a compiler, FAISS and OpenBLAS all seem present: see the compiler output above.');
  }
  if (fixes.length) {
    lines.push('  Install with:');
    for (const f of fixes) lines.push(`    ${f}`);
  }
  if (process.platform === 'darwin') {
    lines.push('  Homebrew builds also need: CMAKE_PREFIX_PATH=$(brew --prefix) OpenMP_ROOT=$(brew --prefix libomp)');
  }
  lines.push('  Then run `npm run build:native`,');
  lines.push('  or point MEMERY_NATIVE_BINDING at a memery.node built elsewhere.');
  console.error(lines.join('\n'));
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main());
