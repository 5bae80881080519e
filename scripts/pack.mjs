#!/usr/bin/env node
// Packs the main `memery` package the way it is published: the files `npm pack` would take from
// this checkout (package.json "files" + the bundled @memery/client), copied into a staging folder
// with a package.json for users:
//   - optionalDependencies: every platform package (@memery/linux-x64-gnu ...) at exactly this
//     version. They are not in the checkout's package.json because `npm ci` fails on an optional
//     dependency that is not published yet (a new version is packed before it is published);
//   - no scripts, devDependencies, allowScripts or overrides (nothing runs at install time);
//   - @memery/client pinned to its version (it is bundled, never fetched), its peer zod dropped
//     from its bundled package.json (memery depends on zod itself; see below);
//   - no source maps (their sources are not shipped): the `//# sourceMappingURL` lines go too.
//
//   node scripts/pack.mjs [--out DIR]        writes DIR/memery-<version>.tgz (default build/npm),
//                                            prints its path as the last line
//   node scripts/pack.mjs --refuse-checkout  (prepublishOnly) stops `npm publish` from the checkout
//
// Publishing: `npm publish build/npm/memery-<version>.tgz` after the platform packages of the same
// version (.github/workflows/prebuilds.yml does both).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const log = (m) => console.error(`pack: ${m}`);
function fail(m) {
  console.error(`pack: ${m}`);
  process.exit(1);
}

/** The platform packages, as ts/native/binding.ts names them (darwin-x64: no ONNX Runtime for it). */
export const PLATFORM_TARGETS = ['linux-x64-gnu', 'linux-arm64-gnu', 'darwin-arm64', 'win32-x64'];

if (args.includes('--refuse-checkout')) {
  fail(
    'publish the staged package, not the checkout: `node scripts/pack.mjs` writes build/npm/memery-<version>.tgz ' +
      '(with the platform packages as optionalDependencies); then `npm publish build/npm/memery-<version>.tgz`.',
  );
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
for (const need of ['dist/ts/index.js', 'dist/ts/client.js', 'packages/client/dist/index.js']) {
  if (!existsSync(join(ROOT, need))) fail(`${need} is missing: run \`npm run build:ts\` first`);
}
const outIdx = args.indexOf('--out');
const OUT = resolve(outIdx >= 0 ? args[outIdx + 1] : join(ROOT, 'build', 'npm'));

// 1. what `npm pack` takes from the checkout
const dry = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
if (dry.status !== 0) fail(`npm pack --dry-run failed:\n${dry.stderr}`);
const files = JSON.parse(dry.stdout)[0].files.map((f) => f.path);

// 2. staged copy
const stage = mkdtempSync(join(tmpdir(), 'memery-pack-'));
try {
  for (const rel of files) {
    if (rel === 'package.json') continue;
    const to = join(stage, rel);
    mkdirSync(dirname(to), { recursive: true });
    if (rel === 'node_modules/@memery/client/package.json') {
      // The bundled client's peer zod is memery's own dependency. Left declared, npm counts zod as
      // part of the bundle (a dependency of a bundled package) and, in a global install, leaves
      // memery/node_modules/zod empty instead of fetching it.
      const client = JSON.parse(readFileSync(join(ROOT, rel), 'utf8'));
      delete client.peerDependencies;
      writeFileSync(to, `${JSON.stringify(client, null, 2)}\n`);
    } else if (/^dist\/.*\.js$/.test(rel)) {
      const text = readFileSync(join(ROOT, rel), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\.map\s*$/, '\n');
      writeFileSync(to, text);
    } else {
      copyFileSync(join(ROOT, rel), to);
    }
  }
  const client = JSON.parse(readFileSync(join(ROOT, 'packages', 'client', 'package.json'), 'utf8'));
  const published = { ...pkg };
  for (const k of ['scripts', 'devDependencies', 'allowScripts', 'overrides']) delete published[k];
  published.dependencies = { ...pkg.dependencies, '@memery/client': client.version };
  published.optionalDependencies = Object.fromEntries(PLATFORM_TARGETS.map((t) => [`@memery/${t}`, pkg.version]));
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);

  // 3. pack it
  mkdirSync(OUT, { recursive: true });
  const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', OUT], { cwd: stage, encoding: 'utf8' });
  if (r.status !== 0) fail(`npm pack failed:\n${r.stderr}`);
  const info = JSON.parse(r.stdout)[0];
  const tgz = join(OUT, info.filename);
  log(`${tgz}: ${info.entryCount} files, ${(info.size / 1024).toFixed(0)} kB packed, ${(info.unpackedSize / 1024).toFixed(0)} kB unpacked`);
  console.log(tgz);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
