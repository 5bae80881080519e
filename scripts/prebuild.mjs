#!/usr/bin/env node
// `npm run build:prebuilds`: builds the addon and makes a self-contained prebuild of it in
// prebuilds/<platform>-<arch>/: memery.node, the runtime libraries the build put beside it
// (ONNX Runtime, libvips), and the system libraries it needs that a user may not have
// (Linux: OpenBLAS, libgomp, libgfortran, libquadmath; macOS: Homebrew's libomp/faiss/openblas).
// Nothing is found through anything but the addon's own folder ($ORIGIN / @loader_path).
// Finally it checks that the prebuild loads from another working directory.
//
//   node scripts/prebuild.mjs [--no-build]
//
// Linux needs patchelf (apt-get install patchelf) to give the copied libraries an $ORIGIN
// RUNPATH; macOS uses install_name_tool and codesign from the Xcode command line tools.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TAG = `${process.platform}-${process.arch}`;
const BUILD = join(ROOT, 'build', 'native', 'Release');
const DEST = join(ROOT, 'prebuilds', TAG);

const log = (m) => console.log(`prebuild: ${m}`);
function fail(m) {
  console.error(`prebuild: ${m}`);
  process.exit(1);
}
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}
function must(cmd, args, opts = {}) {
  const r = run(cmd, args, opts);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr || r.stdout}`);
  return r.stdout ?? '';
}
function has(cmd) {
  return !run(process.platform === 'win32' ? 'where' : 'which', [cmd]).status;
}

// ---------------------------------------------------------------------------------------------
// 1. build
if (!process.argv.includes('--no-build')) {
  log('building (cmake-js compile --out build/native)');
  const cj = join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'cmake-js.cmd' : 'cmake-js');
  const r = spawnSync(cj, ['compile', '--out', 'build/native'], { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) fail('the build failed (see above; `node scripts/install.mjs` says what is missing)');
}
if (!existsSync(join(BUILD, 'memery.node'))) fail(`${join(BUILD, 'memery.node')} is missing`);

// ---------------------------------------------------------------------------------------------
// 2. copy the addon and the runtime libraries the build put beside it
rmSync(DEST, { recursive: true, force: true });
mkdirSync(DEST, { recursive: true });
const RUNTIME = /\.(so(\.\d+)*|dylib|dll)$/;
for (const f of readdirSync(BUILD)) {
  if (f === 'memery.node' || RUNTIME.test(f)) {
    copyFileSync(join(BUILD, f), join(DEST, f));
    log(`copied ${f}`);
  }
}
const addon = join(DEST, 'memery.node');

// ---------------------------------------------------------------------------------------------
// 3. bundle the system libraries a user may lack
if (process.platform === 'linux') bundleLinux();
else if (process.platform === 'darwin') bundleMac();
else log('Windows: the DLLs of FAISS/OpenBLAS come from vcpkg; copy them beside memery.node if the check below fails');

// ---------------------------------------------------------------------------------------------
// 4. check: loads from another working directory, with no library path help
const env = { ...process.env };
delete env.LD_LIBRARY_PATH;
delete env.DYLD_LIBRARY_PATH;
delete env.MEMERY_NATIVE_BINDING;
const check = run(
  process.execPath,
  ['-e', 'const b = require(process.argv[1]); const v = b.versions(); console.log(JSON.stringify(v)); if (typeof b.ImageEncoder.load !== "function") process.exit(2)', addon],
  { cwd: tmpdir(), env },
);
if (check.status !== 0) fail(`${addon} does not load from ${tmpdir()}:\n${check.stderr}`);
log(`loads from ${tmpdir()}: ${check.stdout.trim()}`);
if (process.platform === 'linux') {
  const out = must('ldd', [addon]);
  const outside = out
    .split('\n')
    .map((l) => l.trim().match(/^(\S+) => (\S+)/))
    .filter((m) => m && !isLinuxBaseline(m[1]) && dirname(m[2]) !== DEST);
  if (outside.length) fail(`still resolved outside the prebuild: ${outside.map((m) => `${m[1]} => ${m[2]}`).join(', ')}`);
}
const files = readdirSync(DEST).sort();
const total = files.reduce((s, f) => s + statSync(join(DEST, f)).size, 0);
log(`${DEST}: ${files.join(', ')} (${(total / 2 ** 20).toFixed(1)} MiB)`);

// ---------------------------------------------------------------------------------------------
/** Libraries every glibc Linux has (and node itself needs): never bundled. */
function isLinuxBaseline(soname) {
  return /^(linux-vdso|linux-gate|ld-linux|libc|libm|libdl|librt|libpthread|libresolv|libutil|libstdc\+\+|libgcc_s)\.so/.test(soname);
}

/** `ldd` of `file`: soname -> resolved path (missing ones too, as 'not found'). */
function lddMap(file) {
  const map = new Map();
  for (const line of must('ldd', [file]).split('\n')) {
    const m = line.trim().match(/^(\S+) => (\S+)/);
    if (m) map.set(m[1], m[2]);
  }
  return map;
}

function bundleLinux() {
  if (!has('patchelf')) fail('patchelf is needed to bundle the system libraries (apt-get install patchelf)');
  // Walk the dependency graph from the addon: bundle everything that is not baseline glibc/gcc.
  const queue = [addon, ...readdirSync(DEST).filter((f) => RUNTIME.test(f)).map((f) => join(DEST, f))];
  const seen = new Set();
  const bundled = [];
  while (queue.length) {
    const file = queue.shift();
    for (const [soname, path] of lddMap(file)) {
      if (isLinuxBaseline(soname) || seen.has(soname)) continue;
      seen.add(soname);
      if (path === 'not') fail(`${basename(file)} needs ${soname}, which is not found on this machine`);
      if (dirname(path) === DEST) continue; // already there (ONNX Runtime, libvips)
      const target = join(DEST, soname);
      copyFileSync(realpathSync(path), target);
      chmodSync(target, 0o755);
      log(`bundled ${soname} (from ${realpathSync(path)})`);
      bundled.push(target);
      queue.push(target);
    }
  }
  // Every bundled library finds its siblings beside itself (libopenblas -> libgfortran ...); the
  // addon already has $ORIGIN, and ONNX Runtime and libvips need nothing but glibc.
  for (const f of bundled) must('patchelf', ['--set-rpath', '$ORIGIN', f]);
  const addonRpath = must('patchelf', ['--print-rpath', addon]).trim();
  if (addonRpath !== '$ORIGIN') fail(`memery.node has RUNPATH '${addonRpath}', expected $ORIGIN (see cmake/MemeryPlatform.cmake)`);
}

/** Non-system dylibs a Mach-O file links (Homebrew's libomp, faiss, openblas...). */
function macDeps(file) {
  return must('otool', ['-L', file])
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(' (')[0])
    .filter((p) => p && !p.startsWith('/usr/lib/') && !p.startsWith('/System/') && !p.startsWith('@'));
}

function bundleMac() {
  // Untested here (no macOS machine): follows the usual delocate recipe.
  const queue = [addon, ...readdirSync(DEST).filter((f) => f.endsWith('.dylib')).map((f) => join(DEST, f))];
  const done = new Set();
  while (queue.length) {
    const file = queue.shift();
    for (const dep of macDeps(file)) {
      const name = basename(dep);
      const target = join(DEST, name);
      if (!done.has(name) && !existsSync(target)) {
        copyFileSync(realpathSync(dep), target);
        chmodSync(target, 0o755);
        must('install_name_tool', ['-id', `@rpath/${name}`, target]);
        log(`bundled ${name} (from ${dep})`);
        queue.push(target);
      }
      done.add(name);
      must('install_name_tool', ['-change', dep, `@loader_path/${name}`, file]);
    }
  }
  for (const f of readdirSync(DEST)) {
    const p = join(DEST, f);
    if (f !== 'memery.node' && !f.endsWith('.dylib')) continue;
    // @rpath deps of bundled libraries resolve beside them
    run('install_name_tool', ['-add_rpath', '@loader_path', p]);
    // install_name_tool invalidates signatures; arm64 refuses unsigned code
    must('codesign', ['--force', '--sign', '-', p]);
  }
}
