#!/usr/bin/env node
// Makes the platform package for this machine (e.g. @memery/linux-x64-gnu) from the source build
// in build/native/Release: memery.node, the runtime libraries the build copied beside it (ONNX
// Runtime, libvips-cpp), and the system libraries a user may lack (Linux: the reference BLAS and
// LAPACK, libgomp, libgfortran, libquadmath; macOS: Homebrew's libomp/faiss/openblas), all found through the
// addon's own folder only ($ORIGIN / @loader_path). Then it checks that the addon loads from
// another folder and that (Linux) `ldd` resolves every non-baseline library inside the package,
// and writes package.json (os/cpu/libc, version = memery's), LICENSE and the notices.
//
//   node scripts/pack-platform.mjs [--build] [--out DIR] [--pack DESTDIR]
//     --build       compile first (cmake-js compile --out build/native)
//     --out DIR     where to assemble the package (default build/npm/<target>)
//     --pack DIR    also `npm pack` it into DIR and print the tarball's path as the last line
//
// Linux needs patchelf (apt-get install patchelf): the copied system libraries get RUNPATH $ORIGIN
// so that they find each other (liblapack -> libblas, libgfortran -> libquadmath). macOS uses
// install_name_tool and codesign (Xcode command line tools).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD = join(ROOT, 'build', 'native', 'Release');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const log = (m) => console.error(`pack-platform: ${m}`);
function fail(m) {
  console.error(`pack-platform: ${m}`);
  process.exit(1);
}
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}
function must(cmd, argv, opts = {}) {
  const r = run(cmd, argv, opts);
  if (r.status !== 0) fail(`${cmd} ${argv.join(' ')} failed (${r.status}):\n${r.stderr || r.stdout}`);
  return r.stdout ?? '';
}
function has(cmd) {
  return spawnSync(process.platform === 'win32' ? 'where' : 'which', [cmd]).status === 0;
}

/** glibc or musl (same rule as ts/native/binding.ts). */
function libc() {
  return process.report?.getReport()?.header?.glibcVersionRuntime ? 'gnu' : 'musl';
}
export const TARGET = process.platform === 'linux' ? `${process.platform}-${process.arch}-${libc()}` : `${process.platform}-${process.arch}`;
const NAME = `@memery/${TARGET}`;
const DEST = resolve(opt('--out') ?? join(ROOT, 'build', 'npm', TARGET));

// ---------------------------------------------------------------------------------------------
// 1. (optionally) build
if (args.includes('--build')) {
  log('building (cmake-js compile --out build/native)');
  const cj = join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'cmake-js.cmd' : 'cmake-js');
  const r = spawnSync(cj, ['compile', '--out', 'build/native'], { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) fail('the build failed (see above; `node scripts/install.mjs` says what is missing)');
}
if (!existsSync(join(BUILD, 'memery.node'))) fail(`${join(BUILD, 'memery.node')} is missing: run \`npm run build:native\` first (or pass --build)`);

// ---------------------------------------------------------------------------------------------
// 2. the addon and the runtime libraries the build put beside it
rmSync(DEST, { recursive: true, force: true });
mkdirSync(DEST, { recursive: true });
const RUNTIME = /\.(so(\.\d+)*|dylib|dll)$/;
for (const f of readdirSync(BUILD)) {
  if (f === 'memery.node' || RUNTIME.test(f)) {
    copyFileSync(join(BUILD, f), join(DEST, f));
    chmodSync(join(DEST, f), 0o755);
  }
}
const addon = join(DEST, 'memery.node');
// The build keeps its symbols (for debugging); users get a stripped addon (about 0.8 MB less).
if (process.platform === 'linux' && has('strip')) must('strip', ['--strip-unneeded', addon]);
else if (process.platform === 'darwin') must('strip', ['-x', addon]);

// ---------------------------------------------------------------------------------------------
// 2b. better-sqlite3, so that installing memery runs no install script (better-sqlite3's own
// downloads its binary from GitHub or compiles it). Its JavaScript (lib/) goes into SQLITE_DIR with
// one binding per Node ABI: this Node's (the checkout's build) plus any in build/sqlite-prebuilds/
// named node-v<ABI>.node (the prebuilds workflow compiles one per supported Node major).
// ts/util/sqlite.ts loads it with better-sqlite3's `nativeBinding` option and reads this layout
// (its SQLITE_DIR and sqliteBindingName; this script runs before TypeScript is built, so it spells
// them again here): test/install.test.ts checks that the two agree.
const SQLITE_SRC = join(ROOT, 'node_modules', 'better-sqlite3');
const SQLITE_DIR = 'better-sqlite3';
const SQLITE_DEST = join(DEST, SQLITE_DIR);
/** The binding file for one Node ABI inside SQLITE_DEST, and the pattern that matches such names (group 1: the ABI). */
const sqliteBindingName = (abi = process.versions.modules) => `node-v${abi}.node`;
const SQLITE_BINDING = /^node-v(\d+)\.node$/;
const sqlite = bundleSqlite();

// ---------------------------------------------------------------------------------------------
// 3. the system libraries a user may lack
const bundledFrom = new Map(); // file name -> where it was copied from (for the notices)
if (process.platform === 'linux') bundleLinux();
else if (process.platform === 'darwin') bundleMac();
else log('Windows: copy the FAISS/OpenBLAS DLLs from vcpkg beside memery.node if the load check fails (unverified)');

// ---------------------------------------------------------------------------------------------
// 4. checks: loads from another folder with no library path help; ldd stays inside the package
const env = { ...process.env };
delete env.LD_LIBRARY_PATH;
delete env.DYLD_LIBRARY_PATH;
delete env.MEMERY_NATIVE_BINDING;
const check = run(process.execPath, ['-e', 'const b = require(process.argv[1]); console.log(JSON.stringify(b.versions()))', addon], { cwd: tmpdir(), env });
if (check.status !== 0) fail(`${addon} does not load from ${tmpdir()}:\n${check.stderr}`);
log(`loads from ${tmpdir()}: ${check.stdout.trim()}`);
if (process.platform === 'linux') {
  for (const file of readdirSync(DEST).filter((f) => f === 'memery.node' || RUNTIME.test(f))) {
    const outside = [...lddMap(join(DEST, file), env)].filter(([soname, path]) => !isLinuxBaseline(soname) && dirname(path) !== DEST);
    if (outside.length) fail(`${file}: resolved outside the package: ${outside.map(([s, p]) => `${s} => ${p}`).join(', ')}`);
  }
  log('ldd: every library but glibc/libstdc++/libgcc_s resolves inside the package');
}
const sqliteCheck = run(
  process.execPath,
  [
    '-e',
    `const D = require(process.argv[1]); const db = new D(':memory:', { nativeBinding: process.argv[2] });
     db.exec("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')"); console.log(db.prepare('SELECT sqlite_version()').pluck().get())`,
    join(SQLITE_DEST, 'lib', 'index.js'),
    join(SQLITE_DEST, sqliteBindingName()),
  ],
  { cwd: tmpdir(), env },
);
if (sqliteCheck.status !== 0) fail(`better-sqlite3 in ${SQLITE_DEST} does not load:\n${sqliteCheck.stderr}`);
log(`better-sqlite3 loads (SQLite ${sqliteCheck.stdout.trim()}, FTS5 trigram) with bindings for Node ABI ${sqlite.abis.join(', ')}`);

// ---------------------------------------------------------------------------------------------
// 5. package.json, README, LICENSE, notices
const libs = readdirSync(DEST).filter((f) => f === 'memery.node' || RUNTIME.test(f)).sort();
const [os, cpu] = [process.platform, process.arch];
const pkg = {
  name: NAME,
  version: PKG.version,
  description: `memery's native addon (CLIP + OCR: ONNX Runtime, libvips, FAISS) prebuilt for ${TARGET}`,
  license: 'MIT AND LGPL-3.0-or-later AND BSD-3-Clause AND GPL-3.0-or-later WITH GCC-exception-3.1',
  ...(PKG.repository ? { repository: PKG.repository } : {}),
  ...(PKG.homepage ? { homepage: PKG.homepage } : {}),
  main: 'memery.node',
  files: [...libs, SQLITE_DIR, 'licenses', 'LICENSE', 'THIRD_PARTY_NOTICES.md'],
  os: [os],
  cpu: [cpu],
  ...(os === 'linux' ? { libc: [TARGET.endsWith('-musl') ? 'musl' : 'glibc'] } : {}),
  engines: PKG.engines,
  preferUnplugged: true,
};
writeFileSync(join(DEST, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
for (const f of ['LICENSE', 'THIRD_PARTY_NOTICES.md']) if (existsSync(join(ROOT, f))) copyFileSync(join(ROOT, f), join(DEST, f));
copyLicenses();
writeFileSync(
  join(DEST, 'README.md'),
  `# ${NAME}\n\nThe prebuilt native addon of [memery](https://www.npmjs.com/package/memery) for ${TARGET}. ` +
    'Do not install it directly: `npm install memery` picks it as an optional dependency.\n\n' +
    `Contents: ${libs.join(', ')}, found through the addon's own folder only; ` +
    `better-sqlite3 ${sqlite.version} (its lib/ and bindings for Node ABI ${sqlite.abis.join(', ')}). ` +
    'Licences: THIRD_PARTY_NOTICES.md and licenses/.\n\n' +
    'GPU: to use `provider: cuda`, put `libonnxruntime_providers_cuda.so` and `libonnxruntime_providers_shared.so` of the same ' +
    'ONNX Runtime version (see THIRD_PARTY_NOTICES.md) into this folder, beside `libonnxruntime.so.1`.\n',
);

const files = readdirSync(DEST).filter((f) => !statSync(join(DEST, f)).isDirectory());
const total = files.reduce((s, f) => s + statSync(join(DEST, f)).size, 0) + treeSize(SQLITE_DEST);
log(`${DEST}: ${files.sort().join(', ')} (${(total / 2 ** 20).toFixed(1)} MiB)`);

if (opt('--pack')) {
  const out = resolve(opt('--pack'));
  mkdirSync(out, { recursive: true });
  const r = must('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: DEST });
  const tgz = join(out, JSON.parse(r)[0].filename);
  log(`packed ${tgz}`);
  console.log(tgz);
} else {
  console.log(DEST);
}

// ---------------------------------------------------------------------------------------------
/** Libraries every glibc Linux has (and node itself needs): never bundled. */
function isLinuxBaseline(soname) {
  return /^(linux-vdso|linux-gate|ld-linux|libc|libm|libdl|librt|libpthread|libresolv|libutil|libstdc\+\+|libgcc_s)\.so/.test(soname);
}

/** `ldd` of `file`: soname -> resolved path ('not' when not found). */
function lddMap(file, lddEnv = process.env) {
  const map = new Map();
  for (const line of must('ldd', [file], { env: lddEnv }).split('\n')) {
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
    // Direct dependencies only (what the file itself NEEDs), resolved where ldd finds them: the
    // transitive ones of a library that is swapped for another (libblas.so.3) must not come along.
    const needed = new Set(must('patchelf', ['--print-needed', file]).split('\n').filter(Boolean));
    for (const [soname, path] of lddMap(file)) {
      if (!needed.has(soname) || isLinuxBaseline(soname) || seen.has(soname)) continue;
      seen.add(soname);
      if (path === 'not') fail(`${basename(file)} needs ${soname}, which is not found on this machine`);
      if (dirname(path) === DEST || existsSync(join(DEST, soname))) continue; // already there (ONNX Runtime, libvips)
      const target = join(DEST, soname);
      const from = referenceBlas(soname, path) ?? realpathSync(path);
      copyFileSync(from, target);
      chmodSync(target, 0o755);
      bundledFrom.set(soname, from);
      log(`bundled ${soname} (from ${from})`);
      bundled.push(target);
      queue.push(target);
    }
  }
  // Each bundled library finds its siblings beside itself (liblapack -> libblas, libgfortran -> libquadmath);
  // the addon itself already has RUNPATH $ORIGIN (cmake/MemeryPlatform.cmake).
  for (const f of bundled) must('patchelf', ['--set-rpath', '$ORIGIN', f]);
  const addonRpath = must('patchelf', ['--print-rpath', addon]).trim();
  if (addonRpath !== '$ORIGIN') fail(`memery.node has RUNPATH '${addonRpath}', expected $ORIGIN (see cmake/MemeryPlatform.cmake)`);
}

/** Copies better-sqlite3's lib/, licence and bindings into SQLITE_DEST; returns its version and the Node ABIs it has. */
function bundleSqlite() {
  const version = JSON.parse(readFileSync(join(SQLITE_SRC, 'package.json'), 'utf8')).version;
  const own = join(SQLITE_SRC, 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(own)) fail(`${own} is missing: better-sqlite3 was not built (\`npm rebuild better-sqlite3\`)`);
  cpSync(join(SQLITE_SRC, 'lib'), join(SQLITE_DEST, 'lib'), { recursive: true });
  copyFileSync(join(SQLITE_SRC, 'LICENSE'), join(SQLITE_DEST, 'LICENSE'));
  // Its manifest without install script or dependencies (only `bindings`, which nativeBinding replaces).
  writeFileSync(join(SQLITE_DEST, 'package.json'), `${JSON.stringify({ name: 'better-sqlite3', version, license: 'MIT', main: 'lib/index.js', private: true }, null, 2)}\n`);
  const bindings = new Map([[process.versions.modules, own]]);
  const extra = join(ROOT, 'build', 'sqlite-prebuilds');
  if (existsSync(extra)) for (const f of readdirSync(extra)) {
    const m = f.match(SQLITE_BINDING);
    if (m && !bindings.has(m[1])) bindings.set(m[1], join(extra, f));
  }
  for (const [abi, from] of bindings) {
    const to = join(SQLITE_DEST, sqliteBindingName(abi));
    copyFileSync(from, to);
    chmodSync(to, 0o755);
    if (process.platform === 'linux' && has('strip')) must('strip', ['--strip-unneeded', to]);
  }
  return { version, abis: [...bindings.keys()].sort() };
}

/** The bytes of the files under dir, all levels down. */
function treeSize(dir) {
  return readdirSync(dir, { recursive: true }).reduce((s, f) => {
    const st = statSync(join(dir, f));
    return st.isFile() ? s + st.size : s;
  }, 0);
}

/**
 * The reference BLAS/LAPACK (Debian libblas3/liblapack3, 0.4 + 7 MB) for the generic sonames the
 * addon links, instead of what Debian's alternatives point them at (OpenBLAS, 37 MB): FAISS calls
 * BLAS only for batches of 20 or more queries, which memery's searches never are.
 */
function referenceBlas(soname, resolved) {
  const sub = { 'libblas.so.3': 'blas', 'liblapack.so.3': 'lapack' }[soname];
  if (!sub) return undefined;
  // Beside the alternatives link ldd resolved: <libdir>/blas/libblas.so.3, <libdir>/lapack/liblapack.so.3
  const p = join(dirname(resolved), sub, soname);
  if (!existsSync(p)) fail(`${p} is missing: apt-get install libblas3 liblapack3 (the reference BLAS/LAPACK the package ships)`);
  return realpathSync(p);
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
  // Not run here (no macOS machine): the usual delocate recipe; the workflow's macOS job runs it.
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
        bundledFrom.set(name, dep);
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
    run('install_name_tool', ['-add_rpath', '@loader_path', p]); // @rpath deps resolve beside them
    must('codesign', ['--force', '--sign', '-', p]); // install_name_tool invalidates signatures
  }
}

/** The licence files of what the package holds, from where they were installed. */
function copyLicenses() {
  const dir = join(DEST, 'licenses');
  mkdirSync(dir, { recursive: true });
  const nm = join(ROOT, 'node_modules');
  const copies = [
    [join(nm, 'com.github.asus4.onnxruntime', 'LICENSE'), 'onnxruntime-LICENSE.txt'],
    [join(nm, 'com.github.asus4.onnxruntime', 'ThirdPartyNotices.txt'), 'onnxruntime-ThirdPartyNotices.txt'],
    [join(nm, '@img', `sharp-libvips-${process.platform}-${process.arch}`, 'README.md'), 'libvips-licensing.md'],
    [join(nm, '@img', `sharp-libvips-${process.platform}-${process.arch}`, 'versions.json'), 'libvips-versions.json'],
    ['/usr/share/common-licenses/LGPL-3', 'LGPL-3.0.txt'],
    ['/usr/share/common-licenses/GPL-3', 'GPL-3.0.txt'],
  ];
  if (process.platform === 'linux') {
    copies.push(['/usr/share/doc/libfaiss-dev/copyright', 'faiss-copyright.txt']);
    if ([...bundledFrom.keys()].some((n) => n.startsWith('libopenblas'))) copies.push(['/usr/share/doc/libopenblas0-pthread/copyright', 'openblas-copyright.txt']);
    if (bundledFrom.has('libblas.so.3')) copies.push(['/usr/share/doc/libblas3/copyright', 'blas-copyright.txt']);
    if (bundledFrom.has('liblapack.so.3')) copies.push(['/usr/share/doc/liblapack3/copyright', 'lapack-copyright.txt']);
    if ([...bundledFrom.keys()].some((n) => /^lib(gfortran|gomp|quadmath)/.test(n))) copies.push(['/usr/share/doc/libgfortran5/copyright', 'gcc-runtime-libraries-copyright.txt']);
  }
  for (const [from, to] of copies) {
    if (existsSync(from)) copyFileSync(from, join(dir, to));
    else log(`licence file ${from} not found: add ${to} by hand before publishing`);
  }
  const lines = ['Bundled libraries and where they were copied from:', ''];
  for (const [name, from] of bundledFrom) lines.push(`${name}\t${from}`);
  writeFileSync(join(dir, 'bundled-system-libraries.txt'), `${lines.join('\n')}\n`);
}
