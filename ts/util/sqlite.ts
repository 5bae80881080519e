// Opens SQLite databases through better-sqlite3, found in this order:
//   1. the better-sqlite3 package, when it resolves from memery's folder: a checkout (a
//      devDependency, compiled by its own install script) or a user who installed it;
//   2. the copy inside memery's prebuilt platform package (e.g. @memery/linux-x64-gnu): better-sqlite3's
//      JavaScript plus one compiled binding per Node ABI (better-sqlite3 is not Node-API, so each
//      Node major needs its own), passed as better-sqlite3's `nativeBinding` option. This is how a
//      user's `npm install memery` gets SQLite with no install script: better-sqlite3's own would
//      fetch its binary from GitHub or compile it.
// scripts/pack-platform.mjs writes that copy (folder SQLITE_DIR). When neither loads, one E_NATIVE
// error says which Node ABIs the platform package has and what to do.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { MemeryError } from '../errors.js';
import { nativeMissingError, packageRoot, platformBinding, platformPackage } from '../native/binding.js';

/** The folder of the platform package that holds better-sqlite3 (its lib/ and node-v<ABI>.node files). */
export const SQLITE_DIR = 'better-sqlite3';

/** The binding file for one Node ABI (`process.versions.modules`) inside SQLITE_DIR. */
export function sqliteBindingName(abi: string = process.versions.modules): string {
  return `node-v${abi}.node`;
}

type Constructor = typeof BetterSqlite3;
interface Loaded {
  Database: Constructor;
  nativeBinding?: string;
}

let loaded: Loaded | undefined;

function load(): Loaded {
  if (loaded) return loaded;
  const tried: string[] = [];
  const root = packageRoot();
  const req = createRequire(join(root, 'package.json'));
  try {
    loaded = { Database: req('better-sqlite3') as Constructor };
    return loaded;
  } catch (err) {
    tried.push(`better-sqlite3 from ${root} (${(err as Error).message.split('\n')[0]})`);
  }
  const addon = platformBinding(platformPackage(), root);
  const dir = addon ? join(dirname(addon), SQLITE_DIR) : undefined;
  const binding = dir ? join(dir, sqliteBindingName()) : undefined;
  if (dir && binding && existsSync(binding)) {
    try {
      loaded = { Database: createRequire(join(dir, 'package.json'))('./lib/index.js') as Constructor, nativeBinding: binding };
      return loaded;
    } catch (err) {
      tried.push(`${dir} (${(err as Error).message.split('\n')[0]})`);
    }
  } else if (dir) {
    const have = existsSync(dir) ? readdirSync(dir).filter((f) => /^node-v\d+\.node$/.test(f)) : [];
    tried.push(`${binding} (missing; the package has ${have.length ? have.join(', ') : 'none'})`);
  } else {
    throw nativeMissingError(tried); // no platform package at all: the same message as for the addon
  }
  throw new MemeryError(
    'E_NATIVE',
    `Cannot load SQLite (better-sqlite3) for Node ${process.version} (ABI ${process.versions.modules}).\nTried:\n  ${tried.join('\n  ')}`,
    {
      hint:
        `${platformPackage()} ships better-sqlite3 for the Node versions it lists; on another Node, run memery with one of those, ` +
        'or install better-sqlite3 beside memery (`npm install better-sqlite3`, which downloads or compiles its binding).',
    },
  );
}

/** `new Database(path, options)` with the better-sqlite3 that loads here (see the header). */
export function openDatabase(path: string, options: BetterSqlite3.Options = {}): BetterSqlite3.Database {
  const { Database, nativeBinding } = load();
  return new Database(path, nativeBinding ? { ...options, nativeBinding } : options);
}
