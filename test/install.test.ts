/**
 * A user's install, end to end, on this machine (linux-x64-gnu or linux-arm64-gnu): packs the main package
 * (scripts/pack.mjs) and the platform package made from build/native/Release
 * (scripts/pack-platform.mjs), installs both into an empty folder with npm, with a PATH that holds
 * only node and npm (no cc, c++, g++, cmake or make), then checks: no install script, no build-only
 * package, every library of the addon resolved inside the platform package (ldd with an empty
 * LD_LIBRARY_PATH; only glibc/libstdc++/libgcc_s from the system), `memery --version`, a real search
 * with the colour test model, the library import, the CUDA message, the loader's message without
 * the platform package, and the installed size (<= 150 MB).
 *
 * Install scripts run, as they would for a user: nothing may download from outside npm or compile.
 * better-sqlite3 is not a dependency of the published package (its install script fetches from
 * GitHub or compiles): the platform package holds its JavaScript and a binding for this Node
 * (README: "Install").
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLITE_DIR, sqliteBindingName } from '../ts/util/sqlite.js';
import { tempDir, writeColourSet } from './helpers/images.js';
import { ROOT, testModel } from './helpers/shared.js';

const ADDON = join(ROOT, 'build', 'native', 'Release', 'memery.node');
const MODEL = testModel('colour-hf');
const TARGET = `linux-${process.arch}-gnu`;
const PLATFORM_PKG = `@memery/${TARGET}`;
const LIMIT_BYTES = 150e6;

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

const glibc = Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime);
const skipReason =
  process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch) || !glibc
    ? 'runs on linux-x64 / linux-arm64 (glibc) only'
    : !existsSync(ADDON)
      ? `${ADDON} is absent: build it with \`npm run build:native\``
      : !existsSync(join(ROOT, 'dist', 'ts', 'index.js'))
        ? 'dist/ts is absent: run `npm run build:ts`'
        : !existsSync(join(MODEL, 'onnx', 'vision_model.onnx'))
          ? `${MODEL} is absent: run \`npm run models:test\``
          : !which('patchelf') || !which('ldd')
            ? 'patchelf and ldd are needed to make the platform package (apt-get install patchelf)'
            : !existsSync(join(ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))
              ? "the checkout's better-sqlite3 has no built binding for the platform package"
              : '';
if (skipReason) console.warn(`install test skipped: ${skipReason}`);

/** Baseline libraries every glibc system has (and node itself loads). */
const BASELINE = /^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libresolv|libutil|libstdc\+\+|libgcc_s)\.so/;

describe.skipIf(Boolean(skipReason))(`install: packed memery + ${PLATFORM_PKG} into an empty folder${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let tmp = '';
  let prefix = '';
  let bin = '';
  let platformDir = '';
  let memeryDir = '';
  let images = '';
  let env: NodeJS.ProcessEnv = {};
  let installLog = '';
  let tarballs: string[] = [];

  /** The environment of a user's shell: no npm lifecycle variables, PATH with node and npm only. */
  function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const e: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (/^npm_/i.test(k) || k.startsWith('MEMERY_') || k === 'LD_LIBRARY_PATH' || k === 'NODE_OPTIONS' || k.startsWith('VITEST')) continue;
      e[k] = v;
    }
    return { ...e, PATH: bin, NO_COLOR: '1', ...extra };
  }

  function memery(args: string[], extra: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
    return spawnSync(join(prefix, 'node_modules', '.bin', 'memery'), args, { cwd: tmp, env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 });
  }

  beforeAll(async () => {
    tmp = realpathSync(tempDir('memery-install-'));
    const tgz = join(tmp, 'tgz');
    // 1. the two tarballs
    const platformTgz = execFileSync(process.execPath, [join(ROOT, 'scripts', 'pack-platform.mjs'), '--out', join(tmp, 'platform-src'), '--pack', tgz], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop()!;
    const mainTgz = execFileSync(process.execPath, [join(ROOT, 'scripts', 'pack.mjs'), '--out', tgz], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;

    // 2. a PATH with node, npm and sh only
    bin = join(tmp, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const npmCli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath) ? process.env.npm_execpath : realpathSync(which('npm')!);
    symlinkSync(npmCli, join(bin, 'npm'));
    symlinkSync(realpathSync('/bin/sh'), join(bin, 'sh')); // npm runs install scripts with sh
    env = userEnv();
    for (const tool of ['cc', 'gcc', 'c++', 'g++', 'clang', 'cmake', 'make']) {
      expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status, `${tool} must not be on the test PATH`).not.toBe(0);
    }

    // 3. npm install into an empty folder (registry answers from the local cache when it can)
    prefix = join(tmp, 'prefix');
    mkdirSync(prefix);
    writeFileSync(join(prefix, 'package.json'), '{ "name": "memery-install-test", "private": true }\n');
    tarballs = [mainTgz, platformTgz];
    const r = spawnSync(join(bin, 'npm'), ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'warn', ...tarballs], {
      cwd: prefix,
      env,
      encoding: 'utf8',
      timeout: 240_000,
    });
    installLog = `${r.stdout}${r.stderr}`;
    expect(r.status, installLog).toBe(0);

    memeryDir = join(prefix, 'node_modules', 'memery');
    platformDir = realpathSync(join(prefix, 'node_modules', ...PLATFORM_PKG.split('/')));

    images = join(tmp, 'images');
    mkdirSync(images);
    await writeColourSet(images);
  }, 300_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the published package.json: no install scripts, build tools only in the checkout, platform packages optional at the same version', () => {
    const pkg = JSON.parse(readFileSync(join(memeryDir, 'package.json'), 'utf8'));
    expect(pkg.scripts ?? {}).toEqual({});
    expect(Object.keys(pkg.dependencies)).not.toEqual(expect.arrayContaining(['onnxruntime-node']));
    for (const dev of ['onnxruntime-node', 'com.github.asus4.onnxruntime', 'cmake-js', '@img/sharp-libvips-dev', 'node-addon-api']) {
      expect(pkg.dependencies[dev], dev).toBeUndefined();
      expect(existsSync(join(prefix, 'node_modules', ...dev.split('/'))) && dev !== 'node-addon-api', `${dev} installed`).toBe(false);
    }
    expect(pkg.optionalDependencies[PLATFORM_PKG]).toBe(pkg.version);
    const platform = JSON.parse(readFileSync(join(platformDir, 'package.json'), 'utf8'));
    expect(platform).toMatchObject({ name: PLATFORM_PKG, version: pkg.version, os: ['linux'], cpu: [process.arch], libc: ['glibc'] });
    expect(existsSync(join(memeryDir, 'node_modules', '@memery', 'client', 'dist', 'index.js'))).toBe(true);
    for (const f of ['LICENSE', 'THIRD_PARTY_NOTICES.md']) {
      expect(existsSync(join(memeryDir, f)), f).toBe(true);
      expect(existsSync(join(platformDir, f)), f).toBe(true);
    }
    // Which installed packages have an install script (they ran: nothing on PATH could compile).
    const withScripts: string[] = [];
    const walk = (nm: string): void => {
      if (!existsSync(nm)) return;
      for (const name of readdirSync(nm)) {
        if (name.startsWith('.')) continue;
        const dirs = name.startsWith('@') ? readdirSync(join(nm, name)).map((n) => join(nm, name, n)) : [join(nm, name)];
        for (const d of dirs) {
          if (lstatSync(d).isSymbolicLink() || !existsSync(join(d, 'package.json'))) continue;
          const s = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).scripts ?? {};
          if (s.preinstall || s.install || s.postinstall) withScripts.push(`${d.slice(prefix.length + 1)}: ${s.preinstall ?? s.install ?? s.postinstall}`);
          walk(join(d, 'node_modules'));
        }
      }
    };
    walk(join(prefix, 'node_modules'));
    console.log(`install scripts in the installed tree:\n  ${withScripts.join('\n  ')}`);
    // @parcel/watcher's compiles only with --build-from-source. better-sqlite3 (prebuild-install from
    // GitHub, else node-gyp) is not installed at all: the platform package carries it.
    expect(withScripts.map((s) => s.replace(/^.*node_modules\//, '').split(':')[0]).sort()).toEqual(['@parcel/watcher']);
    for (const gone of ['better-sqlite3', 'prebuild-install', 'node-gyp']) expect(existsSync(join(prefix, 'node_modules', gone)), gone).toBe(false);
    // The layout scripts/pack-platform.mjs writes is the one ts/util/sqlite.ts reads.
    const sqlite = join(platformDir, SQLITE_DIR);
    expect(readdirSync(sqlite).sort()).toEqual(expect.arrayContaining(['LICENSE', 'lib', sqliteBindingName(), 'package.json']));
    expect(JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')).scripts).toBeUndefined();
  });

  it('the addon and its libraries resolve inside the platform package (RUNPATH $ORIGIN; ldd with an empty LD_LIBRARY_PATH)', () => {
    const libs = readdirSync(platformDir).filter((f) => f === 'memery.node' || /\.so(\.\d+)*$/.test(f));
    expect(libs).toEqual(expect.arrayContaining(['memery.node', 'libonnxruntime.so.1', 'libblas.so.3', 'liblapack.so.3', 'libgomp.so.1', 'libgfortran.so.5']));
    const report: string[] = [];
    for (const lib of libs) {
      const out = execFileSync(which('ldd')!, [join(platformDir, lib)], { env: { ...env, LD_LIBRARY_PATH: '' }, encoding: 'utf8' });
      for (const line of out.split('\n')) {
        const m = line.trim().match(/^(\S+) => (\S+)/);
        if (!m) continue;
        const [, soname, path] = m as unknown as [string, string, string];
        expect(path, `${lib}: ${soname} not found`).not.toBe('not');
        if (BASELINE.test(soname)) {
          expect(dirname(path), `${lib}: ${soname}`).not.toBe(platformDir);
        } else {
          expect(dirname(path), `${lib}: ${soname} => ${path} lies outside ${platformDir}`).toBe(platformDir);
          if (lib === 'memery.node') report.push(`${soname} => ${path.slice(prefix.length + 1)}`);
        }
      }
    }
    const rpath = execFileSync(which('patchelf')!, ['--print-rpath', join(platformDir, 'memery.node')], { encoding: 'utf8' }).trim();
    expect(rpath).toBe('$ORIGIN');
    expect(libs).not.toContain('libopenblas.so.0'); // the reference BLAS (0.4 MB), not OpenBLAS (37 MB)
    for (const lib of ['liblapack.so.3', 'libgfortran.so.5']) {
      expect(execFileSync(which('patchelf')!, ['--print-rpath', join(platformDir, lib)], { encoding: 'utf8' }).trim(), lib).toBe('$ORIGIN');
    }
    console.log(`ldd memery.node (non-baseline):\n  ${report.join('\n  ')}`);
  });

  it('`memery --version` and a real search run from the install, with no compiler on PATH', () => {
    const v = memery(['--version']);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(memeryDir, 'package.json'), 'utf8')).version);
    const home = join(tmp, 'home');
    const s = memery(['search', images, 'red', '-n', '3', '--json', '--model-dir', MODEL], { MEMERY_HOME: home });
    expect(s.status, s.stderr).toBe(0);
    const out = JSON.parse(s.stdout) as { results: Array<{ path: string; score: number }> };
    expect(out.results).toHaveLength(3);
    expect(out.results[0]!.path).toBe(join(images, 'red.png'));
  });

  it('the library loads from another folder through `exports`, and the addon comes from the platform package', () => {
    const code = `
      import { search } from 'memery';
      import * as client from 'memery/client';
      import { readFileSync } from 'node:fs';
      const r = await search(process.argv[3], 'blue', { home: process.argv[1], modelDir: process.argv[2], n: 1 });
      const mapped = readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/).pop());
      const maps = mapped.filter((p) => /memery\\.node|libblas|liblapack|libonnxruntime|libgfortran/.test(p));
      const sqlite = mapped.filter((p) => /sqlite/.test(p));
      console.log(JSON.stringify({ top: r[0].path, client: typeof client.ServerClient, libs: [...new Set(maps)], sqlite: [...new Set(sqlite)] }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, join(tmp, 'home-lib'), MODEL, images], { cwd: prefix, env, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { top: string; client: string; libs: string[]; sqlite: string[] };
    expect(out.top).toBe(join(images, 'blue.png'));
    expect(out.client).toBe('function');
    expect(out.libs.length).toBeGreaterThanOrEqual(4);
    for (const lib of out.libs) expect(dirname(lib), lib).toBe(platformDir);
    // SQLite: better-sqlite3's binding for this Node, from the platform package
    expect(out.sqlite).toEqual([join(platformDir, SQLITE_DIR, sqliteBindingName())]);
  });

  it("provider 'cuda' without the CUDA provider libraries fails with a message naming them", () => {
    const r = memery(['--provider', 'cuda', 'search', images, 'red', '--json', '--model-dir', MODEL], { MEMERY_HOME: join(tmp, 'home-cuda') });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot use provider 'cuda'/);
  });

  it('without the platform package: one message naming it and `npm run build:native`', () => {
    const aside = `${platformDir}.aside`;
    renameSync(platformDir, aside);
    try {
      const r = memery(['search', images, 'red', '--json', '--model-dir', MODEL], { MEMERY_HOME: join(tmp, 'home-missing') });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(PLATFORM_PKG);
      expect(r.stderr).toContain('npm run build:native');
    } finally {
      renameSync(aside, platformDir);
    }
  });

  it('`npm install -g` of the same tarballs: memery on PATH from the global prefix, searching', () => {
    const global = join(tmp, 'global');
    const r = spawnSync(join(bin, 'npm'), ['install', '-g', '--prefix', global, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'warn', ...tarballs], {
      cwd: tmp,
      env,
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    const s = spawnSync('memery', ['search', images, 'green', '-n', '1', '--json', '--model-dir', MODEL], {
      cwd: tmp,
      env: { ...env, PATH: `${join(global, 'bin')}${delimiter}${bin}`, MEMERY_HOME: join(tmp, 'home-global') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(s.status, s.stderr).toBe(0);
    expect((JSON.parse(s.stdout) as { results: Array<{ path: string }> }).results[0]!.path).toBe(join(images, 'green.png'));
  });

  it(`the install takes <= ${LIMIT_BYTES / 1e6} MB`, () => {
    const sizes = new Map<string, number>();
    let total = 0;
    const walk = (dir: string, top: string): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = lstatSync(p);
        if (st.isDirectory()) walk(p, top);
        else {
          total += st.size;
          sizes.set(top, (sizes.get(top) ?? 0) + st.size);
        }
      }
    };
    const nm = join(prefix, 'node_modules');
    for (const name of readdirSync(nm)) {
      if (name.startsWith('@')) for (const sub of readdirSync(join(nm, name))) walk(join(nm, name, sub), `${name}/${sub}`);
      else if (lstatSync(join(nm, name)).isDirectory()) walk(join(nm, name), name);
    }
    const du = spawnSync('du', ['-s', '--block-size=1', nm], { encoding: 'utf8' }).stdout.split('\t')[0];
    const biggest = [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([n, s]) => `${n} ${(s / 1e6).toFixed(1)} MB`);
    console.log(
      `installed size: ${(total / 1e6).toFixed(1)} MB (${(total / 2 ** 20).toFixed(1)} MiB) in files, ` +
        `${du ? (Number(du) / 1e6).toFixed(1) : '?'} MB on disk (du), ${sizes.size} packages; biggest: ${biggest.join(', ')}`,
    );
    expect(total).toBeLessThanOrEqual(LIMIT_BYTES);
    if (du) expect(Number(du)).toBeLessThanOrEqual(150 * 2 ** 20); // `du -sh` shows at most 150M
  });
});
