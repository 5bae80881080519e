/**
 * `npm run build:alfred`: packages alfred-workflow/ as dist/memery.alfredworkflow, the zip Alfred
 * installs on double-click: info.plist at the root, icon.png, README.md and scripts/.
 *
 * info.plist is regenerated from alfred-workflow/tools/info-plist.mjs first (so the two never
 * drift), and icon.png drawn by tools/make-icon.mjs when missing. The zip writer is ~60 lines of
 * node:zlib (deflateRaw + CRC-32): no dependency.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { writeInfoPlist } from '../alfred-workflow/tools/info-plist.mjs';
import { renderIcon } from '../alfred-workflow/tools/make-icon.mjs';
import { crc32 } from './lib/crc32.mjs';

export { crc32 };

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORKFLOW = join(ROOT, 'alfred-workflow');
export const OUTPUT = join(ROOT, 'dist', 'memery.alfredworkflow');



/** DOS date and time of 2024-01-01 00:00 (fixed, so that builds are reproducible). */
const DOS_TIME = 0;
const DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 1;

/**
 * A zip archive of `entries` ({ name, data, mode }): deflated when that is smaller, stored
 * otherwise; Unix permissions in the external attributes; UTF-8 names.
 */
export function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data);
    const deflated = deflateRawSync(e.data, { level: 9 });
    const method = deflated.length < e.data.length ? 8 : 0;
    const body = method === 8 ? deflated : e.data;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE((((e.mode ?? 0o644) | 0o100000) << 16) >>> 0, 38); // regular file + permissions
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...locals, cd, end]);
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

export function buildAlfredWorkflow() {
  const plistChanged = writeInfoPlist();
  if (!existsSync(join(WORKFLOW, 'icon.png'))) writeFileSync(join(WORKFLOW, 'icon.png'), renderIcon());
  const entries = packageFiles().map((file) => {
    const name = relative(WORKFLOW, file).split(sep).join('/');
    const executable = (statSync(file).mode & 0o111) !== 0 || name.endsWith('.zsh');
    return { name, data: readFileSync(file), mode: executable ? 0o755 : 0o644 };
  });
  mkdirSync(dirname(OUTPUT), { recursive: true });
  const archive = zip(entries);
  writeFileSync(OUTPUT, archive);
  return { output: OUTPUT, entries: entries.map((e) => e.name), bytes: archive.length, plistChanged };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = buildAlfredWorkflow();
  if (r.plistChanged) console.log('alfred-workflow/info.plist regenerated from alfred-workflow/tools/info-plist.mjs');
  console.log(`wrote ${relative(ROOT, r.output)} (${(r.bytes / 1024).toFixed(1)} KiB): ${r.entries.join(', ')}`);
}
