/**
 * `npm run build:alfred`: packages alfred-workflow/ as dist/memery.alfredworkflow, the zip Alfred
 * installs on double-click: info.plist at the root, icon.png, README.md and scripts/.
 *
 * info.plist is regenerated from alfred-workflow/tools/info-plist.mjs first (so the two never
 * drift), icon.png drawn by tools/make-icon.mjs when missing, and scripts/client/ bundled from
 * packages/client (the protocol and client the scripts import; needs `npm run build:client`'s tsc
 * output). The zip is written by yazl.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { ZipFile } from 'yazl';
import { writeInfoPlist } from '../alfred-workflow/tools/info-plist.mjs';
import { bundleAlfredClient } from './bundle-alfred-client.mjs';
import { renderIcon } from '../alfred-workflow/tools/make-icon.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORKFLOW = join(ROOT, 'alfred-workflow');
export const OUTPUT = join(ROOT, 'dist', 'memery.alfredworkflow');

/** 2024-01-01 00:00 local time, DOS timestamps only (no UTC extra field): reproducible builds. */
const MTIME = new Date(2024, 0, 1);

/**
 * A zip archive of `entries` ({ name, data, mode }): deflated (level 9), Unix permissions in the
 * external attributes, UTF-8 names.
 */
export async function zip(entries) {
  const zipfile = new ZipFile();
  for (const e of entries) {
    const mode = 0o100000 | (e.mode ?? 0o644); // regular file + permissions
    zipfile.addBuffer(e.data, e.name, { mtime: MTIME, forceDosTimestamp: true, mode, compressionLevel: 9 });
  }
  zipfile.end();
  return buffer(zipfile.outputStream);
}

function walk(dir) {
  const out = [];
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) out.push(...walk(p));
    else if (ent.isFile()) out.push(p);
  }
  return out;
}

/** What goes into the package: info.plist first, then the icon, the README and scripts/. */
export function packageFiles() {
  const files = [join(WORKFLOW, 'info.plist'), join(WORKFLOW, 'icon.png')];
  if (existsSync(join(WORKFLOW, 'README.md'))) files.push(join(WORKFLOW, 'README.md'));
  files.push(...walk(join(WORKFLOW, 'scripts')).sort());
  return files.filter((f) => !/(^|\/)\.|~$|\.log$/.test(relative(WORKFLOW, f)));
}

export async function buildAlfredWorkflow() {
  const plistChanged = writeInfoPlist();
  if (!existsSync(join(WORKFLOW, 'icon.png'))) writeFileSync(join(WORKFLOW, 'icon.png'), renderIcon());
  await bundleAlfredClient();
  const entries = packageFiles().map((file) => {
    const name = relative(WORKFLOW, file).split(sep).join('/');
    const executable = (statSync(file).mode & 0o111) !== 0 || name.endsWith('.zsh');
    return { name, data: readFileSync(file), mode: executable ? 0o755 : 0o644 };
  });
  mkdirSync(dirname(OUTPUT), { recursive: true });
  const archive = await zip(entries);
  writeFileSync(OUTPUT, archive);
  return { output: OUTPUT, entries: entries.map((e) => e.name), bytes: archive.length, plistChanged };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await buildAlfredWorkflow();
  if (r.plistChanged) console.log('alfred-workflow/info.plist regenerated from alfred-workflow/tools/info-plist.mjs');
  console.log(`wrote ${relative(ROOT, r.output)} (${(r.bytes / 1024).toFixed(1)} KiB): ${r.entries.join(', ')}`);
}
